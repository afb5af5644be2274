import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The cloud's clock, as its replies state it: the witness the door's wall clock is checked against
/// before it applies a schedule or lets anyone in offline.
public protocol CloudClockWitness: Sendable {
    /// The cloud's time at `instant`, from its latest reply and the raw monotonic time between; nil when
    /// no reply has stated it within ``CloudClock/longestCarry``, or the system was suspended since.
    func cloudTime(at instant: RawMonotonicInstant) -> Date?
}

extension CloudClockWitness {
    public func cloudTimeNow() -> Date? { cloudTime(at: .now) }
}

/// A reading of the kernel's raw monotonic clock (`CLOCK_MONOTONIC_RAW`): the crystal alone. Setting
/// the wall clock does not move it, and neither does NTP's slewing, which moves the other monotonic
/// clocks (a spoofed time server could slew the wall clock back an hour in half a day, and a witness
/// carried on those clocks would follow it). It stops while the system is suspended, so each reading
/// also keeps how far the boot-time clock, which counts a suspension, had run ahead of it.
public struct RawMonotonicInstant: Comparable, Sendable {
    public let nanoseconds: Int64
    /// `CLOCK_BOOTTIME` less `CLOCK_MONOTONIC_RAW` at this reading: grows by a suspension's length (and
    /// by at most NTP's frequency correction, 500 ppm, otherwise).
    public let bootTimeAhead: Int64

    public init(nanoseconds: Int64, bootTimeAhead: Int64 = 0) {
        self.nanoseconds = nanoseconds
        self.bootTimeAhead = bootTimeAhead
    }

    public static var now: RawMonotonicInstant {
        var raw = timespec(), boot = timespec()
        clock_gettime(CLOCK_MONOTONIC_RAW, &raw)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let rawNanoseconds = Int64(raw.tv_sec) * 1_000_000_000 + Int64(raw.tv_nsec)
        return RawMonotonicInstant(
            nanoseconds: rawNanoseconds, bootTimeAhead: Int64(boot.tv_sec) * 1_000_000_000 + Int64(boot.tv_nsec) - rawNanoseconds)
    }

    /// This reading moved on by `duration`, with no suspension between.
    public func advanced(by duration: Duration) -> RawMonotonicInstant {
        let (seconds, attoseconds) = duration.components
        return RawMonotonicInstant(
            nanoseconds: nanoseconds + seconds * 1_000_000_000 + attoseconds / 1_000_000_000, bootTimeAhead: bootTimeAhead)
    }

    public func duration(to other: RawMonotonicInstant) -> Duration { .nanoseconds(other.nanoseconds - nanoseconds) }

    public static func < (a: RawMonotonicInstant, b: RawMonotonicInstant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func == (a: RawMonotonicInstant, b: RawMonotonicInstant) -> Bool { a.nanoseconds == b.nanoseconds }
}

/// The time the cloud's latest reply stated (its `Date` header, RFC 9110), carried forward on the raw
/// monotonic clock: a clock set back (or run ahead) is caught against it, and a clock put right is
/// vouched for by it.
///
/// Only a service reached over TLS is given one (see `CloudEndpoint.clock(for:)`): its `Date` comes
/// over the same checked connection as its answers, so it is trusted as far as they are. A service on
/// this machine (a forwarder, a proxy) would state this machine's own time, and vouch for any clock.
public final class CloudClock: CloudClockWitness {
    /// How long a statement is carried forward. The raw clock is the crystal's, not corrected by NTP;
    /// at a poor crystal's 100 ppm a week drifts about a minute, well within the five minutes clocks
    /// may disagree by. An older statement vouches for nothing.
    public static let longestCarry: Duration = .seconds(7 * 86_400)

    private struct Statement {
        var stated: Date
        var receivedAt: RawMonotonicInstant
    }

    private let latest = Mutex<Statement?>(nil)

    public init() {}

    /// The cloud said it was `stated` in a reply that arrived at `receivedAt`.
    public func note(stated: Date, receivedAt: RawMonotonicInstant = .now) {
        latest.withLock { statement in
            // Replies of calls running together may arrive out of order: keep the latest to arrive.
            if let statement, statement.receivedAt > receivedAt { return }
            statement = Statement(stated: stated, receivedAt: receivedAt)
        }
    }

    public func cloudTime(at instant: RawMonotonicInstant) -> Date? {
        guard let statement = latest.withLock({ $0 }) else { return nil }
        let carried = statement.receivedAt.duration(to: instant)
        guard carried <= Self.longestCarry, !Self.suspended(between: statement.receivedAt, and: instant) else { return nil }
        return statement.stated.addingTimeInterval(carried.timeInterval)
    }

    /// Whether the system was suspended (or its clock slewed far harder than NTP's 500 ppm frequency
    /// correction) between two readings: the raw clock then missed time, and what it carried is wrong.
    static func suspended(between a: RawMonotonicInstant, and b: RawMonotonicInstant) -> Bool {
        let drift = abs(b.bootTimeAhead - a.bootTimeAhead)
        let allowed = 1_000_000_000 + abs(b.nanoseconds - a.nanoseconds) / 1000  // 1 s and 1000 ppm
        return drift > allowed
    }
}
