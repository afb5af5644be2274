/// The kiosk page: the one self-contained HTML document (inline CSS and JS, no external resource,
/// no font or framework) that the daemon serves at `GET /` for the screen a person at the door sees.
///
/// It reads the Server-Sent Events at `GET /events` on its own origin, one JSON object per `data:`:
/// - `hello` `{"preview": Bool, "door": String}`: `preview: false` hides the picture area for good;
/// - `preview` `{"seq", "width", "height", "jpeg"}`: a base64 JPEG camera frame, shown in `#preview`
///   (its `data-seq` set to `seq`);
/// - `faces` `{"width", "height", "faces": [{"box": [left, top, right, bottom]}], "guidance", "message"}`:
///   one `.face-box` in `#faces` per face, scaled from frame pixels to the letterboxed picture, and
///   the guidance words in `#guidance` (`data-guidance` = the key; `hidden` when `guidance` is null);
/// - `decision` `{"outcome": "granted"|"denied", "message"}`: `#banner` (`data-state` granted or
///   denied) for about 4 s, then back to `idle`;
/// - `door` `{"alarm": "held-open"|"forced"|"fault"|null, "message"}`: `#alarm` while `alarm` is not null;
/// - `enrolment` `{"state": "waiting"|"enrolled"|"refused"|"ended", "message"}`: `#banner` (`data-state`
///   enrolling) while an enrolment waits for its approach, then shown like a decision (granted or
///   denied) or, when it ended without one, back to `idle`.
/// - `availability` `{"can_decide": Bool}`: while false (a camera gone, neither cloud nor cache to
///   identify), `#banner` reads "Door out of service" (`data-state` unavailable), the stream up or not.
/// With no stream for 3 s (the daemon stopped or restarting) `#banner` reads "Door out of service"
/// (`data-state` unavailable) until the stream is back.
/// Each `hello` (a new stream: a reconnect, a restarted daemon) clears `#banner` and `#alarm`: the feed
/// sends the alarm and a waiting enrolment again after it while they stand.
/// `body[data-connection]` is `connecting`, `open` or `reconnecting`. It logs nothing to the console
/// and its Content-Security-Policy lets it reach only its own origin.
enum KioskPage {
    static let html: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="dark">
<link rel="icon" href="data:,">
<title>Door</title>
<style>
  :root {
    --bg: #000;
    --fg: #fff;
    --muted: #c9d1d9;
    --granted: #0a6b34;
    --denied: #334155;
    --denied-accent: #f2b33d;
    --alarm: #b3141b;
    --big: clamp(1.6rem, min(9vw, 8vh), 6rem);
    --medium: clamp(1.25rem, min(7vw, 6vh), 4rem);
    --small: clamp(0.9rem, 2.6vmin, 1.4rem);
  }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  html, body { margin: 0; height: 100%; overflow: hidden; }
  body {
    display: grid;
    grid-template-rows: auto minmax(0, 1fr) auto;
    height: 100vh;
    height: 100dvh;
    background: var(--bg);
    color: var(--fg);
    font-family: system-ui, "DejaVu Sans", "Noto Sans", "Liberation Sans", Arial, sans-serif;
    line-height: 1.2;
    cursor: none;
    user-select: none;
    -webkit-user-select: none;
    -webkit-touch-callout: none;
    -webkit-tap-highlight-color: transparent;
    text-wrap: balance;
  }
  header {
    display: flex;
    justify-content: space-between;
    align-items: center;
    gap: 1em;
    min-height: 1.9em;
    padding: 0.2em 0.7em;
    font-size: var(--small);
    color: var(--muted);
  }
  #door { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
  #connection {
    white-space: nowrap;
    padding: 0.1em 0.7em;
    border-radius: 1em;
    visibility: hidden;
  }
  body[data-connection="connecting"] #connection,
  body[data-connection="reconnecting"] #connection {
    visibility: visible;
    background: #2d333b;
    color: #f0f3f6;
  }
  main#stage { position: relative; min-height: 0; overflow: hidden; }
  #picture { position: absolute; inset: 0; }
  #preview {
    display: block;
    width: 100%;
    height: 100%;
    object-fit: contain;
    transition: opacity 0.4s;
  }
  #preview:not([data-seq]) { visibility: hidden; }
  #faces { position: absolute; left: 0; top: 0; width: 0; height: 0; pointer-events: none; transition: opacity 0.4s; }
  body[data-picture="stale"] #preview, body[data-picture="stale"] #faces { opacity: 0; }
  .face-box {
    position: absolute;
    border: 3px solid #fff;
    border-radius: 8px;
    box-shadow: 0 0 0 2px rgba(0, 0, 0, 0.65), inset 0 0 0 2px rgba(0, 0, 0, 0.45);
  }
  #guidance {
    position: absolute;
    left: 0.5em;
    right: 0.5em;
    top: 0.5em;
    width: fit-content;
    margin: 0 auto;
    padding: 0.25em 0.8em;
    border-radius: 0.6em;
    background: rgba(0, 0, 0, 0.78);
    color: #fff;
    font-size: var(--medium);
    font-weight: 700;
    text-align: center;
  }
  body[data-preview="off"] #guidance {
    top: 50%;
    transform: translateY(-50%);
    background: #1f2630;
    font-size: var(--big);
  }
  #alarm {
    position: fixed;
    left: 0;
    right: 0;
    top: 0;
    z-index: 10;
    padding: 0.45em 0.8em;
    background: var(--alarm);
    color: #fff;
    font-size: var(--big);
    font-weight: 800;
    text-align: center;
    border-bottom: 0.12em solid #fff;
  }
  #alarm::before { content: "\26A0\FE0E\00A0"; }
  #banner {
    display: flex;
    align-items: center;
    justify-content: center;
    height: clamp(4.5rem, 24vh, 16rem);
    padding: 0.2em 0.6em;
    overflow: hidden;
    background: #111821;
    color: var(--muted);
    font-size: var(--medium);
    font-weight: 600;
    text-align: center;
  }
  #banner[data-state="granted"] {
    background: var(--granted);
    color: #fff;
    font-size: var(--big);
    font-weight: 800;
  }
  #banner-text { text-wrap: balance; }
  #banner[data-state="granted"] #banner-text::before { content: "\2713\00A0"; }
  #banner[data-state="denied"] {
    background: var(--denied);
    color: #fff;
    font-size: var(--big);
    font-weight: 700;
    box-shadow: inset 0 0.35rem 0 var(--denied-accent);
  }
  #banner[data-state="unavailable"] {
    background: #3b4048;
    color: #fff;
    font-size: var(--big);
    font-weight: 700;
  }
  #banner[data-state="enrolling"] {
    background: #1d3557;
    color: #fff;
    font-size: var(--big);
    font-weight: 700;
  }
  #banner.leaving {
    background: #111821;
    color: transparent;
    box-shadow: none;
    transition: background-color 0.7s, color 0.7s, box-shadow 0.7s;
  }
  body[data-preview="off"] #banner { height: clamp(5rem, 34vh, 20rem); }
  @media (orientation: landscape) and (max-height: 520px) {
    #banner { height: clamp(4rem, 22vh, 16rem); }
  }
  @media (prefers-reduced-motion: reduce) {
    #banner.leaving, #preview, #faces { transition: none; }
  }
