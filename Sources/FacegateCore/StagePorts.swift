import Foundation

// The ports between the stages of the data flow. Each stage module adapts its I/O to one of these and
// FacegateApp composes them; no stage module imports another.

/// The quality stage as the door's pipeline uses it: the faces in a frame with their quality, and a
/// face's descriptor for the offline cache. dlib's core in the daemon; a scripted one in tests.
public protocol FrameAnalyzing: Sendable {
    /// The faces the detector finds where `plan` says to look, with their quality measures;
    /// `descriptorLimit` faces (largest first) also get a descriptor.
    func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis
    /// The descriptor of one face found in `image`.
    func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor
}

/// Where in a frame the face detector looks, and at what scale: the detector's cost grows with the
/// pixels it scans, and it finds faces of about 80 scanned pixels and up.
public enum DetectionPlan: Sendable, Hashable {
    /// The whole frame, scaled to the configured detection width.
    case wholeFrame
    /// Only these parts of the frame, each at its own scale.
    case regions([DetectionRegion])
}

/// A part of a frame to scan for faces: `area` in the frame's pixels, scanned at `scale` (2 doubles it,
/// finding faces half the detector's smallest; 0.5 halves it).
public struct DetectionRegion: Sendable, Hashable {
    public var area: PixelBox
    public var scale: Double

    public init(area: PixelBox, scale: Double) {
        self.area = area
        self.scale = scale
    }
}

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

/// A cloud call's failure that says whether the call may have been carried out all the same (a reply that
/// came too late, too large or unreadable, a 5xx): what a failed registration tells the installer.
public protocol CloudCallFailure: Error {
    var mayHaveBeenCarriedOut: Bool { get }
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
    /// Which of the cached `subjects` the cloud no longer lets in as they were cached: deleted, disabled,
    /// out of the door's search, or changed since (each subject comes with when its earliest cached face
    /// was remembered). May check only part of them per call when checking costs calls; repeated calls
    /// cover all. Throws `CloudUnavailable` when the cloud cannot be asked.
    func revokedSubjects(among subjects: [String: Date], policy: DoorPolicy) async throws -> Set<String>
}

/// The offline fallback: faces the cloud matched before, stored locally.
public protocol OfflineFaceStore: Sendable {
    /// Remembers a face the cloud just granted under the door's current search (`policy.searchScope`), at
    /// `score` in `unit` (the cloud's own), so that a threshold raised later applies to it offline.
    func remember(
        subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, score: Double, unit: ScoreUnit, descriptor: FaceDescriptor,
        at time: Date
    ) async throws
    /// Candidates by descriptor distance, closest first; expired entries never match. Each says whether
    /// it was granted under a search `policy` still makes and at a score its threshold still grants
    /// (`MatchCandidate.stillSearched`).
    func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate]
    /// Keeps the probe of a decision made offline until the cloud re-checks it; returns the re-check's id.
    /// `grantedSubject` is who an offline grant let in, so that a contradicting re-check can purge them.
    @discardableResult
    func addPendingRecheck(decisionId: UUID, door: String, grantedSubject: String?, probe: [UInt8], at time: Date) async throws -> UUID
    /// Offline decisions still waiting for the cloud, oldest first.
    func pendingRechecks(limit: Int?, at time: Date) async throws -> [PendingRecheck]
    /// Drops a re-check once its result is journaled.
    func completeRecheck(_ id: UUID) async throws
    /// Counts a round in which the cloud failed the re-check (`PendingRecheck.attempts`).
    func noteRecheckAttempt(_ id: UUID) async throws
    /// Every subject with a face in the cache, with when its earliest cached face was remembered.
    func cachedSubjectsSince() async throws -> [String: Date]
    /// When the newest face was remembered (a time after now means the clock is wrong).
    func newestRememberedAt() async throws -> Date?
    /// Forgets every face of these subjects; returns how many faces went.
    @discardableResult
    func forget(subjects: Set<String>) async throws -> Int
    /// Forgets every face remembered later than `time` (dated by a clock that ran ahead); returns how many went.
    @discardableResult
    func forgetFaces(rememberedAfter time: Date) async throws -> Int
    /// Deletes the faces and re-checks past their life at `time` (they never match: this takes them off
    /// the disk); returns how many went.
    @discardableResult
    func forgetExpired(at time: Date) async throws -> Int
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
    /// The newest decision or door event on disk (a clock earlier than it has been set back); nil when there is none.
    /// Throws when the journal cannot be read: that is not the same as an empty journal.
    func newestRecordTime() async throws -> Date?
    /// The newest decision or door event handed to it in this run (written or still waiting), from memory:
    /// what moves the clock's stored witness on between decisions (an exit press, a manual unlock).
    var newestHandedTime: Date? { get }
    /// Keeps `time`, the wall clock's reading at a moment the cloud's time vouched for it, in place of the
    /// one kept before: counted by ``newestRecordTime()`` at the next start. Returns at once; false when
    /// it was not taken.
    @discardableResult func recordClockSeenRight(at time: Date) -> Bool
    /// Each subject's latest grant at `door` dated no earlier than `window` before the later of `now` and
    /// the door's newest decision (so a clock set back since reads the grants of the run before, not every
    /// grant ever dated after it), leaving out grants whose relay could not be driven or was withheld: who may still be
    /// within the re-entry cooldown when the daemon starts again. Throws when the journal cannot be read.
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant]
}

extension GateJournal {
    /// A journal that keeps no such note (a test's): the pipeline's own decisions still count.
    public var newestHandedTime: Date? { nil }
    /// A journal that keeps no witness of the clock (a test's): its records alone witness it.
    @discardableResult public func recordClockSeenRight(at time: Date) -> Bool { false }
}

/// A grant on disk: who was let in, and when.
public struct JournaledGrant: Sendable, Hashable {
    public var subjectId: String
    public var time: Date

    public init(subjectId: String, time: Date) {
        self.subjectId = subjectId
        self.time = time
    }
}

/// An offline decision's probe waiting for the cloud.
public struct PendingRecheck: Sendable, Hashable {
    public var id: UUID
    /// The journal's `DecisionRecord.id`.
    public var decisionId: UUID
    public var door: String
    public var createdAt: Date
    /// Failed re-check attempts so far.
    public var attempts: Int
    /// Who the offline decision let in; nil for a denial.
    public var grantedSubject: String?
    /// The best-face JPEG crop of the visit.
    public var probe: [UInt8]

    public init(
        id: UUID, decisionId: UUID, door: String, createdAt: Date, attempts: Int, grantedSubject: String?, probe: [UInt8]
    ) {
        self.id = id
        self.decisionId = decisionId
        self.door = door
        self.createdAt = createdAt
        self.attempts = attempts
        self.grantedSubject = grantedSubject
        self.probe = probe
    }
}
