import FacegateCore
import Foundation

/// Takes secrets out of text a cloud sent back (a service message, a decoder's quote of a bad value)
/// before it reaches an error, a log line or the journal.
enum SecretRedaction {
    /// The shortest cut-off start of a secret that is still taken out: decoders quote at most 40
    /// characters of a bad value, so a longer key shows only its beginning.
    static let shortestPrefix = 8

    /// Control characters (C0, DEL and C1: U+009B starts an escape sequence as ESC [ does) and the
    /// bidirectional overrides go first (so that a secret the service split with a newline is found
    /// whole, and the text cannot rewrite or reorder a terminal's line), then each secret and any
    /// beginning of one of at least `shortestPrefix` characters.
    static func redact(_ text: String, secrets: [String], marker: String) -> String {
        var clean = String(String.UnicodeScalarView(text.unicodeScalars.filter { !TerminalText.needsEscaping($0) }))
        for secret in secrets.sorted(by: { $0.count > $1.count }) where secret.count >= 4 {
            clean = clean.replacingOccurrences(of: secret, with: marker)
            // Every longer beginning starts with the shortest: absent, none is there. Nor one longer than
            // the text (a secret of a megabyte would otherwise cost a megabyte's worth of passes).
            guard secret.count > shortestPrefix, clean.contains(String(secret.prefix(shortestPrefix))) else { continue }
            var length = min(secret.count - 1, clean.count)
            while length >= shortestPrefix {
                let start = String(secret.prefix(length))
                if clean.contains(start) { clean = clean.replacingOccurrences(of: start, with: marker) }
                length -= 1
            }
        }
        return clean
    }
}
