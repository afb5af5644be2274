extension DoorPolicy {
    /// What this door searches now: its tags (NEC ID; empty searches everyone) or its face list (NeoCheck).
    public var searchScope: Set<String> {
        switch scoreUnit {
        case .neoCheckConfidence: faceList.map { [$0] } ?? []
        case .necScore, .descriptorDistance: Set(searchTags)
        }
    }

    /// Whether a face granted under `scope` (the door's search scope at the time; nil when unknown,
    /// as for faces cached by an older facegate) is still one this door searches for.
    ///
    /// Every tag the grant was made under must still be searched: NEC ID does not say which of several
    /// searched tags a match carries, so keeping one of them is no proof. A door that searches
    /// everyone (NEC ID with no tags) still searches every face.
    public func stillSearches(grantedUnder scope: Set<String>?) -> Bool {
        if scoreUnit == .necScore, searchTags.isEmpty { return true }
        guard let scope, !scope.isEmpty else { return false }
        return scope.isSubset(of: searchScope)
    }

    /// Whether a face the cloud granted at `score` in `unit` (sealed with the cached face) would still be
    /// granted under this door's threshold now: a threshold raised since stops a face cached under the laxer
    /// one from opening the door offline (a look-alike the cloud matched just over the old threshold). A face
    /// cached without its score (by an earlier facegate), a score in another unit, or one that is not finite
    /// proves nothing and never counts: it is cached again, with its score, at the next online grant.
    public func stillGrants(cloudScore score: Double?, unit: ScoreUnit?) -> Bool {
        guard let score, let unit, unit == scoreUnit, unit.higherIsCloser, score.isFinite, threshold.isFinite else { return false }
        return score >= threshold
    }
}
