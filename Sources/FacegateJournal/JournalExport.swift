import FacegateCore
import Foundation

/// Reads the times `facegate log --since` accepts.
public enum JournalTimeArgument {
    /// Parses a relative age (`90s`, `15m`, `1h`, `2d`, `1w`: that long before `now`), a date
    /// (`2026-11-21`, midnight in `timeZone`), or a date and time (`2026-11-21T08:30`, `2026-11-21 08:30:00`,
    /// in `timeZone` unless it carries `Z` or an offset).
    public static func parse(_ text: String, now: Date, timeZone: TimeZone = .current) throws(JournalError) -> Date {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let last = text.last, let seconds = unitSeconds[last], let amount = Double(text.dropLast()), amount >= 0, amount.isFinite {
            return now.addingTimeInterval(-amount * seconds)
        }
        if let date = parseAbsolute(text, timeZone: timeZone) { return date }
        throw JournalError(
            .invalidQuery,
            "cannot read the time '\(text)': use an age such as 30m, 1h, 2d, 1w, or a date such as 2026-11-21 or 2026-11-21T08:30:00Z")
    }

    private static let unitSeconds: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    private static func parseAbsolute(_ text: String, timeZone: TimeZone) -> Date? {
        let withOffset = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            withOffset.formatOptions = options
            if let date = withOffset.date(from: text.replacingOccurrences(of: " ", with: "T")) { return date }
        }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        return nil
    }
}

/// One decision as `facegate log` prints it (JSON lines), with stable snake_case field names.
public struct DecisionLogLine: Encodable, Sendable {
    public struct Latencies: Encodable, Sendable {
        var capture: Double?
        var quality: Double?
        var cloud: Double?
        var policy: Double?
        var relay: Double?
        var total: Double?
    }

    public struct Recheck: Encodable, Sendable {
        var status: String
        var time: String?
        var outcome: String?
        var subjectId: String?
        var score: Double?
        var reason: String?
    }

    var time: String
    var id: String
    var door: String
    var outcome: String
    var reason: String
    var backend: String
    var subjectId: String?
    var bestScore: Double?
    var secondScore: Double?
    var threshold: Double?
    var scoreUnit: String?
    var offline: Bool
    var faceQualityScore: Double?
    var quality: QualityMeasures?
    var latencyMs: Latencies
    var recheck: Recheck?
    var probeCrop: Bool
    /// For a grant: whether the relay was driven (`unlocked`), could not be (`failed`), or was not, a
    /// reload during the grant's commit refusing it (`withheld`).
    var relay: String?
    /// The liveness stage's score, verdict and cue scores, when it ran.
    var liveness: LivenessAssessment?

    public init(_ journaled: JournaledDecision) {
        let record = journaled.record
        let decision = record.decision
        time = JournalExport.timestamp(record.time)
        id = record.id.uuidString
        door = record.door
        outcome = decision.outcome.rawValue
        reason = decision.reason
        backend = record.backend
        subjectId = decision.subjectId
        bestScore = decision.bestScore
        secondScore = decision.secondScore
        threshold = decision.threshold
        scoreUnit = decision.scoreUnit?.rawValue
        offline = decision.offline
        faceQualityScore = record.quality?.faceQualityScore
        quality = record.quality
        let l = record.latencies
        latencyMs = Latencies(
            capture: JournalExport.ms(l.capture), quality: JournalExport.ms(l.quality), cloud: JournalExport.ms(l.cloud),
            policy: JournalExport.ms(l.policy), relay: JournalExport.ms(l.relay), total: JournalExport.ms(l.total))
        if let status = journaled.recheckStatus {
            let r = journaled.recheck
            recheck = Recheck(
                status: status.rawValue, time: r.map { JournalExport.timestamp($0.time) }, outcome: r?.outcome.rawValue,
                subjectId: r?.subjectId, score: r?.score, reason: r?.reason)
        }
        probeCrop = journaled.hasProbeCrop
        relay = record.relay?.rawValue
        liveness = record.liveness
    }
}

