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
