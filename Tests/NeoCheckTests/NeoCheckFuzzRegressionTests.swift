import AsyncHTTPClient
@testable import FacegateIdentify
import Logging
import NIOHTTP1
import Testing

/// Inputs the `neocheck` fuzz target (Fuzz/, `scripts/fuzz neocheck`) found, read by the client's own reply reader.
@Suite(.timeLimit(.minutes(5))) struct NeoCheckFuzzRegressionTests {
    static let clientSecret = "fuzzClientSecret0123456789"
    static let password = "fuzzPassword0123456789"

    static func client() throws -> NeoCheckClient {
        try NeoCheckClient(
            configuration: NeoCheckConfiguration(
                credentials: NeoCheckCredentials(
                    clientID: "fuzz-client", clientSecret: clientSecret, username: "fuzz-user", password: password)),
            http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(), logger: Logger(label: "test")))
    }

    /// A 200 whose number field holds text: the decoder's summary quotes up to 40 characters of it, and
    /// that text went into the error unsanitized, so a secret the service echoed reached logs and the
    /// journal. The first body is the fuzzer's; the second holds the client secret instead.
    @Test(arguments: [
        (NeoCheckClient.ReplyKind.identification, #"{"confidence": "124fuzzPassword0123456789AAA}}}}}}}}}}}}}}}}}"}"#),
        (.identification, #"{"result": 0, "confidence": "fuzzClientSecret0123456789"}"#),
    ])
    func aSecretQuotedByTheDecoderIsRedactedFromTheError(kind: NeoCheckClient.ReplyKind, body: String) throws {
        let client = try Self.client()
        let response = CloudHTTPResponse(status: .ok, headers: HTTPHeaders(), body: Array(body.utf8))
        let error = #expect(throws: NeoCheckError.self) { _ = try client.interpret(response, as: kind) }
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(!message.contains(Self.password) && !message.contains(Self.clientSecret))
        #expect(message.contains("[redacted]"))
    }

    /// A secret the service splits with a newline is joined again when control characters go, so they
    /// go first; and a secret cut short by a quote still loses its beginning.
    @Test func aSecretSplitByANewlineOrCutShortIsRedacted() {
        let split = NeoCheckClient.sanitized("invalid grant for fuzzPass\nword0123456789 (user)", removing: [Self.password])
        #expect(!split.contains(Self.password) && split.contains("[redacted]"), "\(split)")
        let cut = NeoCheckClient.sanitized("expected a number, got \"fuzzClientSecret01\"", removing: [Self.clientSecret])
        #expect(!cut.contains("fuzzClientSecret01") && cut.contains("[redacted]"), "\(cut)")
    }

    /// A reply cut for length, with a long secret echoed before a short one that the cut splits: the long
    /// one's redaction shrinks the text, and the piece of the short one left before the cut (too short to
    /// be known as a secret) would land in the 300 characters shown (review). The cut leaves room for it.
    @Test func aSecretTheCutSplitsNeverShowsAfterLongerOnesAreRedacted() {
        let token = String(repeating: "T0kEn", count: 400)
        let password = "Pw7x9Qz2Lm5Rk8Vn"
        let lead = token + " " + token + " "
        let text = lead + String(repeating: "y", count: 4090 - lead.count) + password + String(repeating: "z", count: 100)
        let shown = NeoCheckClient.sanitized(text, removing: [token, password])
        #expect(!shown.contains(String(password.prefix(6))), "\(shown)")
        #expect(!shown.contains(String(token.prefix(8))))
        // Wherever the cut falls in the password (review: cutting short of the longest secret only moved the
        // cut, and a password begun just before the new one showed its first four characters).
        for start in [4081, 4084, 4089, 4094, 4095] {
            let tail = lead + String(repeating: "y", count: start - lead.count) + password + String(repeating: "z", count: 200)
            let quoted = NeoCheckClient.sanitized(tail, removing: [token, password])
            for length in 2..<password.count where quoted.contains(String(password.prefix(length)) + "z") || quoted.hasSuffix(String(password.prefix(length))) {
                Issue.record("a piece of the password shows with the cut at \(4096 - start): \(quoted.suffix(40))")
            }
        }
        // A longer token, redacted, and the password whole before the cut: redacted, not cut.
        let early = token + " " + String(repeating: "y", count: 92) + password + String(repeating: "z", count: 3000)
        let quotedEarly = NeoCheckClient.sanitized(early, removing: [token, password])
        #expect(!quotedEarly.contains("Pw7x") && quotedEarly.contains("[redacted] yyy"), "\(quotedEarly.prefix(200))")
    }

    /// The matcher that finds a secret's beginning at the end of a cut text, on the cases that trip naive ones.
    @Test func theLongestEndingThatBeginsASecret() {
        func length(_ secret: String, _ text: String) -> Int {
            SecretRedaction.longestEndingThatBegins(Array(secret.unicodeScalars), Array(text.unicodeScalars))
        }
        #expect(length("abcabd", "xxabcab") == 5)
        #expect(length("abcabd", "xxabcabd") == 0, "a whole secret is the redaction's, not the cut's")
        #expect(length("aaaa", "baaaaaa") == 3, "never the whole secret")
        #expect(length("abab", "xaba") == 3)
        #expect(length("secret", "nothing") == 0)
        #expect(length("ab", "a") == 1)
    }
}
