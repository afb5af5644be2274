import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

/// The daemon (`DoorControllerService`) when its relay will not lock after a grant, or at its stop: the
/// fault is journaled and the service fails (so `facegate run` exits non-zero and systemd restarts it).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DoorFaultServiceTests {
    @Test func aRelayThatWillNotLockAfterAGrantStopsTheServiceWithAJournaledFault() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            let lines = SimulatedDoorLines(logger: rig.logger)
            lines.failRelayWrites(unlocked: false)

            let error = await #expect(throws: DoorError.self) {
                _ = try await rig.runDoor(visitors: [DoorControllerEndToEndTests.enrolledWalksUp], lines: lines)
            }
            #expect(error?.code == .relayFault)
            // Unlocked once for the grant, never locked by a write; released (resting locked) on the way out.
            #expect(lines.failedRelayWrites == 3)
            #expect(lines.isReleased)
            #expect(!lines.relayIsUnlocked)

            var events: [DoorEventRecord] = []
            try JournalReader(path: rig.configuration.journal.path).forEachDoorEvent(DoorEventQuery()) { events.append($0) }
            #expect(events.map(\.kind).contains(.fault))
            #expect(events.first { $0.kind == .fault }?.detail == DoorFault.relayNotLocked.description)
        }
    }

    /// An exit press the door refuses before any relay write (here while a failed lock is being retried) is
    /// journaled as one that failed, after its press: `exit-button`, then `exit-button-failed` saying the
    /// relay was not driven and why. Before, it was only logged: the journal had not even the press.
    @Test func anExitPressRefusedBeforeAnyRelayWriteIsJournaled() async throws {
        let folder = try TemporaryFolder("refused-exit")
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let journal = SQLiteJournal(configuration: .init(path: path))
        let writer = Task { await journal.run(clockIsTrusted: { _ in true }) }
        let clock = TestClock()
        let lines = SimulatedDoorLines()
        let door = try ClockedDoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .seconds(1)), relayRetry: .init(tries: 3, firstPause: .milliseconds(500)),
            clock: clock)
        let doorEvents = await door.events()
        let journaled = Task { await journalDoorEvents(doorEvents, of: "refused exit", into: journal) }
        let running = Task { try await door.run() }
        while !(await door.isWatchingInputs) { await Task.yield() }

        try await door.unlock(because: .grant)
        lines.failRelayWrites(unlocked: false, count: 1)
        #expect(await clock.waitForSleepers(), "the pulse")
        clock.advance(by: .seconds(1))
        #expect(await clock.waitForSleepers(), "the retry's pause after the failed lock write")
        lines.pressExitButton()
        // The relock waits on the door's clock: the press is handled in its pause.
        var events: [DoorEventRecord] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while !events.contains(where: { $0.kind == .exitButtonFailed }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            try await journal.flush()
            events = []
            try JournalReader(path: path).forEachDoorEvent(DoorEventQuery()) { events.append($0) }
        }
        #expect(events.map(\.kind) == [.exitButton, .exitButtonFailed])
        #expect(events.last?.detail == "the relay was not driven: a failed lock of the relay was being retried")
        #expect(lines.relayChanges == 1, "only the grant's unlock: the press drove nothing")
        #expect(await door.failedUnlocks == nil, "refused without a write: not a failed unlock")

        clock.advance(by: .milliseconds(500))
        let relocked = ContinuousClock.now + .seconds(5)
        while lines.relayIsUnlocked, ContinuousClock.now < relocked { try await Task.sleep(for: .milliseconds(2)) }
        #expect(!lines.relayIsUnlocked, "locked on the retry")
        running.cancel()
        _ = try? await running.value
        await journaled.value
        writer.cancel()
        await writer.value
    }

    /// A stop (the scene ends, as at SIGTERM) while a grant's unlock is on, and the stop's lock fails every
    /// try: the fault the door sends as it stops is journaled. Before, the door's events were journaled in
    /// work the stop cancelled together with the door, so the fault never reached the journal although
    /// the service failed with it.
    @Test func aFaultFromTheLockAStopMakesIsJournaled() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            // The grant's unlock is still on when the scene ends and the stop begins.
            rig.configuration.door.pulse = .seconds(60)
            let lines = SimulatedDoorLines(logger: rig.logger)
            lines.failRelayWrites(unlocked: false)

            let error = await #expect(throws: DoorError.self) {
                _ = try await rig.runDoor(visitors: [DoorControllerEndToEndTests.enrolledWalksUp], lines: lines)
            }
            #expect(error?.code == .relayFault)
            #expect(lines.failedRelayWrites == 3, "the stop's lock, tried three times")
            let faults = try rig.journaledDoorEvents().filter { $0.kind == .fault }
            #expect(faults.map(\.detail) == [DoorFault.relayNotLocked.description])
        }
    }
}
