/// Frame timestamps that always advance. The approach selector's only clock is the frame timestamp,
/// so a driver whose stamps stay put or step back (UVC hardware-timestamp bugs) would keep its
/// windows, cooldowns and gaps from ever running out.
///
/// The driver's stamp is kept when it is later than the previous frame's and not later than the
/// frame was dequeued (both CLOCK_MONOTONIC: a stamp from after that is as wrong as one from
/// before the previous frame, and keeping it would hold back every frame after it). Otherwise the
/// dequeue time is the frame's timestamp.
struct AdvancingTimestamps {
    private(set) var last: Duration?

    /// The timestamp of the next frame, and whether it is the driver's (nil: the driver's clock is
    /// not the monotonic one).
    mutating func stamp(driver: Duration?, dequeued: Duration) -> (timestamp: Duration, isDriversOwn: Bool) {
        var timestamp = dequeued
        var isDriversOwn = false
        if let driver, driver <= dequeued, last.map({ driver > $0 }) ?? true {
            timestamp = driver
            isDriversOwn = true
        }
        // Dequeue times advance by themselves; this only guards a clock read twice in one nanosecond.
        if let last, timestamp <= last { timestamp = last + .nanoseconds(1) }
        last = timestamp
        return (timestamp, isDriversOwn)
    }
}
