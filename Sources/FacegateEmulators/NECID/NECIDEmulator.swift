import FacegateCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Settings of the NEC ID emulator.
public struct NECIDEmulatorConfiguration: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// The key of the application the emulator creates on first start (with a "default" gallery).
    public var apiKey: String
    public var region: String
    public var service: String
    /// Where galleries, applications, subjects, events, tags and jobs are kept.
    public var stateDirectory: URL
    /// The folder standing in for the tenant's S3 bucket of bulk registrations.
    public var bucketDirectory: URL
    /// Address both servers bind; loopback only.
    public var bindHost: String
    /// 0 asks the system for a free port.
    public var biometricPort: Int
    public var portalPort: Int
    /// `faceMinimumQualityScore` of the application created on first start.
    public var defaultMinimumQuality: Double
    /// Records per page of bulk-registration progress (NEC ID: 1000).
    public var jobPageSize: Int
    /// How long the reply to a subject's or event's registration waits after the registration is made:
    /// a cloud whose answer comes after its client has given up, leaving a registration the client never learnt of.
    public var registrationReplyDelay: Duration

    public init(
        accessKeyID: String, secretAccessKey: String, apiKey: String, stateDirectory: URL, bucketDirectory: URL? = nil,
        region: String = "ap-southeast-2", service: String = "execute-api", bindHost: String = "127.0.0.1",
        biometricPort: Int = 0, portalPort: Int = 0, defaultMinimumQuality: Double = 0.45, jobPageSize: Int = 1000,
        registrationReplyDelay: Duration = .zero
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.apiKey = apiKey
        self.region = region
        self.service = service
        self.stateDirectory = stateDirectory
        self.bucketDirectory = bucketDirectory ?? stateDirectory.appendingPathComponent("bucket")
        self.bindHost = bindHost
        self.biometricPort = biometricPort
        self.portalPort = portalPort
        self.defaultMinimumQuality = defaultMinimumQuality
        self.jobPageSize = max(1, jobPageSize)
        self.registrationReplyDelay = registrationReplyDelay
    }
}

/// A faithful NEC ID stand-in: the biometric host and the portal host on two
/// loopback ports, SigV4 and API keys checked, state kept on disk, faces
/// really matched by facegate's local face core.
public struct NECIDEmulator: Sendable {
    public struct Ports: Sendable {
        public var biometric: Int
        public var portal: Int
    }

    let service: NECIDEmulatorService
    let configuration: NECIDEmulatorConfiguration
    let logger: Logger

    public init(configuration: NECIDEmulatorConfiguration, analyzer: any FaceAnalyzing, logger: Logger = Logger(label: "facegate.emulator.necid")) throws {
        self.configuration = configuration
        self.logger = logger
        self.service = try NECIDEmulatorService(configuration: configuration, analyzer: analyzer, logger: logger)
    }

    /// Serves both hosts until the task is cancelled.
    /// - Parameter onRunning: called once both servers listen, with their ports.
    public func run(onRunning: @escaping @Sendable (Ports) async -> Void = { _ in }) async throws {
        let ports = PortCollector()
        let service = self.service
        try await service.prepare()
        func app(_ host: NECIDEmulatorService.Host, port: Int) -> some ApplicationProtocol {
            Application(
                responder: CallbackResponder<BasicRequestContext> { request, _ in
                    await service.respond(to: request, on: host)
                },
                configuration: .init(address: .hostname(configuration.bindHost, port: port), serverName: nil),
                onServerRunning: { channel in
                    if let all = await ports.record(host, channel.localAddress?.port ?? 0) {
                        await onRunning(all)
                    }
                },
                logger: logger)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app(.biometric, port: configuration.biometricPort).run() }
            group.addTask { try await app(.portal, port: configuration.portalPort).run() }
            group.addTask { await service.runJobs() }
            try await group.next()
            group.cancelAll()
        }
    }

    private actor PortCollector {
        var biometric: Int?
        var portal: Int?

        func record(_ host: NECIDEmulatorService.Host, _ port: Int) -> Ports? {
            switch host {
            case .biometric: biometric = port
            case .portal: portal = port
            }
            guard let biometric, let portal else { return nil }
            return Ports(biometric: biometric, portal: portal)
        }
    }
}

