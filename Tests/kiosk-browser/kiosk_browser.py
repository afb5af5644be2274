#!/usr/bin/python3
"""Drive Debian's headless chromium through the DevTools protocol against the kiosk page.

    kiosk_browser.py URL OUTDIR [--timeout S] [--width W --height H]
                     [--expect STATE[,STATE...]] [--forbid STATE[,STATE...]] [--chromium PATH]

Starts chromium headless with a throw-away profile, opens URL in a page of W x H CSS pixels and
polls the DOM every 100 ms until it has seen every expected state (default: all of them) or the
timeout passes. The states:

  preview-updates  #preview's data-seq seen with three different values (it changed twice)
  face-box         at least one .face-box
  guidance         #guidance shown with non-empty text
  granted          #banner[data-state=granted]
  denied           #banner[data-state=denied]
  enrolling        #banner[data-state=enrolling] (only when expected: an enrolment waits)
  alarm            #alarm shown (only when expected: the door raised an alarm)
  unavailable      #banner[data-state=unavailable] (only when expected: the daemon away for a while)
  unavailable-connected  the same with the stream open (only when expected: the daemon says it cannot decide)
  reconnected-clear  after enrolling or alarm was seen, the page lost its stream
                   (data-connection not open) and, connected again, shows #banner idle (or
                   unavailable: the new daemon cannot decide yet) and #alarm hidden (only when
                   expected: the daemon restarted meanwhile)

On the first sight of each state it saves OUTDIR/<state>.png. A forbidden state must never be
seen; forbidding preview-updates is stricter: #preview must stay hidden and never get a data-seq.

Prints one JSON line on stdout:
  {"seen": {state: bool}, "screenshots": [paths], "banner_texts": {"granted": str|null,
   "denied": str|null, "enrolling": str|null}, "console_errors": [str], "exceptions": [str], "forbidden": {state: bool},
   "violations": [str], "foreign_requests": [url], "viewport": [w, h], "overflow": bool,
   "error": str|null}
and exits 0 when every expected state was seen, no forbidden one was, no JS exception was thrown
and nothing was requested from another origin; 1 otherwise; 2 when chromium could not be started
or its DevTools endpoint not reached; 64 for a usage error. It always kills chromium and removes
its profile.

Python 3.11 standard library plus Debian's python3-websocket.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import websocket

STATES = ["preview-updates", "face-box", "guidance", "granted", "denied"]
# States a page shows only in some runs: looked for when asked (--expect).
OPTIONAL_STATES = ["enrolling", "alarm", "unavailable", "unavailable-connected", "reconnected-clear"]
BANNER_STATES = ("granted", "denied", "enrolling", "unavailable")

# One snapshot of the page's state, as a JSON-able object.
PROBE = r"""
(() => {
  const q = (s) => document.querySelector(s);
  const preview = q('#preview'), guidance = q('#guidance'), banner = q('#banner'), alarm = q('#alarm');
  const shown = (el) => !!el && !el.hidden && el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== 'hidden';
  const de = document.documentElement;
  return {
    ready: document.readyState,
    seq: preview ? preview.getAttribute('data-seq') : null,
    previewHidden: preview ? preview.hidden : null,
    faceBoxes: document.querySelectorAll('.face-box').length,
    guidanceShown: shown(guidance),
    guidanceText: guidance ? guidance.textContent.trim() : '',
    bannerState: banner ? banner.getAttribute('data-state') : null,
    bannerText: banner ? banner.textContent.trim() : '',
    alarmShown: shown(alarm),
    connection: document.body ? document.body.getAttribute('data-connection') : null,
    viewport: [window.innerWidth, window.innerHeight],
    overflow: de.scrollWidth > window.innerWidth || de.scrollHeight > window.innerHeight,
  };
})()
"""


class DevToolsError(Exception):
    pass


class DevTools:
    """A minimal DevTools protocol client on one websocket, with flattened target sessions."""

    def __init__(self, ws_url, timeout):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.listeners = []

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass

    def _dispatch(self, message):
        for listener in self.listeners:
            listener(message)

    def call(self, method, params=None, session=None, timeout=30.0):
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        self.ws.send(json.dumps(request))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DevToolsError(f"{method}: no answer in {timeout:.0f} s")
            self.ws.settimeout(left)
            message = json.loads(self.ws.recv())
            if message.get("id") == request["id"]:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self._dispatch(message)

    def pump(self, seconds):
        """Read events for up to `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.ws.settimeout(left)
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return
            if "method" in message:
                self._dispatch(message)


class Chromium:
    """chromium --headless=new in its own process group with a temporary profile."""

    def __init__(self, binary, width, height, start_timeout=30.0):
        self.profile = tempfile.mkdtemp(prefix="kiosk-chromium-")
        self.proc = None
        self.stderr_tail = []
        args = [
            binary, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "about:blank",
        ]
        found = threading.Event()
        self.ws_url = None
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise DevToolsError(f"cannot start {binary}: {e}") from e

        def drain():
            # Keep reading stderr for chromium's whole life so that it never blocks on a full pipe.
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                m = re.search(r"DevTools listening on (ws://\S+)", line)
                if m and not found.is_set():
                    self.ws_url = m.group(1)
                    found.set()
                self.stderr_tail = (self.stderr_tail + [line])[-20:]
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        found.wait(start_timeout)
        if not self.ws_url:
            tail = " | ".join(self.stderr_tail[-5:])
            self.stop()
            raise DevToolsError(f"chromium printed no DevTools address ({tail})")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.proc is not None:
            # Children left in the group (renderers, zygote) after the browser itself exited.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.05)
        shutil.rmtree(self.profile, ignore_errors=True)


def state_list(text):
    names = [s.strip() for s in text.split(",") if s.strip()]
    for name in names:
        if name not in STATES + OPTIONAL_STATES:
            raise argparse.ArgumentTypeError(f"unknown state {name!r} (known: {', '.join(STATES + OPTIONAL_STATES)})")
    return names


def origin_of(url):
    p = urllib.parse.urlsplit(url)
    return (p.scheme, p.netloc)


def run(args, report):
    os.makedirs(args.outdir, exist_ok=True)
    try:
        browser = Chromium(args.chromium, args.width, args.height)
    except DevToolsError as e:
        report["error"] = str(e)
        return 2
    tools = None
    try:
        try:
            tools = DevTools(browser.ws_url, timeout=30)
        except Exception as e:
            report["error"] = f"cannot reach chromium's DevTools: {e}"
            return 2
        page_origin = origin_of(args.url)

        def listen(message):
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                text = d.get("exception", {}).get("description") or d.get("text", "exception")
                report["exceptions"].append(f"{text} ({d.get('url', '')}:{d.get('lineNumber', '?')})")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                parts = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
                report["console_errors"].append(" ".join(str(p) for p in parts))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                report["console_errors"].append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                scheme = urllib.parse.urlsplit(url).scheme
                if scheme not in ("data", "blob", "about") and origin_of(url) != page_origin:
                    report["foreign_requests"].append(url)

        tools.listeners.append(listen)
        target = tools.call("Target.createTarget", {"url": "about:blank"})
        session = tools.call("Target.attachToTarget", {"targetId": target["targetId"],
                                                       "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable", session=session)
        tools.call("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": args.height,
                                                          "deviceScaleFactor": 1, "mobile": False},
                   session=session)
        nav = tools.call("Page.navigate", {"url": args.url}, session=session)
        if nav.get("errorText"):
            report["error"] = f"navigation failed: {nav['errorText']}"
            return 1

        expected = [s for s in (args.expect or STATES) if s not in args.forbid]
        seqs = []
        # Whether the stream was lost after the page showed an enrolment or an alarm.
        lost = False
        deadline = time.monotonic() + args.timeout
        while True:
            result = tools.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                session=session)
            snap = result.get("result", {}).get("value") if "exceptionDetails" not in result else None
            if isinstance(snap, dict):
                report["viewport"] = snap["viewport"]
                report["overflow"] = report["overflow"] or bool(snap["overflow"])
                if snap["seq"] is not None and (not seqs or seqs[-1] != snap["seq"]):
                    seqs.append(snap["seq"])
                now = {
                    "preview-updates": len(set(seqs)) >= 3,
                    "face-box": snap["faceBoxes"] > 0,
                    "guidance": snap["guidanceShown"] and bool(snap["guidanceText"]),
                    "granted": snap["bannerState"] == "granted",
                    "denied": snap["bannerState"] == "denied",
                    "enrolling": snap["bannerState"] == "enrolling",
                    "unavailable": snap["bannerState"] == "unavailable",
                    "unavailable-connected": snap["bannerState"] == "unavailable" and snap["connection"] == "open",
                    "alarm": bool(snap["alarmShown"]),
                    "reconnected-clear": lost and snap["connection"] == "open" and snap["bannerState"] in ("idle", "unavailable")
                    and not snap["alarmShown"],
                }
                if (report["seen"]["enrolling"] or report["seen"]["alarm"]) and snap["connection"] != "open":
                    lost = True
                if "preview-updates" in args.forbid and snap["ready"] != "loading":
                    if snap["seq"] is not None:
                        note = f"#preview got data-seq {snap['seq']}"
                        if note not in report["violations"]:
                            report["violations"].append(note)
                    if snap["previewHidden"] is False and "#preview was shown" not in report["violations"]:
                        report["violations"].append("#preview was shown")
                for state, is_now in now.items():
                    if is_now and not report["seen"][state]:
                        report["seen"][state] = True
                        if state in BANNER_STATES:
                            report["banner_texts"][state] = snap["bannerText"]
                        shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
                        path = os.path.join(args.outdir, f"{state}.png")
                        with open(path, "wb") as f:
                            f.write(base64.b64decode(shot["data"]))
                        report["screenshots"].append(path)
            if all(report["seen"][s] for s in expected) or time.monotonic() >= deadline:
                break
            tools.pump(0.1)

        for state in args.forbid:
            report["forbidden"][state] = report["seen"][state]
            if report["seen"][state]:
                report["violations"].append(f"forbidden state {state} seen")
        ok = (all(report["seen"][s] for s in expected) and not report["exceptions"]
              and not report["violations"] and not report["foreign_requests"])
        return 0 if ok else 1
    except (DevToolsError, websocket.WebSocketException, OSError) as e:
        report["error"] = f"{type(e).__name__}: {e}"
        return 1
    finally:
        if tools is not None:
            try:
                tools.ws.settimeout(2)
                tools.ws.send(json.dumps({"id": 999999, "method": "Browser.close"}))
            except Exception:
                pass
            tools.close()
        browser.stop()


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # 64 (EX_USAGE), not argparse's 2, which means here that chromium could not be started.
        self.print_usage(sys.stderr)
        self.exit(64, f"{self.prog}: error: {message}\n")


def main():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("outdir")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--expect", type=state_list, default=None)
    parser.add_argument("--forbid", type=state_list, default=[])
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    args = parser.parse_args()

    # A SIGTERM (a test runner's timeout) still kills chromium and removes its profile.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    report = {
        "seen": {s: False for s in STATES + OPTIONAL_STATES},
        "screenshots": [],
        "banner_texts": {s: None for s in BANNER_STATES},
        "console_errors": [],
        "exceptions": [],
        "forbidden": {},
        "violations": [],
        "foreign_requests": [],
        "viewport": None,
        "overflow": False,
        "error": None,
    }
    code = 1
    try:
        code = run(args, report)
    finally:
        print(json.dumps(report), flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
