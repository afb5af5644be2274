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
        /// How often every page is sent a keep-alive (``KioskFeed/Event/keepAlive``).
        var keepAliveInterval: Duration = .seconds(15)
        /// Pages' event streams at once: a quarter of the connections (8 of 32), so that streams opened and
        /// never read, or left by pages gone, cannot take every connection from the page itself, `/health` and
        /// `/metrics`. A stream past it is answered 503, and the page tries again.
        var pageLimit: Int { max(1, connections.maximum / 4) }
        /// How often whether the door can decide is asked.
        var availabilityInterval: Duration = .seconds(2)
        /// How long pages get to take the end of their streams once the door stops; past it the server is
        /// cancelled, which ends a page's write that waits on a client no longer reading.
        var pagesGraceAtStop: Duration = .seconds(2)
        /// The pauses between tries to listen: the first, doubled up to the last.
        var listenPauses = RetriedListening.pauses
        /// A page's stream that has not taken an event for this long (its write backed up on a client that
        /// reads nothing, past two keep-alives) gives its place up to a page that asks for one.
        var stuckPageLimit: Duration { keepAliveInterval * 2 + .seconds(5) }
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
        let feed = self.feed, settings = self.settings, logger = self.logger, onListening = self.onListening
        let kiosk = self
        @Sendable func listen(_ listening: @escaping @Sendable () -> Void) async throws {
            try await Application(
                router: kiosk.router(), server: settings.connections.server,
                configuration: .init(
                    address: .hostname(settings.host, port: settings.port), serverName: nil,
                    availableConnectionsDelegate: .maximum(settings.connections.maximum, logger: StatusServer.quiet(logger))),
                onServerRunning: { channel in
                    listening()
                    // The address is the installer's configuration: not for the log.
                    logger.notice("serving the kiosk page")
                    await onListening(channel.localAddress?.port ?? 0)
                },
                logger: StatusServer.quiet(logger)
            ).run()
        }
        let stopping = SetOnceFlag()
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await showFrames() }
                    group.addTask {
                        while (try? await Task.sleep(for: settings.keepAliveInterval)) != nil { feed.broadcast(.keepAlive) }
                    }
                    group.addTask {
                        for await outcome in await decisions() {
                            feed.broadcast(.decision(outcome.record, names: settings.displayNames))
                        }
                    }
                    group.addTask {
                        for await progress in await enrolments() { feed.broadcast(.enrolment(progress)) }
                    }
                    group.addTask { await tellAvailability() }
                    group.addTask {
                        for await event in await doorEvents() {
                            if let shown = KioskFeed.Event.door(event) { feed.broadcast(shown) }
                        }
                    }
                    // The server ends on the group's graceful shutdown; the feeds with it.
                    defer { group.cancelAll() }
                    try await withThrowingTaskGroup(of: Void.self) { server in
                        // An address in use (or not this box's yet) costs the screen, never the door: tried again.
                        server.addTask { await RetriedListening.serve("kiosk", pauses: settings.listenPauses, logger: logger, run: listen) }
                        // The server waits for every request under way, and a page's write waits for its client
                        // to read: a tablet gone from the Wi-Fi, a hung browser or a client that never reads
                        // would hold every stop of the door for the whole shutdown limit (12 s). A short grace
                        // after the stop begins, then the server is cancelled and such a write with it.
                        server.addTask {
                            try await gracefulShutdown()
                            try await Task.sleep(for: settings.pagesGraceAtStop)
                        }
                        defer { server.cancelAll() }
                        try await server.next()
                    }
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
            // The server's failures are tried again (RetriedListening): only a feed's failure reaches here.
            logger.error("kiosk unavailable", metadata: ["error": "\(type(of: error))"])
            try? await gracefulShutdown()
        }
    }

    /// Whether the door can decide (`/health`'s answer), asked every ``Settings/availabilityInterval`` and
    /// told to the pages when it changes; a page that connects is told the last answer after its `hello`
    /// (asked while nobody watches too, so that it is never older than the interval: review). A page whose
    /// stream is up would otherwise say "Look at the camera" at a door that decides nobody (a camera gone,
    /// neither cloud nor cache to identify).
    private func tellAvailability() async {
        var told: Bool?
        repeat {
            let canDecide = await health().canDecide
            if canDecide != told {
                told = canDecide
                feed.broadcast(.availability(canDecide: canDecide))
            }
        } while (try? await Task.sleep(for: settings.availabilityInterval)) != nil
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
        // On a network address too: the picture and the names must not reach a page of another site whose
        // name was pointed at the box's address (DNS rebinding) in any browser that can reach it.
        router.add(middleware: HostNameCheck.forListening(on: settings.host))
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.contentPolicy],
                body: ResponseBody(byteBuffer: ByteBuffer(string: KioskPage.html)))
        }
        router.get("events") { _, _ -> Response in
            // Checked, then joined: a burst of streams may pass the limit by a few, still far below the connections.
            guard feed.hasRoom(limit: settings.pageLimit, stuckAfter: settings.stuckPageLimit) else {
                return Response(status: .serviceUnavailable, headers: [.cacheControl: "no-store", .retryAfter: "5"])
            }
            let hello = KioskFeed.Event.json("hello", KioskFeed.Event.Hello(preview: settings.preview, door: settings.doorName))
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    try await feed.watch(hello: hello, limit: settings.pageLimit, stuckAfter: settings.stuckPageLimit) { events in
                        for await event in events {
                            try await writer.write(ByteBuffer(string: event.serverSent))
                        }
                    }
                    try await writer.finish(nil)
                })
        }
        StatusServer.addRoutes(to: router, metrics: metrics, health: health)
        return router
    }
}

