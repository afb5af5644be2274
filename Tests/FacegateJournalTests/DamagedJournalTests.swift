import FacegateCore
import FacegateTesting
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import FacegateJournal

/// A journal that cannot keep what it is given says so, and loses no more than it must. A journal file
/// SQLite finds damaged (a failing SD card, a power cut on a card that lies about its writes) never
/// mends by retrying: it is set aside beside itself, untouched, and a new journal takes the door's
/// records. Before, the writer retried it for ever, holding up to 10 000 records in memory that were
/// lost at stop, and the door ran without a journal.
@Suite(.timeLimit(.minutes(2)))
struct DamagedJournalTests {
    static func configuration(_ path: String) -> SQLiteJournal.Configuration {
        SQLiteJournal.Configuration(path: path, retryDelay: .milliseconds(20), maxRetryDelay: .milliseconds(100))
    }

    /// Flushes until the writer has written everything (a flush during a failure throws).
    static func flushed(_ journal: SQLiteJournal) async throws {
        for _ in 0..<200 {
            if (try? await journal.flush()) != nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await journal.flush()
    }

    static func setAside(in folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("journal.sqlite.damaged-") && !$0.hasSuffix("-wal") }
    }

    /// Records refused for a full backlog are lost, so the loss is said: once when it starts (not for each
    /// record), and once when records are kept again, with the count. Before, nothing was logged.
    @Test func aFullBacklogIsSaidOnceWhenItStartsAndWhenItEnds() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let logs = CapturedLogs()
        let journal = SQLiteJournal(
            configuration: .init(path: folder.file("journal.sqlite"), maxPendingRecords: 2), logger: logs.logger(label: "facegate.journal"))
        func decision(_ i: Int) -> DecisionRecord {
            DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.deniedUnknown, subject: nil), backend: "nec")
        }
        // The writer is not running: nothing drains the backlog.
        let accepted = (0..<5).map { journal.record(decision($0)) }
        #expect(accepted == [true, true, false, false, false])
        #expect(logs.all.filter { $0.contains("journal backlog full") }.count == 1, "\(logs.text)")
        // The writer drains it; the next record is kept, and that is said.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            try await journal.flush()
            #expect(journal.record(decision(5)))
            group.cancelAll()
        }
        let drained = logs.all.filter { $0.contains("journal backlog no longer full") }
        #expect(drained.count == 1 && drained[0].contains("dropped_so_far=3"), "\(logs.text)")
    }

    @Test func aFileThatIsNotADatabaseIsSetAsideAndANewJournalStarted() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        // Files set aside before, under the names of this second and the next few: none is overwritten.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let earlier = (0..<3).map { "journal.sqlite.damaged-" + formatter.string(from: Date().addingTimeInterval(Double($0))) }
        for name in earlier { try Data(name.utf8).write(to: URL(fileURLWithPath: folder.file(name))) }
        try await withRunningJournal(Self.configuration(path)) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "s1"), backend: "nec"))
            try await Self.flushed(journal)
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["s1"])
        }
        let aside = try Self.setAside(in: folder).filter { !earlier.contains($0) }
        #expect(aside.count == 1, "\(aside)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file(aside[0]))) == garbage, "set aside as it was")
        for name in earlier { #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file(name))) == Data(name.utf8), "\(name) kept") }
    }

    /// The reads on a decision's path (the clock check, the re-entry cooldown) never run the quick check of a
    /// file suspected damaged: it reads the whole file (seconds on an SD card, past the visit's deadline), and is
    /// the writer's to run. They say the journal is being checked, and the writer's next opening checks it
    /// (review: the first decisions after a damaged write ran it themselves).
    @Test func aDecisionsReadDoesNotRunTheDamageCheck() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        try await withRunningJournal(Self.configuration(path)) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "alice"), backend: "nec"))
            try await journal.flush()
            // As a write that found a damaged page leaves it, before the writer's retry.
            journal.state.withLock { state in
                state.suspectDamage = true
                state.database = nil
            }
            await #expect(throws: JournalError.self) { _ = try await journal.newestRecordTime() }
            await #expect(throws: JournalError.self) { _ = try await journal.grants(atDoor: "front", within: .seconds(60), of: Date()) }
            #expect(journal.state.withLock { $0.suspectDamage && $0.database == nil }, "nothing was opened or checked")
            // The writer's opening checks the file (whole here) and goes on.
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "bob"), backend: "nec"))
            try await Self.flushed(journal)
            #expect(journal.state.withLock { !$0.suspectDamage })
            #expect(try await journal.newestRecordTime() != nil)
        }
    }

    @Test func aDamagedPageFoundAtAWriteSetsTheFileAsideAndTheRecordsGoToTheNewJournal() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        try await withRunningJournal(Self.configuration(path)) { journal in
            for i in 0..<20 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "old\(i)"), backend: "nec"))
            }
            try await journal.flush()
        }
        // The decision table's root page overwritten: the file opens (its header, schema and migrations
        // are whole), and the next decision written finds the damage.
        let (root, pageSize) = try await DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'decision'")!, try Int.fetchOne(db, sql: "PRAGMA page_size")!)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64((root - 1) * pageSize))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: pageSize))
        try handle.close()
        try await withRunningJournal(Self.configuration(path)) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "new"), backend: "nec"))
            try await Self.flushed(journal)
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["new"])
        }
        #expect(try Self.setAside(in: folder).count == 1)
    }

    /// A set-aside copy last written before the age limit holds only records past it: retention deletes it (and
    /// its write-ahead log) as it deletes such records, by a clock something vouches for; newer copies stay for
    /// whoever wants to recover them (review: copies were kept for ever, a failing card's piling up).
    @Test func setAsideCopiesPastTheAgeLimitAreDeleted() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let old = path + ".damaged-20260101T000000Z", recent = path + ".damaged-20261201T000000Z"
        for file in [old, old + "-wal", recent] {
            #expect(FileManager.default.createFile(atPath: file, contents: Data("damaged".utf8)))
        }
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120 * 86_400)], ofItemAtPath: old)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120 * 86_400)], ofItemAtPath: old + "-wal")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-6 * 86_400)], ofItemAtPath: recent)
        for trusted in [false, true] {
            let journal = SQLiteJournal(configuration: Self.configuration(path))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await journal.run(clockIsTrusted: { _ in trusted }) }
                defer { group.cancelAll() }
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "new"), backend: "nec"))
                try await Self.flushed(journal)
            }
            let left = try Self.setAside(in: folder).sorted()
            if trusted {
                #expect(left == ["journal.sqlite.damaged-20261201T000000Z"], "\(left)")
                #expect(!FileManager.default.fileExists(atPath: old + "-wal"))
            } else {
                #expect(left.count == 2, "nothing vouches for the clock: nothing deleted by age")
            }
        }
    }

    /// Damage on an old page only retention reaches (writes touch the newest pages, and go on succeeding) is
    /// the file's damage, as a write's is: the file is checked, set aside, and the door's records go to a new
    /// journal. Before, each pass only logged "journal retention failed", the size limit was never kept, and
    /// the file grew until the disk was full (review).
    @Test func aDamagedPageFoundByRetentionSetsTheFileAside() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        var unlimited = Self.configuration(path)
        unlimited.retention = JournalRetention(maxAge: nil, maxBytes: nil)
        try await withRunningJournal(unlimited) { journal in
            for i in 0..<400 {
                journal.record(
                    DecisionRecord(
                        time: Date(), door: "front", decision: sampleDecision(.granted, subject: "old\(i)-\(String(repeating: "x", count: 80))"),
                        backend: "nec"))
            }
            try await journal.flush()
        }
        // The second leaf of the decision table (old rows, which retention reaches after the first leaf's):
        // the second cell's child of the table's root. (Not the first leaf: in an auto-vacuumed file the page
        // after the schema's roots is the one a new table's root would take, and GRDB makes one at opening.)
        let (root, pageSize) = try await DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'decision'")!, try Int.fetchOne(db, sql: "PRAGMA page_size")!)
        }
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        let start = (root - 1) * pageSize
        try #require(file[start] == 0x05, "a table of several pages, under one interior root")
        let cell = Int(file[start + 14]) << 8 | Int(file[start + 15])
        let page = file[(start + cell)..<(start + cell + 4)].reduce(0) { $0 << 8 | Int($1) }
        try #require(file[(page - 1) * pageSize] == 0x0D, "a leaf")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64((page - 1) * pageSize))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: pageSize))
        try handle.close()

        var sized = Self.configuration(path)
        sized.retention = JournalRetention(maxAge: nil, maxBytes: 16 << 10)
        let logs = CapturedLogs()
        let journal = SQLiteJournal(configuration: sized, logger: logs.logger(label: "retention-damage", level: .trace))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            defer { group.cancelAll() }
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(.granted, subject: "new"), backend: "nec"))
            try await Self.flushed(journal)
            #expect(try await journal.decisions().map(\.record.decision.subjectId) == ["new"])
            #expect(journal.status.retentionFailingSince == nil)
        }
        #expect(try Self.setAside(in: folder).count == 1)
        #expect(logs.all.contains { $0.contains("journal retention found the file damaged") }, "\(logs.all)")
    }
}
