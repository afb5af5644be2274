import Foundation

/// One door's rules.
public struct DoorPolicy: Sendable, Hashable {
    public var door: String
    /// The least cloud score that identifies someone, in `scoreUnit` (NEC 0...9999, NeoCheck 0...100).
    public var threshold: Double
    public var scoreUnit: ScoreUnit
    /// The least gap between the best and second candidate's scores; closer is ambiguous.
    public var minimumMargin: Double?
    /// Offline, the largest descriptor distance that identifies someone: stricter than the cloud.
    public var offlineMaxDistance: Double
    /// Offline, the least gap between the best and second candidate's distances.
    public var offlineMinimumMargin: Double?
    /// Who may enter when; with no schedule that applies to a person, they may enter at any time.
    public var schedules: [AccessSchedule]
    /// Subjects never let in, whatever the match.
    public var denyList: Set<String> { didSet { denyListKeys = Self.keys(of: denyList) } }
    /// `denyList` as ``SubjectIdentity/key(_:)`` compares ids, made once: a decision looks its subject up
    /// rather than normalising every entry of a deny list that may hold 100,000 ids.
    public private(set) var denyListKeys: Set<String>
    /// A subject granted within this long is refused (anti-passback); zero turns it off.
    public var reentryCooldown: Duration
    /// NEC ID: the tags searched; a subject matches if it carries any of them (empty searches everyone).
    public var searchTags: [String]
    /// NeoCheck: the face list searched, by identifier or name.
    public var faceList: String?

    /// The lowest score a search must return for this policy to judge its answer (NEC ID's search
    /// `threshold`): the threshold less the margin, so that a close second candidate is seen.
    public var searchFloor: Double { threshold - (minimumMargin ?? 0) }

    private static func keys(of ids: Set<String>) -> Set<String> { Set(ids.map(SubjectIdentity.key)) }

    public init(
        door: String, threshold: Double, scoreUnit: ScoreUnit, minimumMargin: Double? = nil, offlineMaxDistance: Double = 0.42,
        offlineMinimumMargin: Double? = 0.05, schedules: [AccessSchedule] = [], denyList: Set<String> = [],
        reentryCooldown: Duration = .zero, searchTags: [String] = [], faceList: String? = nil
    ) {
        self.door = door
        self.threshold = threshold
        self.scoreUnit = scoreUnit
        self.minimumMargin = minimumMargin
        self.offlineMaxDistance = offlineMaxDistance
        self.offlineMinimumMargin = offlineMinimumMargin
        self.schedules = schedules
        self.denyList = denyList
        self.denyListKeys = Self.keys(of: denyList)
        self.reentryCooldown = reentryCooldown
        self.searchTags = searchTags
        self.faceList = faceList
    }
}
