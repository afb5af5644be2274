import Foundation
import Synchronization

/// A clock that moves only when a test says so: a wall clock (`Date`) and a monotonic one
/// (`ContinuousClock.Instant`, starting at the real one) advanced together. Components that expire
/// or age things take `now` closures; a test passes these instead of sleeping.
public final class ManualClock: Sendable {
    private let current: Mutex<(wall: Date, monotonic: ContinuousClock.Instant)>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex((start, ContinuousClock.now))
    }

    /// The wall clock.
    public var now: Date { current.withLock { $0.wall } }
    /// The monotonic clock.
    public var monotonicNow: ContinuousClock.Instant { current.withLock { $0.monotonic } }

    public func advance(by seconds: TimeInterval) {
        current.withLock {
            $0.wall = $0.wall.addingTimeInterval(seconds)
            $0.monotonic = $0.monotonic + .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }
}
