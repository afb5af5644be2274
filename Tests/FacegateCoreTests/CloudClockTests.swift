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
    /// boot-time clock ran ahead of the monotonic one by its length) vouches for nothing.
    @Test func aSuspensionEndsTheCarry() {
        let clock = CloudClock()
        let start: Int64 = 1_000_000_000_000, suspendedBefore: Int64 = 5_000_000_000
        clock.note(stated: Self.stated, receivedAt: .reading(raw: start, monotonic: start, bootTime: start + suspendedBefore))
        let anHourOn = start + 3_600_000_000_000
        #expect(clock.cloudTime(at: .reading(raw: anHourOn, monotonic: anHourOn, bootTime: anHourOn + suspendedBefore)) != nil)
        // Suspended for ten minutes of that hour: the raw clock missed them, and nothing is vouched for.
        let tenMinutes: Int64 = 600_000_000_000
        #expect(clock.cloudTime(at: .reading(raw: anHourOn, monotonic: anHourOn, bootTime: anHourOn + suspendedBefore + tenMinutes)) == nil)
    }

    /// NTP slews the monotonic and boot-time clocks alike, and chrony's tick adjustment does so at up to 8 %:
    /// an hour of such slewing is no suspension, and the witness, carried on the raw clock, still vouches
    /// (to the second). Before, slewing was measured against the raw clock and read as a suspension: a
    /// spoofed time server could slew the wall clock and drop the only witness that would catch it.
    @Test func aClockSlewedHardIsNoSuspension() throws {
        let clock = CloudClock()
        let start: Int64 = 1_000_000_000_000, suspendedBefore: Int64 = 5_000_000_000
        clock.note(stated: Self.stated, receivedAt: .reading(raw: start, monotonic: start, bootTime: start + suspendedBefore))
        let anHour: Int64 = 3_600_000_000_000
        for slewed in [anHour + anHour * 8 / 100, anHour - anHour * 8 / 100] {
            let raw = start + anHour, monotonic = start + slewed
            let carried = try #require(clock.cloudTime(at: .reading(raw: raw, monotonic: monotonic, bootTime: monotonic + suspendedBefore)))
            #expect(carried == Self.stated.addingTimeInterval(3_600), "the raw clock's hour, not the slewed one")
        }
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
