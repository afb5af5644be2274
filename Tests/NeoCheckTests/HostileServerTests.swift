import AsyncHTTPClient
import FacegateIdentify
import Foundation
import Logging
import Synchronization
import Testing
import FacegateTesting

/// What the hostile server answers (``HostileServer``, shared with the NEC ID tests).
typealias Misbehaviour = HostileServer.Behaviour

extension HostileServer.Behaviour {
    /// Bytes that are not HTTP, then the connection is closed.
    static let garbage = Self.raw("\u{1}\u{2}NOT HTTP AT ALL \u{ff}\r\n\r\n")
}

/// The hostile server as a NeoCheck service: token requests get `token` (a valid token by default),
/// every other request gets `api`.
extension HostileServer {
    static let validToken = Misbehaviour.reply(
        status: 200, body: #"{"token_type":"Bearer","access_token":"hostile-token","expires_in":3600,"refresh_token":"hostile-refresh"}"#)

    static func start(token: Misbehaviour = validToken, api: Misbehaviour) async throws -> HostileServer {
        try await start { line in line.contains("/connect/token") ? token : api }
    }

    var apiRequests: [String] { requestLines.filter { !$0.contains("connect/token") } }
    var tokenRequests: [String] { requestLines.filter { $0.contains("connect/token") } }

    /// A client of this server: 10 s per attempt (room for a loaded machine), 1 MiB cap,
    /// 3 attempts for idempotent calls.
    func client() throws(NeoCheckError) -> NeoCheckClient {
        let policy = CloudHTTPPolicy(
            requestTimeout: .seconds(10), maxResponseBytes: 1 << 20, maxAttempts: 3, initialBackoff: .milliseconds(10))
        return try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: URL(string: endpoint + "/api")!, credentials: NeoCheckTestAccount.credentials),
            http: CloudHTTP(client: HTTPClient.shared, policy: policy, logger: .init(label: "hostile-test")))
    }
}

@Suite("NeoCheck client against a misbehaving server", .timeLimit(.minutes(5)))
struct HostileServerTests {
    private let probe: [UInt8] = Array("not really an image, the server never looks".utf8)

    /// Runs `call` against a server that misbehaves as told, and returns the typed error it must end with.
    private func failure(
        token: Misbehaviour = HostileServer.validToken, api: Misbehaviour,
        _ call: @Sendable (NeoCheckClient) async throws(NeoCheckError) -> Void
    ) async throws -> (NeoCheckError, HostileServer) {
        let server = try await HostileServer.start(token: token, api: api)
        let client = try server.client()
        var failure = NeoCheckError(.unexpectedStatus, "the call succeeded")
        do {
            try await call(client)
            Issue.record("the call succeeded against a misbehaving server")
        } catch {
            failure = error
        }
        await server.stop()
        return (failure, server)
    }

    /// A read retried after a gateway's 504 may have reached the service each time, and the service counts
    /// every request it gets: each retry is paid for before it goes, and one the budget cannot pay is not made.
    @Test("each retry of a read is paid from the hourly budget")
    func retriesArePaidFromTheBudget() async throws {
        let attempts = Mutex(0)
        let record = #"{"identifier":"2b1d6c1e-0000-4000-8000-000000000001","name":"Leo","enabled":true}"#
        let server = try await HostileServer.start { line in
            if line.contains("/connect/token") { return HostileServer.validToken }
            let number = attempts.withLock { count in
                count += 1
                return count
            }
            return number < 3 ? .gatewayPage(504) : .reply(status: 200, body: record)
        }
        defer { server.close() }
        let policy = CloudHTTPPolicy(requestTimeout: .seconds(10), maxResponseBytes: 1 << 20, maxAttempts: 3, initialBackoff: .milliseconds(10))
        func client(_ budget: HourlyCallBudget) throws -> NeoCheckClient {
            try NeoCheckClient(
                configuration: NeoCheckConfiguration(endpoint: URL(string: server.endpoint + "/api")!, credentials: NeoCheckTestAccount.credentials),
                http: CloudHTTP(client: HTTPClient.shared, policy: policy, logger: .init(label: "hostile-test")), budget: budget)
        }
        let budget = try HourlyCallBudget(callsPerHour: 5)
        _ = try await client(budget).record(.identifier("2b1d6c1e-0000-4000-8000-000000000001"))
        #expect(server.apiRequests.count == 3)
        #expect(await budget.remaining == 2, "three requests reached the service; the hour has two left")
        // With one call left, the first attempt goes and its retry is refused by the budget, not sent.
        attempts.withLock { $0 = 0 }
        let short = try HourlyCallBudget(callsPerHour: 1)
        do {
            _ = try await client(short).record(.identifier("2b1d6c1e-0000-4000-8000-000000000001"))
            Issue.record("the retry went out beyond the budget")
        } catch {
            #expect((error as? NeoCheckError)?.code == .callBudgetExhausted, "\(error)")
        }
        #expect(server.apiRequests.count == 4)
    }

