import FacegateCore
import FacegateJournal
import FacegateOfflineCache
import FacegatePolicy
import Foundation

/// The best face of a visit, as sent to the cloud and kept for the offline cache.
public struct ProbeFace: Sendable {
    /// The head crop, JPEG: what the cloud searches with.
    public var jpeg: [UInt8]
    /// Unknown for a probe kept from an earlier visit (an offline re-check).
    public var quality: QualityMeasures?

    public init(jpeg: [UInt8], quality: QualityMeasures?) {
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

/// A cheap way to tell whether the cloud is back, without spending a search or sending a face.
public protocol CloudReachability: Sendable {
    /// Returns when the service answers; throws `CloudUnavailable` when it cannot be reached.
    func checkReachable() async throws
}

/// The cloud's register of people, for keeping the offline cache honest.
public protocol CloudDirectory: Sendable {
    /// Which of `subjects` the cloud no longer lets in (deleted, disabled). May check only part of
    /// them per call when checking costs calls; repeated calls cover all. Throws `CloudUnavailable`
    /// when the cloud cannot be asked.
    func revokedSubjects(among subjects: Set<String>, policy: DoorPolicy) async throws -> Set<String>
}

/// The offline fallback: faces the cloud matched before, stored locally.
public protocol OfflineFaceStore: Sendable {
    /// Remembers a face the cloud just granted under the door's current search (`policy.searchScope`).
    func remember(subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, descriptor: FaceDescriptor, at time: Date)
        async throws
    /// Candidates by descriptor distance, closest first; expired entries never match. Each says whether
    /// it was granted under a search `policy` still makes (`MatchCandidate.stillSearched`).
    func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate]
    /// Keeps the probe of a decision made offline until the cloud re-checks it; returns the re-check's id.
    /// `grantedSubject` is who an offline grant let in, so that a contradicting re-check can purge them.
    @discardableResult
    func addPendingRecheck(decisionId: UUID, door: String, grantedSubject: String?, probe: [UInt8], at time: Date) async throws -> UUID
    /// Offline decisions still waiting for the cloud, oldest first.
    func pendingRechecks(limit: Int?, at time: Date) async throws -> [PendingRecheck]
    /// Drops a re-check once its result is journaled.
    func completeRecheck(_ id: UUID) async throws
    /// Every subject with a face in the cache.
    func cachedSubjectIds() async throws -> Set<String>
    /// When the newest face was remembered (a time after now means the clock is wrong).
    func newestRememberedAt() async throws -> Date?
    /// Forgets every face of these subjects; returns how many faces went.
    @discardableResult
    func forget(subjects: Set<String>) async throws -> Int
}

extension OfflineFaceCache: OfflineFaceStore {
    public func remember(
        subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, descriptor: FaceDescriptor, at time: Date
    ) async throws {
        try await remember(subjectId: subjectId, tags: tags, grantedUnder: policy.searchScope, descriptor: descriptor, at: time)
    }

    public func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate] {
        try await match(descriptor, at: time, stillSearches: { policy.stillSearches(grantedUnder: $0) })
    }

    public func forget(subjects: Set<String>) async throws -> Int {
        try await purge(subjectIds: subjects)
    }
}

/// One decision as the pipeline reports it to observers (the demo, tests).
public struct GateOutcome: Sendable {
    /// What went to the journal.
    public var record: DecisionRecord
    public var visitNumber: Int
    /// Sequence number of the frame the visit's best face came from.
    public var bestFrameSequence: UInt64
    /// Whether the cloud was called for this visit.
    public var cloudCalled: Bool
    /// The visit's best-face crop, when one was made.
    public var probeJPEG: [UInt8]?
    /// From the face's first frame to the frame that completed the visit (the selector waiting for
    /// the best face), in the camera's time; face-first-seen to decision is this plus `latencies.total`.
    public var approach: Duration
}

/// Where decisions and door events go: the SQLite journal in the daemon. Recording never waits.
public protocol GateJournal: Sendable {
    @discardableResult func record(_ decision: DecisionRecord) -> Bool
    @discardableResult func record(_ event: DoorEventRecord) -> Bool
    @discardableResult func recordRecheck(_ recheck: RecheckRecord) -> Bool
    /// What the relay did for a granted decision that is already recorded.
    @discardableResult func recordRelay(_ relay: RelayRecord) -> Bool
    /// Waits until everything recorded so far is on disk.
    func flush() async throws
    /// The newest decision on disk (a clock earlier than it has been set back); nil when unknown.
    func newestDecisionTime() async -> Date?
}

extension SQLiteJournal: GateJournal {}

extension DoorEvent {
    /// The journal's name for this event; nil for relay changes, which the decisions already record.
    public var journalKind: DoorEventKind? {
        switch self {
        case .opened: .opened
        case .closed: .closed
        case .heldOpen: .heldOpen
        case .forcedOpen: .forced
        case .requestToExit: .exitButton
        case .fault: .fault
        case .unlocked, .locked: nil
        }
    }
}

/// Copies a door's events into the journal until the door stops or the task is cancelled.
public func journalDoorEvents(of door: any DoorActuator, named name: String, into journal: any GateJournal) async {
    for await event in await door.events() {
        guard let kind = event.journalKind else { continue }
        var detail: String?
        if case .opened(let authorized) = event { detail = authorized ? "after an unlock" : "without an unlock" }
        if case .fault(let fault) = event { detail = fault.description }
        journal.record(DoorEventRecord(time: Date(), door: name, kind: kind, detail: detail))
    }
}
