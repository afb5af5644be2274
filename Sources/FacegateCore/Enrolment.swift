import Foundation

// Enrolment at the door: the next approach on the door's own camera becomes a new person in the cloud
// (an NEC ID subject, or another event of one; a NeoCheck face record in a face list).

/// Who a face is enrolled as, in each backend's own terms; a backend ignores what is not its own and
/// says what it misses (``FaceEnrolling/problem(with:policy:)``).
public struct EnrolmentRequest: Codable, Sendable, Equatable {
    /// NEC ID: the tags to register against (none: the door's own `tags`, so that this door finds them).
    public var tags: [String]
    /// NEC ID: an existing subject to add this face to as another event (nil: a new subject).
    public var subject: String?
    /// NeoCheck: the person's name and first surname (both required), second surname.
    public var name: String?
    public var surname1: String?
    public var surname2: String?
    /// NeoCheck: the installer's own identifier for the record.
    public var externalId: String?
    /// NeoCheck: the face list to put the record in (nil: the door's `face_list`).
    public var faceList: String?

    public init(
        tags: [String] = [], subject: String? = nil, name: String? = nil, surname1: String? = nil, surname2: String? = nil,
        externalId: String? = nil, faceList: String? = nil
    ) {
        self.tags = tags
        self.subject = subject
        self.name = name
        self.surname1 = surname1
        self.surname2 = surname2
        self.externalId = externalId
        self.faceList = faceList
    }
}

/// What the cloud made of an enrolled face.
public struct EnrolmentReceipt: Codable, Sendable, Equatable {
    /// The backend's name (`nec`, `neocheck`).
    public var backend: String
    /// The subject (NEC ID) or face record (NeoCheck) that now carries the face: what a grant names.
    public var subjectId: String
    /// NEC ID: the event the face was registered as.
    public var eventId: String?
    /// Where it was registered: NEC ID's tags, or NeoCheck's face list.
    public var registeredUnder: [String]

    public init(backend: String, subjectId: String, eventId: String? = nil, registeredUnder: [String]) {
        self.backend = backend
        self.subjectId = subjectId
        self.eventId = eventId
        self.registeredUnder = registeredUnder
    }
}

/// How an enrolment ended. The probe image is in none of it: it is sent to the cloud and forgotten.
public struct EnrolmentOutcome: Codable, Sendable, Equatable {
    public enum Result: String, Codable, Sendable {
        /// The face is in the cloud: ``EnrolmentOutcome/receipt`` says as whom.
        case enrolled
        /// The approach's best face failed the enrolment gate (size, pose, sharpness, light, others in view).
        case poorFace = "poor-face"
        /// The liveness stage did not judge the face live (a photo, a screen, or too little to tell).
        case notLive = "not-live"
        /// The face matches someone already enrolled (``EnrolmentOutcome/duplicateOf``).
        case duplicate
        /// A face to add to an existing subject that does not match that subject: whoever stepped up
        /// first is not given someone else's access.
        case notTheSubject = "not-the-subject"
        /// Nobody approached in time.
        case timedOut = "timed-out"
        /// Another enrolment is waiting for its approach.
        case busy
        /// The request cannot be carried out as asked (a NeoCheck record without a name, say).
        case invalidRequest = "invalid-request"
        /// The cloud could not be asked, or refused; nothing was enrolled.
        case cloudFailed = "cloud-failed"
    }

    public var result: Result
    /// One sentence for the installer: what happened, or why not.
    public var reason: String
    public var receipt: EnrolmentReceipt?
    /// The subject the face already matches, and how closely (in the backend's score unit).
    public var duplicateOf: String?
    public var duplicateScore: Double?
    /// The best face's combined quality (0...1), when a face was judged.
    public var quality: Double?
    /// The liveness stage's score (0...1), when it judged the face.
    public var liveness: Double?
    /// What a failed enrolment made in the cloud and could not remove again (a NeoCheck record id), for
    /// the installer to remove (``reason`` says how). For the CLI's output only: never in a log line.
    public var leftInCloud: String?
    /// False when the face got past the gate with no liveness stage to judge it (`liveness.enabled: false`):
    /// a photo held up to the camera would have been taken. Nil when the enrolment ended before that.
    public var livenessChecked: Bool?
    /// True when the registration was sent and no result came back (no answer in time, a 5xx, an answer that
    /// could not be read): the cloud may have enrolled the face all the same, and may open the door for it.
    public var mayHaveBeenEnrolled: Bool?

