import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import Foundation
import Testing

/// The daemon (`DoorControllerService`) when its relay will not lock after a grant: the fault is
/// journaled and the service fails (so `facegate run` exits non-zero and systemd restarts it).
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
}
