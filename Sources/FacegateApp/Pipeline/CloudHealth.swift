import FacegateCore

/// The cloud's health as the door's decisions see it.
///
/// After a search finds the cloud unavailable, later visits are decided from the offline cache at
/// once instead of each waiting out the decision deadline. The cloud counts as back when a probe
/// reaches it (``CloudReachability``) or when a visit let through to the cloud again answers: one per
/// `retryInterval` for a backend without a cheap probe, one per ``probedTrialInterval`` with one, so a
/// probe that keeps failing while searches would work (a health call a gateway blocks, a health check
/// that says unhealthy) cannot keep the door offline, and every face out of the cache as it ages, for
/// good (review). Pure: the caller supplies the time.
struct CloudHealth<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Outage: Sendable {
        var since: Instant
        var failure: String
        /// When the next visit may try the cloud itself (backends without a probe).
        var nextTrial: Instant
    }

    /// How often the cloud is tried again while it is away.
    let retryInterval: Duration
    /// Whether a background probe watches for the cloud's return (else visits try it in turn).
    let hasProbe: Bool
    private(set) var outage: Outage?

    init(retryInterval: Duration, hasProbe: Bool) {
        self.retryInterval = retryInterval
        self.hasProbe = hasProbe
    }

    /// With a probe watching, a visit still tries the cloud itself this often (a minute at the default 5 s
    /// retry): during a real outage that visit waits out the decision deadline, once a minute.
    var probedTrialInterval: Duration { retryInterval * 12 }

    /// How long after the last trial the next visit may try the cloud itself.
    private var trialInterval: Duration { hasProbe ? probedTrialInterval : retryInterval }

    var isDown: Bool { outage != nil }

    /// The failure to decide offline with, or nil when this visit should ask the cloud.
    mutating func outageToSkip(at now: Instant) -> String? {
        guard var current = outage else { return nil }
        if now >= current.nextTrial {
            current.nextTrial = now.advanced(by: trialInterval)
            outage = current
            return nil
        }
        return current.failure + "; the cloud is not asked again until it is back"
    }

    /// A search or probe found the cloud unavailable.
    mutating func failed(_ failure: String, at now: Instant) {
        if outage == nil {
            outage = Outage(since: now, failure: failure, nextTrial: now.advanced(by: trialInterval))
        } else {
            outage?.failure = failure
        }
    }

    /// The cloud answered (whatever it said): it is reachable.
    /// - Returns: how long it had been away, when it had.
    @discardableResult
    mutating func answered(at now: Instant) -> Duration? {
        defer { outage = nil }
        return outage.map { $0.since.duration(to: now) }
    }
}
