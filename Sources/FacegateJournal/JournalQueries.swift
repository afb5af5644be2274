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

enum JournalQueries {
    static func forEachDecision(_ query: DecisionQuery, in db: Database, _ body: (JournaledDecision) throws -> Void) throws {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let since = query.since {
            conditions.append("time >= ?")
            _ = arguments.append(contentsOf: [since])
        }
        if let until = query.until {
            conditions.append("time < ?")
            _ = arguments.append(contentsOf: [until])
        }
        if let door = query.door {
            conditions.append("door = ?")
            _ = arguments.append(contentsOf: [door])
        }
        if let outcomes = query.outcomes, !outcomes.isEmpty {
            let sorted = outcomes.map(\.rawValue).sorted()
            conditions.append("outcome IN (\(sorted.map { _ in "?" }.joined(separator: ", ")))")
            _ = arguments.append(contentsOf: StatementArguments(sorted))
        }
        if let status = query.recheckStatus {
            conditions.append("recheck_status = ?")
            _ = arguments.append(contentsOf: [status.rawValue])
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let columns = "decision.*, EXISTS (SELECT 1 FROM probe_crop WHERE decision_id = decision.id) AS has_crop"
        // In the order they were written, and the newest are the last written: after the clock was set
        // back, the decisions made since carry the earliest times, and an investigator asking for the
        // latest must see them, last.
        let sql: String
        if let limit = query.limit {
            sql = "SELECT * FROM (SELECT \(columns) FROM decision \(filter) ORDER BY id DESC LIMIT \(max(0, limit))) ORDER BY id"
        } else {
            sql = "SELECT \(columns) FROM decision \(filter) ORDER BY id"
        }
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            try body(decision(from: row))
        }
    }

    static func forEachDoorEvent(_ query: DoorEventQuery, in db: Database, _ body: (DoorEventRecord) throws -> Void) throws {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let since = query.since {
            conditions.append("time >= ?")
            _ = arguments.append(contentsOf: [since])
        }
        if let until = query.until {
            conditions.append("time < ?")
            _ = arguments.append(contentsOf: [until])
        }
        if let door = query.door {
            conditions.append("door = ?")
            _ = arguments.append(contentsOf: [door])
        }
        if let kinds = query.kinds, !kinds.isEmpty {
            let sorted = kinds.map(\.rawValue).sorted()
            conditions.append("kind IN (\(sorted.map { _ in "?" }.joined(separator: ", ")))")
            _ = arguments.append(contentsOf: StatementArguments(sorted))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // In the order they were written, as decisions are.
        let sql: String
        if let limit = query.limit {
            sql = "SELECT * FROM (SELECT * FROM door_event \(filter) ORDER BY id DESC LIMIT \(max(0, limit))) ORDER BY id"
        } else {
            sql = "SELECT * FROM door_event \(filter) ORDER BY id"
        }
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
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
            try body(DoorEventRecord(time: row["time"], door: row["door"], kind: kind, detail: detail))
        }
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

    /// Calls `body` with each decision matching `query`, in the order written, without loading them all.
    public func forEachDecision(_ query: DecisionQuery, _ body: (JournaledDecision) throws -> Void) throws {
        try database.read { db in try JournalQueries.forEachDecision(query, in: db, body) }
    }

    public func forEachDoorEvent(_ query: DoorEventQuery, _ body: (DoorEventRecord) throws -> Void) throws {
        try database.read { db in try JournalQueries.forEachDoorEvent(query, in: db, body) }
    }

    public func probeCrop(decisionId: UUID) throws -> [UInt8]? {
        try database.read { db in try JournalQueries.probeCrop(decisionId: decisionId, in: db) }
    }
}