    public init(
        _ result: Result, reason: String, receipt: EnrolmentReceipt? = nil, duplicateOf: String? = nil, duplicateScore: Double? = nil,
        quality: Double? = nil, liveness: Double? = nil, leftInCloud: String? = nil
    ) {
        self.result = result
        self.reason = reason
        self.receipt = receipt
        self.duplicateOf = duplicateOf
        self.duplicateScore = duplicateScore
        self.quality = quality
        self.liveness = liveness
        self.leftInCloud = leftInCloud
    }

    public var enrolled: Bool { result == .enrolled }
}

/// An enrolment as the kiosk follows it: no id, name or reason, only how it stands.
public enum EnrolmentProgress: Sendable, Equatable {
    /// Waiting for the next approach.
    case waiting
    /// Ended this way.
    case finished(EnrolmentOutcome.Result)
}

/// A cloud backend's register of people, as enrolment at the door uses it.
public protocol FaceEnrolling: Sendable {
    /// What is wrong with `request` for this backend at this door (nil when it can be carried out):
    /// checked before anyone is asked to approach.
    func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String?
    /// The search that finds an existing enrolment of the same person: the whole register the
    /// request would add to (NEC ID: every tag; NeoCheck: the target face list).
    func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy
    /// Everyone already enrolled whom the probe matches, in the register the request would add to: the
    /// duplicate check's candidates. A match the door would not let in (a disabled record) is one too:
    /// enrolling that person again would give back the access someone took away.
    func enrolledMatches(
        of probe: ProbeFace, for request: EnrolmentRequest, door policy: DoorPolicy, search: any FaceSearch
    ) async throws -> [MatchCandidate]
    /// Registers the probe's face as the request says. Throws `CloudUnavailable` when the service
    /// cannot be reached; any other error is the service's refusal. A registration that fails after
    /// making part of it (a record not yet in its list) undoes that part, even when cancelled, and
    /// throws ``PartlyMadeEnrolment`` saying what became of it.
    func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt
    /// How the installer finds out whether a registration whose answer never came (the time limit
    /// passed, the connection broke) was made all the same: a command, with no face data.
    func howToCheckAnUnansweredEnrolment(_ request: EnrolmentRequest, policy: DoorPolicy) -> String
}

extension FaceEnrolling {
    /// The door's own search over `duplicateSearchPolicy`: for a backend whose search hides nobody enrolled.
    public func enrolledMatches(
        of probe: ProbeFace, for request: EnrolmentRequest, door policy: DoorPolicy, search: any FaceSearch
    ) async throws -> [MatchCandidate] {
        try await search.search(probe, policy: duplicateSearchPolicy(for: request, door: policy))
    }

    public func howToCheckAnUnansweredEnrolment(_ request: EnrolmentRequest, policy: DoorPolicy) -> String {
        "enrolling the person again is refused as a duplicate naming the enrolment, if it was made"
    }
}

/// A registration that failed after part of it was made in the cloud (a NeoCheck record created, not yet in
/// its face list), and what became of that part. Its identifier is for the installer (the CLI shows it),
/// not for log lines.
public struct PartlyMadeEnrolment: Error, Sendable, CustomStringConvertible {
    /// Why the registration failed.
    public var failure: any Error
    /// What became of the part made: removed again, or left (naming it and how to remove it).
    public var aftermath: String
    /// The identifier of what is left in the cloud; nil when it was removed again.
    public var leftInCloud: String?

    public init(failure: any Error, aftermath: String, leftInCloud: String? = nil) {
        self.failure = failure
        self.aftermath = aftermath
        self.leftInCloud = leftInCloud
    }

    public var description: String { "\(failure); \(aftermath)" }
}
