/// What the door did about one visit, and why. A denial is a value, never a thrown error.
public struct Decision: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case granted
        case deniedUnknown = "denied-unknown"
        case deniedBelowThreshold = "denied-below-threshold"
        case deniedAmbiguous = "denied-ambiguous"
        case deniedSchedule = "denied-schedule"
        case deniedDenyList = "denied-deny-list"
        case deniedQuality = "denied-quality"
        /// The liveness stage judged the face a presentation attack (a photo, a screen), or could not
        /// judge it and the door denies what it cannot judge. No cloud call was made.
        case deniedPresentationAttack = "denied-presentation-attack"
        /// The same person was granted within the door's re-entry cooldown (anti-passback).
        case deniedReentry = "denied-reentry"
        case deniedOffline = "denied-offline"
        case grantedOffline = "granted-offline"
        case error
        /// An operator opened the door through the control socket (`facegate door unlock --reason`).
        case manualUnlock = "manual-unlock"

        /// Whether the relay is pulsed.
        public var opensDoor: Bool { self == .granted || self == .grantedOffline || self == .manualUnlock }
    }

    public var outcome: Outcome
    /// A sentence for the journal and the log (never face data or secrets).
    public var reason: String
    /// The subject the decision is about, when one was identified.
    public var subjectId: String?
    /// Best and second-best candidate scores, in the units of `scoreUnit`.
    public var bestScore: Double?
    public var secondScore: Double?
    /// The threshold applied, in the same units.
    public var threshold: Double?
    public var scoreUnit: ScoreUnit?
    /// Decided from the offline cache rather than the cloud.
    public var offline: Bool

    public init(
        outcome: Outcome, reason: String, subjectId: String? = nil, bestScore: Double? = nil, secondScore: Double? = nil,
        threshold: Double? = nil, scoreUnit: ScoreUnit? = nil, offline: Bool = false
    ) {
        self.outcome = outcome
        self.reason = reason
        self.subjectId = subjectId
        self.bestScore = bestScore
        self.secondScore = secondScore
        self.threshold = threshold
        self.scoreUnit = scoreUnit
        self.offline = offline
    }
}

/// The unit a match score is in; each backend has its own.
public enum ScoreUnit: String, Sendable, Hashable, Codable {
    /// NEC ID's search score, 0...9999.
    case necScore
    /// NeoCheck FaceCheck's confidence, 0...100.
    case neoCheckConfidence
    /// Descriptor distance of the local offline match: lower is closer.
    case descriptorDistance

    /// Whether a higher value means a closer match.
    public var higherIsCloser: Bool { self != .descriptorDistance }

    /// The scores this unit can take: anything outside is a broken reply or cache entry, never a match.
    public var validScores: ClosedRange<Double> {
        switch self {
        case .necScore: 0...9999
        case .neoCheckConfidence: 0...100
        case .descriptorDistance: 0...Double.greatestFiniteMagnitude
        }
    }
}

/// One person a search returned.
public struct MatchCandidate: Sendable, Hashable, Codable {
    public var subjectId: String
    public var score: Double
    /// Tags (NEC) or face lists (NeoCheck) the subject carries, for per-tag schedules.
    public var tags: Set<String>
    /// Offline candidates only: whether the subject was granted under a search this door still makes
    /// (its tags or face list then) at a cloud score its threshold still grants (a threshold raised since,
    /// or a face cached without its score, does not). nil for the cloud's candidates, which the current
    /// search found.
    public var stillSearched: Bool?
    /// Offline candidates only: the subject's faces were to be purged from the cache (the cloud contradicted
    /// an offline grant of them, or revoked them) and the disk refused the delete. Never let in offline
    /// until the purge succeeds; still counted for the margin, as the face is still there.
    public var withdrawn: Bool

    public init(subjectId: String, score: Double, tags: Set<String> = [], stillSearched: Bool? = nil, withdrawn: Bool = false) {
        self.subjectId = subjectId
        self.score = score
        self.tags = tags
        self.stillSearched = stillSearched
        self.withdrawn = withdrawn
    }
}

/// What the identify stage made of a visit's best face.
public enum Identification: Sendable, Hashable {
    /// The cloud answered; candidates closest first (empty: nobody passed the service's own threshold).
    case cloud(candidates: [MatchCandidate], unit: ScoreUnit)
    /// The cloud could not be reached and the offline cache was searched; closest first.
    case offline(candidates: [MatchCandidate], cloudFailure: String)
    /// The cloud could not be reached and there is no usable offline cache.
    case unavailable(cloudFailure: String)
    /// The cloud answered with something other than a result (a refused request, a bad reply).
    case failed(cause: String)
}
