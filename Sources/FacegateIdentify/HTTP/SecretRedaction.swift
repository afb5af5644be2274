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
    /// `text`'s first `limit` Unicode scalars, to be quoted (then redacted); when the text was longer, a
    /// beginning of a secret left at the very end by the cut is cut off too. Such a piece may be too short
    /// to be known as a secret (under `shortestPrefix`), and the redaction of longer secrets before it,
    /// shrinking the text, would bring it into the part an error shows (review). Looked for with the
    /// control characters gone, as `redact` sees the text, so a piece the service split with a newline is
    /// found too.
    static func cut(_ text: String, toScalars limit: Int, secrets: [String]) -> String {
        let head = Array(text.unicodeScalars.prefix(limit + 1))
        guard head.count > limit else { return text }
        var kept = head.prefix(limit).filter { !TerminalText.needsEscaping($0) }
        var cutOff = 0
        for secret in secrets where secret.unicodeScalars.count > 1 {
            cutOff = max(cutOff, longestEndingThatBegins(Array(secret.unicodeScalars), kept))
        }
        kept.removeLast(cutOff)
        return String(String.UnicodeScalarView(kept))
    }

    /// The length of the longest end of `text` that is a proper beginning of `secret` (0 when none), in time
    /// linear in their lengths (a token may be 16 KiB): the prefix function of `secret`, then `text` run
    /// through it as a matcher that never completes a whole match.
    static func longestEndingThatBegins(_ secret: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Int {
        guard secret.count > 1 else { return 0 }
        var failure = [Int](repeating: 0, count: secret.count)
        var k = 0
        for i in 1..<secret.count {
            while k > 0, secret[i] != secret[k] { k = failure[k - 1] }
            if secret[i] == secret[k] { k += 1 }
            failure[i] = k
        }
        var matched = 0
        for scalar in text.suffix(secret.count - 1) {
            while matched > 0, (matched == secret.count - 1 || scalar != secret[matched]) {
                matched = failure[matched - 1]
            }
            if matched < secret.count - 1, scalar == secret[matched] { matched += 1 }
        }
        return matched
    }

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