/// The emulator's behaviour, independent of the HTTP server.
struct NECIDEmulatorService: Sendable {
    enum Host: Sendable { case biometric, portal }

    static let maxBodyBytes = 20 << 20
    static let defaultThreshold = 7000

    let configuration: NECIDEmulatorConfiguration
    let signatureCheck: NECSignatureCheck
    let portal: StateFile<NECPortalState>
    let biometric: StateFile<NECBiometricState>
    let faces: FaceWorker
    let logger: Logger
    let jobs: AsyncStream<JobTicket>
    let jobQueue: AsyncStream<JobTicket>.Continuation

    struct JobTicket: Sendable {
        var galleryId: String
        var batchId: String
    }

    init(configuration: NECIDEmulatorConfiguration, analyzer: any FaceAnalyzing, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        signatureCheck = NECSignatureCheck(
            accessKeyID: configuration.accessKeyID, secretAccessKey: configuration.secretAccessKey,
            region: configuration.region, service: configuration.service)
        portal = try StateFile(directory: configuration.stateDirectory, name: "necid-portal.json", initial: NECPortalState())
        biometric = try StateFile(directory: configuration.stateDirectory, name: "necid-biometric.json", initial: NECBiometricState())
        try FileManager.default.createDirectory(at: configuration.bucketDirectory, withIntermediateDirectories: true)
        faces = FaceWorker(analyzer: analyzer)
        (jobs, jobQueue) = AsyncStream<JobTicket>.makeStream()
    }

    // MARK: HTTP

