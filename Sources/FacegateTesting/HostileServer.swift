import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization

/// A TCP server on 127.0.0.1 that speaks just enough HTTP/1.1 to misbehave in chosen ways: a client
/// must turn every kind of bad reply into a typed error in time, never a crash or a hang.
///
/// Each request is answered once it has fully arrived (head and body), with the behaviour its route
/// chooses; a reply closes the connection, so every request is a new one.
public final class HostileServer: Sendable {
    public enum Behaviour: Sendable, CustomStringConvertible {
        /// A well-formed reply with this status, content type, body and extra header lines.
        case reply(status: Int, contentType: String? = "application/json", body: String = "", headers: [String] = [])
        /// These bytes exactly (a reply cut short, bytes that are not HTTP), then the server's side closes.
        case bytes([UInt8])
        /// The request is read and never answered (until the server stops).
        case silence
        /// The reply's head and the start of its body, then nothing.
        case stallMidBody
        /// A 200 whose body comes one byte every 100 ms, forever.
        case trickle
        /// A 200 that promises and sends `bytes` bytes (more than any response cap).
        case flood(bytes: Int)
        /// A TCP reset as soon as the request has arrived.
        case reset
        /// The connection is closed without a reply.
        case close
        /// Waits, then behaves as told (a cloud slower than the door's deadline).
        indirect case delayed(Duration, Behaviour)
        /// Each request gets the next behaviour, counted over the whole server (the last one repeats).
        case sequence([Behaviour])

        /// Text sent as it is, then the server's side closes.
        public static func raw(_ text: String) -> Behaviour { .bytes(Array(text.utf8)) }

        /// An HTTP/1.1 reply whose header says `Content-Length: declaredLength` over `body` (with a
        /// longer declared length than the body, the connection closes in the middle of the reply).
        public static func http(
            status: Int = 200, contentType: String = "application/json", body: [UInt8], declaredLength: Int? = nil,
            after delay: Duration = .zero
        ) -> Behaviour {
            let head =
                "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\nContent-Type: \(contentType)\r\n"
                + "Content-Length: \(declaredLength ?? body.count)\r\nConnection: close\r\n\r\n"
            let answer = Behaviour.bytes(Array(head.utf8) + body)
            return delay > .zero ? .delayed(delay, answer) : answer
        }

        /// A gateway's error page, as nginx or a load balancer sends it.
        public static func gatewayPage(_ status: Int) -> Behaviour {
            .reply(
                status: status, contentType: "text/html",
                body: "<html><head><title>\(status)</title></head><body><center><h1>\(status)</h1></center><hr><center>nginx</center></body></html>\r\n")
        }

        /// The HTTP status of a ``reply(status:contentType:body:headers:)``; nil for the others.
        public var status: Int? {
            if case .reply(let status, _, _, _) = self { status } else { nil }
        }

        public var description: String {
            switch self {
            case .reply(let status, let contentType, let body, _): "HTTP \(status) \(contentType ?? "no content type"), \(body.utf8.count) bytes"
            case .bytes(let bytes): "\(bytes.count) raw bytes"
            case .silence: "silence"
            case .stallMidBody: "a reply stalled mid-body"
            case .trickle: "a trickling body"
            case .flood(let bytes): "a \(bytes)-byte body"
            case .reset: "a reset"
            case .close: "a close without reply"
            case .delayed(let delay, let then): "\(then) after \(delay)"
            case .sequence(let steps): steps.map(\.description).joined(separator: ", then ")
            }
        }
    }

    public let port: Int
    private let listener: any Channel
    private let state: Mutex<State>

    private struct State {
        var heads: [String] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    /// Requests answered (or not) so far.
    public var requestCount: Int { state.withLock { $0.heads.count } }
    /// Each request's head (request line and headers), in order; "" for bytes that were not HTTP.
    public var requestHeads: [String] { state.withLock { $0.heads } }
    /// Each request's first line (`GET /path HTTP/1.1`), in order.
    public var requestLines: [String] { requestHeads.map { String($0.prefix { $0 != "\r" && $0 != "\n" }) } }
    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// Connections open now: a request held in silence keeps its connection until the client gives up on it.
    public var openConnectionCount: Int { state.withLock { $0.connections.count } }

