import Foundation
import Hummingbird
import Logging
import NIOCore

extension NeoCheckEmulator {
    /// The FaceCheck API's routes under `pathPrefix` (`api`, as at https://neocheck.net/api):
    /// `connect/token` and `v1/face...`.
    public nonisolated func makeRouter(pathPrefix: String = "api") -> Router<BasicRequestContext> {
        let router = Router()
        let trimmed = pathPrefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let p = trimmed.isEmpty ? "" : trimmed + "/"
        router.post(RouterPath(p + "connect/token")) { request, _ in await self.tokenEndpoint(request) }

        router.post(RouterPath(p + "v1/face")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.createRecord(body) }
        }
        router.put(RouterPath(p + "v1/face")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.updateRecord(body) }
        }
        router.get(RouterPath(p + "v1/face/:identifier")) { request, context in
            let key = RecordKey.identifier(Self.parameter(context))
            return await self.api(request) { _ async throws(APIReply) in try await self.getRecord(key) }
        }
        router.delete(RouterPath(p + "v1/face/:identifier")) { request, context in
            let key = RecordKey.identifier(Self.parameter(context))
            return await self.api(request) { _ async throws(APIReply) in try await self.deleteRecord(key) }
        }
        router.get(RouterPath(p + "v1/face/externalIdentifier/:identifier")) { request, context in
            let key = RecordKey.externalIdentifier(Self.parameter(context))
            return await self.api(request) { _ async throws(APIReply) in try await self.getRecord(key) }
        }
        router.delete(RouterPath(p + "v1/face/externalIdentifier/:identifier")) { request, context in
            let key = RecordKey.externalIdentifier(Self.parameter(context))
            return await self.api(request) { _ async throws(APIReply) in try await self.deleteRecord(key) }
        }

        router.post(RouterPath(p + "v1/face/list")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.createList(body) }
        }
        router.put(RouterPath(p + "v1/face/list")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.updateList(body) }
        }
        router.get(RouterPath(p + "v1/face/list/:identifier")) { request, context in
            let id = Self.parameter(context)
            return await self.api(request) { _ async throws(APIReply) in try await self.getList(id) }
        }
        router.delete(RouterPath(p + "v1/face/list/:identifier")) { request, context in
            let id = Self.parameter(context)
            return await self.api(request) { _ async throws(APIReply) in try await self.deleteList(id) }
        }
        router.post(RouterPath(p + "v1/face/list/AddFaceRecord")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.addRecordToList(body) }
        }

        router.post(RouterPath(p + "v1/face/identifyRecord")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.identifyRecord(body) }
        }
        router.post(RouterPath(p + "v1/face/identifyReferenceImage")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.identifyReference(body) }
        }
        router.post(RouterPath(p + "v1/face/list/identify")) { request, _ in
            await self.api(request) { body async throws(APIReply) in try await self.identifyList(body) }
        }
        return router
    }

    /// An HTTP server for the emulator. Port 0 asks the system for a free port;
    /// `onServerRunning` is told the port actually bound.
    public nonisolated func application(
        host: String = "127.0.0.1", port: Int, logger: Logger, pathPrefix: String = "api",
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(pathPrefix: pathPrefix),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "facegate-neocheck-emulator"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    // MARK: Plumbing

    private static func parameter(_ context: BasicRequestContext) -> String {
        let raw = context.parameters.get("identifier") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// Authorises and counts a Face API call, reads its body, and runs it.
    private nonisolated func api(
        _ request: Request, _ work: @Sendable ([UInt8]) async throws(APIReply) -> APIReply
    ) async -> Response {
        let authorization = request.headers[.authorization] ?? request.uri.queryParameters.get("authorization")
        switch await admit(authorization: authorization) {
        case .unauthorized:
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
            return Response(status: .unauthorized, headers: headers)
        case .overHourlyLimit:
            return Self.response(
                .message(400, "The maximum number of calls per hour (\(configuration.callsPerHour)) has been reached"))
        case .admitted:
            break
        }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: configuration.maxRequestBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            return Self.response(.invalidContent("the request body is larger than \(configuration.maxRequestBytes) bytes"))
        }
        do {
            return Self.response(try await work(body))
        } catch {
            return Self.response(error)
        }
    }

    private nonisolated func tokenEndpoint(_ request: Request) async -> Response {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
            return Self.response(.json(["error": "Invalid content"], status: 400))
        }
        guard var buffer = try? await request.body.collect(upTo: 64 << 10),
            let text = buffer.readString(length: buffer.readableBytes), let form = Self.formFields(text)
        else {
            return Self.response(.json(["error": "Invalid content"], status: 400))
        }
        switch await grant(form) {
        case .issued(let authorization):
            return Self.response(.json(authorization))
        case .refused(let reason):
            return Self.response(.json(["error": reason], status: 400))
        }
    }

    /// Parses `application/x-www-form-urlencoded`; nil when an escape is broken.
    static func formFields(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode: (Substring) -> String? = { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else { return nil }
            fields[key] = value
        }
        return fields
    }

    static func response(_ reply: APIReply) -> Response {
        var headers = HTTPFields()
        if !reply.body.isEmpty {
            headers[.contentType] = "application/json; charset=utf-8"
        }
        return Response(
            status: HTTPResponse.Status(code: reply.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
