import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Logging
import ServiceLifecycleTestKit
import Testing

/// The daemon deletes what has outlived its life from the offline cache's file, cloud or no cloud: an
/// expired face never matches, but its descriptor on the disk is face data kept longer than promised.
@Suite(.timeLimit(.minutes(1)))
struct OfflineExpiryTests {
    @Test func theDaemonsMaintenanceDeletesExpiredFacesFromTheDisk() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite"), entryLifetime: .seconds(86_400)),
            key: try OfflineCacheKey(bytes: [UInt8](repeating: 9, count: 32)))
        let descriptor = try FaceDescriptor([Float](repeating: 0.05, count: 128))
        try await cache.remember(subjectId: "expired", grantedUnder: [], descriptor: descriptor, at: Date().addingTimeInterval(-2 * 86_400))
        try await cache.remember(subjectId: "current", grantedUnder: [], descriptor: descriptor, at: Date())
        try await cache.addPendingRecheck(
            decisionId: UUID(), door: "expiry", grantedSubject: nil, probe: [1, 2, 3], at: Date().addingTimeInterval(-8 * 86_400))
        #expect(try await cache.list().count == 2)

        let quiet = Logger.quiet("expiry")
        let maintenance = OfflineMaintenance(
            search: HeldCloud(), directory: nil, cache: cache, journal: MemoryJournal(),
            settings: .init(expiryPurgeInterval: .milliseconds(50)), logger: quiet)
        // The cloud away: nothing is re-checked, and the expired go all the same.
        let running = Task { await maintenance.run(policy: { DoorPolicy(door: "expiry", threshold: 7000, scoreUnit: .necScore) }, cloudIsDown: { true }) }
        defer { running.cancel() }
        var left = try await cache.list().map(\.subjectId)
        for _ in 0..<100 where left != ["current"] {
            try await Task.sleep(for: .milliseconds(50))
            left = try await cache.list().map(\.subjectId)
        }
        #expect(left == ["current"])
        #expect(try await cache.status().pendingRechecks == 0, "the week-old probe too")
    }

    /// While the clock cannot be trusted (it may have been stepped far ahead), nothing is deleted for being
    /// old: once it is put right, those faces would be in their life again.
    @Test func nothingIsDeletedForItsAgeWhileTheClockIsNotTrusted() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite"), entryLifetime: .seconds(86_400)),
            key: try OfflineCacheKey(bytes: [UInt8](repeating: 9, count: 32)))
        try await cache.remember(
            subjectId: "seemingly-expired", grantedUnder: [], descriptor: try FaceDescriptor([Float](repeating: 0.05, count: 128)),
            at: Date().addingTimeInterval(-2 * 86_400))
        let quiet = Logger.quiet("expiry")
        let maintenance = OfflineMaintenance(
            search: HeldCloud(), directory: nil, cache: cache, journal: MemoryJournal(),
            settings: .init(expiryPurgeInterval: .milliseconds(50)), logger: quiet)
        let running = Task {
            await maintenance.run(policy: { DoorPolicy(door: "expiry", threshold: 7000, scoreUnit: .necScore) }, cloudIsDown: { true }, clockIsTrusted: { false })
        }
        try await Task.sleep(for: .milliseconds(500))
        running.cancel()
        #expect(try await cache.list().map(\.subjectId) == ["seemingly-expired"])
    }
}

/// The running door's maintenance deletes for age only on a clock something vouches for, read on the
/// door's own wall clock: a box that boots with its clock far ahead, before any cloud reply has stated the
/// time (the cloud away, say, which is when the cache is needed), keeps its faces.
@Suite(.timeLimit(.minutes(1)))
struct OfflineExpiryClockTests {
    static let ahead: TimeInterval = 30 * 86_400

    /// An in-process door (an empty corridor, a held cloud) whose wall clock reads 30 days ahead, with
    /// `cache` as its offline cache and its maintenance purging expired faces every 50 ms; `body` runs while
    /// it does. The door closes the cache at its stop.
    private static func withDoor(cache: OfflineFaceCache, cloud: HeldCloud, _ body: () async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let logger = Logger.quiet("expiry-clock")
        var configuration = FacegateConfiguration()
        configuration.door.name = "expiry clock"
        configuration.door.tags = ["staff"]
        // Not the system's socket: tests run side by side.
        configuration.control.socket = nil
        configuration.journal.path = folder.file("journal.sqlite")
        let door = try DoorController(lines: SimulatedDoorLines(logger: logger), logger: logger)
        let parts = DoorParts(
            source: SynthesizedApproach(empty: 0, present: 0, after: 0, endless: true, interval: .milliseconds(50)),
            analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: cache, door: door,
            journal: SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger), close: {})
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.maintenance.expiryPurgeInterval = .milliseconds(50)
        settings.wallClock = { Date().addingTimeInterval(Self.ahead) }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            do {
                try await body()
            } catch {
                trigger.triggerGracefulShutdown()
                _ = try? await running.value
                throw error
            }
            trigger.triggerGracefulShutdown()
            try await running.value
        }
    }

    private static func cacheWithAFaceCachedNow(in folder: TemporaryFolder) async throws -> OfflineFaceCache {
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite"), entryLifetime: .seconds(7 * 86_400)),
            key: try OfflineCacheKey(bytes: [UInt8](repeating: 9, count: 32)))
        try await cache.remember(
            subjectId: "cached-today", grantedUnder: ["staff"], descriptor: try FaceDescriptor([Float](repeating: 0.05, count: 128)), at: Date())
        return cache
    }

    @Test("a wall clock 30 days ahead with no cloud time yet: the face cached today stays in the cache")
    func aClockAheadWithNothingToVouchForItDeletesNothing() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try await Self.cacheWithAFaceCachedNow(in: folder)
        try await Self.withDoor(cache: cache, cloud: HeldCloud()) {
            // Ten rounds of the maintenance, the first at start-up.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await cache.list().map(\.subjectId) == ["cached-today"])
        }
    }

    /// The same wall clock, vouched for by the cloud's time: the maintenance reads it, not the system's,
    /// and by it the face cached "today" is 30 days old.
    @Test("a wall clock the cloud's time vouches for: the maintenance deletes by it")
    func aClockTheCloudVouchesForDeletesByIt() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try await Self.cacheWithAFaceCachedNow(in: folder)
        let cloudClock = CloudClock()
        cloudClock.note(stated: Date().addingTimeInterval(Self.ahead))
        try await Self.withDoor(cache: cache, cloud: HeldCloud(cloudClock: cloudClock)) {
            var left = try await cache.list().map(\.subjectId)
            for _ in 0..<100 where !left.isEmpty {
                try await Task.sleep(for: .milliseconds(50))
                left = try await cache.list().map(\.subjectId)
            }
            #expect(left.isEmpty)
        }
    }
}
