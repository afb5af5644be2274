import FacegateCore
import FacegateDoor
import FacegateTesting
import Testing

/// The controller when the relay will not do as it is told, and when it stops: over the simulated
/// wiring, told to fail, in real (short) time. Assertions wait for events, not for durations.
@Suite(.timeLimit(.minutes(5)))
struct DoorFaultTests {
    /// Short pauses between tries, so the tests stay fast; the defaults are checked on their own.
    let quickRetry = DoorController.RelayRetry(tries: 3, firstPause: .milliseconds(5))

    func collect(_ stream: AsyncStream<DoorEvent>, until last: DoorEvent) async -> [DoorEvent] {
        var seen: [DoorEvent] = []
        for await event in stream {
            seen.append(event)
            if event == last { break }
        }
        return seen
    }

    func everything(_ stream: AsyncStream<DoorEvent>) async -> [DoorEvent] {
        var seen: [DoorEvent] = []
        for await event in stream { seen.append(event) }
        return seen
    }

    /// The relay, read back while the door is idle: a relay board unplugged (its reads fail) or an expander
    /// reset to its power-on level (it no longer reads as driven) is a fault then, which stops the door as a
    /// relay that will not lock does. Before, nothing read the relay back: the next grant found it, or not
    /// even that (a reset expander takes writes without moving), and a fail-safe maglock reset to
    /// de-energised stood unlocked with /health green.
    @Test(
        "a relay that stops reading as driven while the door is idle is a fault",
        arguments: [(DoorFailMode.secure, "lost"), (.secure, "knocked"), (.safe, "lost"), (.safe, "knocked")])
    func aRelayThatStopsReadingAsDrivenIsAFault(failMode: DoorFailMode, how: String) async throws {
        let lines = SimulatedDoorLines(failMode: failMode)
        let door = try DoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), relayRetry: quickRetry, relayCheckInterval: .milliseconds(20))
        let running = Task { try await door.run() }
        let events = await door.events()
        // In service, read back many times over: a grant and its relock raise nothing.
        try await door.unlock(because: .grant)
        #expect(await collect(events, until: .locked) == [.unlocked(.grant), .locked])
        try await Task.sleep(for: .milliseconds(200))
        #expect(await !door.isFaulted)

        if how == "lost" { lines.loseRelay() } else { lines.knockRelay(unlocked: true) }
        #expect(await collect(events, until: .fault(.relayLost)) == [.fault(.relayLost)])
        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault && error?.role == .relay, "\(String(describing: error))")
        #expect(await door.isFaulted)
        #expect(await door.isUnlocked, "the door must not claim it is locked")
        #expect(lines.isReleased)
        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
    }

    /// A door that reads its relay back stops cleanly when stopped: its read-back loop ends quietly with the
    /// stop (review: its cancelled sleep, ending first, made `run()` throw, and a graceful stop exit 1).
    @Test func aDoorThatReadsItsRelayBackStopsCleanly() async throws {
        for _ in 0..<100 {
            let door = try DoorController(lines: SimulatedDoorLines(), relayRetry: quickRetry, relayCheckInterval: .milliseconds(1))
            let running = Task { try await door.run() }
            while await !door.isWatchingInputs { await Task.yield() }
            try await Task.sleep(for: .milliseconds(2))
            running.cancel()
            try await running.value
        }
    }

    /// A chip whose driver cannot read its outputs back (EIO from the start, or a level it never reports
    /// right) is not a fault: read-back is turned off for it, said once, and the door runs on. Faulting would
    /// restart it for ever, a fail-safe maglock unlocking at each restart (review).
    @Test(arguments: ["unreadable", "wrong"])
    func aRelayThatWasNeverReadBackRightIsNotWatched(how: String) async throws {
        let lines = SimulatedDoorLines()
        if how == "unreadable" { lines.loseRelay() } else { lines.knockRelay(unlocked: true) }
        let door = try DoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), relayRetry: quickRetry, relayCheckInterval: .milliseconds(10))
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        try await Task.sleep(for: .milliseconds(100))
        #expect(await !door.isFaulted)
        // Still a door: a grant opens it and it locks again.
        lines.loseRelay(false)
        try await door.unlock(because: .grant)
        #expect(await collect(events, until: .locked) == [.unlocked(.grant), .locked])
        #expect(await !door.isFaulted)
    }

    /// Without a read-back (the default for lines that have none, and a door made without an interval), the
    /// relay is never read: nothing changes for them.
    @Test func withoutAnIntervalTheRelayIsNotReadBack() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), relayRetry: quickRetry)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        _ = await door.events()
        lines.knockRelay(unlocked: true)
        try await Task.sleep(for: .milliseconds(100))
        #expect(await !door.isFaulted)
    }

    @Test func aLockWriteThatFailsOnceIsRetriedAndTheDoorEndsLocked() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: false, count: 1)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), relayRetry: quickRetry)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()

        try await door.unlock(because: .grant)
        #expect(await collect(events, until: .locked) == [.unlocked(.grant), .locked])
        #expect(!lines.relayIsUnlocked)
        #expect(lines.failedRelayWrites == 1)
        #expect(await !door.isUnlocked)
        #expect(await !door.isFaulted)
        // Still in service: the next grant works.
        try await door.unlock(because: .grant)
        #expect(await collect(events, until: .locked) == [.unlocked(.grant), .locked])
    }

    @Test func aLockWriteThatAlwaysFailsIsAFaultThatStopsTheDoor() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: false)
        // The default retry: 3 tries, 150 ms of pauses.
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)))
        let running = Task { try await door.run() }
        let events = await door.events()
        let clock = ContinuousClock()
        let unlockedAt = clock.now

        try await door.unlock(because: .grant)
        // No `locked`: it never happened.
        #expect(await collect(events, until: .fault(.relayNotLocked)) == [.unlocked(.grant), .fault(.relayNotLocked)])
        let faultAfter = clock.now - unlockedAt
        // Never sooner than the pulse and the pauses; the schedule itself is checked on a test clock
        // (`DoorClockTests`), as a busy machine can only make it later here.
        #expect(faultAfter >= .milliseconds(170), "pulse 20 ms + retries 150 ms; took \(faultAfter)")
        #expect(lines.failedRelayWrites == 3)

        // run() ends with the fault, whatever else is going on: the daemon must stop.
        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault)
        #expect(await door.isFaulted)
        #expect(await door.isUnlocked, "the relay could not be locked: the door must not claim it is")
        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        // Released: the kernel (here the simulation) rests the line de-energised, locked for this fail-secure door.
        #expect(lines.isReleased)
        #expect(!lines.relayIsUnlocked)
    }

    @Test func theRelayIsSeenStillUnlockedBetweenTheFaultAndTheStop() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: false)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(10)), relayRetry: quickRetry)
        // run() is not started: the fault waits for it, and the relay state is there to see.
        let events = await door.events()
        try await door.unlock(because: .manual)
        #expect(await collect(events, until: .fault(.relayNotLocked)) == [.unlocked(.manual), .fault(.relayNotLocked)])
        #expect(lines.relayIsUnlocked)
        #expect(await door.isUnlocked)
        #expect(!lines.isReleased)
        // A faulted door refuses further unlocks (a grant would be journaled as opening a door it did not drive).
        let changes = lines.relayChanges
        let refused = await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        #expect(refused?.code == .relayFault)
        #expect(lines.relayChanges == changes)
        await #expect(throws: DoorError.self) { try await door.run() }
        #expect(lines.isReleased)
    }

    @Test("while a failed lock write is being retried, no unlock may drive the relay")
    func unlocksWaitOutARelockRetry() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        let door = try ClockedDoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .seconds(1)), relayRetry: .init(tries: 3, firstPause: .milliseconds(500)), clock: clock)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        try await door.unlock(because: .grant)
        lines.failRelayWrites(unlocked: false, count: 1)
        #expect(await clock.waitForSleepers(), "the pulse")
        clock.advance(by: .seconds(1))
        #expect(await clock.waitForSleepers(), "the retry's pause after the failed lock write")
        let refused = await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        #expect(refused?.code == .ioFailed)
        #expect(lines.relayIsUnlocked, "still as the failed write left it")
        clock.advance(by: .milliseconds(500))
        let deadline = ContinuousClock.now + .seconds(5)
        while lines.relayIsUnlocked, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(!lines.relayIsUnlocked, "locked on the retry")
        try await door.unlock(because: .grant)
        #expect(lines.relayIsUnlocked, "and free again once locked")
    }

    @Test func aRelockOnCloseThatFailsIsAFaultToo() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(30)), relayRetry: quickRetry)
        let running = Task { try await door.run() }
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }

        try await door.unlock(because: .grant)
        lines.setContact(open: true)
        lines.failRelayWrites(unlocked: false)
        lines.setContact(open: false)
        #expect(
            await collect(events, until: .fault(.relayNotLocked))
                == [.unlocked(.grant), .opened(authorized: true), .closed, .fault(.relayNotLocked)])
        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault)
    }

    @Test func aFailedUnlockIsThrownToTheCallerAndTheDoorStaysLocked() async throws {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: true, count: 1)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), relayRetry: quickRetry)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()

        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
        #expect(await !door.isUnlocked)
        #expect(!lines.relayIsUnlocked)
        // The failed unlock is reported as failed, not as an unlock; the next one goes through.
        try await door.unlock(because: .grant)
        #expect(await collect(events, until: .locked) == [.unlockFailed(.grant), .unlocked(.grant), .locked])
    }

    @Test func theDefaultRetryIsThreeTriesWithin200Milliseconds() {
        let retry = DoorController.RelayRetry()
        #expect(retry.tries == 3)
        // Pauses after the first and second failed tries: first, then double, 150 ms in all.
        #expect(retry.firstPause == .milliseconds(50))
        #expect(retry.firstPause + retry.firstPause * 2 <= .milliseconds(200))
    }

    @Test func aFailSecureDoorStopsLocked() async throws {
        let lines = SimulatedDoorLines(failMode: .secure)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(60)))
        let running = Task { try await door.run() }
        let events = await door.events()
        try await door.unlock(because: .manual)
        #expect(lines.relayIsUnlocked)

        running.cancel()
        try await running.value
        #expect(lines.isReleased)
        #expect(!lines.relayIsUnlocked)
        #expect(await everything(events) == [.unlocked(.manual), .locked])
    }

    @Test func aFailSafeDoorStopsUnlocked() async throws {
        let lines = SimulatedDoorLines(failMode: .safe)
        let door = try DoorController(lines: lines)
        #expect(!lines.relayIsUnlocked, "held locked while running")
        let running = Task { try await door.run() }
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }

        running.cancel()
        try await running.value
        #expect(lines.isReleased)
        #expect(lines.relayIsUnlocked, "a fail-safe door (maglock, escape route) rests unlocked once let go")
        #expect(await everything(events) == [])
    }

    @Test func aFailSafeDoorStoppedDuringAnUnlockIsNotLockedFirst() async throws {
        let lines = SimulatedDoorLines(failMode: .safe)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(60)))
        let running = Task { try await door.run() }
        let events = await door.events()
        try await door.unlock(because: .manual)

        running.cancel()
        try await running.value
        #expect(lines.relayIsUnlocked)
        #expect(lines.relayChanges == 1, "never driven back to locked on the way out")
        #expect(await everything(events) == [.unlocked(.manual)])
    }

    @Test func simulatedLinesRestAtTheirFailModesLevelWhenReleased() {
        let secure = SimulatedDoorLines(failMode: .secure)
        try? secure.driveRelay(unlocked: true)
        secure.release()
        #expect(!secure.relayIsUnlocked)
        #expect(throws: DoorError.self) { try secure.driveRelay(unlocked: true) }

        let safe = SimulatedDoorLines(failMode: .safe)
        safe.release()
        #expect(safe.relayIsUnlocked)
    }
}
