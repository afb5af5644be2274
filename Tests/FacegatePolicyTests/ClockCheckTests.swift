@testable import FacegatePolicy
import Foundation
import Testing

/// The door's clock read against the cloud's: within the tolerance either way it agrees; past it, the
/// reason says by how much and which way, as an installer setting the clock needs it.
@Suite(.timeLimit(.minutes(1)))
struct ClockCheckTests {
    static let cloud = Date(timeIntervalSince1970: 1_796_000_000)

    @Test func withinTheToleranceEitherWayTheClockAgrees() {
        for seconds in [0.0, 1, -1, 299, -299, 300, -300] {
            #expect(ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(seconds), cloud: Self.cloud, tolerance: 300) == nil, "\(seconds)")
        }
    }

    @Test func pastTheToleranceTheReasonSaysByHowMuchAndWhichWay() {
        #expect(
            ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(301), cloud: Self.cloud, tolerance: 300)
                == "the clock reads 5 min ahead of the cloud's")
        #expect(
            ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(-360), cloud: Self.cloud, tolerance: 300)
                == "the clock reads 6 min behind the cloud's")
        #expect(
            ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(2 * 3600), cloud: Self.cloud, tolerance: 300)
                == "the clock reads 2 h ahead of the cloud's")
        #expect(
            ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(-(3 * 3600 + 5 * 60)), cloud: Self.cloud, tolerance: 300)
                == "the clock reads 3 h 5 min behind the cloud's")
        #expect(
            ClockCheck.disagreement(wall: Self.cloud.addingTimeInterval(365 * 86_400), cloud: Self.cloud, tolerance: 300)
                == "the clock reads 365 days ahead of the cloud's")
    }
}
