import FacegateIdentify
import Logging
import NIOHTTP1

// NeoCheck's replies on arbitrary bytes, read by the client's own readers: the token service's reply
// (`NeoCheckClient.token(from:grant:secrets:)`, both grants) and every kind of Face API reply
// (`interpret(_:as:)`: identifications, records, lists, created identifiers, confirmations, booleans),
// error bodies of every status included.
//
// Input: byte 0 picks the reader, byte 1 the HTTP status, the rest is the body. A thrown
// `NeoCheckError` is a refusal (fine). Findings: a trap, a memory error, or a secret of this client
// (client secret, password, refresh token) quoted in an error.

private let clientSecret = "fuzzClientSecret0123456789"
private let password = "fuzzPassword0123456789"
private let refreshToken = "fuzzRefreshToken0123456789"

private let client = try! NeoCheckClient(
    configuration: NeoCheckConfiguration(
        credentials: NeoCheckCredentials(
            clientID: "fuzz-client", clientSecret: clientSecret, username: "fuzz-user", password: password)),
    http: CloudHTTP(client: CloudHTTP.makeClient(), policy: CloudHTTPPolicy(), logger: Logger(label: "fuzz")))

private let statuses: [Int] = [200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 302, 99]

private let readers: [(CloudHTTPResponse) throws(NeoCheckError) -> Void] =
    NeoCheckClient.ReplyKind.allCases.map { kind in
        { response throws(NeoCheckError) in _ = try client.interpret(response, as: kind) }
    } + [
        { _ = try NeoCheckClient.token(from: $0, grant: .password, secrets: [clientSecret, password]) },
        { _ = try NeoCheckClient.token(from: $0, grant: .refreshToken(refreshToken), secrets: [clientSecret, refreshToken]) },
    ]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNeoCheck(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size >= 2, let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let read = readers[Int(bytes[0]) % readers.count]
    let status = HTTPResponseStatus(statusCode: statuses[Int(bytes[1]) % statuses.count])
    let response = CloudHTTPResponse(
        status: status, headers: HTTPHeaders([("content-type", "application/json; charset=utf-8")]),
        body: Array(bytes[2...]))
    do {
        try read(response)
    } catch {
        let texts = [error.message] + error.serviceErrors.flatMap { [$0.code, $0.description] }
        for text in texts where [clientSecret, password, refreshToken].contains(where: text.contains) {
            fatalError("a NeoCheck error quotes a secret of this client")
        }
    }
    return 0
}
