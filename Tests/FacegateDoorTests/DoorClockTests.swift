import FacegateCore
import FacegateDoor
import FacegateTesting
import Testing

/// The door's timers on its own clock (issue 10): the pulse, held-open and the relock retries run on
/// a `TestClock` the test moves, so each is checked to the millisecond and none waits in real time.
@Suite(.timeLimit(.minutes(1)))
struct DoorClockTests {
    /// Waits (briefly, in real time) for what a woken timer does.
    func eventually(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    @Test("a grant's pulse relocks when the door's clock has run the pulse, not a moment before")
    func thePulseRunsOnTheDoorsClock() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(3)), clock: clock)
        let running = Task { try await door.run() }
        defer { running.cancel() }

        try await door.unlock(because: .grant)
        #expect(await clock.waitForSleepers(), "the relock timer is armed")
        clock.advance(by: .milliseconds(2999))
        #expect(lines.relayIsUnlocked && clock.sleepers == 1, "still in the pulse")
        clock.advance(by: .milliseconds(1))
        #expect(await eventually { !lines.relayIsUnlocked }, "relocked at 3 s on the door's clock")
        #expect(lines.relayChanges == 2)
    }

    @Test("a door held open is reported once the door's clock has run the held-open time")
    func heldOpenRunsOnTheDoorsClock() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        let door = try ClockedDoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .seconds(60), heldOpenAfter: .seconds(30)), clock: clock)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }

        try await door.unlock(because: .grant)
        lines.setContact(open: true)
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .unlocked(.grant))
        #expect(await iterator.next() == .opened(authorized: true))
        #expect(await clock.waitForSleepers())
        clock.advance(by: .seconds(29))
        clock.advance(by: .seconds(1))
        #expect(await iterator.next() == .heldOpen)
    }

    @Test("a door found open at start-up raises the held-open alarm once the held-open time has run, with no other input")
    func aDoorFoundOpenAtStartUpIsTimedForHeldOpen() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        lines.setContact(open: true)
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(heldOpenAfter: .seconds(30)), clock: clock)
        let events = await door.events()
        let running = Task { try await door.run() }
        defer { running.cancel() }

        #expect(await clock.waitForSleepers(), "the held-open timer is armed at start-up")
        clock.advance(by: .seconds(29))
        #expect(clock.sleepers == 1, "not before its time")
        clock.advance(by: .seconds(1))
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .heldOpen)
    }

    @Test("a door opened while the daemon was starting (after the controller read the contact) is a forced opening, then held open")
    func aDoorOpenedDuringStartUpIsSeen() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(heldOpenAfter: .seconds(30)), clock: clock)
        let events = await door.events()
        // Forced while the models, camera and cloud were still being opened: nobody is watching yet.
        lines.setContact(open: true)
        let running = Task { try await door.run() }
        defer { running.cancel() }

        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .opened(authorized: false))
        #expect(await iterator.next() == .forcedOpen)
        #expect(await clock.waitForSleepers())
        clock.advance(by: .seconds(30))
        #expect(await iterator.next() == .heldOpen)
        // And its closing is seen, not taken for a state the door was already in.
        lines.setContact(open: false)
        #expect(await iterator.next() == .closed)
    }

    @Test("a door closed while the daemon was starting raises no held-open alarm")
    func aDoorClosedDuringStartUpIsNotHeldOpen() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        lines.setContact(open: true)
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(heldOpenAfter: .seconds(30)), clock: clock)
        let events = await door.events()
        lines.setContact(open: false)
        let running = Task { try await door.run() }
        defer { running.cancel() }

        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .closed)
        clock.advance(by: .seconds(60))
        lines.setContact(open: true)
        #expect(await iterator.next() == .opened(authorized: false), "the next opening is seen")
        #expect(await iterator.next() == .forcedOpen)
    }

    @Test("a lock write that keeps failing is retried after 50 ms, then 100 ms, of the door's clock, then is a fault")
    func relockRetriesPauseOnTheDoorsClock() async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: false)
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), clock: clock)
        let running = Task { try await door.run() }

        try await door.unlock(because: .grant)
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(20))
        #expect(await eventually { lines.failedRelayWrites == 1 }, "the pulse ended: the first lock write")
        #expect(await clock.waitForSleepers(), "the first pause")
        clock.advance(by: .milliseconds(49))
        #expect(lines.failedRelayWrites == 1 && clock.sleepers == 1, "still pausing")
        clock.advance(by: .milliseconds(1))
        #expect(await eventually { lines.failedRelayWrites == 2 }, "the second try after 50 ms")
        #expect(await clock.waitForSleepers(), "the second pause")
        clock.advance(by: .milliseconds(100))
        #expect(await eventually { lines.failedRelayWrites == 3 }, "the third try after 100 ms more")

        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault)
        #expect(lines.isReleased)
    }

    /// A stop (SIGTERM) while a relock is between its tries: the machine already counts the door locked,
    /// so the stop found nothing to lock and the door stopped cleanly, strike perhaps still energised. The
    /// tries go on, and a relay that never locks is the fault, said by `run()` and the door's state. A
    /// fail-safe door too: it is released unlocked either way, but it stopped cleanly, its log saying
    /// locked, where its relay could not be driven (review).
    @Test(
        "a stop during a relock's retries finishes the tries, and a relay that never locks is still the fault",
        arguments: [DoorFailMode.secure, .safe])
    func aStopDuringARelocksRetriesKeepsTheFault(failMode: DoorFailMode) async throws {
        let clock = TestClock()
        let lines = SimulatedDoorLines(failMode: failMode)
        lines.failRelayWrites(unlocked: false)
        let door = try ClockedDoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), clock: clock)
        let running = Task { try await door.run() }
        let events = await door.events()
        try await door.unlock(because: .grant)
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(20))
        #expect(await eventually { lines.failedRelayWrites == 1 }, "the pulse ended: the first lock write failed")
        #expect(await clock.waitForSleepers(), "the relock pauses before its second try")
        running.cancel()  // the daemon stopping
        // The stop's own tries pause on the door's clock too.
        for _ in 0..<40 where lines.failedRelayWrites < 3 {
            clock.advance(by: .milliseconds(50))
            try await Task.sleep(for: .milliseconds(5))
        }
        for _ in 0..<20 where !lines.isReleased {
            clock.advance(by: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(5))
        }
        let error = await #expect(throws: DoorError.self) { try await running.value }
        #expect(error?.code == .relayFault)
        #expect(lines.failedRelayWrites == 3, "one relock's three tries, not a second loop beside it")
        #expect(await door.isFaulted, "the relay could not be locked")
        #expect(await door.isUnlocked, "the door must not claim it is locked")
        var seen: [DoorEvent] = []
        for await event in events { seen.append(event) }
        #expect(seen.contains(.fault(.relayNotLocked)), "\(seen)")
    }
}
