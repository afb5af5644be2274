import FacegateCore
import Foundation
import GRDB

/// The SQL that turns queued records into rows.
enum JournalWriter {
    static func insert(_ write: SQLiteJournal.PendingWrite, storeCrops: Bool, into db: Database) throws {
        switch write {
        case .decision(let record): try insert(record, storeCrops: storeCrops, into: db)
        case .doorEvent(let event): try insert(event, into: db)
        case .recheck(let recheck): try apply(recheck, in: db)
        case .relay(let relay): try apply(relay, in: db)
        case .clockSeenRight(let time):
            try db.execute(
                sql: "INSERT INTO clock_witness (id, time) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET time = excluded.time", arguments: [time])
        }
    }

    static func insert(_ record: DecisionRecord, storeCrops: Bool, into db: Database) throws {
        let decision = record.decision
        let latencies = record.latencies
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO decision (uuid, time, door, outcome, reason, backend, subject_id, best_score, second_score,
                    threshold, score_unit, offline, face_quality_score, quality, capture_ms, quality_ms, cloud_ms,
                    policy_ms, relay_ms, total_ms, recheck_status, liveness_verdict, liveness)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (uuid) DO NOTHING
                """)
        let values: [(any DatabaseValueConvertible)?] = [
            record.id.uuidString, record.time, record.door, decision.outcome.rawValue, decision.reason, record.backend,
            decision.subjectId, finite(decision.bestScore), finite(decision.secondScore), finite(decision.threshold),
            decision.scoreUnit?.rawValue, decision.offline, finite(record.quality?.faceQualityScore),
            try record.quality.map(encodeQuality),
            latencies.capture?.journalMilliseconds, latencies.quality?.journalMilliseconds,
            latencies.cloud?.journalMilliseconds, latencies.policy?.journalMilliseconds,
            latencies.relay?.journalMilliseconds, latencies.total?.journalMilliseconds,
            record.awaitsRecheck ? RecheckStatus.pending.rawValue : nil,
            record.liveness?.verdict.rawValue, try record.liveness.map(encodeJSON),
        ]
        try statement.execute(arguments: StatementArguments(values))
        if storeCrops, let crop = record.probeCrop, db.changesCount > 0 {
            try db.execute(
                sql: "INSERT OR REPLACE INTO probe_crop (decision_id, time, jpeg) VALUES (?, ?, ?)",
                arguments: [db.lastInsertedRowID, record.time, Data(crop)])
        }
    }

    static func insert(_ event: DoorEventRecord, into db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO door_event (time, door, kind, detail) VALUES (?, ?, ?, ?)")
            .execute(arguments: [event.time, event.door, event.kind.rawValue, event.detail])
    }

    /// Records the cloud's re-check against the offline decision's row (nothing when that row is gone).
    static func apply(_ recheck: RecheckRecord, in db: Database) throws {
        let original = try Row.fetchOne(
            db, sql: "SELECT outcome, subject_id FROM decision WHERE uuid = ?", arguments: [recheck.decisionId.uuidString])
        guard let original else { return }
        let originalOpened = Decision.Outcome(rawValue: original["outcome"] as String? ?? "")?.opensDoor ?? false
        // A grant the cloud gives to someone else let the wrong person in: that is no confirmation.
        // The same person is the same id as the door compares ids (case and surrounding spaces aside).
        let sameSubject = ((original["subject_id"] as String?).map(SubjectIdentity.key)) == recheck.subjectId.map(SubjectIdentity.key)
        let sameDecision = originalOpened == recheck.outcome.opensDoor && (!originalOpened || sameSubject)
        // A failed search is no answer: it neither confirms a denial nor contradicts a grant.
        let status: RecheckStatus = recheck.outcome == .error ? .failed : sameDecision ? .confirmed : .contradicted
        try db.execute(
            sql: """
                UPDATE decision SET recheck_status = ?, recheck_time = ?, recheck_outcome = ?, recheck_subject_id = ?,
                    recheck_score = ?, recheck_reason = ?
                WHERE uuid = ?
                """,
            arguments: [
                status.rawValue, recheck.time, recheck.outcome.rawValue, recheck.subjectId, finite(recheck.score), recheck.reason,
                recheck.decisionId.uuidString,
            ])
    }

    /// Records what the relay did against the granted decision's row (nothing when that row is gone).
    static func apply(_ relay: RelayRecord, in db: Database) throws {
        try db.execute(
            sql: "UPDATE decision SET relay = ?, relay_ms = ?, total_ms = COALESCE(?, total_ms) WHERE uuid = ?",
            arguments: [
                relay.result.rawValue, relay.latency?.journalMilliseconds, relay.total?.journalMilliseconds, relay.decisionId.uuidString,
            ])
    }

    /// SQLite has no NaN; a non-finite score is stored as unknown.
    private static func finite(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return value
    }

    private static func encodeQuality(_ quality: QualityMeasures) throws -> String { try encodeJSON(quality) }

    private static func encodeJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decodeLiveness(_ text: String) -> LivenessAssessment? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode(LivenessAssessment.self, from: Data(text.utf8))
    }

    static func decodeQuality(_ text: String) -> QualityMeasures? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode(QualityMeasures.self, from: Data(text.utf8))
    }
}