    @Test("a body that is not JSON")
    func notJSON() async throws {
        let (error, _) = try await failure(api: .reply(status: 200, body: "<html>hello</html>")) { client throws(NeoCheckError) in
            _ = try await client.list(identifier: "x")
        }
        #expect(error.code == .malformedResponse)
    }

    @Test(
        "wrong types and out-of-range values in an identification",
        arguments: [
            #"{"confidence":"high","result":0}"#,
            #"{"confidence":250,"result":0}"#,
            #"{"confidence":80,"result":7}"#,
            #"{"confidence":80}"#,
            #"[1,2,3]"#,
            #"{"confidence":80,"result":0,"identifier":"a","faceImageBase64":"***not base64***"}"#,
        ])
    func wrongTypes(body: String) async throws {
        let (error, _) = try await failure(api: .reply(status: 200, body: body)) { [probe] client throws(NeoCheckError) in
            _ = try await client.identify(probe: probe, againstList: .name("staff"))
        }
        #expect(error.code == .malformedResponse)
    }

    @Test("an identification whose face QA has an unexpected shape still decodes")
    func oddFaceQA() async throws {
        let body =
            #"{"confidence":"91.5","result":"ok","identifier":"id-1","name":"Ada","faceQA":{"checks":"green","imageFeatures":{"blur":3,"label":"x"}}}"#
        let server = try await HostileServer.start(api: .reply(status: 200, body: body))
        let answer = try await server.client().identify(probe: probe, againstList: .identifier("l"), faceQA: true)
        await server.stop()
        #expect(answer.result == .ok)
        #expect(answer.confidence == 91.5)
        #expect(answer.person?.identifier == "id-1")
        #expect(answer.faceQA?.checks == nil)
        #expect(answer.faceQA?.imageFeatures == ["blur": 3])
    }

    /// An id goes into the path as one segment: `.` and `..` are refused before anything is sent (a proxy may
    /// resolve them: `DELETE v1/face/..` would not be a record's delete).
    @Test("an identifier that is a dot segment is refused before sending", arguments: [".", ".."])
    func dotSegmentIdentifiers(id: String) async throws {
        let (error, server) = try await failure(api: .reply(status: 200, body: "true")) { client throws(NeoCheckError) in
            _ = try await client.record(.identifier(id))
        }
        #expect(error.code == .invalidArgument)
        #expect(server.apiRequests.isEmpty, "\(server.apiRequests)")
    }

    @Test("a reply over the size cap")
    func hugeBody() async throws {
        let (error, _) = try await failure(api: .flood(bytes: 8 << 20)) { client throws(NeoCheckError) in
            _ = try await client.record(.identifier("x"))
        }
        #expect(error.code == .responseTooLarge)
    }

    @Test("no reply, or half a reply, ends in a timeout", arguments: [Misbehaviour.silence, .stallMidBody])
    func slow(behaviour: Misbehaviour) async throws {
        let elapsed = Mutex(Duration.zero)
        let (error, server) = try await failure(api: behaviour) { [probe] client throws(NeoCheckError) in
            _ = try await client.tokens.token()
            let started = ContinuousClock.now
            defer { elapsed.withLock { $0 = ContinuousClock.now - started } }
            _ = try await client.identify(probe: probe, againstReference: probe)
        }
        #expect(error.code == .timeout)
        // An identification is sent once.
        #expect(server.apiRequests.count == 1)
        // Loose on purpose (a loaded machine): the point is that it ends, where AsyncHTTPClient
        // alone waits 90 s for a body that stalls.
        #expect(elapsed.withLock { $0 } < .seconds(60))
    }

