import CTimex
import Foundation

/// Positive evidence that the wall clock reads the right time, which whatever deletes records for their
/// age (the journal's retention, the offline cache's expiry) needs first: a clock stepped far ahead (an
/// RTC that boots a month ahead, say) makes everything look old, and what is deleted is gone for good,
/// while what is kept a little longer is deleted once the clock is vouched for. No evidence means no
/// deletion for age: it is not enough that nothing has yet been seen to be wrong.
///
/// Two witnesses count:
/// - The cloud's time (``CloudClockWitness``: the `Date` of a reply over TLS, carried on the raw
///   monotonic clock). Nothing on the network path can forge it, so while there is one it decides alone,
///   whatever the kernel says.
/// - Without it, the kernel's word that a time daemon (chrony, ntpd, systemd-timesyncd) keeps the system
///   clock synchronised: its maximum error under 16 s, the test `timedatectl` makes (systemd's
///   `ntp_synced`). Setting the clock (an RTC read at boot, `date -s`) resets that error to 16 s, only a
///   daemon that has synchronised lowers it, and the kernel raises it by 500 µs a second until it is
///   back at 16 s (about 9 hours) when the daemon stops. The unsynchronised flag is not read: chrony
///   sets it on a synchronised clock to keep the kernel from writing the RTC. The kernel vouches for the
///   system clock, so the wall clock judged must read with the tolerance of it (a door given another
///   clock is not vouched for by it). Plain NTP can be spoofed, which is why the door never takes this
///   for a grant (offline grants and schedules need the cloud's time or the stored dates); for deleting
///   by age it is taken, since a spoofed clock can only make the door forget early, never let anyone
///   in, and it keeps the promised retention on a box that has no cloud time (a local forwarder).
///   The packaged unit's sandbox refuses even the read (`ProtectClock=yes`, and `@system-service`
///   leaves out `@clock`: EPERM), so under it only the cloud's time vouches; a unit that lets the
///   daemon ask needs `ProtectClock=no` and `adjtimex clock_adjtime` added to its allow list (the
///   empty capability set still keeps it from setting the clock).
public enum WallClockEvidence {
    /// Whether `wall`, the clock's reading now, is vouched for within `tolerance` seconds.
    /// - Parameters:
    ///   - cloud: the cloud's time, when the door has one (it decides alone while it has stated a time).
    ///   - synchronisedSystemTime: the system clock when a time daemon keeps it synchronised, else nil.
    public static func vouches(
        for wall: Date, cloud: (any CloudClockWitness)? = nil, tolerance: TimeInterval = 300,
        synchronisedSystemTime: () -> Date? = synchronisedSystemTime
    ) -> Bool {
        if let cloudNow = cloud?.cloudTimeNow() { return abs(wall.timeIntervalSince(cloudNow)) <= tolerance }
        guard let system = synchronisedSystemTime() else { return false }
        return abs(wall.timeIntervalSince(system)) <= tolerance
    }

    /// The system clock's reading when the kernel says a time daemon keeps it synchronised (its maximum
    /// error under 16 s); nil otherwise, or when the kernel cannot be asked.
    public static func synchronisedSystemTime() -> Date? {
        var state = timex()  // modes 0: read only
        guard ntp_adjtime(&state) != -1, state.maxerror < 16_000_000 else { return nil }
        return Date()
    }
}
