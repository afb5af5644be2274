import FacegateCore
@testable import FacegateOfflineCache
import FacegateTesting
import Foundation
import GRDB
import Testing

/// A face is cached with the search it was granted under, and matches offline only while the door
/// still makes that search (issue 9, item 4).
@Suite("Offline cache: the search a face was granted under", .timeLimit(.minutes(5)))
struct OfflineCacheScopeTests {
    static func necPolicy(tags: [String]) -> DoorPolicy {
        DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, searchTags: tags)
    }

    static func neoCheckPolicy(list: String?) -> DoorPolicy {
        DoorPolicy(door: "front", threshold: 80, scoreUnit: .neoCheckConfidence, faceList: list)
    }

    @Test("the scope is kept, authenticated, and judged against the door's current search")
    func scopeFollowsTheCurrentSearch() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 7)
        let alice = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], descriptor: alice)

        func searched(_ policy: DoorPolicy) async throws -> Bool? {
            try await cache.match(alice, stillSearches: { policy.stillSearches(grantedUnder: $0) }).first?.stillSearched
        }
        #expect(try await searched(Self.necPolicy(tags: ["staff"])) == true)
        #expect(try await searched(Self.necPolicy(tags: ["staff", "visitors"])) == true)
        // The tag was removed from the door: the face still matches (for the margin) but is no longer searched.
        #expect(try await searched(Self.necPolicy(tags: ["visitors"])) == false)
        // A door that searches everyone searches every face.
        #expect(try await searched(Self.necPolicy(tags: [])) == true)
    }

    /// Alice granted at a door searching `staff` (her tags: staff), later at the same door searching
    /// `contractors` (tags: contractors), and the door back to `staff` with a schedule for `tag:staff`:
    /// her tags offline are those proved under the search the door makes now, so that schedule applies to
    /// her; with the newest look's tags it would not, and she would be let in outside its hours.
    @Test func theTagsOfflineComeFromTheLooksStillSearched() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 9)
        let alice = generator.descriptor()
        let now = Date()
        try await cache.remember(subjectId: "alice", tags: ["staff"], grantedUnder: ["staff"], descriptor: alice, at: now.addingTimeInterval(-60))
        try await cache.remember(subjectId: "alice", tags: ["contractors"], grantedUnder: ["contractors"], descriptor: alice, at: now)

        let staffDoor = Self.necPolicy(tags: ["staff"])
        let atTheStaffDoor = try await cache.match(alice, at: now, stillSearches: { staffDoor.stillSearches(grantedUnder: $0) })
        #expect(atTheStaffDoor.first?.stillSearched == true)
        #expect(atTheStaffDoor.first?.tags == ["staff"])
        // Where both are searched, the newest look's tags, as before.
        let both = Self.necPolicy(tags: ["staff", "contractors"])
        #expect(try await cache.match(alice, at: now, stillSearches: { both.stillSearches(grantedUnder: $0) }).first?.tags == ["contractors"])
        // Where neither is, the newest (the candidate is not searched and grants nothing).
        let visitors = Self.necPolicy(tags: ["visitors"])
        let elsewhere = try await cache.match(alice, at: now, stillSearches: { visitors.stillSearches(grantedUnder: $0) })
        #expect(elsewhere.first?.stillSearched == false && elsewhere.first?.tags == ["contractors"])
    }

    @Test("a face granted under several tags needs every one of them still searched")
    func severalTagsAllMustRemain() {
        let policy = Self.necPolicy(tags: ["staff"])
        // NEC ID does not say which tag matched: the person may carry only "contractors".
        #expect(policy.stillSearches(grantedUnder: ["staff", "contractors"]) == false)
        #expect(policy.stillSearches(grantedUnder: ["staff"]) == true)
        // Granted by a door that searched everyone: proves no tag at all.
        #expect(policy.stillSearches(grantedUnder: []) == false)
        // Cached before the scope was kept: unknown, so not searched, except by a door that searches everyone.
        #expect(policy.stillSearches(grantedUnder: nil) == false)
        #expect(Self.necPolicy(tags: []).stillSearches(grantedUnder: nil) == true)
    }

    @Test("NeoCheck: the face list the face was granted under must be the one searched")
    func neoCheckFaceList() {
        #expect(Self.neoCheckPolicy(list: "staff").stillSearches(grantedUnder: ["staff"]) == true)
        #expect(Self.neoCheckPolicy(list: "visitors").stillSearches(grantedUnder: ["staff"]) == false)
        #expect(Self.neoCheckPolicy(list: nil).stillSearches(grantedUnder: ["staff"]) == false)
        #expect(Self.neoCheckPolicy(list: nil).stillSearches(grantedUnder: []) == false)
    }

    @Test("editing a face's scope in the file makes the row fail to open")
    func scopeIsAuthenticated() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 9)
        let alice = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], descriptor: alice)
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in try db.execute(sql: "UPDATE face_entry SET scope = '[\"staff\",\"vip\"]'") }
        #expect(try await cache.match(alice).isEmpty)
        try await queue.write { db in try db.execute(sql: "UPDATE face_entry SET scope = NULL") }
        #expect(try await cache.match(alice).isEmpty, "a row sealed with its scope does not open without it")
    }

    @Test("the cloud's score is kept with the face: offline it counts only at or above the door's threshold now, in its unit")
    func theScoreFollowsTheCurrentThreshold() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 21)
        let alice = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], score: GrantScore(value: 7050, unit: .necScore), descriptor: alice)
        func counts(threshold: Double, unit: ScoreUnit = .necScore) async throws -> Bool? {
            let policy = DoorPolicy(door: "front", threshold: threshold, scoreUnit: unit, searchTags: ["staff"], faceList: "staff")
            return try await cache.match(alice, at: Date(), policy: policy).first?.stillSearched
        }
        #expect(try await counts(threshold: 7000) == true)
        #expect(try await counts(threshold: 7050) == true)
        #expect(try await counts(threshold: 7051) == false, "the threshold raised above the score it was granted at")
        #expect(try await counts(threshold: 70, unit: .neoCheckConfidence) == false, "a score in another unit proves nothing")
        // A face cached without its score (an earlier facegate's) counts at no threshold, even at a door searching everyone.
        try await cache.remember(subjectId: "bob", grantedUnder: [], descriptor: alice)
        let everyone = DoorPolicy(door: "front", threshold: 0, scoreUnit: .necScore)
        let bob = try await cache.match(alice, at: Date(), policy: everyone).first { $0.subjectId == "bob" }
        #expect(bob?.stillSearched == false)
        await #expect(throws: OfflineCacheError.self) {
            try await cache.remember(subjectId: "carol", grantedUnder: ["staff"], score: GrantScore(value: .nan, unit: .necScore), descriptor: alice)
        }
    }

    /// The threat the score is kept for: a look-alike matched to alice just over the old threshold is
    /// cached as alice, beside alice's own face, which scored well. Raised threshold: the look-alike's
    /// probe is closest to the look-alike's row, which no longer counts, whatever alice's own row scored;
    /// alice's own probe still counts. (Before, any of a subject's faces at a passing score made the
    /// subject count, whichever face matched.)
    @Test("the face that matched must pass the raised threshold, not only another of the subject's faces")
    func theClosestFacesScoreDecides() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 29)
        let lookAlike = generator.descriptor()
        let alice = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], score: GrantScore(value: 7001, unit: .necScore), descriptor: lookAlike)
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], score: GrantScore(value: 9500, unit: .necScore), descriptor: alice)
        let raised = DoorPolicy(door: "front", threshold: 8000, scoreUnit: .necScore, searchTags: ["staff"])
        let byTheLookAlike = try await cache.match(lookAlike, at: Date(), policy: raised).first
        #expect(byTheLookAlike?.subjectId == "alice" && byTheLookAlike?.stillSearched == false, "\(String(describing: byTheLookAlike))")
        let byAlice = try await cache.match(alice, at: Date(), policy: raised).first
        #expect(byAlice?.subjectId == "alice" && byAlice?.stillSearched == true, "\(String(describing: byAlice))")
        let before = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])
        #expect(try await cache.match(lookAlike, at: Date(), policy: before).first?.stillSearched == true)
    }

    @Test("editing a face's score or its unit in the file makes the row fail to open")
    func scoreIsAuthenticated() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        var generator = DescriptorGenerator(seed: 23)
        let alice = generator.descriptor()
        try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], score: GrantScore(value: 7050, unit: .necScore), descriptor: alice)
        #expect(try await cache.match(alice).count == 1, "the control: the row as written opens")
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        for edit in [
            "UPDATE face_entry SET score = 9999", "UPDATE face_entry SET score_unit = 'neoCheckConfidence'",
            "UPDATE face_entry SET score = NULL, score_unit = NULL", "UPDATE face_entry SET score = NULL",
        ] {
            try await queue.write { db in
                try db.execute(sql: "UPDATE face_entry SET score = 7050, score_unit = 'necScore'")
                try db.execute(sql: edit)
            }
            #expect(try await cache.match(alice).isEmpty, "\(edit)")
        }
        try await queue.write { db in try db.execute(sql: "UPDATE face_entry SET score = 7050, score_unit = 'necScore'") }
        #expect(try await cache.match(alice).count == 1, "put back, it opens again")
    }

    @Test("a face an earlier facegate kept (no scope) opens the door offline only where the door searches everyone")
    func aFaceKeptWithoutAScope() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = randomKey()
        let cache = try makeCache(folder, key: key)
        var generator = DescriptorGenerator(seed: 13)
        let alice = generator.descriptor()
        // Written as facegate wrote its rows before the scope column: sealed without a scope, none stored.
        let id = UUID().uuidString, tagsJSON = CacheSealing.tagsJSON(["staff"])
        let remembered = Date().cacheMilliseconds, expires = remembered + 3_600_000
        let sealed = try CacheSealing.seal(
            CacheSealing.encode(alice),
            context: CacheSealing.entryContext(
                id: id, subjectId: "alice", tagsJSON: tagsJSON, rememberedAt: remembered, expiresAt: expires, scopeJSON: nil),
            key: key)
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in
            try db.execute(
                sql: "INSERT INTO face_entry (id, subject_id, tags, remembered_at, expires_at, sealed_descriptor, scope) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                arguments: [id, "alice", tagsJSON, remembered, expires, sealed])
        }
        func searched(_ policy: DoorPolicy) async throws -> Bool? {
            try await cache.match(alice, stillSearches: { policy.stillSearches(grantedUnder: $0) }).first?.stillSearched
        }
        // It opens (it is a real row, found by its likeness), but which search granted it is unknown.
        #expect(try await searched(Self.necPolicy(tags: ["staff"])) == false)
        #expect(try await searched(Self.neoCheckPolicy(list: "staff")) == false)
        #expect(try await searched(Self.necPolicy(tags: [])) == true)
    }

    @Test("a pending re-check keeps who the offline grant let in, authenticated")
    func recheckKeepsTheGrantedSubject() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try makeCache(folder, key: randomKey())
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "alice", probe: [1, 2, 3])
        try await cache.addPendingRecheck(decisionId: UUID(), door: "front", probe: [4, 5, 6])
        #expect(Set(try await cache.pendingRechecks().map(\.grantedSubject)) == ["alice", nil])
        let queue = try DatabaseQueue(path: folder.file("cache.sqlite"))
        try await queue.write { db in try db.execute(sql: "UPDATE pending_recheck SET granted_subject = 'mallory' WHERE granted_subject = 'alice'") }
        #expect(try await cache.pendingRechecks().map(\.grantedSubject) == [nil])
    }
}
