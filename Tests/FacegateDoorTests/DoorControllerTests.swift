import FacegateCore
import FacegateDoor
import Testing

/// The controller over the simulated wiring, in real (short) time. Assertions
/// wait for events rather than for durations, so a loaded machine is only slower.
@Suite(.timeLimit(.minutes(5)))
struct DoorControllerTests {
    func collect(_ stream: AsyncStream<DoorEvent>, until last: DoorEvent) async -> [DoorEvent] {
        var seen: [DoorEvent] = []
        for await event in stream {
            seen.append(event)
            if event == last { break }
        }
        return seen
    }

    @Test func grantUnlocksThenRelocksByItself() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)))
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()

        try await door.unlock(because: .grant)
        #expect(lines.relayIsUnlocked)
        #expect(await collect(events, until: .locked) == [.unlocked(.grant), .locked])
        #expect(!lines.relayIsUnlocked)
        #expect(lines.relayChanges == 2)
    }

    @Test func exitButtonAndContactFlowThroughTheMachine() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .seconds(30), heldOpenAfter: .milliseconds(50)))
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        // Let run() subscribe to the inputs before driving them.
        while !(await door.isWatchingInputs) { await Task.yield() }

        lines.pressExitButton()
        var seen = await collect(events, until: .unlocked(.requestToExit))
        #expect(seen == [.requestToExit, .unlocked(.requestToExit)])
        lines.setContact(open: true)
        seen = await collect(events, until: .heldOpen)
        #expect(seen == [.opened(authorized: true), .heldOpen])
        lines.setContact(open: false)
        seen = await collect(events, until: .locked)
        #expect(seen == [.closed, .locked])
        #expect(!lines.relayIsUnlocked)
    }

    @Test func forcedOpeningRaisesTheAlarm() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }

        lines.setContact(open: true)
        #expect(await collect(events, until: .forcedOpen) == [.opened(authorized: false), .forcedOpen])
    }

    @Test func eventsAReaderHasNoRoomForAreCounted() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines, timing: DoorTiming(heldOpenAfter: .seconds(600)))
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let unread = await door.events()
        let events = await door.events()
        while !(await door.isWatchingInputs) { await Task.yield() }

        // 150 forced openings and closings, each read to its end by one subscriber and not at all by the other.
        var iterator = events.makeAsyncIterator()
        for _ in 0..<150 {
            lines.setContact(open: true)
            lines.setContact(open: false)
            while let event = await iterator.next(), event != .closed {}
        }
        // Each opening is also a forced-open alarm: 450 events, of which the unread stream kept the newest 256.
        // Read once the door has finished handing out the last event: the reader can wake on `.closed`
        // before the door has offered it to the unread stream (an actor hop waits for that).
        _ = await door.isUnlocked
        #expect(door.droppedEvents == 450 - 256)
        _ = unread
    }

    @Test func stoppingLocksAnUnlockedDoor() async throws {
        let lines = SimulatedDoorLines()
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(60)))
        let running = Task { try await door.run() }
        let events = await door.events()
        try await door.unlock(because: .manual)
        #expect(lines.relayIsUnlocked)

        running.cancel()
        try await running.value
        #expect(!lines.relayIsUnlocked)
        #expect(await collect(events, until: .locked) == [.unlocked(.manual), .locked])
        await #expect(throws: DoorError.self) { try await door.unlock(because: .grant) }
    }
}
