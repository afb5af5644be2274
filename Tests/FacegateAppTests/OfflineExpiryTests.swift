import FacegateApp
import FacegateCore
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Logging
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

        var quiet = Logger(label: "expiry")
        quiet.logLevel = .critical
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
        var quiet = Logger(label: "expiry")
        quiet.logLevel = .critical
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