    func respond(to request: Request, on host: Host) async -> Response {
        let reply: NECReply
        do {
            var request = request
            let buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
            reply = await handle(request, body: Array(buffer.readableBytesView), on: host)
        } catch {
            reply = .message(413, "Request Entity Too Large")
        }
        var headers = HTTPFields()
        if !reply.body.isEmpty { headers[.contentType] = "application/json" }
        return Response(
            status: .init(code: reply.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    private func handle(_ request: Request, body: [UInt8], on host: Host) async -> NECReply {
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .map { String(decoding: NECSignatureCheck.decode($0), as: UTF8.self) }
        let method = request.method.rawValue
        guard let route = Route(method: method, segments: segments, host: host) else {
            return .message(403, "Missing Authentication Token")
        }
        if route != .health {
            let fields = request.headers
            let authority = request.head.authority
            let failure = signatureCheck.verify(
                method: method, rawPath: request.uri.path, rawQuery: request.uri.query ?? "",
                header: { name in
                    if name == "host" { return authority.map { [$0] } ?? [] }
                    guard let fieldName = HTTPField.Name(name) else { return [] }
                    return fields[values: fieldName]
                },
                body: body, now: Date())
            if let failure { return .message(403, failure.message) }
        }
        let key = request.headers[HTTPField.Name("x-api-key")!] ?? ""
        do {
            if route.needsApplication || (route == .verify && Self.namesSubject(body)) {
                guard let application = await portal.value.applications.first(where: { !key.isEmpty && $0.apiKey == key }) else {
                    return .message(403, "Forbidden")
                }
                return try await handleGallery(route, application: application, query: request.uri.queryParameters, body: body)
            }
            return try await handleOpen(route, body: body)
        } catch let rejection as NECRejection {
            return rejection.reply
        } catch {
            logger.error("emulator failure", metadata: ["error": "\(error)"])
            return .message(500, "Internal server error")
        }
    }

    // MARK: Routes

    enum Route: Equatable {
        case health
        case listSubjects, registerSubject, updateSubject(String), unregisterSubject(String)
        case listEvents(String), registerEvent(String), updateEvent(String, String), unregisterEvent(String, String)
        case extract, verify, search
        case listTags, createTag(String), renameTag(String), deleteTag(String)
        case bulkRegister, jobProgress(String, String?)
        case listGalleries, getGallery(String), createGallery, updateGallery(String), deleteGallery(String)
        case listApplications, getApplication(String), createApplication, updateApplication(String), deleteApplication(String)

        init?(method: String, segments: [String], host: Host) {
            switch host {
            case .biometric:
                guard segments.first == "v1.1" else { return nil }
                let s = Array(segments.dropFirst())
                switch (method, s.count) {
                case ("GET", 1) where s[0] == "health": self = .health
                case ("GET", 1) where s[0] == "subjects": self = .listSubjects
                case ("POST", 1) where s[0] == "subjects": self = .registerSubject
                case ("PUT", 2) where s[0] == "subjects": self = .updateSubject(s[1])
                case ("DELETE", 2) where s[0] == "subjects": self = .unregisterSubject(s[1])
                case ("GET", 3) where s[0] == "subjects" && s[2] == "events": self = .listEvents(s[1])
                case ("POST", 3) where s[0] == "subjects" && s[2] == "events": self = .registerEvent(s[1])
                case ("PUT", 4) where s[0] == "subjects" && s[2] == "events": self = .updateEvent(s[1], s[3])
                case ("DELETE", 4) where s[0] == "subjects" && s[2] == "events": self = .unregisterEvent(s[1], s[3])
                case ("POST", 2) where s[0] == "face" && s[1] == "extract": self = .extract
                case ("POST", 2) where s[0] == "face" && s[1] == "verify": self = .verify
                case ("POST", 2) where s[0] == "face" && s[1] == "search": self = .search
                case ("GET", 1) where s[0] == "tags": self = .listTags
                case ("POST", 2) where s[0] == "tags": self = .createTag(s[1])
                case ("PUT", 2) where s[0] == "tags": self = .renameTag(s[1])
                case ("DELETE", 2) where s[0] == "tags": self = .deleteTag(s[1])
                case ("POST", 2) where s[0] == "jobs" && s[1] == "bulkregister": self = .bulkRegister
                case ("GET", 3) where s[0] == "jobs" && s[1] == "bulkregister": self = .jobProgress(s[2], nil)
                case ("GET", 4) where s[0] == "jobs" && s[1] == "bulkregister": self = .jobProgress(s[2], s[3])
                default: return nil
                }
            case .portal:
                guard segments.first == "api", segments.count >= 2, segments.count <= 3 else { return nil }
                let id = segments.count == 3 ? segments[2] : nil
                switch (method, segments[1], id) {
                case ("GET", "galleries", nil): self = .listGalleries
                case ("GET", "galleries", let id?): self = .getGallery(id)
                case ("POST", "galleries", nil): self = .createGallery
                case ("PATCH", "galleries", let id?): self = .updateGallery(id)
                case ("DELETE", "galleries", let id?): self = .deleteGallery(id)
                case ("GET", "applications", nil): self = .listApplications
                case ("GET", "applications", let id?): self = .getApplication(id)
                case ("POST", "applications", nil): self = .createApplication
                case ("PATCH", "applications", let id?): self = .updateApplication(id)
                case ("DELETE", "applications", let id?): self = .deleteApplication(id)
                default: return nil
                }
            }
        }

        /// Calls on a gallery's contents, which the `x-api-key` selects.
        var needsApplication: Bool {
            switch self {
            case .health, .extract, .listGalleries, .getGallery, .createGallery, .updateGallery, .deleteGallery,
                .listApplications, .getApplication, .createApplication, .updateApplication, .deleteApplication:
                false
            // Verify needs the key only for subject-vs-probe (see `namesSubject`).
            case .verify: false
            default: true
            }
        }
    }
}

/// Face analysis off the concurrency pool: dlib blocks for hundreds of
/// milliseconds per image.
struct FaceWorker: Sendable {
    let analyzer: any FaceAnalyzing
    let queue = BlockingWorkQueue(label: "facegate.emulator.necid.faces")

    func analyze(_ encoded: [UInt8], descriptorLimit: Int) async throws -> ImageAnalysis {
        let analyzer = self.analyzer
        return try await queue.run { try analyzer.analyze(encoded: encoded, descriptorLimit: descriptorLimit) }
    }
}
