import FacegateCore
import FacegateDoor
import Testing

/// The state machine is driven with instants built from a fixed origin: no clock is read.
struct DoorStateMachineTests {
    typealias Machine = DoorStateMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    let timing = DoorTiming(
        unlockDuration: .seconds(5), heldOpenAfter: .seconds(30), authorizationWindow: .seconds(10), relocksOnClose: true)

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

    @Test func openingAfterTheWindowIsForced() {
        var timing = timing
        timing.unlockDuration = .seconds(20)
        var door = Machine(timing: timing, now: t0)
        _ = door.unlock(because: .grant, now: at(0))
        #expect(door.contact(open: true, now: at(10)) == [.report(.opened(authorized: false)), .report(.forcedOpen)])
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
        #expect(door.lockNow() == [])
        _ = door.unlock(because: .manual, now: at(0))
        #expect(door.lockNow() == [.driveRelay(unlocked: false), .report(.locked)])
        #expect(door.nextDeadline == nil)
    }
}
