import AsyncHTTPClient
import FacegateIdentify
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// What the hostile server answers.
enum Misbehaviour: Sendable {
    /// A well-formed HTTP reply with this status and body.
    case reply(status: Int, body: String)
    /// A 200 whose body is `bytes` long.
    case hugeBody(bytes: Int)
    /// Bytes that are not HTTP, then the connection is closed.
    case garbage
    /// The connection is closed without a reply.
    case reset
    /// The request is read and never answered.
    case silence
    /// The reply's head is sent, and then nothing.
    case headThenSilence
}

/// A TCP server on 127.0.0.1 that speaks just enough HTTP/1.1 to misbehave in chosen ways.
/// Token requests get `token` (a valid token by default); every other request gets `api`.
final class HostileServer: Sendable {
    static let validToken = Misbehaviour.reply(
        status: 200, body: #"{"token_type":"Bearer","access_token":"hostile-token","expires_in":3600,"refresh_token":"hostile-refresh"}"#)

    private let channel: any Channel
    private let log: Mutex<[String]>

    var port: Int { channel.localAddress?.port ?? 0 }
    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)/api")! }
    /// Request lines seen, in order.
    var requests: [String] { log.withLock { $0 } }
    var apiRequests: [String] { requests.filter { !$0.contains("connect/token") } }
    var tokenRequests: [String] { requests.filter { $0.contains("connect/token") } }

    private init(channel: any Channel) {
        self.channel = channel
        self.log = Mutex([])
    }

    static func start(token: Misbehaviour = validToken, api: Misbehaviour) async throws -> HostileServer {
        let recorder = RequestRecorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HostileHandler(token: token, api: api, recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = HostileServer(channel: channel)
        recorder.server.withLock { $0 = server }
        return server
    }

    func record(_ line: String) {
        log.withLock { $0.append(line) }
    }

    func stop() async {
        try? await channel.close()
    }

    /// A client of this server: 10 s per attempt (room for a loaded machine), 1 MiB cap,
    /// 3 attempts for idempotent calls.
    func client() throws(NeoCheckError) -> NeoCheckClient {
        let policy = CloudHTTPPolicy(
            requestTimeout: .seconds(10), maxResponseBytes: 1 << 20, maxAttempts: 3, initialBackoff: .milliseconds(10))
        return try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: endpoint, credentials: TestAccount.credentials),
            http: CloudHTTP(client: HTTPClient.shared, policy: policy, logger: .init(label: "hostile-test")))
    }
}

/// Passes request lines from the handlers to the server object made after them.
final class RequestRecorder: Sendable {
    let server = Mutex<HostileServer?>(nil)

    func record(_ line: String) {
        server.withLock { $0 }?.record(line)
    }
}

private final class HostileHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let token: Misbehaviour
    let api: Misbehaviour
    let recorder: RequestRecorder
    private var pending = ByteBuffer()

    init(token: Misbehaviour, api: Misbehaviour, recorder: RequestRecorder) {
        self.token = token
        self.api = api
        self.recorder = recorder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        // Serve every complete request in the buffer (keep-alive reuses connections).
        while let (line, length) = completeRequest() {
            pending.moveReaderIndex(forwardBy: length)
            pending.discardReadBytes()
            recorder.record(line)
            let behaviour = line.contains("/connect/token") ? token : api
            guard respond(behaviour, context: context) else { return }
        }
    }

    /// The request line and the total length, once the head and the body are all in.
    private func completeRequest() -> (String, Int)? {
        let view = pending.readableBytesView
        guard let headEnd = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let headLength = headEnd.upperBound - view.startIndex
        let head = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        var bodyLength = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                bodyLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        guard view.count >= headLength + bodyLength else { return nil }
        return (String(lines.first ?? ""), headLength + bodyLength)
    }

    /// Answers; false when the connection is finished with.
    private func respond(_ behaviour: Misbehaviour, context: ChannelHandlerContext) -> Bool {
        switch behaviour {
        case .reply(let status, let body):
            let bytes = Array(body.utf8)
            write(
                "HTTP/1.1 \(status) Whatever\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n", body: bytes,
                context: context)
            return true
        case .hugeBody(let count):
            write(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(count)\r\n\r\n",
                body: [UInt8](repeating: UInt8(ascii: "7"), count: count), context: context)
            return true
        case .garbage:
            write("\u{1}\u{2}NOT HTTP AT ALL \u{ff}\r\n\r\n", body: [], context: context)
            context.close(promise: nil)
            return false
        case .reset:
            context.close(promise: nil)
            return false
        case .silence:
            return false
        case .headThenSilence:
            write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"conf", body: [], context: context)
            return false
        }
    }

    private func write(_ head: String, body: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
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

    @Test("a reply over the size cap")
    func hugeBody() async throws {
        let (error, _) = try await failure(api: .hugeBody(bytes: 8 << 20)) { client throws(NeoCheckError) in
            _ = try await client.record(.identifier("x"))
        }
        #expect(error.code == .responseTooLarge)
    }

    @Test("no reply, or half a reply, ends in a timeout", arguments: [Misbehaviour.silence, .headThenSilence])
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

    @Test("a reset or garbage instead of a reply", arguments: [Misbehaviour.reset, .garbage])
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

    @Test("a reply that echoes a secret has it cut out of the error")
    func echoedSecretsRedacted() async throws {
        let echo = #"{"error":"Invalid credentials: \#(TestAccount.password) for \#(TestAccount.clientSecret)"}"#
        let (error, _) = try await failure(token: .reply(status: 400, body: echo), api: .reply(status: 200, body: "true")) {
            client throws(NeoCheckError) in
            _ = try await client.deleteList(identifier: "x")
        }
        #expect(error.code == .invalidCredentials)
        #expect(!error.description.contains(TestAccount.password))
        #expect(!error.description.contains(TestAccount.clientSecret))
    }
}
