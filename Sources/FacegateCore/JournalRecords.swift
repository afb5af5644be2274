import Foundation

/// One decision as the journal keeps it: what the door decided, and the context to explain it later.
public struct DecisionRecord: Sendable, Hashable {
    /// Chosen by the caller when the decision is made, so later writes (the offline re-check) can
    /// refer to the row before it is on disk.
    public var id: UUID
    public var time: Date
    /// The door's name from the configuration.
    public var door: String
    public var decision: Decision
    /// The cloud backend in use: "nec" or "neocheck".
    public var backend: String
    /// The quality measures of the visit's best face; nil when no face was usable.
    public var quality: QualityMeasures?
    public var latencies: StageLatencies
    /// The visit's best-face JPEG crop; kept only when the journal's `storeProbeCrops` is on.
    public var probeCrop: [UInt8]?
    /// Whether the cloud must re-check this decision when it returns (true for offline decisions by default).
    public var awaitsRecheck: Bool
    /// What the relay did, for a grant; nil until it is journaled (and for decisions that open nothing).
    public var relay: RelayRecord.Result?
    /// The liveness stage's judgement of the visit, with its cue scores; nil when it did not run.
    public var liveness: LivenessAssessment?

    public init(
        id: UUID = UUID(), time: Date, door: String, decision: Decision, backend: String,
        quality: QualityMeasures? = nil, latencies: StageLatencies = StageLatencies(), probeCrop: [UInt8]? = nil,
        awaitsRecheck: Bool? = nil, relay: RelayRecord.Result? = nil, liveness: LivenessAssessment? = nil
    ) {
        self.liveness = liveness
        self.id = id
        self.time = time
        self.door = door
        self.decision = decision
        self.backend = backend
        self.quality = quality
        self.latencies = latencies
        self.probeCrop = probeCrop
        self.awaitsRecheck = awaitsRecheck ?? decision.offline
        self.relay = relay
    }
}

/// How long each stage of one decision took; nil for a stage the visit did not reach.
public struct StageLatencies: Sendable, Hashable {
    public var capture: Duration?
    public var quality: Duration?
    public var cloud: Duration?
    public var policy: Duration?
    public var relay: Duration?
    /// The visit ready (its best face chosen) to the decision made (relay on, when granted); the person's
    /// approach before it is the log line's `approach_ms`.
    public var total: Duration?

    public init(
        capture: Duration? = nil, quality: Duration? = nil, cloud: Duration? = nil, policy: Duration? = nil,
        relay: Duration? = nil, total: Duration? = nil
    ) {
        self.capture = capture
        self.quality = quality
        self.cloud = cloud
        self.policy = policy
        self.relay = relay
        self.total = total
    }
}

/// What happened at a door, apart from decisions.
public enum DoorEventKind: String, Sendable, Hashable, Codable, CaseIterable {
    case opened
    case closed
    case heldOpen = "held-open"
    case forced
    case exitButton = "exit-button"
    /// The door stopped because it could no longer be trusted (its relay would not lock).
    case fault
    /// The daemon started without a part it could not open (the offline cache off, say); the detail
    /// says which and why, in fixed words (no path, value or key).
    case degraded
    /// An enrolment at the door ended (`facegate enrol`): the detail says how, the subject or record it
    /// made, and who asked (uid and pid); never a name or face data.
    case enrolment
    /// The exit button was pressed and did not unlock the door: the relay's write failed ("the relay did
    /// not unlock") or the door refused the press before any write ("the relay was not driven: …", during a
    /// relock's retries, say). The `exit-button` row before it is the press. A failed grant or manual
    /// unlock is its decision's `relay: failed` instead.
    case exitButtonFailed = "exit-button-failed"
}

public struct DoorEventRecord: Sendable, Hashable {
    public var time: Date
    public var door: String
    public var kind: DoorEventKind
    /// A short note (e.g. how long the door was held open); never face data or secrets.
    public var detail: String?

    public init(time: Date, door: String, kind: DoorEventKind, detail: String? = nil) {
        self.time = time
        self.door = door
        self.kind = kind
        self.detail = detail
    }
}

/// The cloud's answer when an offline decision is re-checked after the cloud returns.
public struct RecheckRecord: Sendable, Hashable {
    /// The `DecisionRecord.id` of the offline decision.
    public var decisionId: UUID
    public var time: Date
    /// What the door would have decided with the cloud's answer.
    public var outcome: Decision.Outcome
    public var subjectId: String?
    public var score: Double?
    public var reason: String

    public init(decisionId: UUID, time: Date, outcome: Decision.Outcome, subjectId: String? = nil, score: Double? = nil, reason: String) {
        self.decisionId = decisionId
        self.time = time
        self.outcome = outcome
        self.subjectId = subjectId
        self.score = score
        self.reason = reason
    }
}

/// Where a decision stands with respect to the offline re-check.
public enum RecheckStatus: String, Sendable, Hashable, Codable {
    /// Decided offline; the cloud has not re-checked it yet.
    case pending
    /// The cloud re-checked it and its answer agrees (the door would have done the same).
    case confirmed
    /// The cloud re-checked it and the door would have done otherwise (or opened it for someone else).
    case contradicted
    /// The cloud failed every try to re-check it (a refusal, a reply no search gives): no answer.
    case failed
}

/// A decision read back from the journal.
public struct JournaledDecision: Sendable, Hashable {
    public var record: DecisionRecord
    public var recheckStatus: RecheckStatus?
    public var recheck: RecheckRecord?
    /// Whether a probe crop is stored for it (fetch it with `probeCrop(decisionId:)`).
    public var hasProbeCrop: Bool

    public init(record: DecisionRecord, recheckStatus: RecheckStatus?, recheck: RecheckRecord?, hasProbeCrop: Bool) {
        self.record = record
        self.recheckStatus = recheckStatus
        self.recheck = recheck
        self.hasProbeCrop = hasProbeCrop
    }
}
