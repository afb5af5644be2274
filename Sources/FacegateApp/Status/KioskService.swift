import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The kiosk: the page (`/`), its events (`/events`, server-sent), and `/metrics` and `/health`,
/// on the kiosk's address; everything it shows comes from this binary.
///
/// It feeds the page from the pipeline's frames (through ``KioskFeed``), its decisions and the door's
/// events. The picture and names go only to the pages on this address, never to the log.
struct KioskService: Service {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var preview: Bool
        var displayNames: [String: String]
        var doorName: String
        var minInterEyeDistance: Double
        /// The turn and tilt past which the person is asked to face the camera (the early decision's).
        var maxPoseDegrees: Double
        /// At most this many preview pictures a second, and this many face updates.
        var previewsPerSecond = 4.0
        var faceUpdatesPerSecond = 8.0
        var connections = ServedConnectionLimits.kiosk
    }

    /// The page loads nothing from anywhere but this address (its picture arrives as data URLs).
    static let contentPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'"

    let settings: Settings
    let feed: KioskFeed
    private let encoding = BlockingWorkQueue(label: "facegate.kiosk")
    let decisions: @Sendable () async -> AsyncStream<GateOutcome>
    let enrolments: @Sendable () async -> AsyncStream<EnrolmentProgress>
    let doorEvents: @Sendable () async -> AsyncStream<DoorEvent>
    let metrics: @Sendable () async -> [UInt8]
    let health: @Sendable () async -> DoorHealthReport
    let onListening: @Sendable (Int) async -> Void
    let logger: Logger

    func run() async throws {
        let feed = self.feed, settings = self.settings, logger = self.logger
        let app = Application(
            router: router(), server: settings.connections.server,
            configuration: .init(
                address: .hostname(settings.host, port: settings.port), serverName: nil,
                availableConnectionsDelegate: .maximum(settings.connections.maximum, logger: StatusServer.quiet(logger))),
            onServerRunning: { channel in
                // The address is the installer's configuration: not for the log.
                logger.notice("serving the kiosk page")
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: StatusServer.quiet(logger))
        let stopping = SetOnceFlag()
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await showFrames() }
                    group.addTask {
                        for await outcome in await decisions() {
                            feed.broadcast(.decision(outcome.record.decision, names: settings.displayNames))
                        }
                    }
                    group.addTask {
                        for await progress in await enrolments() { feed.broadcast(.enrolment(progress)) }
                    }
                    group.addTask {
                        for await event in await doorEvents() {
                            if let shown = KioskFeed.Event.door(event) { feed.broadcast(shown) }
                        }
                    }
                    // The server ends on the group's graceful shutdown; the feeds with it.
                    defer { group.cancelAll() }
                    try await app.run()
                }
            } onGracefulShutdown: {
                stopping.set()
                // The pages' streams end, so that they do not hold the server open.
                feed.close()
            }
        } catch where stopping.isSet {
            // A page's stream cut short as the server closes is no failure of the door.
            logger.debug("kiosk stopped", metadata: ["error": "\(type(of: error))"])
        } catch {
            // An address in use (or not this box's) costs the screen, never the door.
            logger.error("kiosk unavailable: cannot listen", metadata: ["error": "\(type(of: error))"])
            try? await gracefulShutdown()
        }
    }

    /// Faces and guidance for each frame, and the picture a few times a second, while a page watches.
    private func showFrames() async {
        let clock = ContinuousClock()
        var lastFaces: ContinuousClock.Instant?, lastPreview: ContinuousClock.Instant?
        var sequence = 0
        for await observation in feed.observations {
            let now = clock.now
            if lastFaces.map({ now - $0 >= .seconds(1 / settings.faceUpdatesPerSecond) }) ?? true {
                lastFaces = now
                feed.broadcast(.faces(in: observation.image, observation.faces, minInterEyeDistance: settings.minInterEyeDistance, maxPoseDegrees: settings.maxPoseDegrees))
            }
            guard settings.preview, lastPreview.map({ now - $0 >= .seconds(1 / settings.previewsPerSecond) }) ?? true else { continue }
            lastPreview = now
            // At most 640 px wide: enough for a kiosk's screen, a fraction of a full frame's bytes. Scaled
            // and encoded where blocking work goes, not on the tasks that run the door's services.
            let image = observation.image
            let jpeg = try? await encoding.run { () throws -> [UInt8] in
                let scale = min(1, 640 / Double(image.width))
                let shown = scale < 1 ? try image.resized(width: 640, height: max(1, Int(Double(image.height) * scale))) : image
                return try ImageCodec.encodeJPEG(shown, quality: 70)
            }
            guard let jpeg else { continue }
            sequence += 1
            feed.broadcast(
                .json(
                    "preview",
                    KioskFeed.Event.Preview(seq: sequence, width: image.width, height: image.height, jpeg: Data(jpeg).base64EncodedString())))
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        let feed = self.feed, settings = self.settings, metrics = self.metrics, health = self.health
        if ListenAddress.isLoopbackHost(settings.host) { router.add(middleware: LoopbackHostCheck()) }
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.contentPolicy],
                body: ResponseBody(byteBuffer: ByteBuffer(string: KioskPage.html)))
        }
        router.get("events") { _, _ -> Response in
            let events = feed.subscribe(hello: .json("hello", KioskFeed.Event.Hello(preview: settings.preview, door: settings.doorName)))
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    for await event in events {
                        try await writer.write(ByteBuffer(string: event.serverSent))
                    }
                    try await writer.finish(nil)
                })
        }
        StatusServer.addRoutes(to: router, metrics: metrics, health: health)
        return router
    }
}

/// On a loopback address the kiosk answers only requests named for this machine (`Host: 127.0.0.1:8470`,
/// `localhost`, `[::1]`). A web page on any other site, open in a browser on the box, could otherwise
/// point a name of its own at 127.0.0.1 (DNS rebinding) and read the camera's picture and the welcome
/// names from `/events`; its requests carry that name, and are answered 421 with nothing in them.
struct LoopbackHostCheck<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // No Host at all is no browser's request (every browser sends one).
        if let authority = request.head.authority, !ListenAddress.isLoopbackHost(Self.hostName(of: authority)) {
            return Response(status: .misdirectedRequest)
        }
        return try await next(request, context)
    }

    /// The host of `host:port`, `[v6]:port`, or a bare host.
    static func hostName(of authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        return String(authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}

extension LoopbackHostCheck where Context == BasicRequestContext {
    init() {}
}
