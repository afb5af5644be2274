import FacegateCore
import FacegateDoor
import Synchronization
import Testing

// Unlocks whose relay write fails: the relay is locked again (the write may have taken effect), the
// failure is reported whoever asked, and the door counts them in a row until one unlocks. These run in
// DoorFaultTests' suite, under its `.timeLimit(.minutes(5))`.
extension DoorFaultTests {
    /// A door on `lines` with 60 s pulses, running and watching its inputs, and its events from the start.
    func runningDoor(on lines: any DoorLines) async throws -> (DoorController, Task<Void, any Error>, AsyncStream<DoorEvent>) {
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(60)), relayRetry: quickRetry)
        let running = Task { try await door.run() }
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }
        return (door, running, events)
    }

    @Test func anUnlockWriteThatTookEffectAndFailedIsLockedAgain() async throws {
        let lines = ExpanderRelayLines()
        let (door, running, events) = try await runningDoor(on: lines)
        defer { running.cancel() }

        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        // Before, the failed write was taken to have left the relay locked: the strike stayed energised,
        // with no pulse end to lock it.
        #expect(!lines.relayIsUnlocked)
        #expect(await !door.isUnlocked)
        #expect(await !door.isFaulted)
        #expect(await door.failedUnlocks?.inARow == 1)
        #expect(await collect(events, until: .unlockFailed(.grant)) == [.unlockFailed(.grant)])
    }

    @Test func aFailedUnlockWhoseRelayWillNotLockIsAFault() async throws {
        let lines = ExpanderRelayLines()
        lines.failLockWrites()
        let (door, running, events) = try await runningDoor(on: lines)
        defer { running.cancel() }

        await #expect(throws: DoorError.self) { try await door.unlock(because: .manual) }
        try #require(lines.lockWrites == 3, "the relock's tries")
        #expect(await door.isUnlocked, "never reported locked")
        #expect(await door.isFaulted)
        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault)
        #expect(await everything(events) == [.unlockFailed(.manual), .fault(.relayNotLocked)])
    }

    @Test func aFailedExitPressIsReportedAsOne() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: true)
        let (door, running, events) = try await runningDoor(on: lines)
        defer { running.cancel() }

        lines.pressExitButton()
        #expect(await collect(events, until: .unlockFailed(.requestToExit)) == [.requestToExit, .unlockFailed(.requestToExit)])
        #expect(!lines.relayIsUnlocked)
        #expect(await door.failedUnlocks?.inARow == 1)
    }

    @Test func failedUnlocksCountInARowWhoeverAskedUntilOneUnlocks() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: true)
        let (door, running, events) = try await runningDoor(on: lines)
        defer { running.cancel() }
        #expect(await door.failedUnlocks == nil)

        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        lines.pressExitButton()
        _ = await collect(events, until: .unlockFailed(.requestToExit))
        await #expect(throws: DoorError.self) { try await door.unlock(because: .manual) }
        let failed = try #require(await door.failedUnlocks)
        #expect(failed.inARow == 3)
        #expect(failed.lastError == "simulated relay write failed", "the door's words, by the line's role")

        lines.stopFailingRelayWrites()
        try await door.unlock(because: .grant)
        #expect(await door.failedUnlocks == nil)
        #expect(lines.relayIsUnlocked)
    }
}

/// A relay on an I2C expander that drives the line and then loses the acknowledgement: every unlock write
/// takes effect and still fails. Its lock writes fail when told to.
final class ExpanderRelayLines: DoorLines {
    private struct State {
        var unlocked = false
        var failingLocks = false
        var lockWrites = 0
        var inputs: [AsyncThrowingStream<DoorInput, any Error>.Continuation] = []
    }
    private let state = Mutex(State())

    var relayIsUnlocked: Bool { state.withLock { $0.unlocked } }
    var lockWrites: Int { state.withLock { $0.lockWrites } }
    func failLockWrites() { state.withLock { $0.failingLocks = true } }

    func driveRelay(unlocked: Bool) throws {
        let failed = state.withLock { state in
            if unlocked {
                state.unlocked = true
                return true
            }
            state.lockWrites += 1
            if state.failingLocks { return true }
            state.unlocked = false
            return false
        }
        if failed { throw DoorError(.ioFailed, "no acknowledgement from the expander", errno: 121, role: .relay) }  // EREMOTEIO
    }

    func contactIsOpen() throws -> Bool? { nil }

    /// No contact, no exit button: nothing comes until the lines are released.
    func inputs() -> AsyncThrowingStream<DoorInput, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DoorInput.self)
        state.withLock { $0.inputs.append(continuation) }
        return stream
    }

    func release() {
        for input in state.withLock({ $0.inputs }) { input.finish() }
    }
}
