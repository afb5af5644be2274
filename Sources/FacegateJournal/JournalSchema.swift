import FacegateCore
import Foundation
import GRDB

/// The journal's tables, created and upgraded by a `DatabaseMigrator`.
enum JournalSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: decisions, probe crops, door events") { db in
            try db.create(table: "decision") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("uuid", .text).notNull().unique()
                t.column("time", .datetime).notNull().indexed()
                t.column("door", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("backend", .text).notNull()
                t.column("subject_id", .text)
                t.column("best_score", .double)
                t.column("second_score", .double)
                t.column("threshold", .double)
                t.column("score_unit", .text)
                t.column("offline", .boolean).notNull()
                t.column("face_quality_score", .double)
                t.column("quality", .jsonText)
                t.column("capture_ms", .double)
                t.column("quality_ms", .double)
                t.column("cloud_ms", .double)
                t.column("policy_ms", .double)
                t.column("relay_ms", .double)
                t.column("total_ms", .double)
                t.column("recheck_status", .text)
                t.column("recheck_time", .datetime)
                t.column("recheck_outcome", .text)
                t.column("recheck_subject_id", .text)
                t.column("recheck_score", .double)
                t.column("recheck_reason", .text)
            }
            try db.create(index: "decision_door_time", on: "decision", columns: ["door", "time"])
            try db.create(index: "decision_outcome_time", on: "decision", columns: ["outcome", "time"])
            try db.create(index: "decision_recheck_pending", on: "decision", columns: ["recheck_status"], condition: Column("recheck_status") == "pending")

            // Crops live apart from the rows so that their own, tighter retention can drop them cheaply.
            try db.create(table: "probe_crop") { t in
                t.primaryKey("decision_id", .integer).references("decision", onDelete: .cascade)
                t.column("time", .datetime).notNull().indexed()
                t.column("jpeg", .blob).notNull()
            }

            try db.create(table: "door_event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("door", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("detail", .text)
            }
        }
        migrator.registerMigration("v2: relay result of granted decisions") { db in
            // nil until the relay has been driven (a grant is committed before the relay moves).
            try db.alter(table: "decision") { t in t.add(column: "relay", .text) }
        }
        migrator.registerMigration("v3: liveness of each visit") { db in
            // The verdict is a column of its own so that attacks can be counted by SQL; the score,
            // the cues and the reason are JSON (nil when the liveness stage did not run).
            try db.alter(table: "decision") { t in
                t.add(column: "liveness_verdict", .text)
                t.add(column: "liveness", .jsonText)
            }
        }
        return migrator
    }

    /// Opens (creating when needed) and migrates the journal at `path`.
    static func openForWriting(path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.label = "facegate.journal"
        // The writer never waits on a lock for long: `facegate log` readers do not block a WAL writer,
        // and a second writer (a stray process) is reported rather than waited for.
        configuration.busyMode = .timeout(2)
        // Owner-only from the start (SQLite gives its WAL and shared-memory files the same mode):
        // the journal names people, and holds face crops when they are switched on.
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in
            // GRDB's pool sets synchronous=NORMAL, under which a commit can be lost on power loss.
            // FULL syncs the WAL on each commit; the writer batches records to keep that to one sync per batch.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Keep the WAL file from staying large after a burst.
            try db.execute(sql: "PRAGMA journal_size_limit = 4194304")
            // Incremental auto-vacuum lets retention give space back to the file system.
            // It can only be switched on before the schema exists (VACUUM on an empty file is instant).
            let autoVacuum = try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? 0
            if autoVacuum != 2, try !db.tableExists("decision") {
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                try db.execute(sql: "VACUUM")
            }
        }
        try checkSchemaIsKnown(pool)
        try migrator.migrate(pool)
        try pool.write(createClockWitness)
        return pool
    }

    /// The clock's last reading the cloud vouched for: one row, replaced as the daemon runs, a witness of
    /// the clock at the next start, when the cloud may be away and the newest record hours old (a clock
    /// set back into that gap). Made by the writer, outside the migrations: an older facegate refuses a
    /// journal with a migration it does not know (a package rolled back would lose every record), and
    /// this table is nothing it needs; `facegate log` never reads it.
    static func createClockWitness(_ db: Database) throws {
        try db.create(table: "clock_witness", options: .ifNotExists) { t in
            t.primaryKey("id", .integer).check { $0 == 1 }
            t.column("time", .datetime).notNull()
        }
    }

    /// Opens the journal for reading only (for `facegate log`).
    static func openForReading(path: String) throws -> DatabaseQueue {
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError(.cannotOpen, "no journal at \(path)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "facegate.journal.reader"
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try checkSchemaIsKnown(queue)
        let complete = try queue.read { try migrator.hasCompletedMigrations($0) }
        if !complete {
            throw JournalError(.unknownSchema, "the journal at \(path) has not been set up yet (start the daemon once)")
        }
        return queue
    }

    private static func checkSchemaIsKnown(_ database: any DatabaseReader) throws {
        let unknown = try database.read { db -> Bool in
            guard try db.tableExists("grdb_migrations") else { return false }
            return try migrator.hasBeenSuperseded(db)
        }
        if unknown {
            throw JournalError(.unknownSchema, "the journal was written by a newer facegate; refusing to change it")
        }
    }
}
