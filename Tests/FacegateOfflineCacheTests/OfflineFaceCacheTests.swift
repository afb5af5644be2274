import FacegateCore
import FacegateOfflineCache
import FacegateTesting
import Foundation
import GRDB
import Testing

@Suite("Offline face cache", .timeLimit(.minutes(5)))
struct OfflineFaceCacheTests {
    @Test("a remembered face matches itself and near copies, closest first, with the descriptor distance as score")
    func matchClosestFirst() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 42)
        let alice = generator.descriptor()
        let bob = generator.descriptor()
        let carol = generator.descriptor()
        let now = Date()
        try await cache.remember(subjectId: "alice", tags: ["staff"], grantedUnder: [], descriptor: alice, at: now)
        try await cache.remember(subjectId: "bob", tags: ["staff", "night"], grantedUnder: [], descriptor: bob, at: now)
        try await cache.remember(subjectId: "carol", grantedUnder: [], descriptor: carol, at: now)

        let probe = generator.near(bob, by: 0.02)
        let candidates = try await cache.match(probe, at: now)
        #expect(candidates.map(\.subjectId).first == "bob")
        #expect(candidates.count == 3)
        #expect(candidates.first?.tags == ["staff", "night"])
        #expect(abs((candidates.first?.score ?? 0) - Double(probe.distance(to: bob))) < 1e-6)
        #expect(abs(candidates[1].score - Double(min(probe.distance(to: alice), probe.distance(to: carol)))) < 1e-6)
        #expect(zip(candidates, candidates.dropFirst()).allSatisfy { $0.score <= $1.score })
        let exact = try await cache.match(alice, at: now)
        #expect(exact.first?.subjectId == "alice")
        #expect(exact.first?.score == 0)
    }

    @Test("several looks of one subject count as one candidate at the closest distance, with the newest tags")
    func perSubject() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) { $0.maxEntriesPerSubject = 2 }
        var generator = DescriptorGenerator(seed: 7)
        let looks = (0..<3).map { _ in generator.descriptor() }
        let now = Date()
        for (i, look) in looks.enumerated() {
            try await cache.remember(subjectId: "alice", tags: ["t\(i)"], grantedUnder: [], descriptor: look, at: now.addingTimeInterval(Double(i)))
        }
        // Only the two newest looks are kept.
        let faces = try await cache.list()
        #expect(faces.count == 2)
        #expect(faces.map(\.tags) == [["t1"], ["t2"]])
        let first = try await cache.match(looks[0], at: now.addingTimeInterval(10))
        #expect(first.count == 1)
        #expect(first[0].score > 0)
        let second = try await cache.match(looks[1], at: now.addingTimeInterval(10))
        #expect(second.map(\.score) == [0])
        #expect(second.first?.tags == ["t2"])
    }

    @Test("expired faces never match and are purged")
    func expiry() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) { $0.entryLifetime = .seconds(3_600) }
        var generator = DescriptorGenerator(seed: 3)
        let face = generator.descriptor()
        let then = Date()
        try await cache.remember(subjectId: "alice", grantedUnder: [], descriptor: face, at: then)
        #expect(try await cache.match(face, at: then.addingTimeInterval(3_599)).count == 1)
        #expect(try await cache.match(face, at: then.addingTimeInterval(3_600)).isEmpty)
        #expect(try await cache.purgeExpired(at: then.addingTimeInterval(1_800)).faces == 0)
        #expect(try await cache.purgeExpired(at: then.addingTimeInterval(7_200)).faces == 1)
        #expect(try await cache.list().isEmpty)
    }

    /// `offline.entry_lifetime_days` lowered after faces were cached: the faces cached before live no
    /// longer than the new lifetime, not the life they were sealed with.
    @Test func aShortenedLifetimeAppliesToFacesCachedBefore() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        var generator = DescriptorGenerator(seed: 5)
        let face = generator.descriptor()
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86_400)
        let week = try makeCache(folder, key: key) { $0.entryLifetime = .seconds(7 * 86_400) }
        try await week.remember(subjectId: "alice", grantedUnder: [], descriptor: face, at: twoDaysAgo)
        #expect(try await week.match(face).count == 1)
        #expect(try await week.purgeExpired().faces == 0)

        let day = try makeCache(folder, key: key) { $0.entryLifetime = .seconds(86_400) }
        #expect(try await day.match(face).isEmpty, "two days old, with a day's lifetime")
        #expect(try await day.purgeExpired().faces == 1)
        #expect(try await week.list().isEmpty)
    }

    @Test("the cache is bounded: the oldest faces are evicted")
    func bounded() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) { $0.maxEntries = 5 }
        var generator = DescriptorGenerator(seed: 11)
        let start = Date()
        for i in 0..<8 {
            try await cache.remember(subjectId: "s\(i)", grantedUnder: [], descriptor: generator.descriptor(), at: start.addingTimeInterval(Double(i)))
        }
        #expect(try await cache.list().map(\.subjectId) == ["s3", "s4", "s5", "s6", "s7"])
        #expect(try await cache.cachedSubjectIds() == ["s3", "s4", "s5", "s6", "s7"])
    }

    @Test("revoked subjects are purged and no longer match; purgeAll empties the cache")
    func purge() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 5)
        let faces = (0..<4).map { _ in generator.descriptor() }
        for (i, face) in faces.enumerated() {
            try await cache.remember(subjectId: "s\(i)", grantedUnder: [], descriptor: face)
        }
        #expect(try await cache.purge(subjectIds: ["s1", "s3", "unknown"]) == 2)
        #expect(try await cache.match(faces[1]).first?.subjectId != "s1")
        #expect(try await cache.cachedSubjectIds() == ["s0", "s2"])
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", probe: [1, 2, 3])
        #expect(try await cache.purgeAll() == PurgeReport(faces: 2, pendingRechecks: 1))
        #expect(try await cache.match(faces[0]).isEmpty)
    }

    /// A subject is one person whatever the case of the id (NeoCheck's GUIDs, typed by an installer):
    /// a revocation in another case, or with spaces around it, forgets their faces, as the door's deny
    /// list and schedules would match them; a withdrawal the file refuses holds the same way.
    @Test func aPurgeMatchesTheIdAsTheDoorDoes() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 17)
        let guid = generator.descriptor(), other = generator.descriptor()
        try await cache.remember(subjectId: "7C9E6679-7425-40DE-944B-E07FC1F90AE7", grantedUnder: [], descriptor: guid)
        try await cache.remember(subjectId: "Ünal", grantedUnder: [], descriptor: other)
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse_deletes BEFORE DELETE ON face_entry BEGIN SELECT RAISE(ABORT, 'no deletes'); END")
        }
        await #expect(throws: OfflineCacheError.self) { try await cache.purge(subjectIds: [" 7c9e6679-7425-40de-944b-e07fc1f90ae7"]) }
        #expect(try await cache.match(guid).first?.withdrawn == true, "withdrawn under the id in another case")
        try await queue.write { db in try db.execute(sql: "DROP TRIGGER refuse_deletes") }
        try queue.close()

        #expect(try await cache.purge(subjectIds: [" 7c9e6679-7425-40de-944b-e07fc1f90ae7"]) == 1)
        #expect(try await cache.purge(subjectIds: ["üNAL"]) == 1, "beyond ASCII too")
        #expect(try await cache.cachedSubjectIds().isEmpty)
    }

    /// A disk that takes no deletes (here a trigger in the file refuses them) must not leave a subject
    /// the door was told to forget matching as before: the purge fails, and until one succeeds their
    /// faces are returned withdrawn (still counted for the margin), which the door never lets in.
    @Test func aSubjectWhosePurgeTheFileRefusesIsWithdrawnUntilOneSucceeds() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 11)
        let alice = generator.descriptor()
        let bob = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: [], descriptor: alice)
        try await cache.remember(subjectId: "bob", grantedUnder: [], descriptor: bob)
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse_deletes BEFORE DELETE ON face_entry BEGIN SELECT RAISE(ABORT, 'no deletes'); END")
        }

        await #expect(throws: OfflineCacheError.self) { try await cache.purge(subjectIds: ["alice"]) }
        let refused = try await cache.match(alice)
        #expect(refused.map(\.subjectId) == ["alice", "bob"], "her face is still there")
        #expect(refused.map(\.withdrawn) == [true, false])

        try await queue.write { db in try db.execute(sql: "DROP TRIGGER refuse_deletes") }
        try queue.close()
        #expect(try await cache.purge(subjectIds: ["alice"]) == 1)
        try await cache.remember(subjectId: "alice", grantedUnder: [], descriptor: alice)
        let relearned = try await cache.match(alice)
        #expect(relearned.map(\.subjectId) == ["alice", "bob"])
        #expect(relearned.map(\.withdrawn) == [false, false], "a face cached after the purge is hers again")
    }

    /// How a face leaves the cache for good: a revocation or purge, its expiry, a clock that dated it
    /// ahead, everything, an offline grant whose re-check a full queue dropped.
    enum Deletion: String, CaseIterable, Sendable {
        case subject, expired, datedAhead, all, recheckOverflow
    }

    /// `secure_delete` zeroes a deleted row in the file's pages, but the WAL's earlier frames hold it (the
    /// subject id and tags in the clear) until the WAL is emptied, which used to wait for the stop.
    @Test("a deleted face's subject is in neither the file nor its WAL while the cache stays open", arguments: Deletion.allCases)
    func aDeletedFaceLeavesNoCopyInTheWAL(_ deletion: Deletion) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) {
            $0.entryLifetime = .seconds(7 * 86_400)
            $0.maxPendingRechecks = 1
        }
        var generator = DescriptorGenerator(seed: 23)
        let marker = "marker-\(UUID().uuidString)"
        let now = Date()
        try await cache.remember(subjectId: "kept", grantedUnder: [], descriptor: generator.descriptor(), at: now)
        let rememberedAt =
            switch deletion {
            case .expired: now.addingTimeInterval(-30 * 86_400)
            case .datedAhead: now.addingTimeInterval(86_400)
            case .subject, .all, .recheckOverflow: now
            }
        try await cache.remember(subjectId: marker, tags: [marker], grantedUnder: [], descriptor: generator.descriptor(), at: rememberedAt)
        #expect(filesHolding(marker, in: folder) == ["cache.sqlite-wal"], "written, not yet checkpointed: the test sees it")

        if deletion == .recheckOverflow {
            // Her offline grant's re-check, then a later grant's with the queue full: hers is dropped, and her
            // faces with it (never confirmed now).
            try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: marker, probe: [1], at: now)
            try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "kept", probe: [2], at: now.addingTimeInterval(1))
        }
        let deleted =
            switch deletion {
            case .subject: try await cache.purge(subjectIds: [marker])
            case .expired: try await cache.purgeExpired(at: now).faces
            case .datedAhead: try await cache.purge(rememberedAfter: now)
            case .all: try await cache.purgeAll().faces
            case .recheckOverflow: try await cache.list().contains { $0.subjectId == marker } ? 0 : 1
            }
        #expect(deleted == (deletion == .all ? 2 : 1))
        #expect(filesHolding(marker, in: folder).isEmpty)
        #expect(try await cache.list().map(\.subjectId) == (deletion == .all ? [] : ["kept"]))
    }

    /// An operator forgetting someone (`facegate cache purge --subject`) forgets their offline grants'
    /// re-checks too: each holds the face crop taken at the door and the id in clear, and would send the
    /// crop to the cloud once it is back (review: only their faces went). Others' re-checks stay.
    @Test func forgettingASubjectForgetsTheReChecksOfTheirOfflineGrants() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 31)
        let marker = "marker-\(UUID().uuidString)"
        let now = Date()
        try await cache.remember(subjectId: marker, grantedUnder: [], descriptor: generator.descriptor(), at: now)
        try await cache.remember(subjectId: "kept", grantedUnder: [], descriptor: generator.descriptor(), at: now)
        for _ in 0..<2 {
            try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: marker, probe: [1, 2, 3], at: now)
        }
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "kept", probe: [4], at: now)
        let report = try await cache.forget(subjectIds: [marker.uppercased()])
        #expect(report == PurgeReport(faces: 1, pendingRechecks: 2))
        #expect(try await cache.pendingRechecks(at: now).map(\.grantedSubject) == ["kept"])
        #expect(filesHolding(marker, in: folder).isEmpty, "neither the file nor the WAL holds the id")
        #expect(try await cache.list().map(\.subjectId) == ["kept"])
    }

    /// A reader in the way (another process's, here another connection's open read) keeps the WAL from
    /// being emptied: the purge does not wait for it, and the WAL is emptied once it has gone.
    @Test func aWALThatAReaderKeepsIsEmptiedOnceItHasGone() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 29)
        let marker = "marker-\(UUID().uuidString)"
        try await cache.remember(subjectId: marker, grantedUnder: [], descriptor: generator.descriptor())
        var readerConfiguration = Configuration()
        readerConfiguration.allowsUnsafeTransactions = true  // the read stays open across accesses
        let reader = try DatabaseQueue(path: folder.file("cache.sqlite"), configuration: readerConfiguration)
        try reader.inDatabase { db in
            try db.execute(sql: "BEGIN")
            _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_entry")
        }
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try await cache.purge(subjectIds: [marker]) == 1)
        #expect(started.duration(to: clock.now) < .seconds(2), "the purge did not wait out the read")
        #expect(filesHolding(marker, in: folder) == ["cache.sqlite-wal"], "the read still uses the WAL")
        try reader.inDatabase { db in try db.execute(sql: "COMMIT") }
        try reader.close()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !filesHolding(marker, in: folder).isEmpty, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(filesHolding(marker, in: folder).isEmpty)
    }

    @Test("descriptors and probes are not in the file in the clear")
    func encryptedAtRest() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 9)
        let face = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: [], descriptor: face)
        let probe = Array("JPEG-PROBE-BYTES-".utf8) + (0..<64).map { UInt8($0) }
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", probe: probe)
        #expect(try await cache.pendingRechecks().first?.probe == probe)

        var fileBytes: [UInt8] = []
        for suffix in ["", "-wal"] {
            if let data = FileManager.default.contents(atPath: folder.file("cache.sqlite") + suffix) { fileBytes += data }
        }
        #expect(!fileBytes.isEmpty)
        var plain: [UInt8] = []
        for value in face.values.prefix(8) {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { plain.append(contentsOf: $0) }
        }
        #expect(!contains(fileBytes, plain))
        #expect(!contains(fileBytes, Array(probe.prefix(17))))
        // The subject id stays clear, for revocation without the key.
        #expect(contains(fileBytes, Array("alice".utf8)))
        let mode = try FileManager.default.attributesOfItem(atPath: folder.file("cache.sqlite"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// The scope a face was granted under means nothing to another cloud, and an NEC door with no tags
    /// searches everyone: a cache that another backend filled is emptied when opened, in one transaction.
    @Test func facesAnotherBackendGrantedAreDeletedWhenTheCacheIsOpened() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        var generator = DescriptorGenerator(seed: 5)
        let alice = generator.descriptor()
        do {
            // A cache from before the backend was recorded is taken as the first backend's to open it.
            let unbound = try makeCache(folder, key: key)
            try await unbound.remember(subjectId: "alice", grantedUnder: ["front door"], descriptor: alice)
            try await unbound.addPendingRecheck(decisionId: UUID(), door: "front", probe: [0xFF, 0xD8], at: Date())
            await unbound.close()
        }
        let neocheck = try makeCache(folder, key: key) { $0.backend = "neocheck" }
        #expect(try await neocheck.match(alice).map(\.subjectId) == ["alice"], "adopted, kept")
        await neocheck.close()
        let again = try makeCache(folder, key: key) { $0.backend = "neocheck" }
        #expect(try await again.status().faces == 1, "the same backend keeps its faces")
        await again.close()

        let nec = try makeCache(folder, key: key) { $0.backend = "nec" }
        #expect(try await nec.match(alice).isEmpty, "a face NeoCheck granted must not open an NEC door offline")
        let emptied = try await nec.status()
        #expect(emptied.faces == 0 && emptied.pendingRechecks == 0)
        #expect(filesHolding("alice", in: folder).isEmpty, "deleted from the file and the WAL")
        // The CLI (no backend) neither checks nor changes the record.
        await nec.close()
        let cli = try makeCache(folder, key: key)
        try await cli.remember(subjectId: "bob", grantedUnder: [], descriptor: generator.descriptor())
        await cli.close()
        #expect(try await makeCache(folder, key: key) { $0.backend = "nec" }.status().faces == 1)
    }

    /// The faces another backend granted, deleted as the cache is opened while a read is in the way of the
    /// checkpoint (another process reading the file): they are gone from the file and its WAL once the read
    /// has ended, as after any other delete, not only at the stop.
    @Test func facesDeletedAtOpeningLeaveTheFilesOnceAReaderHasGone() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        var generator = DescriptorGenerator(seed: 31)
        let marker = "marker-\(UUID().uuidString)"
        do {
            let neocheck = try makeCache(folder, key: key) { $0.backend = "neocheck" }
            try await neocheck.remember(subjectId: marker, tags: [marker], grantedUnder: ["front door"], descriptor: generator.descriptor())
            await neocheck.close()
        }
        var readerConfiguration = Configuration()
        readerConfiguration.allowsUnsafeTransactions = true  // the read stays open across accesses
        let reader = try DatabaseQueue(path: folder.file("cache.sqlite"), configuration: readerConfiguration)
        try reader.inDatabase { db in
            try db.execute(sql: "BEGIN")
            _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_entry")
        }
        let nec = try makeCache(folder, key: key) { $0.backend = "nec" }
        #expect(try await nec.status().faces == 0)
        #expect(!filesHolding(marker, in: folder).isEmpty, "the read keeps the checkpoint from running: the test sees the copy")
        try reader.inDatabase { db in try db.execute(sql: "COMMIT") }
        try reader.close()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !filesHolding(marker, in: folder).isEmpty, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(filesHolding(marker, in: folder).isEmpty, "still in \(filesHolding(marker, in: folder))")
        await nec.close()
    }

    /// An NEC tag or a NeoCheck list name is only a name, and another tenant may use the same one: a cache
    /// another account filled (another gallery's API key, another endpoint, another NeoCheck user) is emptied
    /// when opened. The file keeps only a MAC of the account under the cache's key.
    @Test func facesAnotherAccountGrantedAreDeletedWhenTheCacheIsOpened() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        var generator = DescriptorGenerator(seed: 6)
        let alice = generator.descriptor()
        let galleryA = ["https://nec.example", "api-key-of-gallery-a"]
        do {
            // A cache from before the account was recorded is taken as the first account's to open it.
            let unbound = try makeCache(folder, key: key) { $0.backend = "nec" }
            try await unbound.remember(subjectId: "alice", grantedUnder: ["staff"], descriptor: alice)
            await unbound.close()
        }
        let first = try makeCache(folder, key: key) {
            $0.backend = "nec"
            $0.account = galleryA
        }
        #expect(try await first.match(alice).map(\.subjectId) == ["alice"], "adopted, kept")
        await first.close()
        #expect(filesHolding("api-key-of-gallery-a", in: folder).isEmpty && filesHolding("nec.example", in: folder).isEmpty)
        let again = try makeCache(folder, key: key) {
            $0.backend = "nec"
            $0.account = galleryA
        }
        #expect(try await again.status().faces == 1, "the same account keeps its faces")
        await again.close()
        // The CLI, or a door given its cloud in code (no account), neither checks nor changes the record.
        #expect(try await makeCache(folder, key: key) { $0.backend = "nec" }.status().faces == 1)

        // The box moved to gallery B (another API key), opened with the cloud away: gallery A's people out.
        let galleryB = try makeCache(folder, key: key) {
            $0.backend = "nec"
            $0.account = ["https://nec.example", "api-key-of-gallery-b"]
        }
        #expect(try await galleryB.match(alice).isEmpty, "a face gallery A granted must not open gallery B's door offline")
        #expect(try await galleryB.status().faces == 0)
        #expect(filesHolding("alice", in: folder).isEmpty, "deleted from the file and the WAL")
        try await galleryB.remember(subjectId: "bob", grantedUnder: ["staff"], descriptor: generator.descriptor())
        await galleryB.close()
        // The parts are told apart: the same characters split another way are another account.
        let split = try makeCache(folder, key: key) {
            $0.backend = "nec"
            $0.account = ["https://nec.exampleapi-key-of-gallery-b", ""]
        }
        #expect(try await split.status().faces == 0)
        await split.close()
    }

    @Test("a cache opened with another key is refused")
    func wrongKey() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 1)
        try await cache.remember(subjectId: "alice", grantedUnder: [], descriptor: generator.descriptor())
        #expect(throws: OfflineCacheError(.wrongKey, "")) { try makeCache(folder, key: randomKey()) }
    }

    @Test("a row edited in the file fails authentication: it is reported and never matched", arguments: [
        "UPDATE face_entry SET subject_id = 'mallory' WHERE subject_id = 'alice'",
        "UPDATE face_entry SET tags = '[\"admin\"]' WHERE subject_id = 'alice'",
        "UPDATE face_entry SET expires_at = expires_at + 86400000 WHERE subject_id = 'alice'",
        "UPDATE face_entry SET sealed_descriptor = (SELECT sealed_descriptor FROM face_entry WHERE subject_id = 'bob') WHERE subject_id = 'alice'",
        "UPDATE face_entry SET sealed_descriptor = zeroblob(length(sealed_descriptor)) WHERE subject_id = 'alice'",
    ])
    func tampered(edit: String) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        var generator = DescriptorGenerator(seed: 21)
        let alice = generator.descriptor()
        let bob = generator.descriptor()
        do {
            let cache = try makeCache(folder, key: key)
            try await cache.remember(subjectId: "alice", tags: ["staff"], grantedUnder: [], descriptor: alice)
            try await cache.remember(subjectId: "bob", grantedUnder: [], descriptor: bob)
        }
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in try db.execute(sql: edit) }
        try queue.close()

        let cache = try makeCache(folder, key: key)
        let candidates = try await cache.match(alice)
        #expect(candidates.map(\.subjectId) == ["bob"])
        #expect(try await cache.status().integrityFailures == 1)
        let faces = try await cache.list()
        #expect(faces.filter { !$0.intact }.count == 1)
        #expect(faces.first { $0.subjectId == "bob" }?.intact == true)
    }

    @Test("pending re-checks keep the probe until completed, oldest first, bounded, and expire")
    func pendingRechecks() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) {
            $0.maxPendingRechecks = 3
            $0.recheckLifetime = .seconds(3_600)
        }
        let start = Date()
        var decisions: [UUID] = []
        for i in 0..<4 {
            let decision = UUID()
            decisions.append(decision)
            try await cache.addPendingRecheck(decisionId: decision, door: "front", probe: [UInt8(i), 0xFF, 0xD8], at: start.addingTimeInterval(Double(i)))
        }
        let pending = try await cache.pendingRechecks(at: start.addingTimeInterval(10))
        #expect(pending.map(\.decisionId) == Array(decisions.dropFirst()))
        #expect(pending.map(\.probe) == [[1, 0xFF, 0xD8], [2, 0xFF, 0xD8], [3, 0xFF, 0xD8]])
        #expect(pending.allSatisfy { $0.door == "front" && $0.attempts == 0 })

        try await cache.noteRecheckAttempt(pending[0].id)
        try await cache.completeRecheck(pending[1].id)
        let after = try await cache.pendingRechecks(at: start.addingTimeInterval(10))
        #expect(after.map(\.decisionId) == [decisions[1], decisions[3]])
        #expect(after.first?.attempts == 1)
        #expect(try await cache.pendingRechecks(limit: 1, at: start.addingTimeInterval(10)).count == 1)
        #expect(try await cache.pendingRechecks(at: start.addingTimeInterval(3_700)).isEmpty)
        #expect(try await cache.purgeExpired(at: start.addingTimeInterval(3_700)).pendingRechecks == 2)
    }

    /// A round's limit counts re-checks that open: rows that fail to (tampered, a damaged page) are passed
    /// over and counted as integrity failures, and the good ones behind them are still re-checked (review:
    /// the limit was applied to rows first, and twenty bad ones held every later re-check until they expired).
    @Test func reChecksThatFailToOpenDoNotHoldUpTheOthers() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        let start = Date()
        var good: [UUID] = []
        for i in 0..<5 {
            let decision = UUID()
            if i >= 3 { good.append(decision) }
            try await cache.addPendingRecheck(decisionId: decision, door: "front", probe: [UInt8(i)], at: start.addingTimeInterval(Double(i)))
        }
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in
            try db.execute(sql: "UPDATE pending_recheck SET door = 'back' WHERE rowid IN (SELECT rowid FROM pending_recheck ORDER BY created_at LIMIT 3)")
        }
        let round = try await cache.pendingRechecks(limit: 2, at: start.addingTimeInterval(10))
        #expect(round.map(\.decisionId) == good)
        #expect(try await cache.status().integrityFailures >= 3)
        #expect(try await cache.pendingRechecks(limit: 1, at: start.addingTimeInterval(10)).map(\.decisionId) == [good[0]])
    }

    /// Past the bound, denials' re-checks go before grants' (a grant's re-check may be all that shows a
    /// wrong face let in), and a grant's re-check that must still go takes its subject's faces with it.
    @Test func aFullReCheckQueueDropsDenialsFirstAndAGrantsFacesWithIt() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) { $0.maxPendingRechecks = 3 }
        var generator = DescriptorGenerator(seed: 13)
        let start = Date()
        // Bob cached under another spelling of his id than his grant's (as the door compares ids, the same
        // person): his faces still go with the grant (review: the purge compared ids exactly, and kept them).
        for subject in ["alice", "Bob ", "carol"] {
            try await cache.remember(subjectId: subject, grantedUnder: [], descriptor: generator.descriptor(), at: start)
        }
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "alice", probe: [1], at: start)
        for i in 1...3 {
            try await cache.addPendingRecheck(decisionId: UUID(), door: "front", probe: [UInt8(1 + i)], at: start.addingTimeInterval(Double(i)))
        }
        #expect(try await cache.pendingRechecks().map(\.grantedSubject) == ["alice", nil, nil], "the oldest denial went, not her grant")

        // Grants only: the oldest grant's re-check goes, and bob's faces with it.
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "bob", probe: [9], at: start.addingTimeInterval(10))
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "carol", probe: [10], at: start.addingTimeInterval(11))
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "carol", probe: [11], at: start.addingTimeInterval(12))
        #expect(try await cache.pendingRechecks().map(\.grantedSubject) == ["bob", "carol", "carol"])
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "carol", probe: [12], at: start.addingTimeInterval(13))
        #expect(try await cache.pendingRechecks().map(\.grantedSubject) == ["carol", "carol", "carol"])
        #expect(try await cache.cachedSubjectIds() == ["carol"], "alice's and bob's unconfirmed grants took their faces")
    }

    /// An offline grant whose re-check never happened within its lifetime was never confirmed: when the
    /// re-check expires, that subject's faces go too; a denial's expiry takes nothing.
    @Test func anExpiredGrantsReCheckTakesItsFaces() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey()) { $0.recheckLifetime = .seconds(3_600) }
        var generator = DescriptorGenerator(seed: 17)
        let start = Date()
        for subject in ["ALICE", "bob"] {
            try await cache.remember(subjectId: subject, grantedUnder: [], descriptor: generator.descriptor(), at: start)
        }
        // Granted as "alice": her faces cached as "ALICE" are hers (ids compared as the door compares them).
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "alice", probe: [1], at: start)
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", probe: [2], at: start)
        let purged = try await cache.purgeExpired(at: start.addingTimeInterval(3_700))
        #expect(purged == PurgeReport(faces: 1, pendingRechecks: 2))
        #expect(try await cache.cachedSubjectIds() == ["bob"])
    }

    @Test("bad arguments get a clear error")
    func badArguments() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 2)
        await #expect(throws: OfflineCacheError(.invalidArgument, "")) {
            try await cache.remember(subjectId: "", grantedUnder: [], descriptor: generator.descriptor())
        }
        #expect(throws: OfflineCacheError(.cannotOpen, "")) {
            try makeCache(folder, name: "no-such-folder/cache.sqlite", key: randomKey())
        }
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if Array(haystack[start..<(start + needle.count)]) == needle { return true }
    }
    return false
}

/// Which of the cache's files (the file and its WAL) hold `marker`'s bytes.
func filesHolding(_ marker: String, in folder: TemporaryFolder) -> [String] {
    ["cache.sqlite", "cache.sqlite-wal"].filter { name in
        FileManager.default.contents(atPath: folder.file(name))?.range(of: Data(marker.utf8)) != nil
    }
}
