import FacegateCore
import Foundation
import Testing

/// The cloud's stated time, carried forward on the raw monotonic clock: what the door's wall clock is
/// checked against.
@Suite(.timeLimit(.minutes(1)))
struct CloudClockTests {
    static let stated = Date(timeIntervalSince1970: 1_796_000_000)

    @Test func nothingStatedIsNoTime() {
        #expect(CloudClock().cloudTime(at: .now) == nil)
    }

    @Test func aStatementIsCarriedForwardOnTheRawMonotonicClock() {
        let clock = CloudClock()
        let received = RawMonotonicInstant.now
        clock.note(stated: Self.stated, receivedAt: received)
        #expect(clock.cloudTime(at: received) == Self.stated)
        #expect(clock.cloudTime(at: received.advanced(by: .seconds(90))) == Self.stated.addingTimeInterval(90))
        // A week on it still vouches (a minute of drift at worst); past that, nothing.
        #expect(clock.cloudTime(at: received.advanced(by: CloudClock.longestCarry)) == Self.stated.addingTimeInterval(7 * 86_400))
        #expect(clock.cloudTime(at: received.advanced(by: CloudClock.longestCarry + .seconds(1))) == nil)
    }

    /// A smoke test of the kernel's clocks as read (that NTP's slewing leaves the raw one alone is the
    /// kernel's to keep): two readings 20 ms apart differ by about that, and no suspension is seen.
    @Test func theRawClockRuns() async throws {
        let before = RawMonotonicInstant.now
        try await Task.sleep(for: .milliseconds(20))
        let gone = before.duration(to: .now)
        #expect(gone >= .milliseconds(19) && gone < .seconds(5), "\(gone)")
        let clock = CloudClock()
        clock.note(stated: Self.stated, receivedAt: before)
        #expect(clock.cloudTimeNow() != nil)
    }

    /// The raw clock stops while the system is suspended: a statement carried across a suspension (the
    /// boot-time clock ran ahead of the raw one by its length) vouches for nothing. NTP's frequency
    /// correction moves them apart by at most 500 ppm, which is allowed.
    @Test func aSuspensionEndsTheCarry() {
        let clock = CloudClock()
        let received = RawMonotonicInstant(nanoseconds: 1_000_000_000_000, bootTimeAhead: 5_000_000_000)
        clock.note(stated: Self.stated, receivedAt: received)
        let anHourOn: Int64 = 1_000_000_000_000 + 3_600_000_000_000
        // 500 ppm of an hour is 1.8 s: within what NTP's correction does.
        #expect(clock.cloudTime(at: RawMonotonicInstant(nanoseconds: anHourOn, bootTimeAhead: 5_000_000_000 + 1_800_000_000)) != nil)
        #expect(clock.cloudTime(at: RawMonotonicInstant(nanoseconds: anHourOn, bootTimeAhead: 5_000_000_000 - 1_800_000_000)) != nil)
        // Suspended for ten minutes of that hour (or slewed as hard): nothing.
        #expect(clock.cloudTime(at: RawMonotonicInstant(nanoseconds: anHourOn, bootTimeAhead: 5_000_000_000 + 600_000_000_000)) == nil)
        #expect(clock.cloudTime(at: RawMonotonicInstant(nanoseconds: anHourOn, bootTimeAhead: 5_000_000_000 - 600_000_000_000)) == nil)
    }

    @Test func theLatestReplyToArriveIsKept() {
        let clock = CloudClock()
        let first = RawMonotonicInstant.now
        clock.note(stated: Self.stated, receivedAt: first.advanced(by: .seconds(10)))
        // A reply that arrived earlier, noted later (calls running together): it does not replace it.
        clock.note(stated: Self.stated.addingTimeInterval(-3600), receivedAt: first)
        #expect(clock.cloudTime(at: first.advanced(by: .seconds(10))) == Self.stated)
        clock.note(stated: Self.stated.addingTimeInterval(3600), receivedAt: first.advanced(by: .seconds(20)))
        #expect(clock.cloudTime(at: first.advanced(by: .seconds(20))) == Self.stated.addingTimeInterval(3600))
    }
}
