import FacegateCore
import Foundation
import GRDB

/// Which decisions to read back.
public struct DecisionQuery: Sendable, Hashable {
    /// Decisions at or after this time.
    public var since: Date?
    /// Decisions before this time.
    public var until: Date?
    public var door: String?
    /// Any of these outcomes; nil or empty for all.
    public var outcomes: Set<Decision.Outcome>?
    public var recheckStatus: RecheckStatus?
    /// The last this many written (still returned in the order written); nil for all.
    public var limit: Int?

    public init(
        since: Date? = nil, until: Date? = nil, door: String? = nil, outcomes: Set<Decision.Outcome>? = nil,
        recheckStatus: RecheckStatus? = nil, limit: Int? = nil
    ) {
        self.since = since
        self.until = until
        self.door = door
        self.outcomes = outcomes
        self.recheckStatus = recheckStatus
        self.limit = limit
    }
}

/// Which door events to read back.
public struct DoorEventQuery: Sendable, Hashable {
    public var since: Date?
    public var until: Date?
    public var door: String?
    public var kinds: Set<DoorEventKind>?
    public var limit: Int?

    public init(since: Date? = nil, until: Date? = nil, door: String? = nil, kinds: Set<DoorEventKind>? = nil, limit: Int? = nil) {
        self.since = since
        self.until = until
        self.door = door
        self.kinds = kinds
        self.limit = limit
    }
}

/// The `WHERE` clause a listing's query makes, and its arguments (never spliced into the SQL).
struct RowFilter {
    private var conditions: [String] = []
    private var arguments = StatementArguments()

    init(since: Date?, until: Date?, door: String?) {
        if let since { add("time >= ?", [since]) }
        if let until { add("time < ?", [until]) }
        if let door { add("door = ?", [door]) }
    }

    /// `column` is any of `values`; nil or empty matches every row.
    mutating func match(_ column: String, anyOf values: [String]?) {
        guard let values, !values.isEmpty else { return }
        let sorted = values.sorted()
        add("\(column) IN (\(sorted.map { _ in "?" }.joined(separator: ", ")))", StatementArguments(sorted))
    }

    private mutating func add(_ condition: String, _ values: StatementArguments) {
        conditions.append(condition)
        _ = arguments.append(contentsOf: values)
    }

    /// The ids a chunked listing runs over, after the first and through the last: every matching row, or
    /// the last `last` written; nil when none matches. Rows written after this are not listed.
    func idRange(of table: String, last: Int?, in db: Database) throws -> (after: Int64, through: Int64)? {
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql =
            last.map { "SELECT MIN(id), MAX(id) FROM (SELECT id FROM \(table) \(filter) ORDER BY id DESC LIMIT \(max(0, $0)))" }
            ?? "SELECT MIN(id), MAX(id) FROM \(table) \(filter)"
        guard let row = try Row.fetchOne(db, sql: sql, arguments: arguments), let first = row[0] as Int64?, let lastId = row[1] as Int64? else {
            return nil
        }
        return (first - 1, lastId)
    }

    /// The next `count` matching rows after `after` and through `through`, in the order written.
    func chunk(_ columns: String, from table: String, after: Int64, through: Int64, count: Int) -> (sql: String, arguments: StatementArguments) {
        let filter = (conditions + ["id > ?", "id <= ?"]).joined(separator: " AND ")
        // NOT INDEXED: by the id range. A filter's own index (door, outcome) would be picked for each chunk
        // and every matching row sorted again each time: quadratic on a large journal.
        return ("SELECT \(columns) FROM \(table) NOT INDEXED WHERE \(filter) ORDER BY id LIMIT \(count)", arguments + [after, through])
    }

    /// The rows in the order written; with `last`, only the last that many written, still in that order.
    func select(_ columns: String, from table: String, last: Int?) -> (sql: String, arguments: StatementArguments) {
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        guard let last else { return ("SELECT \(columns) FROM \(table) \(filter) ORDER BY id", arguments) }
        return ("SELECT * FROM (SELECT \(columns) FROM \(table) \(filter) ORDER BY id DESC LIMIT \(max(0, last))) ORDER BY id", arguments)
    }
}

