import AsyncHTTPClient
@testable import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// The door's HTTP servers (`/metrics` and `/health`, the kiosk) when they cannot listen as the daemon
/// starts: the unit does not wait for the network, so after a power cut a management address may not be
/// the box's yet, and a port may be held for a while.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ListenRetryTests {
    /// A door on simulated lines with nobody at the camera, serving `/metrics` and `/health` on `statusPort`
    /// and the kiosk on `kioskPort`; `body` runs while it runs, with the servers' names as they listen.
    func withDoor(
        statusPort: Int, kioskPort: Int, _ body: (_ listening: AsyncStream<String>) async throws -> Void
    ) async throws {
        let temporary = try TemporaryFolder("listen-retry")
        defer { temporary.remove() }
        let logger = Logger.quiet("listen-retry")
        var configuration = FacegateConfiguration()
        configuration.door.name = "listen retry"
        configuration.door.tags = ["staff"]
        configuration.control.socket = nil
        configuration.motion.enabled = false
        configuration.offlineCache.enabled = false
        configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: statusPort)
        configuration.kiosk.enabled = true
        configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: kioskPort)
        configuration.journal.path = temporary.file("journal.sqlite")
        let source = HeldSource(SynthesizedApproach(empty: 3, present: 0, after: 0))
        source.start.finish()
        let cloud = HeldCloud()
        let parts = DoorParts(
            source: source, analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: nil,
            door: try DoorController(lines: SimulatedDoorLines(logger: logger), logger: logger),
            journal: SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger), close: {})
        let listening = AsyncStream<String>.makeStream()
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.cameraSilenceLimit = .seconds(600)
        settings.onStatusServerListening = { _ in listening.continuation.yield("status") }
        settings.onKioskListening = { _ in listening.continuation.yield("kiosk") }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            try await body(listening.stream)
            trigger.triggerGracefulShutdown()
            source.release.finish()
            // A graceful stop, whether or not a server ever listened.
            try await running.value
        }
    }

    /// Both ports held by another socket as the door starts: each server answers `/health` once its port is
    /// free (here after 1.5 s; tried again after 1 s, then 2 s). Before, the first failure left them dead
    /// until the daemon was restarted.
    @Test func aServerThatCannotListenAtTheStartListensOnceItCan() async throws {
        let statusPort = try RefusedPort(), kioskPort = try RefusedPort()
        defer {
            statusPort.release()
            kioskPort.release()
        }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = httpClient.shutdown() }
        try await withDoor(statusPort: statusPort.port, kioskPort: kioskPort.port) { listening in
            try await Task.sleep(for: .milliseconds(1500))
            statusPort.release()
            kioskPort.release()
            var heard = Set<String>()
            for await server in listening {
                heard.insert(server)
                if heard.count == 2 { break }
            }
            #expect(heard == ["status", "kiosk"])
            for port in [statusPort.port, kioskPort.port] {
                let response = try await httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(10))
                #expect(response.status == .ok || response.status == .serviceUnavailable, "\(response.status)")
            }
        }
    }

    /// A server that served a while and then failed is a new outage: said again, and tried again from the
    /// first pause. One that fails as soon as it listens goes on backing off, said once (review: every
    /// failure after listening was said, a second apart).
    @Test func aServerThatServedAndThenFailedIsSaidAgain() async throws {
        struct Stopped: Error {}
        let logs = CapturedLogs()
        let calls = Mutex(0)
        await RetriedListening.serve("test server", pauses: .milliseconds(10)...(.milliseconds(50)), logger: logs.logger()) { listening in
            let call = calls.withLock { calls in
                calls += 1
                return calls
            }
            switch call {
            case 1: throw Stopped()  // cannot listen: said
            case 2:  // listens, fails at once: not said again
                listening()
                throw Stopped()
            case 3:  // serves past the longest pause, then fails: said again
                listening()
                try await Task.sleep(for: .milliseconds(100))
                throw Stopped()
            default: return
            }
        }
        let said = logs.all.filter { $0.contains("test server unavailable") }
        #expect(said.count == 2, "\(said)")
        #expect(said.first?.contains("cannot listen") == true && said.last?.contains("the server stopped") == true, "\(said)")
    }

    /// A port held for good: the door still runs and stops cleanly, its servers' waits cut short by the stop.
    @Test func aServerThatNeverListensDoesNotHoldTheStop() async throws {
        let statusPort = try RefusedPort(), kioskPort = try RefusedPort()
        defer {
            statusPort.release()
            kioskPort.release()
        }
        let started = ContinuousClock.now
        try await withDoor(statusPort: statusPort.port, kioskPort: kioskPort.port) { _ in
            try await Task.sleep(for: .milliseconds(1500))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
