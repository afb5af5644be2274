import FacegateCore
import Foundation
import Testing

/// What vouches for the wall clock before anything is deleted for its age: the cloud's time alone while
/// there is one, else a system clock the kernel says a time daemon keeps synchronised.
@Suite(.timeLimit(.minutes(1)))
struct WallClockEvidenceTests {
    static let right = Date(timeIntervalSince1970: 1_796_000_000)

    static func cloud(stating time: Date) -> CloudClock {
        let clock = CloudClock()
        clock.note(stated: time)
        return clock
    }

    @Test func nothingVouchesWithoutTheCloudsTimeOrASynchronisedClock() {
        #expect(!WallClockEvidence.vouches(for: Self.right, synchronisedSystemTime: { nil }))
        #expect(!WallClockEvidence.vouches(for: Self.right, cloud: CloudClock(), synchronisedSystemTime: { nil }), "a cloud that stated nothing")
    }

    @Test func theCloudsTimeDecidesAloneWhileThereIsOne() {
        let cloud = Self.cloud(stating: Self.right)
        #expect(WallClockEvidence.vouches(for: Self.right.addingTimeInterval(240), cloud: cloud, synchronisedSystemTime: { nil }))
        #expect(!WallClockEvidence.vouches(for: Self.right.addingTimeInterval(360), cloud: cloud, synchronisedSystemTime: { nil }))
        // A synchronised system clock agreeing with a wall clock 30 days ahead (spoofed NTP) does not
        // outweigh the cloud's time.
        let ahead = Self.right.addingTimeInterval(30 * 86_400)
        #expect(!WallClockEvidence.vouches(for: ahead, cloud: cloud, synchronisedSystemTime: { ahead }))
    }

    @Test func aSynchronisedSystemClockVouchesForAWallClockThatReadsIt() {
        #expect(WallClockEvidence.vouches(for: Self.right, synchronisedSystemTime: { Self.right.addingTimeInterval(-2) }))
        // The door given another clock, 30 days from the system's: the kernel vouches for the system's only.
        #expect(!WallClockEvidence.vouches(for: Self.right.addingTimeInterval(30 * 86_400), synchronisedSystemTime: { Self.right }))
    }

    /// The kernel asked as it is: whatever it says, a reading a year from the system clock is never vouched for.
    @Test func theKernelIsAsked() {
        let synchronised = WallClockEvidence.synchronisedSystemTime()
        if let synchronised { #expect(abs(synchronised.timeIntervalSinceNow) < 5) }
        #expect(!WallClockEvidence.vouches(for: Date().addingTimeInterval(365 * 86_400)))
    }
}
