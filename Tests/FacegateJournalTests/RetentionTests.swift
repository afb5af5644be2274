import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import GRDB
import Testing

@Suite("Journal retention", .timeLimit(.minutes(5)))
struct RetentionTests {
    @Test("decisions and door events older than the age limit are deleted, newer ones kept")
    func byAge() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: nil))
        try await withRunningJournal(configuration) { journal in
            for days in [90, 45, 31, 29, 1, 0] {
                let time = now.addingTimeInterval(-Double(days) * 86_400)
                journal.record(DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "d\(days)"), backend: "nec"))
                journal.record(DoorEventRecord(time: time, door: "front", kind: .opened, detail: "d\(days)"))
            }
            try await journal.flush()
            let report = try await journal.applyRetention(now: now, clockIsTrusted: true)
            #expect(report.deletedDecisions == 3)
            #expect(report.deletedDoorEvents == 3)
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["d29", "d1", "d0"])
            #expect(try await journal.doorEvents().map(\.detail) == ["d29", "d1", "d0"])
        }
    }

    @Test("probe crops have their own age and count limits; the decisions stay")
    func probeCropLimits() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), storeProbeCrops: true,
            retention: JournalRetention(maxAge: nil, maxBytes: nil, probeCropMaxAge: .seconds(86_400), probeCropMaxCount: 3))
        try await withRunningJournal(configuration) { journal in
            for i in 0..<6 {
                // Two crops older than a day, four recent ones.
                let time = now.addingTimeInterval(i < 2 ? -2 * 86_400 : -Double(6 - i) * 60)
                journal.record(
                    DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec", probeCrop: [UInt8(i), 1, 2]))
            }
            try await journal.flush()
            let report = try await journal.applyRetention(now: now)
            #expect(report.deletedProbeCrops == 3)
            let decisions = try await journal.decisions()
            #expect(decisions.count == 6)
            #expect(decisions.map(\.hasProbeCrop) == [false, false, false, true, true, true])
        }
    }

    @Test("the database is kept under its size limit by deleting the oldest rows first")
    func bySize() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let limit = 512 * 1024
        let start = Date().addingTimeInterval(-86_400)
        let longReason = String(repeating: "a reason long enough to fill pages quickly. ", count: 8)
        let configuration = SQLiteJournal.Configuration(path: path, retention: JournalRetention(maxAge: nil, maxBytes: limit))
        try await withRunningJournal(configuration) { journal in
            for i in 0..<4_000 {
                let decision = Decision(outcome: .deniedUnknown, reason: longReason, subjectId: "s\(i)")
                journal.record(DecisionRecord(time: start.addingTimeInterval(Double(i)), door: "front", decision: decision, backend: "nec"))
                if i.isMultiple(of: 500) { journal.record(DoorEventRecord(time: start.addingTimeInterval(Double(i)), door: "front", kind: .opened)) }
            }
            try await journal.flush()
            let report = try await journal.applyRetention()
            #expect(report.bytesBefore > limit)
            #expect(report.bytesAfter <= limit)
            #expect(report.deletedDecisions > 0)
            let remaining = try await journal.decisions()
            // The newest survive, and what is left is one unbroken run up to the last.
            #expect(remaining.last?.record.decision.subjectId == "s3999")
            let first = try #require(remaining.first?.record.decision.subjectId.flatMap { Int($0.dropFirst()) })
            #expect(remaining.count == 4_000 - first)
            // Door events went with them, oldest first: those left are the newest.
            let events = try await journal.doorEvents().map(\.time).sorted()
            let written = stride(from: 0, to: 4_000, by: 500).map { start.addingTimeInterval(Double($0)) }
            #expect(!events.isEmpty && events.count < written.count)
            func milliseconds(_ times: some Sequence<Date>) -> [Double] { times.map { ($0.timeIntervalSince1970 * 1000).rounded() } }
            #expect(milliseconds(events) == milliseconds(written.suffix(events.count)))
        }
        let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
        #expect(fileSize <= limit)
        let queue = try DatabaseQueue(path: path)
        let integrity = try await queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }

    /// A pass that deletes many rows (a tenth of a large journal takes seconds on an SD card) deletes
    /// them in steps and commits the records handed over meanwhile between two steps.
    @Test("a grant handed over while a long retention pass runs is committed within a step, not after the pass")
    func aLongPassDoesNotHoldUpAGrant() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(
            path: path, retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: nil, minimumAgeDeletionsPerPass: 300_001),
            retentionInterval: .seconds(3600))
        // Age retention deletes in the order of writing: the old rows are written first, the recent one after them.
        try await withRunningJournal(configuration) { journal in
            journal.record(
                DecisionRecord(time: Date().addingTimeInterval(-2 * 365 * 86_400), door: "front", decision: sampleDecision(subject: "ancient"), backend: "nec"))
            try await journal.flush()
        }
        // 300,000 decisions a year old, written at once.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
                    INSERT INTO decision (uuid, time, door, outcome, reason, backend, subject_id, offline, quality)
                    SELECT 'old-' || i, datetime(?, '+' || i || ' seconds'), 'front', 'denied-unknown',
                        'nobody the cloud knows, with a reason as long as a real one', 'nec', 'subject-' || (i % 500), 0,
                        '{"faceQualityScore":0.8,"sharpness":{"raw":1.25,"score":50},"yaw":{"raw":-3.5,"score":95}}'
                    FROM n
                    """, arguments: [Date().addingTimeInterval(-365 * 86_400)])
        }
        try queue.close()
        try await withRunningJournal(configuration) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "recent"), backend: "nec"))
            try await journal.flush()
        }

        // The journal opens with retention due (it runs first) and a grant and a door event waiting behind it.
        let journal = SQLiteJournal(configuration: configuration)
        journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "granted"), backend: "nec"))
        journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened, detail: "after the grant"))
        let writer = Task { await journal.run(clockIsTrusted: { _ in true }) }
        let clock = ContinuousClock()
        let start = clock.now
        try await journal.flush()
        let elapsed = clock.now - start
        #expect(elapsed < .seconds(3), "the grant's flush took \(elapsed) (the whole pass: 5.8 s here)")
        // The pass goes on after it and deletes every old row.
        let deadline = clock.now + .seconds(60)
        var left = 0
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            left = try await journal.decisions(DecisionQuery(outcomes: [.deniedUnknown], limit: 1)).count
        } while left > 0 && clock.now < deadline
        #expect(left == 0)
        // Handed over after the deletions: written once the pass is over.
        journal.record(DoorEventRecord(time: Date(), door: "front", kind: .closed, detail: "after the pass"))
        try await journal.flush()
        #expect(try await journal.decisions().compactMap(\.record.decision.subjectId) == ["recent", "granted"])
        // Written once: between the steps, not again after the pass (door events have no key to refuse a second row).
        #expect(try await journal.doorEvents().compactMap(\.detail) == ["after the grant", "after the pass"])
        #expect(journal.status.droppedRecords == 0)
        writer.cancel()
        await writer.value
    }
}

/// A clock that jumps forward must not make age retention empty the journal (issue 9, item 11).
@Suite("Journal retention under a wrong clock", .timeLimit(.minutes(5)))
struct RetentionClockTests {
    @Test("a clock a year ahead deletes nothing by age while every record looks old")
    func clockJumpedAheadKeepsTheJournal() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: nil))
        try await withRunningJournal(configuration) { journal in
            for days in [20, 10, 1, 0] {
                journal.record(DecisionRecord(time: now.addingTimeInterval(-Double(days) * 86_400), door: "front", decision: sampleDecision(subject: "d\(days)"), backend: "nec"))
            }
            try await journal.flush()
            // Vouched for (as if the cloud's time agreed): the journal's own guard holds.
            let report = try await journal.applyRetention(now: now.addingTimeInterval(365 * 86_400), clockIsTrusted: true)
            #expect(report.deletedDecisions == 0)
            #expect(report.ageRetentionHeldBack)
            #expect(!report.ageRetentionWaitsForTheClock)
            #expect(try await journal.decisions().count == 4)
        }
    }

    /// The first record written on the jumped clock is newer than any cutoff, so the guard above no longer
    /// holds: without evidence for the clock, nothing is deleted for its age, pass after pass.
    @Test("a clock a year ahead that has written a record deletes nothing by age, pass after pass, while nothing vouches for it")
    func clockJumpedAheadKeepsTheJournalAcrossPasses() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let jumped = now.addingTimeInterval(365 * 86_400)
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: .seconds(90 * 86_400), maxBytes: nil))
        try await withRunningJournal(configuration) { journal in
            // Dated by the right clock, a year before the jumped one; then one record written on the jumped clock.
            for i in 0..<3_000 {
                journal.record(
                    DecisionRecord(time: now.addingTimeInterval(Double(i - 3_000)), door: "front", decision: sampleDecision(subject: "old\(i)"), backend: "nec"))
            }
            journal.record(DecisionRecord(time: jumped, door: "front", decision: sampleDecision(subject: "new"), backend: "nec"))
            try await journal.flush()
            // The door's own check: no cloud time, and the kernel's synchronised clock (if any) a year from this one.
            for pass in 1...10 {
                let report = try await journal.applyRetention(now: jumped)
                #expect(report.deletedDecisions == 0, "pass \(pass)")
                #expect(report.ageRetentionHeldBack, "pass \(pass)")
            }
            #expect(try await journal.decisions().count == 3_001)
        }
    }

    /// The clock set back a year (a real-time clock reset, the cloud away) dates what the door journals since a
    /// year ago; put right, age retention deletes in the order of writing, so those newest decisions and alarms
    /// stay until the rows written before them age out (review: by their times they went first, the outage's
    /// forced doors and denials deleted within minutes of the clock being put right).
    @Test("after the clock was set back, the newest rows are kept whatever times they carry")
    func ageRetentionGoesByTheOrderOfWriting() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: .seconds(90 * 86_400), maxBytes: nil))
        try await withRunningJournal(configuration) { journal in
            // Due by any rule: written first, 100 days old.
            for i in 0..<5 {
                let time = now.addingTimeInterval(-100 * 86_400 + Double(i))
                journal.record(DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "old\(i)"), backend: "nec"))
                journal.record(DoorEventRecord(time: time, door: "front", kind: .opened, detail: "old\(i)"))
            }
            // The door's day before the clock went back, then what it journaled on the clock set back a year.
            for i in 0..<3_000 {
                journal.record(DecisionRecord(time: now.addingTimeInterval(-86_400 + Double(i)), door: "front", decision: sampleDecision(subject: "day\(i)"), backend: "nec"))
            }
            for i in 0..<100 { journal.record(DoorEventRecord(time: now.addingTimeInterval(-86_400 + Double(i)), door: "front", kind: .opened)) }
            let setBack = now.addingTimeInterval(-365 * 86_400)
            for i in 0..<10 {
                journal.record(DecisionRecord(time: setBack.addingTimeInterval(Double(i)), door: "front", decision: sampleDecision(subject: "outage\(i)"), backend: "nec"))
                journal.record(DoorEventRecord(time: setBack.addingTimeInterval(Double(i)), door: "front", kind: .forced, detail: "outage\(i)"))
            }
            try await journal.flush()
            let report = try await journal.applyRetention(now: now, clockIsTrusted: true)
            #expect(report.deletedDecisions == 5 && report.deletedDoorEvents == 5, "only the rows written before the day's")
            let decisions = try await journal.decisions().compactMap(\.record.decision.subjectId)
            #expect(decisions.filter { $0.hasPrefix("outage") }.count == 10 && !decisions.contains { $0.hasPrefix("old") })
            let events = try await journal.doorEvents()
            #expect(events.filter { $0.kind == .forced }.count == 10 && !events.contains { $0.detail?.hasPrefix("old") == true })
            #expect(!report.ageRetentionHeldBack, "rows kept for the order of writing are no warning")
        }
    }

    /// `count` decisions with long reasons (pages fill quickly), one a second from `start`, subjects `NAME0`, `NAME1`...
    static func record(_ count: Int, named name: String, outcome: Decision.Outcome = .deniedUnknown, into journal: SQLiteJournal, from start: Date) {
        let longReason = String(repeating: "a reason long enough to fill pages quickly. ", count: 8)
        for i in 0..<count {
            let decision = Decision(outcome: outcome, reason: longReason, subjectId: "\(name)\(i)")
            journal.record(DecisionRecord(time: start.addingTimeInterval(Double(i)), door: "front", decision: decision, backend: "nec"))
        }
    }

    @Test("without evidence for the clock, the size limit still deletes the oldest rows")
    func sizeLimitWithoutEvidenceForTheClock() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let limit = 256 * 1024
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: limit))
        try await withRunningJournal(configuration) { journal in
            Self.record(2_000, named: "s", into: journal, from: now.addingTimeInterval(-400 * 86_400))
            try await journal.flush()
            let report = try await journal.applyRetention(now: now, clockIsTrusted: false)
            #expect(report.ageRetentionWaitsForTheClock && report.ageRetentionHeldBack)
            #expect(report.bytesBefore > limit && report.bytesAfter <= limit)
            let remaining = try await journal.decisions()
            #expect(!remaining.isEmpty && remaining.count < 2_000)
            #expect(remaining.last?.record.decision.subjectId == "s1999", "the oldest went first")
        }
    }

    /// The clock set back (a real-time clock reset, no cloud time) dates the newest rows earliest: the size
    /// limit deletes the oldest written, so the latest grants and alarms are kept.
    @Test("the size limit deletes the oldest written rows, whatever times they carry")
    func sizeLimitGoesByTheOrderOfWriting() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let limit = 256 * 1024
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), retention: JournalRetention(maxAge: nil, maxBytes: limit))
        try await withRunningJournal(configuration) { journal in
            Self.record(2_000, named: "s", into: journal, from: now)
            // Then the clock is set a year back: the next grants and an alarm are dated before everything else.
            let setBack = now.addingTimeInterval(-365 * 86_400)
            Self.record(100, named: "late", outcome: .granted, into: journal, from: setBack)
            journal.record(DoorEventRecord(time: setBack.addingTimeInterval(200), door: "front", kind: .forced))
            try await journal.flush()
            let report = try await journal.applyRetention(now: setBack.addingTimeInterval(300), clockIsTrusted: false)
            #expect(report.bytesBefore > limit && report.bytesAfter <= limit)
            let kept = Set(try await journal.decisions().compactMap(\.record.decision.subjectId))
            #expect((0..<100).allSatisfy { kept.contains("late\($0)") }, "the grants written last are kept")
            #expect(!kept.contains("s0"), "the first written went")
            #expect(try await journal.doorEvents().map(\.kind) == [.forced])
        }
    }

    @Test("the crops kept by count are the newest written, whatever times they carry")
    func cropCountGoesByTheOrderOfWriting() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), storeProbeCrops: true,
            retention: JournalRetention(maxAge: nil, maxBytes: nil, probeCropMaxAge: nil, probeCropMaxCount: 3))
        try await withRunningJournal(configuration) { journal in
            for i in 0..<6 {
                // The last two written after the clock was set a year back.
                let time = i < 4 ? now.addingTimeInterval(Double(i)) : now.addingTimeInterval(-365 * 86_400 + Double(i))
                journal.record(
                    DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec", probeCrop: [UInt8(i), 1, 2]))
            }
            try await journal.flush()
            _ = try await journal.applyRetention(now: now, clockIsTrusted: false)
            let withCrops = try await journal.decisions().filter(\.hasProbeCrop).compactMap(\.record.decision.subjectId)
            #expect(Set(withCrops) == ["s3", "s4", "s5"])
        }
    }

    /// Crops written before the clock was set back a year carry later times than any written since: they go
    /// with the first crop written since that is past the age, not a year later when real time has caught up.
    @Test func cropsWrittenBeforeTheClockWasSetBackGoWithTheFirstPastTheAge() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let yearBack = now.addingTimeInterval(-365 * 86_400)
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), storeProbeCrops: true,
            retention: JournalRetention(maxAge: nil, maxBytes: nil, probeCropMaxAge: .seconds(7 * 86_400), probeCropMaxCount: nil))
        try await withRunningJournal(configuration) { journal in
            let times = [now, now.addingTimeInterval(60), yearBack, yearBack.addingTimeInterval(9 * 86_400)]
            for (i, time) in times.enumerated() {
                journal.record(
                    DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec", probeCrop: [UInt8(i), 1, 2]))
            }
            try await journal.flush()
            func withCrops() async throws -> Set<String> {
                Set(try await journal.decisions().filter(\.hasProbeCrop).compactMap(\.record.decision.subjectId))
            }
            // On the clock set back, a day after: nothing is past the age yet.
            _ = try await journal.applyRetention(now: yearBack.addingTimeInterval(86_400), clockIsTrusted: false)
            #expect(try await withCrops() == ["s0", "s1", "s2", "s3"])
            // Eight days after: s2 is, and the two written before it with it; s3 is not.
            _ = try await journal.applyRetention(now: yearBack.addingTimeInterval(8 * 86_400), clockIsTrusted: false)
            #expect(try await withCrops() == ["s3"])
        }
    }

    /// Crops dated a year ahead (written while the clock ran ahead), none written since: on a clock something
    /// vouches for they are dated now, and go once past the age from then; before, they were kept until
    /// real time caught up with them, a year. On a clock nothing vouches for they are kept (it may be the
    /// one that is wrong).
    @Test func cropsDatedAheadOfAVouchedForClockGoAfterTheAge() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), storeProbeCrops: true,
            retention: JournalRetention(maxAge: nil, maxBytes: nil, probeCropMaxAge: .seconds(7 * 86_400), probeCropMaxCount: nil))
        try await withRunningJournal(configuration) { journal in
            for i in 0..<3 {
                journal.record(
                    DecisionRecord(
                        time: now.addingTimeInterval(365 * 86_400), door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec",
                        probeCrop: [UInt8(i), 1, 2]))
            }
            try await journal.flush()
            func crops() async throws -> Int { try await journal.decisions().filter(\.hasProbeCrop).count }
            _ = try await journal.applyRetention(now: now, clockIsTrusted: false)
            _ = try await journal.applyRetention(now: now.addingTimeInterval(8 * 86_400), clockIsTrusted: false)
            #expect(try await crops() == 3, "no clock vouched for: kept")
            _ = try await journal.applyRetention(now: now.addingTimeInterval(8 * 86_400), clockIsTrusted: true)
            #expect(try await crops() == 3, "dated now: within the age")
            _ = try await journal.applyRetention(now: now.addingTimeInterval(16 * 86_400), clockIsTrusted: true)
            #expect(try await crops() == 0)
        }
    }

    /// A crop dated far in the past by a brief clock error (a box that decided a visit on an old clock before
    /// NTP put it right) goes alone: the crops written before it, dated days ago on a right clock, stay.
    @Test func aCropDatedInThePastByAClockErrorGoesAlone() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"), storeProbeCrops: true,
            retention: JournalRetention(maxAge: nil, maxBytes: nil, probeCropMaxAge: .seconds(7 * 86_400), probeCropMaxCount: nil))
        try await withRunningJournal(configuration) { journal in
            let times = [now.addingTimeInterval(-2 * 86_400), now.addingTimeInterval(-86_400), now.addingTimeInterval(-365 * 86_400), now]
            for (i, time) in times.enumerated() {
                journal.record(
                    DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "s\(i)"), backend: "nec", probeCrop: [UInt8(i), 1, 2]))
            }
            try await journal.flush()
            _ = try await journal.applyRetention(now: now, clockIsTrusted: false)
            let withCrops = Set(try await journal.decisions().filter(\.hasProbeCrop).compactMap(\.record.decision.subjectId))
            #expect(withCrops == ["s0", "s1", "s3"])
        }
    }

    @Test("one pass deletes by age at most a tenth of the rows (or the per-pass minimum)")
    func onePassDeletesASlice() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("journal.sqlite"),
            retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: nil, minimumAgeDeletionsPerPass: 5))
        try await withRunningJournal(configuration) { journal in
            // 100 records a year old, then one written after the clock jumped: the old ones all look due.
            for i in 0..<100 {
                journal.record(DecisionRecord(time: now.addingTimeInterval(-365 * 86_400 + Double(i)), door: "front", decision: sampleDecision(subject: "old\(i)"), backend: "nec"))
            }
            journal.record(DecisionRecord(time: now, door: "front", decision: sampleDecision(subject: "new"), backend: "nec"))
            try await journal.flush()
            let first = try await journal.applyRetention(now: now, clockIsTrusted: true)
            #expect(first.deletedDecisions == 10, "a tenth of 101 rows")
            #expect(first.ageRetentionHeldBack)
            let remaining = try await journal.decisions()
            #expect(remaining.count == 91)
            #expect(remaining.first?.record.decision.subjectId == "old10", "the oldest go first")
        }
    }
}
