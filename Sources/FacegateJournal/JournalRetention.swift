import FacegateCore
import Foundation
import GRDB

/// How much history the journal keeps.
public struct JournalRetention: Sendable, Hashable {
    /// Decisions and door events older than this are deleted; nil keeps them.
    public var maxAge: Duration?
    /// The database is kept under this many bytes by deleting the oldest rows (crops first); nil for no limit.
    public var maxBytes: Int?
    /// Probe crops older than this are deleted (the decision row stays).
    public var probeCropMaxAge: Duration?
    /// At most this many probe crops are kept, the newest.
    public var probeCropMaxCount: Int?
    /// One pass deletes by age at most a tenth of a table's rows, or this many when that is more.
    public var minimumAgeDeletionsPerPass: Int

    public init(
        maxAge: Duration? = .seconds(90 * 86_400), maxBytes: Int? = 256 << 20,
        probeCropMaxAge: Duration? = .seconds(7 * 86_400), probeCropMaxCount: Int? = 1_000, minimumAgeDeletionsPerPass: Int = 1_000
    ) {
        self.maxAge = maxAge
        self.maxBytes = maxBytes
        self.probeCropMaxAge = probeCropMaxAge
        self.probeCropMaxCount = probeCropMaxCount
        self.minimumAgeDeletionsPerPass = max(1, minimumAgeDeletionsPerPass)
    }
}

/// What one retention run deleted.
public struct RetentionReport: Sendable, Hashable {
    public var deletedDecisions = 0
    public var deletedDoorEvents = 0
    public var deletedProbeCrops = 0
    /// Pages in use times the page size, before and after.
    public var bytesBefore = 0
    public var bytesAfter = 0

    /// Age retention left records older than the limit: nothing vouched for the clock, nothing was newer
    /// than the cutoff (the clock may have jumped forward), or more were due than one pass deletes.
    public var ageRetentionHeldBack = false
    /// Age retention deleted no decision or door event because nothing vouched for the clock
    /// (``WallClockEvidence``), though some are older than the limit by its reading.
    public var ageRetentionWaitsForTheClock = false
    public var deletedAnything: Bool { deletedDecisions + deletedDoorEvents + deletedProbeCrops > 0 }
}

enum JournalRetentionRunner {
    /// Decisions or door events deleted per transaction: a pass deleting a tenth of a large journal takes
    /// seconds on an SD card, and the records waiting meanwhile (a grant, with its 1 s commit limit) are
    /// written between two steps, not after the pass.
    static let rowsPerStep = 500

