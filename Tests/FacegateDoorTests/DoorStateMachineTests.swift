import FacegateCore
import FacegateDoor
import Testing

/// The state machine is driven with instants built from a fixed origin: no clock is read.
@Suite(.timeLimit(.minutes(5)))
struct DoorStateMachineTests {
    typealias Machine = DoorStateMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    let timing = DoorTiming(
        unlockDuration: .seconds(5), heldOpenAfter: .seconds(30), contactSettle: .milliseconds(30), relocksOnClose: true)

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }

    @Test func grantPulsesTheRelayForTheUnlockDuration() {
        var door = Machine(timing: timing, now: t0)
        #expect(door.unlock(because: .grant, now: at(0)) == [.driveRelay(unlocked: true), .report(.unlocked(.grant))])
        #expect(door.nextDeadline == at(5))
        #expect(door.tick(now: at(4.9)) == [])
        #expect(door.tick(now: at(5)) == [.driveRelay(unlocked: false), .report(.locked)])
        #expect(door.nextDeadline == nil)
        #expect(!door.isUnlocked)
    }

    @Test func aSecondGrantExtendsWithoutTogglingTheRelay() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        #expect(door.unlock(because: .grant, now: at(3)) == [.report(.unlocked(.grant))])
        #expect(door.tick(now: at(5)) == [])
        #expect(door.tick(now: at(8)) == [.driveRelay(unlocked: false), .report(.locked)])
    }

    @Test func authorisedOpeningThenCloseRelocksAtOnce() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        #expect(door.contact(open: true, now: at(1)) == [.report(.opened(authorized: true))])
        #expect(door.contact(open: false, now: at(3)) == [.report(.closed), .driveRelay(unlocked: false), .report(.locked)])
        // Opening again on the same grant is forced: the unlock was used up.
        #expect(door.contact(open: true, now: at(4)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
    }

    /// A queue: the next person is granted while the one before holds the door open. The first close is
    /// not theirs; the pulse stands for their own opening, and their close relocks.
    @Test func aGrantWhileTheDoorStandsOpenOutlastsThatOpeningsClose() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        _ = door.contact(open: true, now: at(1))
        #expect(door.unlock(because: .grant, now: at(2)) == [.report(.unlocked(.grant))])
        #expect(door.contact(open: false, now: at(3)) == [.report(.closed)])
        #expect(door.isUnlocked)
        #expect(door.contact(open: true, now: at(4)) == [.report(.opened(authorized: true))])
        #expect(door.contact(open: false, now: at(5)) == [.report(.closed), .driveRelay(unlocked: false), .report(.locked)])
        // Granted while the door was open and not used: the pulse runs out as any other.
        _ = door.contact(open: true, now: at(10))
        _ = door.unlock(because: .grant, now: at(11))
        #expect(door.contact(open: false, now: at(12)) == [.report(.closed)])
        #expect(door.tick(now: at(16)) == [.driveRelay(unlocked: false), .report(.locked)])
        // A grant before the opening is used up by it, as before.
        _ = door.unlock(because: .grant, now: at(20))
        _ = door.contact(open: true, now: at(21))
        #expect(door.contact(open: false, now: at(22)) == [.report(.closed), .driveRelay(unlocked: false), .report(.locked)])
        // An exit press or a manual unlock during an opening is for that opening: its close relocks.
        for reason in [UnlockReason.requestToExit, .manual] {
            _ = door.unlock(because: .grant, now: at(30))
            _ = door.contact(open: true, now: at(31))
            _ = door.unlock(because: reason, now: at(32))
            #expect(door.contact(open: false, now: at(33)) == [.report(.closed), .driveRelay(unlocked: false), .report(.locked)], "\(reason)")
        }
    }

    @Test func withoutRelockOnCloseThePulseRunsOut() {
        var timing = timing
        timing.relocksOnClose = false
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        _ = door.contact(open: true, now: at(1))
        #expect(door.contact(open: false, now: at(2)) == [.report(.closed)])
        #expect(door.tick(now: at(5)) == [.driveRelay(unlocked: false), .report(.locked)])
    }

    @Test func openingWithNoGrantIsForced() {
        var door = Machine(timing: timing, now: t0)
        #expect(door.contact(open: true, now: at(1)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
    }

    @Test func theAuthorisedWindowIsThePulseNotAFixedTime() {
        var timing = timing
        timing.unlockDuration = .seconds(20)
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        // Still unlocked at 15 s: the person let in may open it (a fixed 10 s window called this forced).
        #expect(door.contact(open: true, now: at(15)) == [.report(.opened(authorized: true))])
        #expect(timing.authorizationWindow == .seconds(20) + .milliseconds(30))
    }

    @Test func anOpeningShortlyAfterATimedRelockIsForced() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        #expect(door.tick(now: at(5)) == [.driveRelay(unlocked: false), .report(.locked)])
        // One second after the relock, well inside a fixed 10 s window: the relay was locked, so it is forced.
        #expect(door.contact(open: true, now: at(6)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
    }

    @Test func anOpeningReportedWithinTheContactSettleTimeOfARelockIsAuthorised() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        _ = door.tick(now: at(5))
        // The contact reports an edge only once it has settled (30 ms): this opening began before the relock.
        #expect(door.contact(open: true, now: at(5.02)) == [.report(.opened(authorized: true))])
        _ = door.contact(open: false, now: at(6))
        #expect(door.contact(open: true, now: at(6.01)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
    }

    @Test func theWindowFollowsAnExtendedUnlockAndClosesAtItsRelock() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        _ = door.unlock(because: .grant, now: at(3))
        #expect(door.tick(now: at(5)) == [])
        #expect(door.contact(open: true, now: at(7.9)) == [.report(.opened(authorized: true))])
        _ = door.contact(open: false, now: at(7.95))
        // Closing relocked it: the window is over at once.
        #expect(door.contact(open: true, now: at(7.96)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
    }

    @Test func aLateTickStillCountsTheDoorUnlockedUntilItRelocks() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        // The relock is due at 5 s but has not happened yet: the relay is still unlocked.
        #expect(door.contact(open: true, now: at(5.5)) == [.report(.opened(authorized: true))])
    }

    @Test func aLockThatCannotBeDrivenFaultsAndTheMachineStaysUnlocked() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        #expect(door.tick(now: at(5)) == [.driveRelay(unlocked: false), .report(.locked)])
        #expect(door.relayFailed(unlocked: false, now: at(5.2)) == [.report(.fault(.relayNotLocked))])
        #expect(door.isUnlocked, "the relay may still be energised: never claim it locked")
        #expect(door.isFaulted)
        #expect(door.nextDeadline == nil)
        // A faulted machine drives nothing more and reports the fault once.
        #expect(door.unlock(because: .grant, now: at(6)) == [])
        #expect(door.lockNow(now: at(6)) == [])
        #expect(door.contact(open: false, now: at(6)) == [])
        #expect(door.relayFailed(unlocked: false, now: at(6)) == [])
        #expect(DoorEvent.fault(.relayNotLocked).isAlarm)
        #expect(DoorEvent.fault(.relayNotLocked).name == "fault")
    }

    @Test func anUnlockThatCannotBeDrivenLeavesTheDoorLocked() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        // Reported, and the relay driven locked: the failed write may have taken effect all the same.
        #expect(door.relayFailed(unlocked: true, now: at(0)) == [.report(.unlockFailed(.grant)), .driveRelay(unlocked: false)])
        #expect(!door.isUnlocked)
        #expect(!door.isFaulted)
        #expect(door.nextDeadline == nil)
        #expect(door.contact(open: true, now: at(1)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
        // The next grant drives the relay again.
        _ = door.contact(open: false, now: at(2))
        #expect(door.unlock(because: .grant, now: at(3)) == [.driveRelay(unlocked: true), .report(.unlocked(.grant))])
    }

    @Test func heldOpenAlarmFiresOnceAfterTheLimit() {
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        _ = door.contact(open: true, now: at(2))
        #expect(door.tick(now: at(5)) == [.driveRelay(unlocked: false), .report(.locked)])
        #expect(door.nextDeadline == at(32))
        #expect(door.tick(now: at(31.9)) == [])
        #expect(door.tick(now: at(32)) == [.report(.heldOpen)])
        #expect(door.tick(now: at(60)) == [])
        #expect(door.nextDeadline == nil)
        #expect(door.contact(open: false, now: at(61)) == [.report(.closed)])
    }

    @Test func closingBeforeTheLimitCancelsTheHeldOpenAlarm() {
        var door = Machine(timing: timing, now: t0)
        _ = door.contact(open: true, now: at(0))
        _ = door.contact(open: false, now: at(10))
        #expect(door.nextDeadline == nil)
        #expect(door.tick(now: at(40)) == [])
    }

    @Test func requestToExitIsReportedAndUnlocksWithoutAForcedAlarm() {
        var door = Machine(timing: timing, now: t0)
        #expect(
            door.unlock(because: .requestToExit, now: at(0))
                == [.report(.requestToExit), .driveRelay(unlocked: true), .report(.unlocked(.requestToExit))])
        #expect(door.contact(open: true, now: at(1)) == [.report(.opened(authorized: true))])
    }

    @Test func aDoorOpenAtStartUpIsTimedButNotForced() {
        var door = Machine(timing: timing, doorOpen: true, now: t0)
        #expect(door.contact(open: true, now: at(1)) == [])
        #expect(door.tick(now: at(30)) == [.report(.heldOpen)])
    }

    @Test func lockNowLocksOnlyWhenUnlocked() {
        var door = Machine(timing: timing, now: t0)
        #expect(door.lockNow(now: at(0)) == [])
        _ = door.unlock(because: .manual, now: at(0))
        #expect(door.lockNow(now: at(1)) == [.driveRelay(unlocked: false), .report(.locked)])
        #expect(door.nextDeadline == nil)
    }
}
