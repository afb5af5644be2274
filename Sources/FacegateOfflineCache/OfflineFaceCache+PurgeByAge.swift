import FacegateCore
import Foundation

extension OfflineFaceCache {
    /// How far a stored date may be ahead of the clock before the clock is doubted (as the door allows).
    public static let purgeClockAllowance: TimeInterval = 300

    /// Why the clock cannot be trusted to delete faces by age (`facegate cache purge --expired`), or nil. A
    /// clock that runs ahead makes every face look expired: deleting by age needs positive evidence (the
    /// daemon's rule), here the kernel's word that a time daemon keeps the clock synchronised, and no cached
    /// face dated later than the clock reads (a clock that was ahead when it cached them, or has been set
    /// back since, is not to be trusted either).
    public static func doubtAboutPurgingByAge(
        _ cache: OfflineFaceCache, now: Date,
        synchronisedSystemTime: @Sendable () -> Date? = { WallClockEvidence.synchronisedSystemTime() }
    ) async throws(OfflineCacheError) -> String? {
        if let newest = try await cache.newestRememberedAt(), newest.timeIntervalSince(now) > purgeClockAllowance {
            let minutes = Int(newest.timeIntervalSince(now) / 60)
            return "a cached face is dated \(minutes) minutes later than this machine's clock reads"
        }
        guard WallClockEvidence.vouches(for: now, synchronisedSystemTime: synchronisedSystemTime) else {
            return "no time daemon keeps this machine's clock synchronised (the kernel says so)"
        }
        return nil
    }
}