</style>
</head>
<body data-connection="connecting" data-preview="unknown">
<header>
  <span id="door"></span>
  <span id="connection" role="status">Connecting&hellip;</span>
</header>
<main id="stage">
  <div id="picture">
    <img id="preview" alt="Camera view" hidden>
    <div id="faces" aria-hidden="true"></div>
  </div>
  <p id="guidance" aria-live="polite" hidden></p>
</main>
<div id="alarm" role="alert" hidden></div>
<div id="banner" data-state="idle" role="status" aria-live="polite" aria-atomic="true"><span id="banner-text">Look at the camera</span></div>
<script>
(function () {
  "use strict";
  var IDLE_TEXT = "Look at the camera";
  var OUT_OF_SERVICE_TEXT = "Door out of service";
  var BANNER_MS = 4000;
  var FADE_MS = 700;
  var STALE_MS = 3000;
  // Words for a guidance key that arrives without its message.
  var GUIDANCE_WORDS = {
    "come-closer": "Come closer",
    "face-the-camera": "Face the camera",
    "more-light": "More light needed",
    "one-at-a-time": "One at a time, please",
    "hold-still": "Hold still",
    "look-at-camera": "Look at the camera"
  };

  var body = document.body;
  var preview = document.getElementById("preview");
  var facesLayer = document.getElementById("faces");
  var picture = document.getElementById("picture");
  var guidance = document.getElementById("guidance");
  var banner = document.getElementById("banner");
  var bannerText = document.getElementById("banner-text");
  var alarm = document.getElementById("alarm");
  var door = document.getElementById("door");
  var connection = document.getElementById("connection");

  var previewOn = false;
  var lastSeq = null;
  var pendingSeq = null;
  var staleTimer = 0;
  var bannerTimer = 0;
  var fadeTimer = 0;
  var outageTimer = 0;
  var lastFaces = null;
  var source = null;
  var retryTimer = 0;
  var retryDelay = 1000;
  // What the daemon last said of itself (`availability`): false while it cannot decide.
  var doorCanDecide = true;

  function parse(event) {
    try { return JSON.parse(event.data); } catch (e) { return null; }
  }

  function setConnection(state) {
    body.setAttribute("data-connection", state);
    connection.textContent = state === "reconnecting" ? "Reconnecting\u2026" : "Connecting\u2026";
    if (state === "open") {
      clearTimeout(outageTimer);
      outageTimer = 0;
      if (banner.getAttribute("data-state") === "unavailable") { resetBanner(); }
    } else {
      expectOutage();
    }
  }

  // The door's daemon away for more than a moment (stopped, restarting) decides nobody: the person is
  // told so, not left posing for a camera nobody watches. From the first connection too, which may hang.
  function expectOutage() {
    if (!outageTimer && banner.getAttribute("data-state") !== "unavailable") {
      outageTimer = setTimeout(showOutOfService, 3000);
    }
  }

  function showOutOfService() {
    outageTimer = 0;
    clearTimeout(bannerTimer);
    clearTimeout(fadeTimer);
    banner.classList.remove("leaving");
    banner.setAttribute("data-state", "unavailable");
    bannerText.textContent = OUT_OF_SERVICE_TEXT;
  }

  function setPreviewOn(on) {
    previewOn = on;
    body.setAttribute("data-preview", on ? "on" : "off");
    preview.hidden = !on;
    facesLayer.hidden = !on;
    picture.hidden = !on;
    if (!on) {
      preview.removeAttribute("src");
      preview.removeAttribute("data-seq");
      lastSeq = null;
      pendingSeq = null;
      clearBoxes();
    }
  }

  function markFresh() {
    body.setAttribute("data-picture", "live");
    clearTimeout(staleTimer);
    staleTimer = setTimeout(function () { body.setAttribute("data-picture", "stale"); }, STALE_MS);
  }

  // The displayed picture's rectangle inside #picture, with object-fit: contain's letterboxing.
  function pictureRect(frameW, frameH) {
    var w = picture.clientWidth, h = picture.clientHeight;
    var iw = preview.naturalWidth || frameW, ih = preview.naturalHeight || frameH;
    if (!(iw > 0 && ih > 0 && w > 0 && h > 0)) { return null; }
    var scale = Math.min(w / iw, h / ih);
    var dw = iw * scale, dh = ih * scale;
    return { left: (w - dw) / 2, top: (h - dh) / 2, width: dw, height: dh };
  }

  function placeLayer() {
    if (!lastFaces) { return; }
    var r = pictureRect(lastFaces.width, lastFaces.height);
    if (!r) { return; }
    facesLayer.style.left = r.left + "px";
    facesLayer.style.top = r.top + "px";
    facesLayer.style.width = r.width + "px";
    facesLayer.style.height = r.height + "px";
  }

  function clearBoxes() {
    while (facesLayer.firstChild) { facesLayer.removeChild(facesLayer.firstChild); }
  }

  function num(v) { return typeof v === "number" && isFinite(v) ? v : NaN; }

  function showFaces(data) {
    var fw = num(data.width), fh = num(data.height);
    var list = Array.isArray(data.faces) ? data.faces : [];
    clearBoxes();
    if (previewOn && fw > 0 && fh > 0) {
      lastFaces = { width: fw, height: fh };
      placeLayer();
      for (var i = 0; i < list.length; i++) {
        var b = list[i] && list[i].box;
        if (!Array.isArray(b) || b.length !== 4) { continue; }
        var l = num(b[0]), t = num(b[1]), r = num(b[2]), btm = num(b[3]);
        if (!(r > l && btm > t)) { continue; }
        var el = document.createElement("div");
        el.className = "face-box";
        el.style.left = (100 * l / fw) + "%";
        el.style.top = (100 * t / fh) + "%";
        el.style.width = (100 * (r - l) / fw) + "%";
        el.style.height = (100 * (btm - t) / fh) + "%";
        facesLayer.appendChild(el);
      }
    }
    var key = typeof data.guidance === "string" ? data.guidance : null;
    var words = typeof data.message === "string" && data.message.trim() ? data.message.trim() : null;
    if (key && !words && Object.prototype.hasOwnProperty.call(GUIDANCE_WORDS, key)) { words = GUIDANCE_WORDS[key]; }
    if (key && words) {
      if (guidance.getAttribute("data-guidance") !== key) { guidance.setAttribute("data-guidance", key); }
      if (guidance.textContent !== words) { guidance.textContent = words; }
      guidance.hidden = false;
    } else {
      clearGuidance();
    }
  }

  function clearGuidance() {
    guidance.hidden = true;
    guidance.removeAttribute("data-guidance");
    guidance.textContent = "";
  }

  function showPreview(data) {
    if (!previewOn || typeof data.jpeg !== "string" || !data.jpeg) { return; }
    var seq = num(data.seq);
    if (!isFinite(seq)) { return; }
    if (lastSeq !== null && seq <= lastSeq) { return; }
    if (pendingSeq !== null && seq <= pendingSeq) { return; }
    pendingSeq = seq;
    var url = "data:image/jpeg;base64," + data.jpeg;
    var next = new Image();
    next.src = url;
    var swap = function () {
      if (!previewOn || pendingSeq !== seq) { return; }
      pendingSeq = null;
      lastSeq = seq;
      preview.src = url;
      preview.setAttribute("data-seq", String(seq));
      markFresh();
      placeLayer();
    };
    if (next.decode) {
      next.decode().then(swap, function () { if (pendingSeq === seq) { pendingSeq = null; } });
    } else {
      swap();
    }
  }

  function resetBanner() {
    // A door that cannot decide says so whenever the banner would go idle.
    if (!doorCanDecide) { showOutOfService(); return; }
    banner.classList.remove("leaving");
    banner.setAttribute("data-state", "idle");
    bannerText.textContent = IDLE_TEXT;
  }

  function showDecision(data) {
    var outcome = data.outcome === "granted" ? "granted" : data.outcome === "denied" ? "denied" : null;
    if (!outcome) { return; }
    var words = typeof data.message === "string" && data.message.trim() ? data.message.trim()
      : (outcome === "granted" ? "Welcome" : "Not recognised");
    clearTimeout(bannerTimer);
    clearTimeout(fadeTimer);
    banner.classList.remove("leaving");
    banner.setAttribute("data-state", outcome);
    bannerText.textContent = words;
    bannerTimer = setTimeout(function () {
      banner.classList.add("leaving");
      fadeTimer = setTimeout(resetBanner, FADE_MS);
    }, BANNER_MS);
  }

  function showEnrolment(data) {
    var words = typeof data.message === "string" && data.message.trim() ? data.message.trim() : null;
    if (data.state === "waiting") {
      clearTimeout(bannerTimer);
      clearTimeout(fadeTimer);
      banner.classList.remove("leaving");
      banner.setAttribute("data-state", "enrolling");
      bannerText.textContent = words || "Enrolment: look at the camera";
    } else if (data.state === "enrolled" || data.state === "refused") {
      showDecision({ outcome: data.state === "enrolled" ? "granted" : "denied", message: words });
    } else if (banner.getAttribute("data-state") === "enrolling") {
      resetBanner();
    }
  }

  function showDoor(data) {
    var key = typeof data.alarm === "string" && data.alarm ? data.alarm : null;
    if (key) {
      var words = typeof data.message === "string" && data.message.trim() ? data.message.trim()
        : (key === "forced" ? "Door forced open" : "Door held open \u2014 please close it");
      alarm.setAttribute("data-alarm", key);
      alarm.textContent = words;
      alarm.hidden = false;
    } else {
      alarm.hidden = true;
      alarm.removeAttribute("data-alarm");
      alarm.textContent = "";
    }
  }

  function on(es, name, handler) {
    es.addEventListener(name, function (event) {
      if (es !== source) { return; }
      var data = parse(event);
      if (data && typeof data === "object") { handler(data); }
    });
  }

  function connect() {
    clearTimeout(retryTimer);
    expectOutage();
    var es = new EventSource("/events");
    source = es;
    es.onopen = function () {
      if (es !== source) { return; }
      retryDelay = 1000;
      setConnection("open");
    };
    es.onerror = function () {
      if (es !== source) { return; }
      setConnection("reconnecting");
      clearBoxes();
      clearGuidance();
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status or a wrong content type): try again ourselves.
        source = null;
        retryTimer = setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 10000);
      }
    };
    on(es, "hello", function (data) {
      // A new stream starts from the truth: the feed says again whether the door can decide.
      doorCanDecide = true;
      setConnection("open");
      lastSeq = null;
      pendingSeq = null;
      // A new stream (a reconnect, a restarted daemon) starts from the truth: the feed sends the alarm
      // and a waiting enrolment again if they still stand; what the page showed before may not.
      clearTimeout(bannerTimer);
      clearTimeout(fadeTimer);
      resetBanner();
      showDoor({ alarm: null });
      setPreviewOn(data.preview === true);
      var name = typeof data.door === "string" ? data.door.trim() : "";
      door.textContent = name;
      document.title = name ? name : "Door";
    });
    on(es, "preview", showPreview);
    on(es, "faces", showFaces);
    on(es, "decision", showDecision);
    on(es, "door", showDoor);
    on(es, "enrolment", showEnrolment);
    on(es, "availability", function (data) {
      doorCanDecide = data.can_decide !== false;
      if (!doorCanDecide) {
        showOutOfService();
      } else if (banner.getAttribute("data-state") === "unavailable") {
        resetBanner();
      }
    });
  }

  if (typeof ResizeObserver === "function") {
    new ResizeObserver(placeLayer).observe(picture);
  } else {
    window.addEventListener("resize", placeLayer);
  }
  preview.addEventListener("load", placeLayer);
  document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  connect();
})();
</script>
</body>
</html>
"""#
}