/// Answers only requests named for this machine: on a loopback address `127.0.0.1:8470`, `localhost`,
/// `[::1]`; on a network address also an IP address written as such and this machine's host name. A web
/// page on any other site, open in a browser that can reach the box, could otherwise point a name of its
/// own at the box's address (DNS rebinding) and read the camera's picture and the welcome names from
/// `/events`; its requests carry that name, and are answered 421 with nothing in them.
struct HostNameCheck<Context: RequestContext>: RouterMiddleware {
    /// Whether a request named for this host is for this machine.
    let accepts: @Sendable (String) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // No Host at all is no browser's request (every browser sends one).
        if let authority = request.head.authority, !accepts(Self.hostName(of: authority)) {
            return Response(status: .misdirectedRequest)
        }
        return try await next(request, context)
    }

    /// A loopback name, an address written as such (an IP literal: a page's own origin is then that
    /// address, which no other site can share), or this machine's host name (with or without `.local`).
    /// A DNS name of another site, rebound to the box's address, is none of them.
    static func isThisMachine(_ host: String, names: Set<String>) -> Bool {
        if ListenAddress.isLoopbackHost(host) { return true }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return true }
        return names.contains(host.lowercased())
    }

    /// This machine's host name, its first label, and both with `.local` (mDNS), lowercased.
    static func machineNames() -> Set<String> {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return [] }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased()
        guard !name.isEmpty else { return [] }
        let short = String(name.split(separator: ".").first ?? Substring(name))
        return [name, short, name + ".local", short + ".local"]
    }

    /// The host of `host:port`, `[v6]:port`, or a bare host; a name written fully qualified (`door.local.`,
    /// which a browser sends as typed) is the same name without its final dot.
    static func hostName(of authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        let host = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(host.hasSuffix(".") ? host.dropLast() : host)
    }
}

extension HostNameCheck where Context == BasicRequestContext {
    /// Loopback names only (a server on a loopback address).
    static var loopbackOnly: Self { Self(accepts: { ListenAddress.isLoopbackHost($0) }) }

    /// For a server on `host`: loopback names on a loopback address, else this machine however a browser
    /// on the network names it.
    static func forListening(on host: String) -> Self {
        if ListenAddress.isLoopbackHost(host) { return loopbackOnly }
        let names = machineNames()
        return Self(accepts: { isThisMachine($0, names: names) })
    }
}