    @Test("a closed connection, a reset or garbage instead of a reply", arguments: [Misbehaviour.close, .reset, .garbage])
    func brokenConnection(behaviour: Misbehaviour) async throws {
        let (error, server) = try await failure(api: behaviour) { client throws(NeoCheckError) in
            _ = try await client.list(identifier: "x")
        }
        #expect(error.code == .unreachable)
        // A read is idempotent: it was tried the policy's three times.
        #expect(server.apiRequests.count == 3)
    }

    @Test("a 503 is retried for reads only")
    func retriesOnlyIdempotentCalls() async throws {
        let unavailable = Misbehaviour.reply(status: 503, body: "")
        let (readError, readServer) = try await failure(api: unavailable) { client throws(NeoCheckError) in
            _ = try await client.list(identifier: "x")
        }
        // Any 5xx is a server error (the cloud unavailable to the door), not an unexpected status.
        #expect(readError.code == .serverError)
        #expect(readServer.apiRequests.count == 3)
        let (createError, createServer) = try await failure(api: unavailable) { client throws(NeoCheckError) in
            _ = try await client.createList(name: "x")
        }
        #expect(createError.code == .serverError)
        #expect(createServer.apiRequests.count == 1)
    }

    @Test("a service that refuses every token: one renewal, then unauthorized")
    func alwaysUnauthorized() async throws {
        let (error, server) = try await failure(api: .reply(status: 401, body: "")) { client throws(NeoCheckError) in
            _ = try await client.list(identifier: "x")
        }
        #expect(error.code == .unauthorized)
        #expect(server.apiRequests.count == 2)
        #expect(server.tokenRequests.count == 2)
    }

