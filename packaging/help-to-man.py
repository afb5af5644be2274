#!/usr/bin/env python3
"""Writes facegate(1) in roff from `facegate --experimental-dump-help` (swift-argument-parser's JSON).

    help-to-man.py HELP.json VERSION DATE > facegate.1

The manual is made from the command definitions themselves, so it cannot drift from `--help`.
ArgumentParser's own generate-manual plugin needs a Swift build of the package; this needs only the
binary the package ships. Every command and subcommand becomes one section of a single page.
"""
import json
import sys


def roff(text):
    """Text safe in a roff body: backslashes escaped, no line read as a request, minus signs as such."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def paragraphs(text):
    """ArgumentParser's discussions: paragraphs separated by blank lines; indented lines kept as they are."""
    out = []
    for block in text.strip().split("\n\n"):
        if not block.strip():
            continue
        if any(line.startswith("  ") for line in block.split("\n")):
            out += [".PP", ".nf", roff(block), ".fi"]
        else:
            out += [".PP", roff(" ".join(line.strip() for line in block.split("\n")))]
    return out


def name_text(name):
    prefix = {"long": "--", "short": "-", "longWithSingleDash": "-"}[name["kind"]]
    return prefix + name["name"]


def shown(arguments):
    """The arguments --help shows, less -h/--help itself (the COMMANDS section says it once)."""
    return [a for a in arguments if a.get("shouldDisplay", True)
            and {"kind": "long", "name": "help"} not in a.get("names", [])]


def synopsis(path, command):
    parts = []
    for argument in shown(command.get("arguments", [])):
        if argument["kind"] == "positional":
            part = "\\fI" + argument.get("valueName", "value") + "\\fR"
        else:
            preferred = argument.get("preferredName") or argument["names"][0]
            part = "\\fB" + roff(name_text(preferred)) + "\\fR"
            if argument["kind"] == "option":
                part += " \\fI" + argument.get("valueName", "value") + "\\fR"
        if argument.get("isRepeating"):
            part += " ..."
        if argument.get("isOptional"):
            part = "[" + part + "]"
        parts.append(part)
    if any(s.get("shouldDisplay", True) for s in command.get("subcommands", [])):
        parts.append("\\fIsubcommand\\fR")
    return ".B " + roff(" ".join(path)) + ("\n" + " ".join(parts) if parts else "")


def argument_items(command):
    out = []
    for argument in shown(command.get("arguments", [])):
        if argument["kind"] == "positional":
            label = "\\fI" + argument.get("valueName", "value") + "\\fR"
        else:
            label = ", ".join("\\fB" + roff(name_text(n)) + "\\fR" for n in argument["names"])
            if argument["kind"] == "option":
                label += " \\fI" + argument.get("valueName", "value") + "\\fR"
        text = argument.get("abstract", "")
        if argument.get("allValues"):
            text += " (values: " + ", ".join(argument["allValues"]) + ")"
        if argument.get("defaultValue") not in (None, ""):
            text += " (default: " + str(argument["defaultValue"]) + ")"
        out += [".TP", label, roff(text.strip())]
        if argument.get("discussion"):
            out += paragraphs(argument["discussion"])
    return out


def sections(path, command, out):
    if path[1:]:
        out += [".SS " + '"' + roff(" ".join(path)) + '"']
    else:
        out += [".SH SYNOPSIS"]
    out += [synopsis(path, command)]
    if path[1:] and command.get("abstract"):
        out += [".PP", roff(command["abstract"])]
    if command.get("discussion"):
        out += paragraphs(command["discussion"])
    items = argument_items(command)
    if items:
        out += [".PP", "Options and arguments:"] + items
    if not path[1:]:
        out += [".SH COMMANDS",
                "Every command also takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR."]
    for sub in command.get("subcommands", []):
        if sub.get("shouldDisplay", True):
            sections(path + [sub["commandName"]], sub, out)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: help-to-man.py HELP.json VERSION DATE")
    with open(sys.argv[1], encoding="utf-8") as f:
        command = json.load(f)["command"]
    version, date = sys.argv[2], sys.argv[3]
    name = command["commandName"]
    out = [
        '.\\" Generated from `%s --experimental-dump-help` by packaging/help-to-man.py; do not edit.' % name,
        '.TH %s 1 "%s" "%s %s" "User Commands"' % (name.upper(), date, name, roff(version)),
        ".SH NAME",
        "%s \\- %s" % (name, roff(command.get("abstract", "").rstrip("."))),
    ]
    sections([name], command, out)
    out += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBFACEGATE_MODELS\\fR",
        "Folder of the dlib model files, searched before \\fI/usr/local/share/facegate/models\\fR and \\fI/usr/share/facegate/models\\fR.",
        ".TP", "\\fBFACEGATE_PAD_MODELS\\fR",
        "Folder of the presentation\\-attack models, searched before \\fImodels/pad\\fR, \\fI/usr/local/share/facegate/pad\\fR and \\fI/usr/share/facegate/pad\\fR.",
        ".TP", "\\fBCREDENTIALS_DIRECTORY\\fR",
        "Set by systemd (\\fBLoadCredential=\\fR): where \\fBcredential:\\fR\\fINAME\\fR secrets in the configuration are read.",
        ".SH FILES",
        ".TP", "\\fI/etc/facegate/facegate.yaml\\fR",
        "The configuration; \\fBfacegate config check\\fR validates it.",
        ".TP", "\\fI/etc/facegate/credentials/\\fR",
        "The secrets the configuration names (root\\-only), handed to the service as systemd credentials.",
        ".TP", "\\fI/var/lib/facegate/\\fR",
        "The decision journal and the offline face cache.",
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBsystemd.exec\\fR(5), \\fI/usr/share/doc/facegate/README.md.gz\\fR",
    ]
    print("\n".join(out))


main()
