import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
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
