import FacegateCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A cloud in trouble, or the proxy in front of it: every API request gets one chosen HTTP status
/// and body (a 429, a 5xx with NEC's JSON, a gateway's HTML page, nothing at all). NeoCheck's
/// token endpoint (a path ending in `connect/token`) answers properly unless `tokenServiceToo`, so a
/// NeoCheck client signs in and reaches the failing call. Real HTTP on loopback, for tests of how clients and the door
/// treat such replies.
public enum FaultyCloud {
    /// What every API request is answered with.
    public struct Reply: Sendable, CustomStringConvertible {
        public var status: Int
        public var contentType: String?
        public var body: String

        public init(status: Int, contentType: String? = "application/json", body: String = "") {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        /// A gateway's error page, as nginx or a load balancer sends it.
        public static func gatewayPage(_ status: Int) -> Reply {
            Reply(
                status: status, contentType: "text/html",
                body: "<html><head><title>\(status)</title></head><body><center><h1>\(status)</h1></center><hr><center>nginx</center></body></html>\r\n")
        }

        public var description: String { "HTTP \(status) \(contentType ?? "no content type"), \(body.utf8.count) bytes" }
    }

    /// The server, as a service to run in a `ServiceGroup`; `onServerRunning` gets the port bound.
    public static func application(
        answering reply: Reply, tokenServiceToo: Bool = false, host: String = "127.0.0.1", port: Int = 0, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            // Drained so the client never sees its upload cut off before the reply.
            _ = try? await request.body.collect(upTo: 32 << 20)
            if !tokenServiceToo, request.uri.path.hasSuffix("connect/token") {
                return response(
                    status: 200, contentType: "application/json",
                    body: #"{"token_type":"Bearer","access_token":"faulty-cloud-token","expires_in":3600}"#)
            }
            return response(status: reply.status, contentType: reply.contentType, body: reply.body)
        }
        return Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "facegate-faulty-cloud"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private static func response(status: Int, contentType: String?, body: String) -> Response {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

#if canImport(Glibc)
    import Glibc
#endif

extension FaultyCloud {
    /// What a ``RawServer`` does with each connection, below HTTP: faults an HTTP server cannot make.
    public enum RawBehaviour: Sendable, CustomStringConvertible {
        /// Accepts the connection and reads the request, but never answers or closes: a cloud that
        /// holds the line silent (until the server stops).
        case silent
        /// Once the request has started to arrive, waits `after`, writes `bytes` exactly as given
        /// (a truncated reply, bytes that are not HTTP, an HTTP answer to a TLS hello), then closes.
        case answer([UInt8], after: Duration = .zero)

        /// An HTTP/1.1 reply whose header says `Content-Length: declaredLength` over `body`: with a
        /// longer declared length than the body, the connection closes in the middle of the reply.
        public static func http(
            status: Int = 200, contentType: String = "application/json", body: [UInt8], declaredLength: Int? = nil,
            after delay: Duration = .zero
        ) -> RawBehaviour {
            let head =
                "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\nContent-Type: \(contentType)\r\n"
                + "Content-Length: \(declaredLength ?? body.count)\r\nConnection: close\r\n\r\n"
            return .answer(Array(head.utf8) + body, after: delay)
        }

        public var description: String {
            switch self {
            case .silent: "silent"
            case .answer(let bytes, let delay): "\(bytes.count) raw bytes after \(delay)"
            }
        }
    }

    /// A TCP server on loopback that treats every connection with one ``RawBehaviour``. Plain POSIX
    /// sockets on threads of its own, so a test's event loops and cooperative pool stay free.
    /// Writes never raise SIGPIPE (a client that gives up early is normal here).
    public final class RawServer: @unchecked Sendable {
        /// The port bound on 127.0.0.1.
        public let port: Int
        public let behaviour: RawBehaviour
        private let listener: Int32
        private let lock = NSLock()
        private var connections: Set<Int32> = []
        private var stopped = false

        /// Binds 127.0.0.1 on a free port and starts accepting.
        public init(_ behaviour: RawBehaviour) throws {
            self.behaviour = behaviour
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw RawServerError(call: "socket", errno: errno) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else {
                let error = errno
                close(fd)
                throw RawServerError(call: "bind", errno: error)
            }
            listener = fd
            port = Int(UInt16(bigEndian: address.sin_port))
            let accepting = Thread { [self] in acceptLoop() }
            accepting.name = "faulty-cloud-raw"
            accepting.start()
        }

        /// Closes the listening socket and every connection.
        public func stop() {
            let open = lock.withLock { () -> Set<Int32> in
                stopped = true
                defer { connections = [] }
                return connections
            }
            shutdown(listener, Int32(SHUT_RDWR))
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        }

        deinit {
            stop()
            close(listener)
        }

        private func acceptLoop() {
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 {
                    if errno == EINTR { continue }
                    return
                }
                let kept = lock.withLock { () -> Bool in
                    if stopped { return false }
                    connections.insert(fd)
                    return true
                }
                guard kept else {
                    close(fd)
                    return
                }
                let connection = Thread { [self] in serve(fd) }
                connection.start()
            }
        }

        private func serve(_ fd: Int32) {
            defer {
                lock.withLock { _ = connections.remove(fd) }
                close(fd)
            }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            // The request has begun to arrive (for TLS: the client's hello).
            guard recv(fd, &buffer, buffer.count, 0) > 0 else { return }
            switch behaviour {
            case .silent:
                // Reads whatever comes until the client or stop() closes the line.
                while recv(fd, &buffer, buffer.count, 0) > 0 {}
            case .answer(let bytes, let delay):
                if delay > .zero {
                    Thread.sleep(forTimeInterval: delay.timeInterval)
                }
                var sent = 0
                while sent < bytes.count {
                    let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if count <= 0 { return }
                    sent += count
                }
                shutdown(fd, Int32(SHUT_WR))
                // Lets the client read to the end before the socket goes (no reset under its feet).
                while recv(fd, &buffer, buffer.count, 0) > 0 {}
            }
        }
    }

    public struct RawServerError: Error, CustomStringConvertible {
        public var call: String
        public var errno: Int32
        public var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }
}
