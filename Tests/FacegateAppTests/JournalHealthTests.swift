import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateQuality
import FacegateTesting
import Foundation
import GRDB
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// `/health` (and so `facegate status`) says the journal is `failed`, and the door cannot decide (503),
/// while records are lost or cannot reach the disk: dropped for a full backlog, writes failing, or a
/// write hanging past the stall limit; and `degraded` while age retention waits for a trusted clock.
/// A running door, its status server on loopback, a real journal file.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct JournalHealthTests {
    struct Door {
        let journal: SQLiteJournal
        let get: (String) async throws -> (status: Int, body: String)

        func health() async throws -> (status: Int, report: DoorHealthReport) {
            let (status, body) = try await get("/health")
            return (status, try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(body.utf8)))
        }
    }

    /// A door whose camera sent three frames (and is then quiet, well within its silence limit), over
    /// `journal`; `body` runs once the camera is seen ok. `beforeFrames` runs as soon as the door serves.
    /// A door on `configuration`'s journal, run until `body` returns; `lines`: its relay and inputs (a
    /// door of its own by default); `doorAnswerLimit`: instead of the service's 5 s. StatusLineTests and
    /// StatusEndpointTests run doors here too.
    func withDoor(
        journal configuration: SQLiteJournal.Configuration, cloud: HeldCloud = HeldCloud(), notify: NotifyListener? = nil,
        lines: (any DoorLines)? = nil, doorAnswerLimit: Duration? = nil, beforeFrames: ((Door) async throws -> Void)? = nil,
        _ body: (Door) async throws -> Void
    ) async throws {
        let logger = Logger.quiet("journal-health")
        var door = FacegateConfiguration()
        door.door.name = "journal health"
        door.door.tags = ["staff"]
        door.control.socket = nil
        door.motion.enabled = false
        door.offlineCache.enabled = false
        door.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
        door.journal.path = configuration.path
        let journal = SQLiteJournal(configuration: configuration, logger: logger)
        let source = HeldSource(SynthesizedApproach(empty: 3, present: 0, after: 0))
        let parts = DoorParts(
            source: source, analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: nil,
            door: try DoorController(lines: lines ?? SimulatedDoorLines(logger: logger), logger: logger), journal: journal, close: {})
        let listening = AsyncStream<Int>.makeStream()
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.cameraSilenceLimit = .seconds(600)
        settings.journalStallLimit = .milliseconds(300)
        settings.statusInterval = .milliseconds(100)
        if let doorAnswerLimit { settings.doorAnswerLimit = doorAnswerLimit }
        settings.onStatusServerListening = { port in listening.continuation.yield(port) }
        let service = DoorControllerService(
            configuration: door, parts: parts, settings: settings, notifier: SystemdNotifier(environment: notify.map { ["NOTIFY_SOCKET": $0.path] } ?? [:]), logger: logger,
            loadConfiguration: { [door] in door })
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = httpClient.shutdown() }

        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            var ports = listening.stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            let served = Door(journal: journal) { path in
                let response = try await httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), String(buffer: body))
            }
            try await beforeFrames?(served)
            source.start.finish()
            let deadline = ContinuousClock.now + .seconds(20)
            while try await served.health().report.camera.status != .ok, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await body(served)
            trigger.triggerGracefulShutdown()
            source.release.finish()
            try await running.value
        }
    }

    /// Asks `/health` until the journal reads `status` (or 10 s pass); returns the last answer.
    private func waitForJournal(_ status: DoorHealthReport.Status, _ door: Door) async throws -> (status: Int, report: DoorHealthReport) {
        try await askUntil { try await door.health() } until: { $0.report.journal.status == status }
    }

    @Test("a journal that cannot write, then drops records for a full backlog, is failed (503) until its backlog is written")
    func aJournalThatCannotWriteIsFailed() async throws {
        let folder = try TemporaryFolder("journal-health")
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        // A directory in the way: the journal cannot be opened.
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let configuration = SQLiteJournal.Configuration(
            path: path, maxPendingRecords: 4, retryDelay: .milliseconds(100), maxRetryDelay: .milliseconds(200))
        try await withDoor(journal: configuration) { door in
            let failing = try await waitForJournal(.failed, door)
            #expect(failing.status == 503, "\(failing.report)")
            #expect(failing.report.journal.status == .failed && !failing.report.canDecide, "\(failing.report.journal)")
            #expect(failing.report.journal.lastError?.contains("cannot open the journal") == true, "\(failing.report.journal)")
            let began = try #require(failing.report.journal.since)
            #expect(abs(began.timeIntervalSinceNow) < 30)
            // No path in what `/health` says.
            #expect(!(failing.report.journal.lastError ?? "").contains(folder.path))

            // Five records for a backlog of four: one dropped, and said; the problem's start kept.
            for _ in 0..<5 { door.journal.record(DoorEventRecord(time: Date(), door: "journal health", kind: .forced)) }
            let dropping = try await door.health()
            #expect(dropping.status == 503)
            #expect(dropping.report.journal.lastError?.contains("the backlog is full: new records are dropped (1 so far)") == true, "\(dropping.report.journal)")
            #expect(dropping.report.journal.since == began)

            // The directory gone: the backlog is written and the journal is ok again.
            try FileManager.default.removeItem(atPath: path)
            let recovered = try await waitForJournal(.ok, door)
            #expect(recovered.status == 200, "\(recovered.report)")
            #expect(recovered.report.journal.lastError == nil)
            #expect(door.journal.status.pendingRecords == 0 && door.journal.status.writtenRecords >= 4)
        }
    }

    @Test("a write that hangs (the file locked by another writer) makes the journal failed once a record has waited past the stall limit")
    func aHangingWriteIsFailed() async throws {
        let folder = try TemporaryFolder("journal-health")
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let notify = try NotifyListener(path: folder.file("notify"))
        defer { notify.close() }
        try await withDoor(journal: SQLiteJournal.Configuration(path: path), notify: notify) { door in
            #expect(try await waitForJournal(.ok, door).status == 200)
            // Another connection takes the write lock: the journal's next write waits on it (2 s busy timeout)
            // without failing, as a write to a stalled disk does.
            var unsafe = GRDB.Configuration()
            unsafe.allowsUnsafeTransactions = true
            unsafe.busyMode = .timeout(5)
            let holder = try DatabaseQueue(path: path, configuration: unsafe)
            try await holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
            door.journal.record(DoorEventRecord(time: Date(), door: "journal health", kind: .forced))
            // Past the 300 ms stall limit, well within the busy timeout.
            try await Task.sleep(for: .milliseconds(800))
            let stalled = try await door.health()
            #expect(stalled.status == 503, "\(stalled.report)")
            #expect(stalled.report.journal.status == .failed)
            #expect(stalled.report.journal.lastError?.contains("records have waited over 300 ms for the disk") == true, "\(stalled.report.journal)")
            // `systemctl status` says so too (before, STATUS= named the journal only once its writes failed).
            let said = await notify.waitFor("; journal failed: records have waited over 300 ms for the disk", timeout: .seconds(5))
            #expect(said != nil, "\(notify.messages.map(\.text))")
            try await holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            let written = try await waitForJournal(.ok, door)
            #expect(written.status == 200, "\(written.report)")
        }
    }

    @Test("before anything happens, /metrics lists every door event kind and the journal's losses at 0")
    func countersAreDeclaredAtZero() async throws {
        let folder = try TemporaryFolder("journal-health")
        defer { folder.remove() }
        try await withDoor(
            journal: SQLiteJournal.Configuration(path: folder.file("journal.sqlite")),
            beforeFrames: { door in
                let exposition = try await door.get("/metrics").body
                let lines = Set(exposition.split(separator: "\n").map(String.init))
                var wanted = [
                    "facegate_journal_dropped_records_total 0", "facegate_journal_write_errors_total 0", "facegate_liveness_refusals_total 0",
                    "facegate_liveness_errors_total 0", "facegate_door_events_dropped_total 0", "facegate_visit_retries_total 0",
                ]
                for kind in DoorEventKind.allCases where kind != .degraded {
                    wanted.append("facegate_door_events_total{kind=\"\(kind.rawValue)\"} 0")
                }
                for line in wanted { #expect(lines.contains(line), "\(line) missing from:\n\(exposition)") }
            }
        ) { _ in }
    }

    @Test("age retention waiting for a clock something vouches for makes the journal degraded, with the reason; the door still decides")
    func retentionWaitingForTheClockIsDegraded() async throws {
        let folder = try TemporaryFolder("journal-health")
        defer { folder.remove() }
        let configuration = SQLiteJournal.Configuration(path: folder.file("journal.sqlite"))
        // Rows past the 90-day age limit, written by an earlier run.
        let earlier = SQLiteJournal(configuration: configuration)
        let writer = Task { await earlier.run(clockIsTrusted: { _ in false }) }
        for day in [120.0, 100.0] {
            earlier.record(DoorEventRecord(time: Date().addingTimeInterval(-day * 86_400), door: "journal health", kind: .forced))
        }
        try await earlier.flush()
        writer.cancel()
        await writer.value

        // The cloud's time two hours behind the door's clock: nothing vouches for it.
        let cloudClock = CloudClock()
        cloudClock.note(stated: Date().addingTimeInterval(-2 * 3600))
        try await withDoor(journal: configuration, cloud: HeldCloud(cloudClock: cloudClock)) { door in
            let waiting = try await waitForJournal(.degraded, door)
            #expect(waiting.report.journal.status == .degraded, "\(waiting.report.journal)")
            #expect(waiting.report.journal.lastError?.contains("age retention waits for a clock something vouches for") == true)
            #expect(waiting.report.journal.since != nil)
            #expect(waiting.report.canDecide && waiting.status == 200, "\(waiting.report)")
        }
    }
}
