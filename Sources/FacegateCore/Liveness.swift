/// Whether the face of a visit belongs to a live person in front of the camera, or to a
/// presentation attack: a printed photo, a screen, a mask (ISO/IEC 30107 vocabulary).
public enum LivenessVerdict: String, Sendable, Hashable, Codable, CaseIterable {
    case live
    case attack
    /// The visit gave too little to judge: no texture judgement of the face to be sent (no usable crop
    /// of it) and no attack evidence elsewhere, or nothing any cue could measure.
    case uncertain
}

/// What the door does with a visit the liveness stage could not judge.
public enum UncertainLivenessPolicy: String, Sendable, Hashable, CaseIterable {
    /// Deny, and let the person try again (the default: an attack must not win by giving too little to judge).
    case deny
    /// Identify the visit as if it had been judged live.
    case allow
}

/// The liveness stage's judgement of one visit.
public struct LivenessAssessment: Sendable, Hashable, Codable {
    /// 0 (surely an attack) ... 1 (surely live).
    public var liveness: Double
    public var verdict: LivenessVerdict
    /// Each cue's own score in 0...1 by cue name; a cue that could not judge is absent.
    public var cues: [String: Double]
    /// A sentence for the journal and the log: which cue refused, or why nothing could judge.
    public var reason: String

    public init(liveness: Double, verdict: LivenessVerdict, cues: [String: Double], reason: String) {
        self.liveness = liveness
        self.verdict = verdict
        self.cues = cues
        self.reason = reason
    }
}

/// Where a visit's face was in one analysed frame: the temporal cue's input.
public struct FaceSighting: Sendable, Hashable {
    public var timestamp: Duration
    public var box: PixelBox
    public var landmarks: FaceLandmarks

    public init(timestamp: Duration, box: PixelBox, landmarks: FaceLandmarks) {
        self.timestamp = timestamp
        self.box = box
        self.landmarks = landmarks
    }
}

/// A frame kept from a visit, with the face's box in it: the texture cue's input.
public struct VisitSample: Sendable {
    public var timestamp: Duration
    public var image: PixelImage
    public var box: PixelBox
    /// Whether this is the frame of the visit's best face: the face the cloud is sent, which must pass
    /// on its own (a photo held up for one frame of a live approach is outvoted by the others otherwise).
    public var isBestFace: Bool

    public init(timestamp: Duration, image: PixelImage, box: PixelBox, isBestFace: Bool = false) {
        self.timestamp = timestamp
        self.image = image
        self.box = box
        self.isBestFace = isBestFace
    }
}

/// The liveness stage: judges a whole visit (not one still) before any cloud call.
public protocol PresentationAttackDetecting: Sendable {
    func assess(_ visit: Visit) throws -> LivenessAssessment
}