    private init(port: Int, listener: any Channel) {
        self.port = port
        self.listener = listener
        self.state = Mutex(State())
    }

    /// A server that misbehaves the same way for every request.
    public static func start(_ behaviour: Behaviour, port: Int = 0) async throws -> HostileServer {
        try await start(port: port) { _ in behaviour }
    }

    /// A server whose behaviour is chosen per request from its first line (a token endpoint may
    /// answer well while the API misbehaves). `port` 0 lets the system choose.
    public static func start(
        port: Int = 0, route: @escaping @Sendable (_ requestLine: String) -> Behaviour
    ) async throws -> HostileServer {
        let registry = Registry()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(route: route, registry: registry))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let server = HostileServer(port: listener.localAddress?.port ?? port, listener: listener)
        registry.server.withLock { $0 = server }
        return server
    }

    /// Stops listening and closes every connection (a silent one too).
    public func stop() async {
        for connection in closeAll() { try? await connection.close() }
        try? await listener.close()
    }

    /// As ``stop()``, without waiting for the sockets to be closed (for a `defer`).
    public func close() {
        for connection in closeAll() { connection.close(promise: nil) }
        listener.close(promise: nil)
    }

    private func closeAll() -> [any Channel] {
        state.withLock { state in
            state.stopped = true
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
    }

    /// Notes a request's head; returns its number, from 1.
    fileprivate func record(head: String) -> Int {
        state.withLock { state in
            state.heads.append(head)
            return state.heads.count
        }
    }

    /// Keeps a connection to close at stop; false once stopped.
    fileprivate func opened(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Passes connections and heads from the handlers to the server object, made after the bootstrap.
    private final class Registry: Sendable {
        let server = Mutex<HostileServer?>(nil)

        var current: HostileServer? { server.withLock { $0 } }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let route: @Sendable (String) -> Behaviour
        let registry: Registry
        private var pending = ByteBuffer()
        private var answered = false

        init(route: @escaping @Sendable (String) -> Behaviour, registry: Registry) {
            self.route = route
            self.registry = registry
        }

        func channelActive(context: ChannelHandlerContext) {
            if registry.current?.opened(context.channel) == false { context.close(promise: nil) }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            registry.current?.closed(context.channel)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // After the answer, whatever comes is read and dropped, so that closing never resets.
            guard !answered else { return }
            var bytes = unwrapInboundIn(data)
            pending.writeBuffer(&bytes)
            guard let head = requestHead() else { return }
            answered = true
            let number = registry.current?.record(head: head) ?? 1
            let line = String(head.prefix { $0 != "\r" })
            act(Self.resolve(route(line), request: number), context: context)
        }

        /// The head once the request has wholly arrived (by `Content-Length`, or its last chunk);
        /// "" at once for bytes that cannot begin an HTTP request (a TLS client's hello).
        private func requestHead() -> String? {
            let view = pending.readableBytesView
            guard let first = view.first else { return nil }
            guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else { return "" }
            guard let headEnd = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            let head = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
            var contentLength = 0
            var chunked = false
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                switch parts[0].lowercased() {
                case "content-length": contentLength = Int(value) ?? 0
                case "transfer-encoding": chunked = value.lowercased().contains("chunked")
                default: break
                }
            }
            let body = view[headEnd.upperBound...]
            if chunked { return body.firstRange(of: Array("0\r\n\r\n".utf8)) == nil ? nil : head }
            return body.count >= contentLength ? head : nil
        }

        private static func resolve(_ behaviour: Behaviour, request: Int) -> Behaviour {
            guard case .sequence(let steps) = behaviour, !steps.isEmpty else { return behaviour }
            return resolve(steps[min(request, steps.count) - 1], request: request)
        }

        private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }

        private func write(_ text: String, context: ChannelHandlerContext) {
            write(Array(text.utf8), context: context)
        }

        /// Ends the server's side once the reply is out; the client reads to the end and closes.
        private func finishReply(context: ChannelHandlerContext) {
            context.close(mode: .output, promise: nil)
        }

        private func act(_ behaviour: Behaviour, context: ChannelHandlerContext) {
            switch behaviour {
            case .reply(let status, let contentType, let body, let headers):
                let type = contentType.map { "Content-Type: \($0)\r\n" } ?? ""
                let extra = headers.map { $0 + "\r\n" }.joined()
                write(
                    "HTTP/1.1 \(status) Status\r\n\(type)Content-Length: \(body.utf8.count)\r\n\(extra)Connection: close\r\n\r\n\(body)",
                    context: context)
                finishReply(context: context)
            case .bytes(let bytes):
                write(bytes, context: context)
                finishReply(context: context)
            case .silence:
                break
            case .stallMidBody:
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\": \"O", context: context)
            case .trickle:
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", context: context)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { task in
                    let context = bound.value
                    guard context.channel.isActive else {
                        task.cancel()
                        return
                    }
                    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: " ")), promise: nil)
                }
            case .flood(let bytes):
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(bytes)\r\n\r\n", context: context)
                let chunkSize = 64 << 10
                var left = bytes
                while left > 0 {
                    let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "7"), count: min(chunkSize, left))
                    left -= chunk.readableBytes
                    context.write(wrapOutboundOut(chunk), promise: nil)
                }
                context.flush()
            case .reset:
                // SO_LINGER 0 makes the close an RST rather than a FIN.
                _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                context.close(promise: nil)
            case .close:
                context.close(promise: nil)
            case .delayed(let delay, let then):
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)) {
                    let (handler, context) = bound.value
                    guard context.channel.isActive else { return }
                    handler.act(then, context: context)
                }
            case .sequence:
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// Runs `body` with the base URL (`…/api`) of a cloud in trouble, or the proxy in front of it: every
/// API request gets `reply` (a 429, a 5xx with the cloud's JSON, a gateway's HTML page, ...).
/// NeoCheck's token endpoint (a path ending in `connect/token`) answers properly unless
/// `tokenServiceToo`, so a NeoCheck client signs in and reaches the failing call.
public func withFaultyCloud<Value: Sendable>(
    _ reply: HostileServer.Behaviour, tokenServiceToo: Bool = false, port: Int = 0, _ body: @Sendable (String) async throws -> Value
) async throws -> Value {
    let token = HostileServer.Behaviour.reply(
        status: 200, body: #"{"token_type":"Bearer","access_token":"faulty-cloud-token","expires_in":3600}"#)
    let server = try await HostileServer.start(port: port) { line in
        !tokenServiceToo && line.split(separator: " ").dropFirst().first?.hasSuffix("connect/token") == true ? token : reply
    }
    do {
        let value = try await body(server.endpoint + "/api")
        await server.stop()
        return value
    } catch {
        await server.stop()
        throw error
    }
}

/// A loopback port held bound but not listening: every connection to it is refused at once (a cloud
/// that is down), and no other server of a test running alongside can take the port meanwhile.
public final class RefusedPort: Sendable {
    public let port: Int
    private let socket: Mutex<Int32?>

    public init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            let error = errno
            _ = Glibc.close(fd)
            throw SocketError(call: "bind", errno: error)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socket = Mutex(fd)
    }

    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Lets the port go (for a server that comes back on it). Until then the port stays refused: a test
    /// calls it at its end (a `defer`) so that the port is held for the whole test.
    public func release() {
        if let fd = socket.withLock({ socket in defer { socket = nil }; return socket }) { _ = Glibc.close(fd) }
    }

    deinit { release() }

    public struct SocketError: Error, CustomStringConvertible {
        public var call: String
        public var errno: Int32
        public var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }
}
