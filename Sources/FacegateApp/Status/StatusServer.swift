import FacegateCore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `/metrics` (Prometheus' text format) and `/health` (JSON; 200 when the door can decide, 503 when
/// it cannot) on the configured address: a fleet scrapes the door without seeing anything else of it.
struct StatusServer: Service {
    let host: String
    let port: Int
    let connections: ServedConnectionLimits
    /// The Prometheus exposition, rendered by the registry (the gauges set just before).
    let metrics: @Sendable () async -> [UInt8]
    let health: @Sendable () async -> DoorHealthReport
    /// Told the port once the server listens (port 0 picks a free one: tests).
    let onListening: @Sendable (Int) async -> Void
    /// The pauses between tries to listen: the first, doubled up to the last.
    var listenPauses = RetriedListening.pauses
    let logger: Logger

    func run() async throws {
        let router = Router()
        // As for the kiosk: on loopback, a page in a browser on the box whose name was pointed at 127.0.0.1
        // (DNS rebinding) must not read the door's health and timings. A scraper on the network names the
        // box's own address, so a check there would refuse it. Loopback is judged by the address bound, not
        // the configured text: a host name that resolves there (a Debian box's own name is 127.0.1.1) is
        // loopback too. The bound address is known before the first connection is served (Hummingbird runs
        // `onServerRunning` before its accept loop); until then, loopback only.
        let boundToNetwork = SetOnceFlag()
        router.add(middleware: HostNameCheck<BasicRequestContext>(accepts: { boundToNetwork.isSet || LoopbackAddress.names($0) }))
        Self.addRoutes(to: router, metrics: metrics, health: health)
        let logger = self.logger, onListening = self.onListening
        // An address in use (or not this box's yet) costs the scrapes, never the door: tried again.
        await RetriedListening.serve("/metrics and /health", pauses: listenPauses, logger: logger) { listening in
            try await Application(
                router: router, server: connections.server,
                configuration: .init(
                    address: .hostname(host, port: port), serverName: nil,
                    availableConnectionsDelegate: .maximum(connections.maximum, logger: Self.quiet(logger))),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? 0
                    if let bound = channel.localAddress?.ipAddress, !LoopbackAddress.names(bound) { boundToNetwork.set() }
                    listening()
                    // The address is the installer's configuration: not for the log.
                    logger.notice("serving /metrics and /health")
                    await onListening(port)
                },
                logger: Self.quiet(logger)
            ).run()
        }
    }

    /// `/metrics` and `/health`, here and on the kiosk's address.
    static func addRoutes(
        to router: Router<BasicRequestContext>, metrics: @escaping @Sendable () async -> [UInt8],
        health: @escaping @Sendable () async -> DoorHealthReport
    ) {
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: await metrics())))
        }
        router.get("health") { _, _ -> Response in
            let report = await health()
            return Response(
                status: report.canDecide ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: [UInt8](report.json()))))
        }
    }

    /// Hummingbird's own lines name the address; only its problems reach the door's log.
    static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return quiet
    }
}

/// An HTTP server of the door's, run until the door stops and started again whenever it cannot listen:
/// the unit does not wait for the network, so a management address may not be this box's yet when the
/// daemon starts (a DHCP lease, a VLAN that comes up after it), and a port may be held for a while by
/// another process. Before, one failure left `/metrics`, `/health` or the kiosk's screen dead until the
/// daemon was restarted. The first failure is said (with errno, not the address: that is the
/// installer's configuration), and the server says when it listens.
enum RetriedListening {
    /// From 1 s, doubled after each failure, up to 30 s.
    static let pauses: ClosedRange<Duration> = .seconds(1)...(.seconds(30))

    /// - Parameter run: runs the server until the door stops, calling its argument once it listens.
    static func serve(
        _ what: String, pauses: ClosedRange<Duration> = Self.pauses, logger: Logger,
        run: (_ listening: @escaping @Sendable () -> Void) async throws -> Void
    ) async {
        var pause = pauses.lowerBound
        var failing = false
        let clock = ContinuousClock()
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let listenedAt = Mutex<ContinuousClock.Instant?>(nil)
            do {
                try await run { listenedAt.withLock { $0 = clock.now } }
                return
            } catch {
                // A server cut short as the door stops is no failure to retry.
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                let listened = listenedAt.withLock { $0 }
                if let listened, clock.now - listened >= pauses.upperBound {
                    // It served a while, then failed: a new outage, said again and tried again from the first
                    // pause. One that fails as soon as it listens goes on backing off, said once.
                    failing = false
                    pause = pauses.lowerBound
                }
                if !failing {
                    logger.error(
                        "\(what) unavailable: \(listened != nil ? "the server stopped" : "cannot listen"); tried again until it can",
                        metadata: ["error": "\(type(of: error))", "errno": "\((error as? IOError)?.errnoCode ?? 0)"])
                    failing = true
                }
            }
            let wait = pause
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: wait) })) != nil else { return }
            pause = min(pause * 2, pauses.upperBound)
        }
    }
}

/// What clients may hold of the daemon's HTTP servers: a bounded number of connections, none idle for
/// long. A neighbour on the network (or any local user, on loopback) who opens connections and sends
/// nothing must not use up the process's file descriptors, which the camera, the journal, the cache and
/// the cloud need: past the maximum, new connections wait in the kernel's queue until one closes.
public struct ServedConnectionLimits: Sendable {
    /// Open connections at once (a page's event stream holds one for as long as it is shown).
    public var maximum: Int
    /// A connection with no request in progress for this long is closed.
    public var idleTimeout: Duration

    public init(maximum: Int, idleTimeout: Duration) {
        self.maximum = maximum
        self.idleTimeout = idleTimeout
    }

    /// `/metrics` and `/health`: a scraper or two, a monitoring probe.
    public static let status = ServedConnectionLimits(maximum: 16, idleTimeout: .seconds(30))
    /// The kiosk: its screens' event streams, plus the scrapes it also serves.
    public static let kiosk = ServedConnectionLimits(maximum: 32, idleTimeout: .seconds(30))

    var server: HTTPServerBuilder { .http1(configuration: .init(idleTimeout: TimeAmount(idleTimeout))) }
}