    @Test(
        "documented error replies map to their typed errors",
        arguments: [
            (400, #"{"Message":"Insufficient credits"}"#, NeoCheckError.Code.insufficientCredits),
            (400, #"{"message":"Invalid content"}"#, .invalidContent),
            (400, #"{"message":"The maximum number of calls per hour has been reached"}"#, .hourlyLimitReached),
            // The same in the error list the record and list calls answer a 400 with (review: read as a refusal).
            (400, #"{"errors":[{"code":"CallLimit","description":"The maximum number of calls per hour has been reached"}]}"#, .hourlyLimitReached),
            (400, #"{"errors":[{"code":"InsufficientCredits","description":"Not enough credit left"}]}"#, .insufficientCredits),
            (400, #"{"identifier":null,"errors":[{"code":"NameRequired","description":"name is required"}]}"#, .rejected),
            (400, #"{"surprise":true}"#, .badRequest),
            (404, "", .notFound),
            (500, #"{"message":"Internal Error"}"#, .serverError),
            // Not in the document, but what a gateway in front of the service answers (issue 9, item 9).
            (429, "", .tooManyRequests),
            (502, "<html><body>Bad Gateway</body></html>", .serverError),
            (503, "", .serverError),
            (504, "<html><body>Gateway Timeout</body></html>", .serverError),
            (418, "teapot", .unexpectedStatus),
        ])
    func errorReplies(status: Int, body: String, code: NeoCheckError.Code) async throws {
        let (error, _) = try await failure(api: .reply(status: status, body: body)) { client throws(NeoCheckError) in
            _ = try await client.createList(name: "x")
        }
        #expect(error.code == code)
        if code == .rejected {
            #expect(error.serviceErrors == [NeoCheckServiceError(code: "NameRequired", description: "name is required")])
        }
    }

    @Test(
        "token service failures",
        arguments: [
            (Misbehaviour.reply(status: 200, body: "{}"), NeoCheckError.Code.malformedResponse),
            (.reply(status: 200, body: #"{"access_token":"t","expires_in":-5}"#), .malformedResponse),
            (.reply(status: 200, body: #"{"access_token":"t","expires_in":60,"token_type":"MAC"}"#), .malformedResponse),
            (.reply(status: 400, body: #"{"error":"Unsupported grant type"}"#), .unsupportedGrantType),
            (.reply(status: 400, body: #"{"error":"Invalid ClientId"}"#), .invalidClient),
            (.reply(status: 500, body: #"{"error":"Internal Error"}"#), .serverError),
            (.reply(status: 503, body: "<html>Service Unavailable</html>"), .serverError),
            (.reply(status: 429, body: ""), .tooManyRequests),
            (.garbage, .unreachable),
        ])
    func tokenFailures(token: Misbehaviour, code: NeoCheckError.Code) async throws {
        let (error, server) = try await failure(token: token, api: .reply(status: 200, body: "true")) { client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == code)
        #expect(server.apiRequests.isEmpty)
    }

    /// The token reply's `token_type` is the service's text: an error about it does not quote it (it could
    /// carry a secret's beginning or a terminal's control codes; review: 20 characters were quoted unredacted).
    @Test(arguments: [NeoCheckTestAccount.password, "\u{1B}[2Jcleared"])
    func anOddTokenTypeIsNotQuoted(type: String) async throws {
        let escaped = String(data: try JSONEncoder().encode(type), encoding: .utf8) ?? ""
        let token = Misbehaviour.reply(status: 200, body: #"{"access_token":"t","expires_in":60,"token_type":\#(escaped)}"#)
        let (error, _) = try await failure(token: token, api: .reply(status: 200, body: "true")) { client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == .malformedResponse)
        #expect(!error.description.contains(String(type.prefix(8))) && !error.description.contains("\u{1B}"), "\(error)")
    }

    @Test(
        "a refused refresh, whatever its words, is followed by a password grant and the call goes through",
        arguments: [
            Misbehaviour.reply(status: 401, body: ""),
            .reply(status: 400, body: #"{"error":"invalid_token"}"#),
            .reply(status: 401, body: #"{"error":"invalid_token","error_description":"expired"}"#),
            // The document's own words (the control: this one was understood before).
            .reply(status: 400, body: #"{"error":"Invalid ticket"}"#),
        ])
    func refusedRefreshFallsBackToPassword(refusal: Misbehaviour) async throws {
        let tokenRequests = Mutex(0)
        let apiRequests = Mutex(0)
        let server = try await HostileServer.start { line in
            if line.contains("/connect/token") {
                let number = tokenRequests.withLock { count in
                    count += 1
                    return count
                }
                switch number {
                case 1:
                    return .reply(
                        status: 200, body: #"{"token_type":"Bearer","access_token":"first-access","expires_in":3600,"refresh_token":"dead-refresh"}"#)
                case 2: return refusal
                default: return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"second-access","expires_in":3600}"#)
                }
            }
            let number = apiRequests.withLock { count in
                count += 1
                return count
            }
            // The first token is refused by the API, which makes the client renew it: with the refresh token first.
            return number == 1 ? .reply(status: 401, body: "") : .reply(status: 200, body: "true")
        }
        defer { server.close() }
        let deleted = try await server.client().deleteList(identifier: "x")
        #expect(deleted)
        #expect(server.tokenRequests.count == 3, "password, the refused refresh, password")
        #expect(server.requestHeads.last?.contains("Bearer second-access") == true)
    }

    @Test(
        "a reply that quotes the door's access or refresh token has it cut out of the error",
        arguments: [
            #"{"message":"Invalid content: Bearer hostile-token"}"#,
            #"{"message":"Invalid content: refresh hostile-refresh"}"#,
            #"{"errors":[{"code":"Bearer hostile-token","description":"token hostile-refresh is not valid"}]}"#,
        ])
    func echoedTokensRedacted(body: String) async throws {
        let (error, _) = try await failure(api: .reply(status: 400, body: body)) { client throws(NeoCheckError) in
            _ = try await client.createList(name: "x")
        }
        #expect(error.code == .invalidContent || error.code == .rejected)
        #expect(!error.description.contains("hostile-token"), "\(error)")
        #expect(!error.description.contains("hostile-refresh"), "\(error)")
        #expect(error.description.contains("[redacted]"))
    }

    @Test("ten thousand listed errors, with a 400 or a 200, give a bounded error", arguments: [400, 200])
    func manyListedErrorsAreBounded(status: Int) async throws {
        let entry = #"{"code":"NameRequired","description":"\#(String(repeating: "n", count: 40))"}"#
        let body = #"{"result":false,"errors":[\#(Array(repeating: entry, count: 10_000).joined(separator: ","))]}"#
        let (error, _) = try await failure(api: .reply(status: status, body: body)) { client throws(NeoCheckError) in
            try await client.updateList(identifier: "x", name: "y", description: nil)
        }
        #expect(error.code == .rejected)
        #expect(error.serviceErrors.count <= NeoCheckError.keptServiceErrors)
        #expect(error.description.count < 2_000, "\(error.description.count) characters")
        #expect(error.description.contains("10000 errors listed"))
    }

    /// A token a header cannot carry is refused as it comes, with no Face API call made or charged: kept,
    /// the transport refused every call with it before sending (so no 401 ever renewed it), quoting it
    /// whole into the error, and the door decided offline for the token's lifetime. A token of a megabyte,
    /// cut out of every reply's text, would have held each error's redaction for hours.
    @Test(
        "a token that is not printable ASCII, or is huge, is a malformed token reply",
        arguments: [
            #"{"token_type":"Bearer","access_token":"hostile-token\n","expires_in":3600}"#,
            #"{"token_type":"Bearer","access_token":"hostile token","expires_in":3600}"#,
            #"{"token_type":"Bearer","access_token":"hostile-token","expires_in":3600,"refresh_token":"hostile-\u0000refresh"}"#,
            #"{"token_type":"Bearer","access_token":"hostile-token","expires_in":3600,"refresh_token":"\#(String(repeating: "r", count: 64 << 10))"}"#,
        ])
    func aTokenAHeaderCannotCarryIsRefused(body: String) async throws {
        let (error, server) = try await failure(token: .reply(status: 200, body: body), api: .reply(status: 200, body: "true")) {
            client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == .malformedResponse, "\(error)")
        #expect(!error.description.contains("hostile"), "\(error)")
        #expect(server.apiRequests.isEmpty, "no Face API call was made")
    }

    /// The token service quotes the form as it was sent, percent-encoded: the account's password and
    /// client secret are cut out in that form too (before, `p%40ss%20word%26%3D%25` was shown whole).
    @Test("a token reply that echoes the form has the encoded secrets cut out")
    func echoedEncodedSecretsRedacted() async throws {
        // As a form encodes them: everything but letters, digits and -._~ as %XX.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let password = try #require(NeoCheckTestAccount.password.addingPercentEncoding(withAllowedCharacters: unreserved))
        let secret = try #require(NeoCheckTestAccount.clientSecret.addingPercentEncoding(withAllowedCharacters: unreserved))
        #expect(password != NeoCheckTestAccount.password && secret != NeoCheckTestAccount.clientSecret, "the test account's secrets need encoding")
        let echo = #"{"error":"Invalid credentials: client_secret=\#(secret)&password=\#(password)"}"#
        let (error, _) = try await failure(token: .reply(status: 400, body: echo), api: .reply(status: 200, body: "true")) {
            client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == .invalidCredentials)
        #expect(!error.description.contains(password), "\(error)")
        #expect(!error.description.contains(secret), "\(error)")
        #expect(!error.description.contains("Client-Key"), "no piece of the client secret either: \(error)")
    }

    @Test("a reply that echoes a secret has it cut out of the error")
    func echoedSecretsRedacted() async throws {
        let echo = #"{"error":"Invalid credentials: \#(NeoCheckTestAccount.password) for \#(NeoCheckTestAccount.clientSecret)"}"#
        let (error, _) = try await failure(token: .reply(status: 400, body: echo), api: .reply(status: 200, body: "true")) {
            client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == .invalidCredentials)
        #expect(!error.description.contains(NeoCheckTestAccount.password))
        #expect(!error.description.contains(NeoCheckTestAccount.clientSecret))
    }
}
