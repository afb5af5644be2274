/// Text from outside (a cloud's subject id, a journaled reason, a tag) made safe to print to a terminal.
public enum TerminalText {
    /// `text` with control characters (C0, DEL, C1) and the bidirectional overrides written as escapes
    /// (`\n`, `\t`, `\u{1B}`), so that an escape sequence in a reason or a subject id cannot erase or
    /// rewrite lines of a listing, nor a line break forge one.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscaping) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": escaped.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": escaped.append(contentsOf: #"\t"#.unicodeScalars)
            case _ where needsEscaping(scalar): escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    private static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}
