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
/// also keeps how long the system had been suspended since boot.
public struct RawMonotonicInstant: Comparable, Sendable {
    public let nanoseconds: Int64
    /// `CLOCK_BOOTTIME` less `CLOCK_MONOTONIC` at this reading: the time spent suspended since boot. Both
    /// are slewed alike, so NTP's corrections, however hard (chrony's tick adjustment runs at up to 8 %),
    /// leave it alone; measured against the raw clock, a hard slew read as a suspension and dropped the
    /// witness, which a spoofed time server could do at will.
    public let suspendedSinceBoot: Int64

    public init(nanoseconds: Int64, suspendedSinceBoot: Int64 = 0) {
        self.nanoseconds = nanoseconds
        self.suspendedSinceBoot = suspendedSinceBoot
    }

    /// The instant of three kernel clock readings taken together, each in nanoseconds.
    public static func reading(raw: Int64, monotonic: Int64, bootTime: Int64) -> RawMonotonicInstant {
        RawMonotonicInstant(nanoseconds: raw, suspendedSinceBoot: bootTime - monotonic)
    }

    public static var now: RawMonotonicInstant {
        var raw = timespec(), monotonic = timespec(), boot = timespec()
        clock_gettime(CLOCK_MONOTONIC_RAW, &raw)
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }
        return reading(raw: nanoseconds(raw), monotonic: nanoseconds(monotonic), bootTime: nanoseconds(boot))
    }

    /// This reading moved on by `duration`, with no suspension between.
    public func advanced(by duration: Duration) -> RawMonotonicInstant {
        let (seconds, attoseconds) = duration.components
        return RawMonotonicInstant(
            nanoseconds: nanoseconds + seconds * 1_000_000_000 + attoseconds / 1_000_000_000, suspendedSinceBoot: suspendedSinceBoot)
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

    /// Whether the system was suspended for more than a second between two readings: the raw clock then
    /// missed that time, and what it carried is wrong by as much.
    static func suspended(between a: RawMonotonicInstant, and b: RawMonotonicInstant) -> Bool {
        abs(b.suspendedSinceBoot - a.suspendedSinceBoot) > 1_000_000_000
    }
}
