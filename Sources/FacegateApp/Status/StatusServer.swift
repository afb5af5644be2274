import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `/metrics` (Prometheus' text format) and `/health` (JSON; 200 when the door can decide, 503 when
/// it cannot) on the configured address: a fleet scrapes the door without seeing anything else of it.
struct StatusServer: Service {
    let host: String
    let port: Int
    /// The Prometheus exposition, rendered by the registry (the gauges set just before).
    let metrics: @Sendable () async -> [UInt8]
    let health: @Sendable () async -> DoorHealthReport
    /// Told the port once the server listens (port 0 picks a free one: tests).
    let onListening: @Sendable (Int) async -> Void
    let logger: Logger

    func run() async throws {
        let router = Router()
        Self.addRoutes(to: router, metrics: metrics, health: health)
        let logger = self.logger, onListening = self.onListening
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                // The address is the installer's configuration: not for the log.
                logger.notice("serving /metrics and /health")
                await onListening(port)
            },
            logger: Self.quiet(logger))
        do {
            try await app.run()
        } catch {
            // An address in use (or not this box's) costs the scrapes, never the door.
            logger.error("/metrics and /health unavailable: cannot listen", metadata: ["error": "\(type(of: error))"])
            try? await gracefulShutdown()
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