    /// Applies `retention` outside any transaction (each step commits on its own, so a retention
    /// interrupted half-way has still freed what it freed).
    /// - Parameters:
    ///   - clockIsTrusted: whether something vouches for `now` (``WallClockEvidence``); without it no
    ///     decision or door event is deleted for its age (the size limit still applies).
    ///   - betweenSteps: called between two steps of at most `rowsPerStep` rows, outside any
    ///     transaction: the writer commits there the records handed over meanwhile.
    static func apply(
        _ retention: JournalRetention, to db: Database, now: Date, clockIsTrusted: Bool, betweenSteps: (Database) -> Void = { _ in }
    ) throws -> RetentionReport {
        /// Deletes up to `count` rows picked by `sql` (its last argument is the LIMIT) in steps; returns how many went.
        func deleteInSteps(_ count: Int, _ sql: String, _ arguments: StatementArguments) throws -> Int {
            var deleted = 0
            while deleted < count {
                let step = min(rowsPerStep, count - deleted)
                var went = 0
                try db.inTransaction {
                    try db.execute(sql: sql, arguments: arguments + [step])
                    went = db.changesCount
                    return .commit
                }
                deleted += went
                if went < step { break }
                betweenSteps(db)
            }
            return deleted
        }

        var report = RetentionReport()
        report.bytesBefore = try usedBytes(db)

        if let maxAge = retention.maxAge {
            let cutoff = now.addingTimeInterval(-maxAge.timeInterval)
            // A clock that jumps forward makes every record look old, and the first record written on it
            // is newer than any cutoff: the history is deleted for its age only on a clock something
            // vouches for. Even then age never empties the journal: when nothing is newer than the cutoff
            // the pass deletes nothing by age, and one pass deletes at most a tenth of the rows.
            if !clockIsTrusted {
                let due = try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM decision WHERE time < ?) OR EXISTS (SELECT 1 FROM door_event WHERE time < ?)",
                    arguments: [cutoff, cutoff]) ?? false
                report.ageRetentionHeldBack = due
                report.ageRetentionWaitsForTheClock = due
            } else {
                // Deleted in the order of writing, up to the last row written before the table's first row within
                // the age: after the clock was set back (a real-time clock reset, the cloud away), the rows written
                // since carry the earliest times, and by their times alone they would go first, the newest
                // denials and alarms deleted as soon as the clock is put right. A row dated later than now, written
                // before one that is due, is due with it (as crops go).
                let firstWithinAge = try ["decision", "door_event"].map { table in
                    try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM \(table) WHERE time >= ? AND time <= ?", arguments: [cutoff, now])
                }
                if firstWithinAge.allSatisfy({ $0 == nil }) {
                    // Nothing within the age (the clock may have jumped forward): nothing is deleted for its age.
                    report.ageRetentionHeldBack = try Bool.fetchOne(
                        db, sql: "SELECT EXISTS (SELECT 1 FROM decision WHERE time < ?) OR EXISTS (SELECT 1 FROM door_event WHERE time < ?)",
                        arguments: [cutoff, cutoff]) ?? false
                } else {
                    for (table, boundary) in zip(["decision", "door_event"], firstWithinAge) {
                        guard
                            let lastDue = try Int64.fetchOne(
                                db, sql: "SELECT MAX(id) FROM \(table) WHERE id < ? AND time < ?", arguments: [boundary ?? Int64.max, cutoff])
                        else { continue }
                        let rows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
                        let limit = max(retention.minimumAgeDeletionsPerPass, rows / 10)
                        let deleted = try deleteInSteps(
                            limit, "DELETE FROM \(table) WHERE id IN (SELECT id FROM \(table) WHERE id <= ? ORDER BY id LIMIT ?)", [lastDue])
                        if table == "decision" { report.deletedDecisions += deleted } else { report.deletedDoorEvents += deleted }
                        if deleted == limit, try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table) WHERE id <= ?)", arguments: [lastDue]) == true {
                            report.ageRetentionHeldBack = true
                        }
                    }
                }
            }
        }
        // Crops go for their age whatever vouches for the clock: they are face images, kept for days, and
        // a clock stepped ahead costs only them (the decisions stay). A crop dated later than now goes with
        // any written after it that is past the age (by id, the order of writing): after the clock was set
        // back, the crops written before carry later times than any written since, and by their own times
        // would be kept until real time caught up with them (a year, for a clock set back a year). A crop
        // dated in the past by a brief clock error takes none of the others with it.
        if let cropAge = retention.probeCropMaxAge {
            let cutoff = now.addingTimeInterval(-cropAge.timeInterval)
            // On a clock something vouches for, a crop dated ahead of it (written while the clock ran ahead)
            // is dated now: its life runs from here, at most the age more. Otherwise, with no crop written
            // after it past the age (crops switched off since, a quiet door), it was kept until real time
            // caught up with its date: a year, for a clock a year ahead (review).
            if clockIsTrusted {
                try db.execute(sql: "UPDATE probe_crop SET time = ? WHERE time > ?", arguments: [now, now.addingTimeInterval(300)])
            }
            try db.execute(
                sql: """
                    DELETE FROM probe_crop WHERE time < ?
                        OR (time > ? AND decision_id <= (SELECT MAX(decision_id) FROM probe_crop WHERE time < ?))
                    """,
                arguments: [cutoff, now, cutoff])
            report.deletedProbeCrops += db.changesCount
        }
        // The newest written are kept (by id, as the size limit below goes): after the clock was set back the
        // newest crops carry the earliest times.
        if let cropCount = retention.probeCropMaxCount {
            try db.execute(
                sql: """
                    DELETE FROM probe_crop WHERE decision_id NOT IN
                        (SELECT decision_id FROM probe_crop ORDER BY decision_id DESC LIMIT ?)
                    """, arguments: [max(0, cropCount)])
            report.deletedProbeCrops += db.changesCount
        }

        if let maxBytes = retention.maxBytes {
            // Delete down to 90% of the limit so that retention does not run on every insert. Oldest written
            // first (by id, the order of writing), not by the time recorded: after the clock was set back the
            // newest rows carry the earliest times, and going by them would delete the latest grants and
            // alarms first, on every pass.
            let target = maxBytes / 10 * 9
            var rounds = 0
            while try usedBytes(db) > target, rounds < 200 {
                rounds += 1
                let used = try usedBytes(db)
                let excess = Double(used - target) / Double(used)
                let crops = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM probe_crop") ?? 0
                if crops > 0 {
                    try db.execute(
                        sql: "DELETE FROM probe_crop WHERE decision_id IN (SELECT decision_id FROM probe_crop ORDER BY decision_id LIMIT ?)",
                        arguments: [max(1, Int((Double(crops) * excess).rounded(.up)))])
                    report.deletedProbeCrops += db.changesCount
                    continue
                }
                let decisions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM decision") ?? 0
                let events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM door_event") ?? 0
                if decisions == 0 && events == 0 { break }
                // The same share of each table, oldest written first.
                if decisions > 0 {
                    let count = max(1, Int((Double(decisions) * excess).rounded(.up)))
                    report.deletedDecisions += try deleteInSteps(
                        count, "DELETE FROM decision WHERE id IN (SELECT id FROM decision ORDER BY id LIMIT ?)", [])
                }
                if events > 0 {
                    // Rounded down beside decisions (a few events weigh little; rounded up, each round would
                    // take one, and a handful of alarms would go before the decisions written after them).
                    let share = Double(events) * excess
                    let count = decisions > 0 ? Int(share.rounded(.down)) : max(1, Int(share.rounded(.up)))
                    report.deletedDoorEvents += try deleteInSteps(
                        count, "DELETE FROM door_event WHERE id IN (SELECT id FROM door_event ORDER BY id LIMIT ?)", [])
                }
            }
        }

        if report.deletedAnything {
            // Give the freed pages back to the file system, and fold the WAL into the file as far as readers
            // allow. PASSIVE, never TRUNCATE: that waits (the 2 s busy timeout) for every reader to finish
            // (`facegate log | less`), on the writer's task, ahead of a grant's commit. The WAL is
            // truncated at close; meanwhile it is reused from its start once no reader needs it, and
            // `journal_size_limit` trims it then.
            // Records handed over meanwhile are written first, and between the vacuum's chunks: the vacuum
            // and the checkpoint can take seconds on an SD card.
            betweenSteps(db)
            var freed = 0
            repeat {
                let before = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                try db.execute(sql: "PRAGMA incremental_vacuum(256)")
                freed = before - (try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0)
                betweenSteps(db)
            } while freed > 0
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
        }
        report.bytesAfter = try usedBytes(db)
        return report
    }

    static func usedBytes(_ db: Database) throws -> Int {
        let pageCount = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let freePages = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        return (pageCount - freePages) * pageSize
    }
}


extension SQLiteJournal {
    /// Applies the configured retention now (it also runs on its own every `retentionInterval`).
    /// - Parameter clockIsTrusted: whether something vouches for `now`; nil asks ``WallClockEvidence``
    ///   without the cloud's time (the kernel's time daemon state, against the system clock).
    public func applyRetention(now: Date = Date(), clockIsTrusted: Bool? = nil) async throws(JournalError) -> RetentionReport {
        let trusted = clockIsTrusted ?? WallClockEvidence.vouches(for: now)
        do {
            let database = try openedDatabase()
            return try await database.writeWithoutTransaction { [retention = configuration.retention] db in
                try JournalRetentionRunner.apply(retention, to: db, now: now, clockIsTrusted: trusted)
            }
        } catch {
            throw Self.describe(error)
        }
    }
}
