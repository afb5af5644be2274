import FacegateIdentify
import Logging
import NIOHTTP1

// NeoCheck's replies on arbitrary bytes, read by the client's own readers: the token service's reply
// (`NeoCheckClient.token(from:grant:secrets:)`, both grants) and every kind of Face API reply
// (`interpret(_:as:)`: identifications, records, lists, created identifiers, confirmations, booleans),
// error bodies of every status included.
//
// Input: byte 0 picks the reader, byte 1 the HTTP status, the rest is the body. A thrown
// `NeoCheckError` is a refusal (fine). Findings: a trap, a memory error, or a secret the request carried
// (client secret, and the password or the refresh token) quoted in an error.

private let clientSecret = "fuzzClientSecret0123456789"
private let password = "fuzzPassword0123456789"
private let refreshToken = "fuzzRefreshToken0123456789"

private let client = try! NeoCheckClient(
    configuration: NeoCheckConfiguration(
        credentials: NeoCheckCredentials(
            clientID: "fuzz-client", clientSecret: clientSecret, username: "fuzz-user", password: password)),
    http: CloudHTTP(client: CloudHTTP.makeClient(), policy: CloudHTTPPolicy(), logger: Logger(label: "fuzz")))

private let statuses: [Int] = [200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 302, 99]

private let kinds = NeoCheckClient.ReplyKind.allCases

/// Reader `selector`: a Face API reply kind, then the token reply with each grant. Returns the secrets
/// the request that gets this reply carries, which the reader must keep out of its errors.
private func secrets(for selector: Int) -> [String] {
    selector % (kinds.count + 2) == kinds.count + 1 ? [clientSecret, refreshToken] : [clientSecret, password]
}

private func read(_ response: CloudHTTPResponse, with selector: Int) throws(NeoCheckError) {
    switch selector % (kinds.count + 2) {
    case let kind where kind < kinds.count:
        _ = try client.interpret(response, as: kinds[kind])
    case kinds.count:
        _ = try NeoCheckClient.token(from: response, grant: .password, secrets: secrets(for: selector))
    default:
        _ = try NeoCheckClient.token(from: response, grant: .refreshToken(refreshToken), secrets: secrets(for: selector))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNeoCheck(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size >= 2, let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let status = HTTPResponseStatus(statusCode: statuses[Int(bytes[1]) % statuses.count])
    let response = CloudHTTPResponse(
        status: status, headers: HTTPHeaders([("content-type", "application/json; charset=utf-8")]),
        body: Array(bytes[2...]))
    do {
        try read(response, with: Int(bytes[0]))
    } catch {
        let texts = [error.message] + error.serviceErrors.flatMap { [$0.code, $0.description] }
        for text in texts where secrets(for: Int(bytes[0])).contains(where: text.contains) {
            fatalError("a NeoCheck error quotes a secret of this client")
        }
    }
    return 0
}