/// One door event as `facegate log --door-events` prints it.
public struct DoorEventLogLine: Encodable, Sendable {
    var time: String
    var door: String
    var event: String
    var detail: String?

    public init(_ event: DoorEventRecord) {
        time = JournalExport.timestamp(event.time)
        door = event.door
        self.event = event.kind.rawValue
        detail = event.detail
    }
}

/// The JSON-lines and CSV forms of `facegate log`.
public enum JournalExport {
    public static let decisionCSVHeader = [
        "time", "id", "door", "outcome", "reason", "backend", "subject_id", "best_score", "second_score", "threshold",
        "score_unit", "offline", "face_quality_score", "capture_ms", "quality_ms", "cloud_ms", "policy_ms", "relay_ms",
        "total_ms", "recheck_status", "recheck_outcome", "recheck_subject_id", "recheck_score", "relay", "liveness",
        "liveness_verdict",
    ]

    public static let doorEventCSVHeader = ["time", "door", "event", "detail"]

    /// One JSON object on one line, keys sorted so that lines diff cleanly.
    public static func jsonLine(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // The encoder escapes C0 controls only: C1 controls and bidirectional overrides in a subject id (the
        // cloud's) would reach the terminal raw (review).
        return TerminalText.escapingInJSON(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    public static func csvRow(_ journaled: JournaledDecision) -> String {
        let record = journaled.record
        let d = record.decision
        let l = record.latencies
        let fields: [String?] = [
            timestamp(record.time), record.id.uuidString, record.door, d.outcome.rawValue, d.reason, record.backend, d.subjectId,
            number(d.bestScore), number(d.secondScore), number(d.threshold), d.scoreUnit?.rawValue, d.offline ? "true" : "false",
            number(record.quality?.faceQualityScore), number(ms(l.capture)), number(ms(l.quality)), number(ms(l.cloud)),
            number(ms(l.policy)), number(ms(l.relay)), number(ms(l.total)), journaled.recheckStatus?.rawValue,
            journaled.recheck?.outcome.rawValue, journaled.recheck?.subjectId, number(journaled.recheck?.score),
            record.relay?.rawValue, number(record.liveness?.liveness), record.liveness?.verdict.rawValue,
        ]
        return csvLine(fields)
    }

    public static func csvRow(_ event: DoorEventRecord) -> String {
        csvLine([timestamp(event.time), event.door, event.kind.rawValue, event.detail])
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. A field a spreadsheet
    /// would take for a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not
    /// a number) gets a single quote before it, as OWASP advises against CSV injection: subject ids come
    /// from the cloud, and a manual unlock's reason from whoever typed it. Both are judged on Unicode
    /// scalars, not characters: Swift takes CR LF for one character, which is neither CR nor LF, and a
    /// field whose only line break was CR LF went out unquoted and split its row (review). Control
    /// characters other than a line feed and a tab (an escape sequence, a carriage return, C1) and the
    /// bidirectional overrides are written as escapes (`\u{1B}`, `\r`), as in the text and JSON forms:
    /// `facegate log --csv | head` shows what was journaled, and cannot have its lines rewritten (review).
    public static func csvLine(_ fields: [String?]) -> String {
        fields.map { field -> String in
            guard var field else { return "" }
            if let first = field.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(field) == nil {
                field = "'" + field
            }
            field = TerminalText.printable(field, keeping: ["\n", "\t"])
            if field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
                return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return field
        }.joined(separator: ",")
    }

    /// UTC, with milliseconds: `2026-11-21T22:46:24.123Z`.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day().time(includingFractionalSeconds: true)
                .timeZone(separator: .omitted))
    }

    static func ms(_ duration: Duration?) -> Double? {
        duration.map { ($0.journalMilliseconds * 1000).rounded() / 1000 }
    }

    private static func number(_ value: Double?) -> String? {
        guard let value else { return nil }
        return value.isFinite ? String(value) : nil
    }
}
