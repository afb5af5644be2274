import Foundation
import Synchronization

/// The cloud's clock, as its replies state it: the witness the door's wall clock is checked against
/// before it applies a schedule or lets anyone in offline.
public protocol CloudClockWitness: Sendable {
    /// The cloud's time now, from its latest reply and the monotonic time since; nil when no reply has
    /// stated it within ``CloudClock/longestCarry``.
    func cloudTimeNow() -> Date?
}

/// The time the cloud's latest reply stated (its `Date` header, RFC 9110), carried forward on the
/// monotonic clock: setting the wall clock afterwards does not move it, so a clock set back (or run
/// ahead) is caught against it, and a clock put right is vouched for by it.
///
/// A reply's `Date` comes over the same connection as its answer (TLS, certificate checked), so it is
/// trusted as far as the answer is.
public final class CloudClock: CloudClockWitness {
    /// How long a statement is carried forward. The monotonic clock runs off the same crystal as the
    /// wall clock; at a poor crystal's 100 ppm a week drifts about a minute, well within the five
    /// minutes clocks may disagree by. An older statement vouches for nothing.
    public static let longestCarry: Duration = .seconds(7 * 86_400)

    private struct Statement {
        var stated: Date
        var receivedAt: ContinuousClock.Instant
    }

    private let latest = Mutex<Statement?>(nil)

    public init() {}

    /// The cloud said it was `stated` in a reply that arrived at `receivedAt`.
    public func note(stated: Date, receivedAt: ContinuousClock.Instant = .now) {
        latest.withLock { statement in
            // Replies of calls running together may arrive out of order: keep the latest to arrive.
            if let statement, statement.receivedAt > receivedAt { return }
            statement = Statement(stated: stated, receivedAt: receivedAt)
        }
    }

    /// The cloud's time at `instant`, carried forward from its latest statement.
    public func cloudTime(at instant: ContinuousClock.Instant) -> Date? {
        guard let statement = latest.withLock({ $0 }) else { return nil }
        let carried = statement.receivedAt.duration(to: instant)
        guard carried <= Self.longestCarry else { return nil }
        return statement.stated.addingTimeInterval(carried.timeInterval)
    }

    public func cloudTimeNow() -> Date? { cloudTime(at: .now) }
}
