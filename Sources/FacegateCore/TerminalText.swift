/// Text from outside (a cloud's subject id, a journaled reason, a tag) made safe to print to a terminal.
public enum TerminalText {
    /// `text` with control characters (C0, DEL, C1) and the bidirectional overrides written as escapes
    /// (`\n`, `\t`, `\u{1B}`), so that an escape sequence in a reason or a subject id cannot erase or
    /// rewrite lines of a listing, nor a line break forge one.
    public static func printable(_ text: String) -> String { printable(text, keeping: []) }

    /// `text` made printable as ``printable(_:)`` does, but for the controls in `kept`, left as they are
    /// (a CSV field keeps its line breaks and tabs: quoting holds them, and they are the text's own).
    public static func printable(_ text: String, keeping kept: Set<Unicode.Scalar>) -> String {
        guard text.unicodeScalars.contains(where: { needsEscaping($0) && !kept.contains($0) }) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case _ where kept.contains(scalar): escaped.append(scalar)
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": escaped.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": escaped.append(contentsOf: #"\t"#.unicodeScalars)
            case _ where needsEscaping(scalar): escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// Serialised JSON with the C1 controls and the bidirectional overrides written as `\uXXXX` escapes:
    /// still the same JSON (they can stand only inside its strings), but a terminal shown it cannot take
    /// U+009B for an escape sequence's start nor reorder a line. The serialisers escape C0 themselves and
    /// leave these raw; the layout's own line breaks are left as they are.
    public static func escapingInJSON(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { $0.value >= 0x80 && needsEscaping($0) }) else { return json }
        var escaped = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if scalar.value >= 0x80, needsEscaping(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: false)
                escaped.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// Whether `scalar` may not reach a terminal raw: a control character (C0, DEL, C1) or a bidirectional
    /// override or isolate.
    public static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}
