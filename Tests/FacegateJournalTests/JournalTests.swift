import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import GRDB
import Synchronization
import Testing

@Suite("SQLite journal", .timeLimit(.minutes(5)))
struct JournalTests {
    @Test("a decision with all its context reads back as written")
    func decisionRoundTrip() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let time = wholeMilliseconds(Date())
        let record = DecisionRecord(
            time: time, door: "front", decision: sampleDecision(), backend: "nec", quality: sampleQuality(),
            latencies: StageLatencies(
                capture: .milliseconds(12), quality: .microseconds(45_500), cloud: .milliseconds(230), policy: .microseconds(80),
                relay: .milliseconds(3), total: .milliseconds(371)),
            liveness: LivenessAssessment(
                liveness: 0.04, verdict: .attack, cues: ["texture": 0.04, "parallax": 0.8],
                reason: "presentation attack: the texture cue scored 0.04, below 0.50"))
        let read = try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            #expect(journal.record(record))
            try await journal.flush()
            #expect(journal.status.health == .ok)
            #expect(journal.status.writtenRecords == 1)
            return try await journal.decisions()
        }
        #expect(read.count == 1)
        let stored = try #require(read.first)
        #expect(stored.record.id == record.id)
        // SQLite keeps milliseconds.
        #expect(abs(stored.record.time.timeIntervalSince(time)) < 0.001)
        #expect(stored.record.door == "front")
        #expect(stored.record.decision == record.decision)
        #expect(stored.record.backend == "nec")
        #expect(stored.record.quality == record.quality)
        #expect(stored.record.latencies == record.latencies)
        #expect(stored.record.liveness == record.liveness, "the verdict, the score and each cue's score")
        #expect(stored.recheckStatus == nil)
        #expect(!stored.hasProbeCrop)
    }

    @Test("the file is in WAL mode with incremental auto-vacuum, and the schema is migrated once")
    func databaseSettings() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        for _ in 0..<2 {
            try await withRunningJournal(.init(path: path)) { journal in
                journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened))
                try await journal.flush()
            }
        }
        let queue = try DatabaseQueue(path: path)
        let settings = try await queue.read { db in
            [
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try String.fetchOne(db, sql: "PRAGMA auto_vacuum"),
                try String.fetchOne(db, sql: "SELECT COUNT(*) FROM grdb_migrations"),
                try String.fetchOne(db, sql: "SELECT COUNT(*) FROM door_event"),
                try String.fetchOne(db, sql: "PRAGMA integrity_check"),
            ]
        }
        #expect(settings == ["wal", "2", "3", "2", "ok"], "every migration (v2: the relay result, v3: liveness) applied once")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("door events read back, filtered by door, kind and time")
    func doorEvents() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            for (offset, kind) in DoorEventKind.allCases.enumerated() {
                journal.record(DoorEventRecord(time: now.addingTimeInterval(Double(offset) * 60), door: "front", kind: kind, detail: "n\(offset)"))
            }
            journal.record(DoorEventRecord(time: now, door: "back", kind: .forced))
            try await journal.flush()
            let all = try await journal.doorEvents()
            #expect(all.count == DoorEventKind.allCases.count + 1)
            let front = try await journal.doorEvents(DoorEventQuery(door: "front"))
            #expect(front.map(\.kind) == DoorEventKind.allCases)
            #expect(front.first?.detail == "n0")
            let forced = try await journal.doorEvents(DoorEventQuery(kinds: [.forced]))
            #expect(Set(forced.map(\.door)) == ["front", "back"])
            // Every kind from the fourth on (one a minute), whatever kinds come after those of today.
            let recent = try await journal.doorEvents(DoorEventQuery(since: now.addingTimeInterval(150)))
            #expect(recent.map(\.kind) == Array(DoorEventKind.allCases.dropFirst(3)))
            #expect(recent.map(\.kind).starts(with: [.forced, .exitButton, .fault]))
            let newestTwo = try await journal.doorEvents(DoorEventQuery(door: "front", limit: 2))
            #expect(newestTwo.map(\.kind) == Array(DoorEventKind.allCases.suffix(2)))
        }
    }

    @Test("decision queries filter by since, until, door and outcome, and limit keeps the newest")
    func decisionQueries() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let start = wholeMilliseconds(Date()).addingTimeInterval(-3_600)
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            let outcomes: [Decision.Outcome] = [.granted, .deniedUnknown, .deniedQuality, .granted, .deniedSchedule, .error]
            for (i, outcome) in outcomes.enumerated() {
                journal.record(
                    DecisionRecord(
                        time: start.addingTimeInterval(Double(i) * 600), door: i.isMultiple(of: 2) ? "front" : "back",
                        decision: sampleDecision(outcome, subject: "s\(i)"), backend: "nec"))
            }
            try await journal.flush()
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["s0", "s1", "s2", "s3", "s4", "s5"])
            #expect(try await journal.decisions(DecisionQuery(door: "back")).map(\.record.decision.subjectId) == ["s1", "s3", "s5"])
            #expect(try await journal.decisions(DecisionQuery(outcomes: [.granted])).map(\.record.decision.subjectId) == ["s0", "s3"])
            #expect(
                try await journal.decisions(DecisionQuery(since: start.addingTimeInterval(1_200), until: start.addingTimeInterval(2_400)))
                    .map(\.record.decision.subjectId) == ["s2", "s3"])
            #expect(try await journal.decisions(DecisionQuery(limit: 2)).map(\.record.decision.subjectId) == ["s4", "s5"])
            #expect(
                try await journal.decisions(DecisionQuery(door: "front", outcomes: [.deniedQuality, .deniedSchedule]))
                    .map(\.record.decision.subjectId) == ["s2", "s4"])
        }
    }

    /// After the clock was set back, what was written since carries the earliest times: the latest asked for
    /// are still the last written, listed last (before, `log --limit` left them out and a listing put them first).
    @Test func theNewestAreTheLastWrittenWhateverTimesTheyCarry() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        let yearBack = now.addingTimeInterval(-365 * 86_400)
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            for (i, time) in [now, now, now, yearBack, yearBack.addingTimeInterval(60)].enumerated() {
                journal.record(DecisionRecord(time: time, door: "front", decision: sampleDecision(.granted, subject: "s\(i)"), backend: "nec"))
                journal.record(DoorEventRecord(time: time, door: "front", kind: .opened, detail: "e\(i)"))
            }
            try await journal.flush()
            #expect(try await journal.decisions(DecisionQuery(limit: 2)).map(\.record.decision.subjectId) == ["s3", "s4"])
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["s0", "s1", "s2", "s3", "s4"])
            #expect(try await journal.doorEvents(DoorEventQuery(limit: 2)).map(\.detail) == ["e3", "e4"])
            #expect(try await journal.doorEvents().map(\.detail) == ["e0", "e1", "e2", "e3", "e4"])
        }
    }

    /// What a restarted daemon reads so that its re-entry cooldown counts the grants of the run before: each
    /// subject's latest grant at the door within the cooldown, not a grant whose relay failed (nobody went
    /// in), not a denial, not another door's. The window ends at the door's newest decision when that is
    /// later than now (the clock set back since): the grants of the run before, not every grant ever dated
    /// after the clock's reading, which would turn away every regular.
    @Test func theGrantsACooldownStillCountsAreReadBack() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            func write(_ outcome: Decision.Outcome, _ subject: String, at time: Date, door: String = "front", relay: RelayRecord.Result? = nil) {
                let record = DecisionRecord(time: time, door: door, decision: sampleDecision(outcome, subject: subject), backend: "nec")
                journal.record(record)
                if let relay { journal.recordRelay(RelayRecord(decisionId: record.id, result: relay)) }
            }
            /// The grants read, as seconds from `now` by subject (times as stored: to the millisecond).
            func read() async throws -> [String: TimeInterval] {
                let grants = try await journal.grants(atDoor: "front", within: .seconds(60), of: now)
                return Dictionary(uniqueKeysWithValues: grants.map { ($0.subjectId, $0.time.timeIntervalSince(now)) })
            }
            func expect(_ read: [String: TimeInterval], _ wanted: [String: TimeInterval]) {
                #expect(Set(read.keys) == Set(wanted.keys), "\(read)")
                for (subject, offset) in wanted {
                    #expect(abs((read[subject] ?? .infinity) - offset) < 0.001, "\(subject): \(read[subject] ?? .nan)")
                }
            }
            write(.granted, "alice", at: now.addingTimeInterval(-300))  // before the window
            write(.granted, "alice", at: now.addingTimeInterval(-30), relay: .unlocked)
            write(.grantedOffline, "bob", at: now.addingTimeInterval(-20))  // committed, the relay not yet journaled
            write(.granted, "carol", at: now.addingTimeInterval(-10), relay: .failed)
            write(.granted, "grace", at: now.addingTimeInterval(-10), relay: .withheld)  // a reload refused it
            write(.deniedReentry, "dave", at: now.addingTimeInterval(-10))
            write(.granted, "erin", at: now.addingTimeInterval(-10), door: "back")
            try await journal.flush()
            expect(try await read(), ["alice": -30, "bob": -20])
            // The clock set back an hour since the run before: its last minute is what counts.
            write(.granted, "frank", at: now.addingTimeInterval(3_550))
            write(.deniedUnknown, "stranger", at: now.addingTimeInterval(3_600))
            try await journal.flush()
            expect(try await read(), ["frank": 3_550])
        }
    }

    /// A grant whose date the disk damaged (a bit flipped on the card, which the quick check does not read)
    /// is left out of what a restarted daemon reads back for its cooldown; the others are read. Before, its
    /// decoding stopped the process, at the first decision after every restart (review).
    @Test func aGrantWithADamagedDateIsLeftOut() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            for (subject, seconds) in [("alice", -10.0), ("bob", -20.0), ("carol", -30.0), ("carol", -5.0)] {
                journal.record(DecisionRecord(time: now.addingTimeInterval(seconds), door: "front", decision: sampleDecision(.granted, subject: subject), backend: "nec"))
            }
            try await journal.flush()
            // Bob's only grant, and Carol's later one, damaged: 'garbage' and a flipped byte sort above every real date.
            try await DatabaseQueue(path: folder.file("journal.sqlite")).write { db in
                try db.execute(sql: "UPDATE decision SET time = 'garbage' WHERE subject_id = 'bob'")
                try db.execute(sql: "UPDATE decision SET time = substr(time, 1, 15) || 'X' || substr(time, 17) WHERE id = (SELECT MAX(id) FROM decision)")
            }
            let grants = try await journal.grants(atDoor: "front", within: .seconds(60), of: now)
            let read = Dictionary(uniqueKeysWithValues: grants.map { ($0.subjectId, $0.time.timeIntervalSince(now)) })
            #expect(Set(read.keys) == ["alice", "carol"], "\(read)")
            #expect(abs((read["carol"] ?? .infinity) + 30) < 0.001, "Carol's good grant read: \(read)")
            // The clock's stored witness reads past them too.
            let newest = try #require(try await journal.newestRecordTime())
            #expect(abs(newest.timeIntervalSince(now) + 10) < 0.001, "\(newest)")
        }
    }

    /// The clock's witness without the cloud's time: the newest decision or door event, not a start's
    /// `degraded` note (written at every start, often before the clock is synchronised: a clock that ran
    /// ahead at boot, then put right by NTP, must not leave the door distrusting it for hours).
    @Test func theNewestRecordIsADecisionOrADoorEventButNotAStartsNote() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            journal.record(DecisionRecord(time: now.addingTimeInterval(-60), door: "front", decision: sampleDecision(), backend: "nec"))
            try await journal.flush()
            // Times as stored: to the millisecond.
            let first = try await journal.newestRecordTime()
            #expect(abs((first?.timeIntervalSince(now) ?? .infinity) + 60) < 0.001, "\(String(describing: first))")
            journal.record(DoorEventRecord(time: now.addingTimeInterval(-30), door: "front", kind: .exitButton))
            journal.record(DoorEventRecord(time: now.addingTimeInterval(3_600), door: "front", kind: .degraded, detail: "offline cache off"))
            try await journal.flush()
            let newest = try await journal.newestRecordTime()
            #expect(abs((newest?.timeIntervalSince(now) ?? .infinity) + 30) < 0.001, "\(String(describing: newest))")
        }
    }

    /// The clock's last reading the cloud vouched for is kept (one row, replaced by the next, whatever its
    /// time: the latest statement is the one believed) and counts as the newest record when it is later
    /// than every decision and door event, after the journal is opened again (the next start).
    @Test func theClocksLastVouchedReadingCountsAsTheNewestRecord() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = wholeMilliseconds(Date())
        let configuration = SQLiteJournal.Configuration(path: folder.file("journal.sqlite"))
        try await withRunningJournal(configuration) { journal in
            journal.record(DecisionRecord(time: now.addingTimeInterval(-3 * 3600), door: "front", decision: sampleDecision(), backend: "nec"))
            journal.recordClockSeenRight(at: now.addingTimeInterval(-600))
            journal.recordClockSeenRight(at: now.addingTimeInterval(-300))
            try await journal.flush()
        }
        try await withRunningJournal(configuration) { journal in
            let newest = try await journal.newestRecordTime()
            #expect(abs((newest?.timeIntervalSince(now) ?? .infinity) + 300) < 0.001, "\(String(describing: newest))")
            // A later statement replaces it even when earlier (a cloud whose clock was put right).
            journal.recordClockSeenRight(at: now.addingTimeInterval(-4 * 3600))
            try await journal.flush()
            let replaced = try await journal.newestRecordTime()
            #expect(abs((replaced?.timeIntervalSince(now) ?? .infinity) + 3 * 3600) < 0.001, "the decision again: \(String(describing: replaced))")
            // It is no decision or door event: `facegate log` and the export do not list it.
            #expect(try await journal.decisions().count == 1)
            #expect(try await journal.doorEvents().isEmpty)
        }
        let rows = try await DatabaseQueue(path: folder.file("journal.sqlite")).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM clock_witness") }
        #expect(rows == 1)
    }

    /// While the disk takes nothing, the clock's readings do not pile up in the backlog (a newer one
    /// replaces one queued), and one refused for a full backlog is not counted as a lost record (review:
    /// `facegate_journal_dropped_records_total` counts decisions and door events lost).
    @Test func theClocksReadingsNeitherFillTheBacklogNorCountAsDropped() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // The writer not running: nothing leaves the backlog.
        let journal = SQLiteJournal(configuration: .init(path: folder.file("journal.sqlite"), maxPendingRecords: 3))
        #expect(journal.recordClockSeenRight(at: Date()))
        #expect(journal.recordClockSeenRight(at: Date().addingTimeInterval(300)))
        #expect(journal.status.pendingRecords == 1, "the newer replaced the queued one")
        journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened))
        journal.record(DoorEventRecord(time: Date(), door: "front", kind: .closed))
        #expect(journal.recordClockSeenRight(at: Date().addingTimeInterval(600)), "replaced, the backlog full or not")
        let fresh = SQLiteJournal(configuration: .init(path: folder.file("other.sqlite"), maxPendingRecords: 1))
        fresh.record(DoorEventRecord(time: Date(), door: "front", kind: .opened))
        #expect(!fresh.recordClockSeenRight(at: Date()))
        #expect(fresh.status.droppedRecords == 0)
    }

    /// Age retention waiting for a clock something vouches for is tried again soon (here 0.2 s, 30 s in the
    /// daemon), not at the next interval (600 s): /health stops saying the journal is degraded once the
    /// cloud's time vouches for the clock.
    @Test func retentionWaitingForTheClockIsTriedAgainSoon() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let trusted = Mutex(false)
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retentionInterval: .seconds(600), clockWaitRetry: .milliseconds(200))
        // A record past the 90-day age limit, written by an earlier run.
        try await withRunningJournal(configuration) { earlier in
            earlier.record(DoorEventRecord(time: Date().addingTimeInterval(-120 * 86_400), door: "front", kind: .forced))
            try await earlier.flush()
        }
        let journal = SQLiteJournal(configuration: configuration)
        let writer = Task { await journal.run(clockIsTrusted: { _ in trusted.withLock { $0 } }) }
        defer { writer.cancel() }
        func waits(_ expected: Bool) async -> Bool {
            for _ in 0..<100 {
                if (journal.status.retentionWaitsForTheClockSince != nil) == expected { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(await waits(true), "the first pass waits for the clock")
        trusted.withLock { $0 = true }
        #expect(await waits(false), "tried again once the clock is vouched for, not 600 s later")
    }

    @Test("probe crops are not stored unless the journal is told to")
    func probeCropsOffByDefault() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let crop: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 7, count: 100)
        let record = DecisionRecord(time: Date(), door: "front", decision: sampleDecision(), backend: "nec", probeCrop: crop)
        try await withRunningJournal(.init(path: folder.file("off.sqlite"))) { journal in
            journal.record(record)
            try await journal.flush()
            #expect(try await journal.decisions().first?.hasProbeCrop == false)
            #expect(try await journal.probeCrop(decisionId: record.id) == nil)
        }
        try await withRunningJournal(.init(path: folder.file("on.sqlite"), storeProbeCrops: true)) { journal in
            journal.record(record)
            try await journal.flush()
            #expect(try await journal.decisions().first?.hasProbeCrop == true)
            #expect(try await journal.probeCrop(decisionId: record.id) == crop)
        }
    }

    @Test("an offline decision waits for its re-check; the cloud's answer is recorded against it")
    func offlineRecheck() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let granted = DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.grantedOffline, offline: true), backend: "nec")
        let denied = DecisionRecord(
            time: Date(), door: "front", decision: sampleDecision(.deniedOffline, subject: nil, offline: true), backend: "nec")
        let online = DecisionRecord(time: Date(), door: "front", decision: sampleDecision(), backend: "nec")
        try await withRunningJournal(.init(path: folder.file("journal.sqlite"))) { journal in
            journal.record(granted)
            journal.record(denied)
            journal.record(online)
            try await journal.flush()
            let waiting = try await journal.decisionsAwaitingRecheck()
            #expect(waiting.map(\.record.id) == [granted.id, denied.id])

            let later = wholeMilliseconds(Date().addingTimeInterval(300))
            // The cloud names her under another spelling of her id (as the door compares ids, the same person):
            // a confirmation (review: compared exactly, it was journaled contradicted).
            journal.recordRecheck(RecheckRecord(decisionId: granted.id, time: later, outcome: .granted, subjectId: " Alice", score: 9050, reason: "cloud agrees"))
            journal.recordRecheck(RecheckRecord(decisionId: denied.id, time: later, outcome: .granted, subjectId: "bob", score: 8800, reason: "cloud knows bob"))
            // A re-check for a decision the journal never had changes nothing.
            journal.recordRecheck(RecheckRecord(decisionId: UUID(), time: later, outcome: .granted, reason: "stray"))
            try await journal.flush()
            #expect(try await journal.decisionsAwaitingRecheck().isEmpty)
            let all = try await journal.decisions()
            #expect(all.map(\.recheckStatus) == [.confirmed, .contradicted, nil])
            #expect(all[1].recheck?.subjectId == "bob")
            #expect(abs((all[1].recheck?.time ?? .distantPast).timeIntervalSince(later)) < 0.001)
            #expect(all[0].recheck?.reason == "cloud agrees")
        }
    }

    @Test("handing a record over never waits, even with no writer running; the backlog is bounded and drops are counted")
    func boundedBacklog() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let journal = SQLiteJournal(configuration: .init(path: folder.file("journal.sqlite"), maxPendingRecords: 100))
        for i in 0..<150 {
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec"))
        }
        #expect(journal.status.pendingRecords == 100)
        #expect(journal.status.droppedRecords == 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            try await journal.flush()
            #expect(journal.status.pendingRecords == 0)
            #expect(journal.status.writtenRecords == 100)
            #expect(try await journal.decisions().last?.record.decision.subjectId == "s99")
            group.cancelAll()
        }
        // After the writer has stopped, records are refused and counted, never queued forever.
        #expect(journal.status.health == .closed)
        #expect(!journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened)))
        try await journal.flush()
    }

    @Test("records handed over just before shutdown are written by the last drain")
    func shutdownDrains() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let journal = SQLiteJournal(configuration: .init(path: path))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            for i in 0..<500 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec"))
            }
            group.cancelAll()
        }
        #expect(journal.status.health == .closed)
        let reader = try JournalReader(path: path)
        var count = 0
        try reader.forEachDecision(DecisionQuery()) { _ in count += 1 }
        #expect(count == 500)
        #expect(journal.status.droppedRecords == 0)
    }

    @Test("once stopped, the file alone holds every record: a copy without its write-ahead log misses nothing")
    func stoppedJournalIsOneFile() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        // Stopped, but still held (as the daemon holds it until the process exits).
        let journal = SQLiteJournal(configuration: .init(path: path))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            for i in 0..<20 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec"))
            }
            try await journal.flush()
            group.cancelAll()
        }
        #expect(journal.status.health == .closed)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal") || ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0) == 0)
        // What a backup or an installer copying the file gets.
        let copy = folder.file("copy.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        var count = 0
        try JournalReader(path: copy).forEachDecision(DecisionQuery()) { _ in count += 1 }
        #expect(count == 20)
    }
}
