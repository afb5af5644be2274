#!/usr/bin/env python3
"""Writes the package's DEP-5 copyright file from packaging/deb/copyright.in.

    copyright.py TEMPLATE CHECKOUTS_DIR SWIFT_LICENSE MAINTAINER > copyright

Fills in one paragraph per Swift package in CHECKOUTS_DIR (the build's resolved dependencies, all
linked statically into /usr/bin/facegate): its licence (Apache-2.0 by reference to
/usr/share/common-licenses, any other with its full text) and its NOTICE, which names the third-party
code it vendors (BoringSSL, llhttp, ...). The Swift runtime's licence exception is taken from the
toolchain's LICENSE.txt. Fails when a package has no licence file, rather than writing an incomplete
file.
"""
import os
import re
import sys


def field_text(text):
    """A multi-line DEP-5 field value: each line indented by one space, blank lines as ' .'."""
    lines = [line.rstrip().expandtabs() for line in text.strip("\n").split("\n")]
    return "\n".join(" " + line if line.strip() else " ." for line in lines)


def first_file(folder, prefixes):
    for name in sorted(os.listdir(folder)):
        if name.upper().startswith(prefixes) and os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def package_paragraph(folder):
    name = os.path.basename(folder)
    licence_file = first_file(folder, ("LICENSE", "LICENCE", "COPYING"))
    if licence_file is None:
        sys.exit("copyright.py: %s has no licence file; cannot describe it" % folder)
    with open(licence_file, encoding="utf-8", errors="replace") as f:
        licence = f.read()
    notice_file = first_file(folder, ("NOTICE",))
    notice = ""
    if notice_file:
        with open(notice_file, encoding="utf-8", errors="replace") as f:
            notice = f.read()
    holders = sorted({m.strip().rstrip(".") for m in re.findall(r"^\s*Copyright (?:\(c\)|\(C\)|©)?\s*(.+)$", licence + "\n" + notice, re.M)
                      if not m.lower().startswith(("notice", "[yyyy]", "[year]", "and related", "owner", "holder"))})
    if holders:
        copyright_field = "Copyright: " + "\n ".join(holders)
    else:
        copyright_field = "Copyright: the %s authors" % name
    out = ["Files: checkouts/%s/*" % name, copyright_field]
    if "Apache License" in licence and "Version 2.0" in licence:
        out.append("License: Apache-2.0")
    elif "Permission is hereby granted, free of charge" in licence:
        out.append("License: Expat\n" + field_text(licence))
    else:
        out.append("License: other-%s\n" % name + field_text(licence))
    if notice.strip():
        out.append("Comment: The package's NOTICE:\n" + field_text(notice))
    return "\n".join(out) + "\n"


def runtime_exception(swift_licence):
    with open(swift_licence, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"Runtime Library Exception[^\n]*\n(.*)", text, re.S)
    if not match or not match.group(1).strip():
        sys.exit("copyright.py: no Runtime Library Exception in %s" % swift_licence)
    return field_text(match.group(1))


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: copyright.py TEMPLATE CHECKOUTS_DIR SWIFT_LICENSE MAINTAINER")
    template, checkouts, swift_licence, maintainer = sys.argv[1:]
    folders = sorted(os.path.join(checkouts, d) for d in os.listdir(checkouts)
                     if os.path.isdir(os.path.join(checkouts, d)) and not d.startswith("."))
    if not folders:
        sys.exit("copyright.py: no Swift package checkouts in %s" % checkouts)
    with open(template, encoding="utf-8") as f:
        text = f.read()
    text = text.replace("@MAINTAINER@", maintainer)
    text = text.replace("@SWIFT_PACKAGES@\n", "\n".join(package_paragraph(d) for d in folders) + "\n")
    text = text.replace("@RUNTIME_EXCEPTION@", runtime_exception(swift_licence))
    sys.stdout.write(text)


main()
