import FacegateCore
import FacegatePolicy
import Foundation

/// The best face of a visit, as sent to the cloud and kept for the offline cache.
public struct ProbeFace: Sendable {
    /// The head crop, JPEG: what the cloud searches with.
    public var jpeg: [UInt8]
    public var quality: QualityMeasures

    public init(jpeg: [UInt8], quality: QualityMeasures) {
        self.jpeg = jpeg
        self.quality = quality
    }
}

/// The cloud could not be asked: the offline path decides instead.
public struct CloudUnavailable: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable, timeout, serverError, rateLimited, budgetExhausted
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// The identify stage: one cloud search per visit.
public protocol FaceSearch: Sendable {
    var backendName: String { get }
    var scoreUnit: ScoreUnit { get }
    /// Candidates for the probe, closest first. Throws `CloudUnavailable` when the service cannot be
    /// reached (connection, timeout, 5xx, rate limit); any other error is a failed search.
    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate]
}

/// The offline fallback: faces the cloud matched before, stored locally.
public protocol OfflineFaceStore: Sendable {
    /// Remembers a face the cloud just granted.
    func remember(subjectId: String, tags: Set<String>, descriptor: FaceDescriptor, at time: Date) async throws
    /// Candidates by descriptor distance, closest first; expired entries never match.
    func match(_ descriptor: FaceDescriptor, at time: Date) async throws -> [MatchCandidate]
}

/// Per-stage latencies of one decision, in milliseconds.
public struct StageLatencies: Sendable, Hashable, Codable {
    /// From the best frame's capture to its face analysis done.
    public var capture: Double?
    public var quality: Double?
    public var cloud: Double?
    public var policy: Double?
    public var relay: Double?
    /// From the visit's emission to the decision acted on.
    public var total: Double?

    public init() {}
}

/// One decision with its context, for the journal.
public struct GateDecisionRecord: Sendable {
    public var time: Date
    public var door: String
    public var backend: String
    public var decision: Decision
    public var visitNumber: Int
    public var quality: QualityMeasures?
    public var latencies: StageLatencies
    /// The probe crop, for a decision made offline (to re-check later) or when crops are kept.
    public var probeJPEG: [UInt8]?
    /// Whether the cloud was called for this visit.
    public var cloudCalled: Bool

    public init(
        time: Date, door: String, backend: String, decision: Decision, visitNumber: Int, quality: QualityMeasures?,
        latencies: StageLatencies, probeJPEG: [UInt8]?, cloudCalled: Bool
    ) {
        self.time = time
        self.door = door
        self.backend = backend
        self.decision = decision
        self.visitNumber = visitNumber
        self.quality = quality
        self.latencies = latencies
        self.probeJPEG = probeJPEG
        self.cloudCalled = cloudCalled
    }
}

/// Where decisions go: the SQLite journal in the daemon. Recording never blocks the door path.
public protocol GateJournal: Sendable {
    func record(_ decision: GateDecisionRecord) async
    func record(doorEvent: DoorEvent, door: String, at time: Date) async
}