enum JournalQueries {
    static func forEachDecision(_ query: DecisionQuery, in db: Database, _ body: (JournaledDecision) throws -> Void) throws {
        // In the order they were written, and the newest are the last written: after the clock was set
        // back, the decisions made since carry the earliest times, and an investigator asking for the
        // latest must see them, last.
        let (sql, arguments) = decisionFilter(query).select(decisionColumns, from: "decision", last: query.limit)
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            try body(decision(from: row))
        }
    }

    static let decisionColumns = "decision.*, EXISTS (SELECT 1 FROM probe_crop WHERE decision_id = decision.id) AS has_crop"

    static func decisionFilter(_ query: DecisionQuery) -> RowFilter {
        var filter = RowFilter(since: query.since, until: query.until, door: query.door)
        filter.match("outcome", anyOf: query.outcomes?.map(\.rawValue))
        if let status = query.recheckStatus { filter.match("recheck_status", anyOf: [status.rawValue]) }
        return filter
    }

    static func doorEventFilter(_ query: DoorEventQuery) -> RowFilter {
        var filter = RowFilter(since: query.since, until: query.until, door: query.door)
        filter.match("kind", anyOf: query.kinds?.map(\.rawValue))
        return filter
    }

    static func forEachDoorEvent(_ query: DoorEventQuery, in db: Database, _ body: (DoorEventRecord) throws -> Void) throws {
        // In the order they were written, as decisions are.
        let (sql, arguments) = doorEventFilter(query).select("*", from: "door_event", last: query.limit)
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            try body(doorEvent(from: row))
        }
    }

    /// Rows read per read transaction by `inChunks`.
    static let chunkSize = 256

    /// Calls `body` with each matching row, in the order written, reading `chunkSize` rows per short read
    /// transaction and calling `body` outside them: a reader paused in `body` (`facegate log | less`)
    /// holds no snapshot, so it never makes the writer wait nor keeps the WAL from being reused (held
    /// open, the WAL grew by every commit made meanwhile). Rows written after the listing starts are left out.
    static func inChunks<Record>(
        of table: String, columns: String, filter: RowFilter, last: Int?, reading database: any DatabaseReader,
        decode: (Row) -> Record, _ body: (Record) throws -> Void
    ) throws {
        guard let range = try database.read({ db in try filter.idRange(of: table, last: last, in: db) }) else { return }
        var after = range.after
        while after < range.through {
            let (sql, arguments) = filter.chunk(columns, from: table, after: after, through: range.through, count: chunkSize)
            let rows = try database.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
            for row in rows { try body(decode(row)) }
            guard rows.count == chunkSize else { break }
            after = rows[rows.count - 1]["id"]
        }
    }

    static func doorEvent(from row: Row) -> DoorEventRecord {
        let kindText: String = row["kind"]
        var detail: String? = row["detail"]
        let kind: DoorEventKind
        if let known = DoorEventKind(rawValue: kindText) {
            kind = known
        } else {
            // Written by a newer facegate: keep the unknown kind visible in the detail.
            kind = .opened
            detail = "unknown kind \(kindText)" + (detail.map { ": \($0)" } ?? "")
        }
        return DoorEventRecord(time: row["time"], door: row["door"], kind: kind, detail: detail)
    }

    static func decision(from row: Row) -> JournaledDecision {
        let outcomeText: String = row["outcome"]
        var reason: String = row["reason"]
        let outcome: Decision.Outcome
        if let known = Decision.Outcome(rawValue: outcomeText) {
            outcome = known
        } else {
            outcome = .error
            reason = "unknown outcome \(outcomeText): \(reason)"
        }
        let scoreUnit = (row["score_unit"] as String?).flatMap(ScoreUnit.init(rawValue:))
        let decision = Decision(
            outcome: outcome, reason: reason, subjectId: row["subject_id"], bestScore: row["best_score"],
            secondScore: row["second_score"], threshold: row["threshold"], scoreUnit: scoreUnit, offline: row["offline"])
        let latencies = StageLatencies(
            capture: milliseconds(row["capture_ms"]), quality: milliseconds(row["quality_ms"]), cloud: milliseconds(row["cloud_ms"]),
            policy: milliseconds(row["policy_ms"]), relay: milliseconds(row["relay_ms"]), total: milliseconds(row["total_ms"]))
        let uuid = UUID(uuidString: row["uuid"] as String) ?? UUID()
        let status = (row["recheck_status"] as String?).flatMap(RecheckStatus.init(rawValue:))
        let record = DecisionRecord(
            id: uuid, time: row["time"], door: row["door"], decision: decision, backend: row["backend"],
            quality: (row["quality"] as String?).flatMap(JournalWriter.decodeQuality), latencies: latencies,
            awaitsRecheck: status != nil, relay: (row["relay"] as String?).flatMap(RelayRecord.Result.init(rawValue:)),
            liveness: (row["liveness"] as String?).flatMap(JournalWriter.decodeLiveness))
        var recheck: RecheckRecord?
        if let time = row["recheck_time"] as Date?, let outcomeText = row["recheck_outcome"] as String? {
            recheck = RecheckRecord(
                decisionId: uuid, time: time, outcome: Decision.Outcome(rawValue: outcomeText) ?? .error,
                subjectId: row["recheck_subject_id"], score: row["recheck_score"], reason: row["recheck_reason"] ?? "")
        }
        return JournaledDecision(record: record, recheckStatus: status, recheck: recheck, hasProbeCrop: row["has_crop"])
    }

    static func probeCrop(decisionId: UUID, in db: Database) throws -> [UInt8]? {
        let data = try Data.fetchOne(
            db, sql: "SELECT jpeg FROM probe_crop JOIN decision ON decision.id = probe_crop.decision_id WHERE decision.uuid = ?",
            arguments: [decisionId.uuidString])
        return data.map { [UInt8]($0) }
    }

    private static func milliseconds(_ value: Double?) -> Duration? {
        value.map(Duration.journalMilliseconds)
    }
}

