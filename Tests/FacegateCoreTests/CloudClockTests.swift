import FacegateCore
import Foundation
import Testing

/// The cloud's stated time, carried forward on the monotonic clock: what the door's wall clock is
/// checked against.
@Suite(.timeLimit(.minutes(1)))
struct CloudClockTests {
    static let stated = Date(timeIntervalSince1970: 1_796_000_000)

    @Test func nothingStatedIsNoTime() {
        #expect(CloudClock().cloudTime(at: .now) == nil)
    }

    @Test func aStatementIsCarriedForwardOnTheMonotonicClock() {
        let clock = CloudClock()
        let received = ContinuousClock.now
        clock.note(stated: Self.stated, receivedAt: received)
        #expect(clock.cloudTime(at: received) == Self.stated)
        #expect(clock.cloudTime(at: received.advanced(by: .seconds(90))) == Self.stated.addingTimeInterval(90))
        // A week on it still vouches (a minute of drift at worst); past that, nothing.
        #expect(clock.cloudTime(at: received.advanced(by: CloudClock.longestCarry)) == Self.stated.addingTimeInterval(7 * 86_400))
        #expect(clock.cloudTime(at: received.advanced(by: CloudClock.longestCarry + .seconds(1))) == nil)
    }

    @Test func theLatestReplyToArriveIsKept() {
        let clock = CloudClock()
        let first = ContinuousClock.now
        clock.note(stated: Self.stated, receivedAt: first.advanced(by: .seconds(10)))
        // A reply that arrived earlier, noted later (calls running together): it does not replace it.
        clock.note(stated: Self.stated.addingTimeInterval(-3600), receivedAt: first)
        #expect(clock.cloudTime(at: first.advanced(by: .seconds(10))) == Self.stated)
        clock.note(stated: Self.stated.addingTimeInterval(3600), receivedAt: first.advanced(by: .seconds(20)))
        #expect(clock.cloudTime(at: first.advanced(by: .seconds(20))) == Self.stated.addingTimeInterval(3600))
    }
}
