import AsyncHTTPClient
import FacegateIdentify
import NIOHTTP1
import Testing

/// Inputs the `nec` fuzz target (Fuzz/, `scripts/fuzz nec`) found, read by the client's own reply reader.
@Suite(.timeLimit(.minutes(5))) struct NECFuzzRegressionTests {
    static let secretKey = "fuzzSecretAccessKey0123456789"
    static let apiKey = "fuzzApiKey0123456789"

    static let client = NECIDClient(
        configuration: NECIDConfiguration(
            endpoint: "https://api.id.example",
            credentials: AWSCredentials(accessKeyID: "AKIDFUZZ", secretAccessKey: secretKey), apiKey: apiKey),
        httpClient: HTTPClient.shared)

    /// A 2xx whose number field holds text: the decoder's description quotes up to 40 characters of it,
    /// and that text went into the error unsanitized, so a key the service echoed reached logs and the
    /// journal. The first body is the fuzzer's (shortened); the second is the door's own call.
    @Test(arguments: [
        #"{"batchId": "b-1", "processsed": [{"id": "r2", "filename": ".jpg", "attempts": "0.97,fuzzApiKey0123456789sl", "status": "Processed"}]}"#,
        #"{"candidates": [{"id": "6f1c", "score": "fuzzSecretAccessKey0123456789"}]}"#,
    ])
    func aKeyQuotedByTheDecoderIsRedactedFromTheError(body: String) throws {
        let response = CloudHTTPResponse(status: .ok, headers: HTTPHeaders(), body: Array(body.utf8))
        let error = #expect(throws: NECIDError.self) {
            if body.contains("batchId") {
                _ = try Self.client.interpret(response, for: NECIDCall.jobProgress(batchID: "b-1"))
            } else {
                _ = try Self.client.interpret(response, for: NECIDCall.search(probe: [1]))
            }
        }
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(!message.contains(Self.apiKey) && !message.contains(Self.secretKey))
        #expect(message.contains("<redacted>"))
    }

    /// A key longer than the decoder's 40-character quote shows only its beginning; that is taken out too.
    @Test func aKeyCutShortByTheQuoteIsStillRedacted() throws {
        let longKey = "fuzzLongApiKey-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: "https://api.id.example",
                credentials: AWSCredentials(accessKeyID: "AKIDFUZZ", secretAccessKey: Self.secretKey), apiKey: longKey),
            httpClient: HTTPClient.shared)
        let body = #"{"candidates": [{"id": "6f1c", "score": "\#(longKey)"}]}"#
        let response = CloudHTTPResponse(status: .ok, headers: HTTPHeaders(), body: Array(body.utf8))
        let error = #expect(throws: NECIDError.self) { _ = try client.interpret(response, for: NECIDCall.search(probe: [1])) }
        let message = error?.message ?? ""
        #expect(!message.contains(String(longKey.prefix(12))), "\(message)")
        #expect(message.contains("<redacted>"))
    }
}