extension SQLiteJournal {
    /// Decisions matching `query`, in the order they were written.
    public func decisions(_ query: DecisionQuery = DecisionQuery()) async throws(JournalError) -> [JournaledDecision] {
        try await read { db in
            var found: [JournaledDecision] = []
            try JournalQueries.forEachDecision(query, in: db) { found.append($0) }
            return found
        }
    }

    /// Door events matching `query`, in the order they were written.
    public func doorEvents(_ query: DoorEventQuery = DoorEventQuery()) async throws(JournalError) -> [DoorEventRecord] {
        try await read { db in
            var found: [DoorEventRecord] = []
            try JournalQueries.forEachDoorEvent(query, in: db) { found.append($0) }
            return found
        }
    }

    /// Offline decisions the cloud has not re-checked yet, in the order they were written.
    public func decisionsAwaitingRecheck(limit: Int? = nil) async throws(JournalError) -> [JournaledDecision] {
        try await decisions(DecisionQuery(recheckStatus: .pending, limit: limit))
    }

    /// The stored probe crop of a decision, if any.
    public func probeCrop(decisionId: UUID) async throws(JournalError) -> [UInt8]? {
        try await read { db in try JournalQueries.probeCrop(decisionId: decisionId, in: db) }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        do {
            return try await openedDatabase().read(body)
        } catch {
            throw Self.describe(error)
        }
    }
}

/// Read-only access to a journal file, for `facegate log` (works while the daemon writes it).
public struct JournalReader: Sendable {
    private let database: DatabaseQueue

    public init(path: String) throws(JournalError) {
        do {
            database = try JournalSchema.openForReading(path: path)
        } catch {
            throw SQLiteJournal.describe(error)
        }
    }

    /// Calls `body` with each decision matching `query`, in the order written, without loading them all
    /// and without holding one read transaction for the whole listing (it reads them in short chunks).
    public func forEachDecision(_ query: DecisionQuery, _ body: (JournaledDecision) throws -> Void) throws {
        try JournalQueries.inChunks(
            of: "decision", columns: JournalQueries.decisionColumns, filter: JournalQueries.decisionFilter(query), last: query.limit,
            reading: database, decode: JournalQueries.decision(from:), body)
    }

    public func forEachDoorEvent(_ query: DoorEventQuery, _ body: (DoorEventRecord) throws -> Void) throws {
        try JournalQueries.inChunks(
            of: "door_event", columns: "*", filter: JournalQueries.doorEventFilter(query), last: query.limit, reading: database,
            decode: JournalQueries.doorEvent(from:), body)
    }

    public func probeCrop(decisionId: UUID) throws -> [UInt8]? {
        try database.read { db in try JournalQueries.probeCrop(decisionId: decisionId, in: db) }
    }
}
