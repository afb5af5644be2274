@testable import FacegateApp
import FacegateTesting
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateJournal
import FacegateOfflineCache
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

/// Start-up when a part is not as it should be (issue 9, item 12): a GPIO chip not there yet is waited
/// for; an offline cache written with another key, or not a cache at all, is turned off (logged by key,
/// journaled, in STATUS=) and the door runs; only the configuration's problems count as such (exit 78).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DoorStartUpDegradeTests {
    final class Bench {
        let folder: URL
        var configuration = FacegateConfiguration()

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-degrade-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            configuration.door.name = "degrade door"
            // Not the system's socket: tests run side by side.
            configuration.control.socket = nil
            configuration.door.tags = ["staff"]
            configuration.journal.path = path("journal.sqlite")
            configuration.offlineCache.path = path("offline-cache.sqlite")
            try OfflineCacheKey.generate(to: path("door-key"))
            configuration.offlineCache.key = .file(path("door-key"))
        }

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        func open(logger: Logger, source: (any FrameSource)? = nil) throws(DaemonStartError) -> DoorParts {
            try DoorParts.open(
                configuration,
                overrides: .init(
                    source: source ?? DemoScene(visitors: []), search: HeldCloud(), doorLines: SimulatedDoorLines(logger: logger),
                    environment: [:]),
                logger: logger)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    @Test(.timeLimit(.minutes(1)))
    func aCacheWrittenWithAnotherKeyIsTurnedOffJournaledAndShownAndTheDoorRuns() async throws {
        let bench = try Bench()
        // The cache file was made with another key (a box restored from another's backup, a new key file).
        try OfflineCacheKey.generate(to: bench.path("other-key"))
        _ = try OfflineFaceCache(configuration: .init(path: bench.path("offline-cache.sqlite")), key: try OfflineCacheKey.load(path: bench.path("other-key")))
        let log = CapturedLogs()

        let parts = try bench.open(logger: log.logger(level: .debug))
        #expect(parts.cache == nil)
        let detail = "offline cache off: written with another key"
        #expect(parts.degradations == [StartDegradation(key: "offline_cache.path", detail: detail)])

        // The daemon runs, says so in STATUS= and journals it.
        let notify = try NotifyListener(path: bench.path("notify"))
        defer { notify.close() }
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        let configuration = bench.configuration
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings,
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notify.path]), logger: log.logger(level: .debug), loadConfiguration: { configuration })
        try await service.run()
        let ready = try #require(await notify.waitFor("READY=1", timeout: .seconds(2)))
        #expect(ready.text.contains("STATUS=door degrade door: watching the camera; \(detail)"), "\(ready.text)")

        var events: [DoorEventRecord] = []
        try JournalReader(path: bench.configuration.journal.path).forEachDoorEvent(DoorEventQuery()) { events.append($0) }
        #expect(events.map(\.kind) == [.degraded], "\(events)")
        #expect(events.first?.detail == detail)
        #expect(events.first?.door == "degrade door")
        // `/health` says the cache failed, and why: `off` is the installer's choice, and monitoring stayed
        // green until the next outage denied everyone (review). The door itself still decides online.
        let health = await service.healthReport(doorFailed: SetOnceFlag())
        #expect(health.offlineCache.status == .failed)
        #expect(health.offlineCache.lastError == detail)
        #expect(health.offlineCache.since != nil)
        // Turned off in the configuration, it is `off`.
        let turnedOff = {
            var configuration = bench.configuration
            configuration.offlineCache.enabled = false
            return configuration
        }()
        let withoutCache = try DoorParts.open(
            turnedOff, overrides: .init(source: DemoScene(visitors: []), search: HeldCloud(), doorLines: SimulatedDoorLines(), environment: [:]),
            logger: log.logger(level: .debug))
        let unused = DoorControllerService(configuration: turnedOff, parts: withoutCache, logger: log.logger(level: .debug), loadConfiguration: { turnedOff })
        #expect(await unused.healthReport(doorFailed: SetOnceFlag()).offlineCache.status == .off)
        await withoutCache.close()

        // Logged by its key, never by its path or the key's.
        let text = log.text
        #expect(text.contains("offline cache unusable") && text.contains("key=offline_cache.path"), "\(text)")
        #expect(!text.contains(bench.folder.path), "\(text)")
        // The file is left as it was: the other key still opens it.
        _ = try OfflineFaceCache(configuration: .init(path: bench.path("offline-cache.sqlite")), key: try OfflineCacheKey.load(path: bench.path("other-key")))
    }

    @Test func aCacheFileThatIsNotACacheIsTurnedOff() throws {
        let bench = try Bench()
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: bench.path("offline-cache.sqlite")))
        let log = CapturedLogs()
        let parts = try bench.open(logger: log.logger(level: .debug))
        #expect(parts.cache == nil)
        #expect(parts.degradations.map(\.detail) == ["offline cache off: the file cannot be opened (corrupt, not a cache, or no access)"])
        #expect(!log.text.contains(bench.folder.path), "\(log.text)")
    }

    /// A cache a newer facegate migrated (a box downgraded after an update): turned off, not rolled back or
    /// rewritten, so that the newer facegate finds its faces again when it is back.
    @Test func aCacheWrittenByANewerFacegateIsTurnedOffAndLeftAsItIs() async throws {
        let bench = try Bench()
        let file = bench.path("offline-cache.sqlite")
        do {
            let cache = try OfflineFaceCache(configuration: .init(path: file), key: try OfflineCacheKey.load(path: bench.path("door-key")))
            try await cache.remember(
                subjectId: "alice", tags: ["staff"], grantedUnder: ["staff"], descriptor: try FaceDescriptor([Float](repeating: 0.1, count: 128)),
                at: Date())
        }
        // What a newer facegate's migration leaves behind: a step this one does not know.
        let queue = try DatabaseQueue(path: file)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-a-newer-facegate')")
        }
        let before = try await Self.everyRow(of: queue)
        try queue.close()
        let log = CapturedLogs()

        let parts = try bench.open(logger: log.logger(level: .debug))
        #expect(parts.cache == nil)
        #expect(parts.degradations == [StartDegradation(key: "offline_cache.path", detail: "offline cache off: written by a newer facegate")])
        #expect(!log.text.contains(bench.folder.path), "\(log.text)")
        // Not migrated, rolled back or emptied: every table and row as the newer facegate left them.
        let after = try await Self.everyRow(of: DatabaseQueue(path: file))
        #expect(after == before)
        #expect(before.contains { $0.contains("v99-from-a-newer-facegate") } && before.contains { $0.hasPrefix("face_entry") })
    }

    /// Every row of every table, as text, table by table.
    static func everyRow(of database: DatabaseQueue) async throws -> [String] {
        try await database.read { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            return try tables.flatMap { table in
                try Row.fetchAll(db, sql: "SELECT * FROM \(table.quotedDatabaseIdentifier) ORDER BY rowid").map { "\(table) \($0)" }
            }
        }
    }

    @Test func aCacheKeyThatIsMissingIsAConfigurationProblem() throws {
        let bench = try Bench()
        bench.configuration.offlineCache.key = .file(bench.path("no-such-key"))
        let log = CapturedLogs()
        let error = #expect(throws: DaemonStartError.self) { _ = try bench.open(logger: log.logger(level: .debug)) }
        #expect(error?.key == "offline_cache.key")
        #expect(error?.isConfigurationProblem == true)
    }

    /// A key that others can read is no secret: refused like a missing one, not turned off and run.
    @Test func aCacheKeyThatOthersCanReadIsAConfigurationProblem() throws {
        let bench = try Bench()
        #expect(chmod(bench.path("door-key"), 0o644) == 0)
        let log = CapturedLogs()
        let error = #expect(throws: DaemonStartError.self) { _ = try bench.open(logger: log.logger(level: .debug)) }
        #expect(error?.key == "offline_cache.key")
        #expect(error?.isConfigurationProblem == true)
        #expect(!"\(error.map { String(describing: $0) } ?? "")".contains(bench.folder.path), "the key's path is configuration")
    }

    @Test func aModelsFolderThatDoesNotExistIsAConfigurationProblem() throws {
        let bench = try Bench()
        bench.configuration.modelsDirectory = bench.path("no-models")
        let error = #expect(throws: DaemonStartError.self) { _ = try bench.open(logger: CapturedLogs().logger(level: .debug)) }
        #expect(error?.key == "models")
        #expect(error?.isConfigurationProblem == true)
    }

    @Test func aGPIOChipThatIsNotThereIsAMissingDeviceNotAConfigurationProblem() throws {
        let bench = try Bench()
        bench.configuration.door.relay = .init(chip: "gpiochip97", line: "3")
        let error = #expect(throws: DaemonStartError.self) {
            _ = try DoorParts.open(bench.configuration, overrides: .init(environment: [:]), logger: CapturedLogs().logger(level: .debug))
        }
        #expect(error?.key == "door.relay")
        #expect(error?.cause == .deviceMissing("the GPIO chip of door.relay"))
        #expect(error?.isConfigurationProblem == false)
    }

    @Test(.timeLimit(.minutes(1)))
    func aGPIOChipThatAppearsLaterIsWaitedForAndTheDoorStarts() async throws {
        let bench = try Bench()
        bench.configuration.offlineCache.enabled = false
        let log = CapturedLogs()
        let logger = log.logger(level: .debug)
        let tries = Atomic(0)
        let notify = try NotifyListener(path: bench.path("notify"))
        defer { notify.close() }
        let opener: @Sendable () throws(DaemonStartError) -> any DoorLines = { () throws(DaemonStartError) -> any DoorLines in
            // The driver loads while facegate waits: the third look finds the chip.
            if tries.add(1, ordering: .relaxed).newValue < 3 {
                throw DaemonStartError(key: "door.relay", "no GPIO chip", cause: .deviceMissing("the GPIO chip of door.relay"))
            }
            return SimulatedDoorLines(logger: logger)
        }
        let started = ContinuousClock.now
        let parts = try await DoorParts.openWaitingForDevices(
            bench.configuration, overrides: .init(source: DemoScene(visitors: []), search: HeldCloud(), openDoorLines: opener, environment: [:]),
            wait: .seconds(10), retryInterval: .milliseconds(200), notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notify.path]),
            logger: logger)
        let triesMade = tries.load(ordering: .relaxed)
        #expect(triesMade == 3)
        // One look every retry interval, not a tight loop.
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        _ = parts

        _ = await notify.waitFor("never", timeout: .milliseconds(100))
        let waits = notify.messages.filter { $0.text.contains("STATUS=waiting for the GPIO chip of door.relay") }
        #expect(waits.count == 2, "\(notify.messages.map(\.text))")
        #expect(waits.allSatisfy { $0.text.contains("EXTEND_TIMEOUT_USEC=5200000") }, "\(waits.map(\.text))")
        #expect(!notify.messages.contains { $0.text.contains("READY=1") })
        // Logged once, then once more when found.
        #expect(log.text.components(separatedBy: "GPIO chip not there yet").count == 2, "\(log.text)")
        #expect(log.text.contains("GPIO chip found; starting"))
    }

    @Test(.timeLimit(.minutes(1)))
    func aGPIOChipThatNeverAppearsEndsTheWaitAsAMissingDevice() async throws {
        let bench = try Bench()
        let opener: @Sendable () throws(DaemonStartError) -> any DoorLines = { () throws(DaemonStartError) -> any DoorLines in
            throw DaemonStartError(key: "door.relay", "no GPIO chip", cause: .deviceMissing("the GPIO chip of door.relay"))
        }
        let started = ContinuousClock.now
        let error = await #expect(throws: DaemonStartError.self) {
            _ = try await DoorParts.openWaitingForDevices(
                bench.configuration, overrides: .init(openDoorLines: opener, environment: [:]), wait: .milliseconds(500),
                retryInterval: .milliseconds(100), notifier: SystemdNotifier(environment: [:]), logger: CapturedLogs().logger(level: .debug))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(500))
        #expect(error?.cause == .deviceMissing("the GPIO chip of door.relay"))
        #expect(error?.isConfigurationProblem == false)
    }
}
