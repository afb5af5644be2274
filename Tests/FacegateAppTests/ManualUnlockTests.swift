import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Logging
import Testing

/// An operator's unlock through the pipeline reaches the door as a manual one.
@Suite(.timeLimit(.minutes(2)))
struct ManualUnlockTests {
    @Test func aManualUnlockReachesTheDoorAsManualNotAsAGrant() async throws {
        let quiet = Logger.quiet("manual")
        let lines = SimulatedDoorLines(logger: quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let events = await door.events()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(empty: 1, present: 0, after: 0), analyzer: ScriptedAnalyzer(), search: HeldCloud(), offline: nil,
            door: door, journal: MemoryJournal(), policy: DoorPolicy(door: "manual", threshold: 7000, scoreUnit: .necScore),
            settings: .init(door: "manual", approach: ApproachConfiguration(), decisionDeadline: .seconds(30)), logger: quiet)
        let record = await pipeline.unlockManually(reason: "a delivery", by: "uid 0, pid 1")
        #expect(record.decision.outcome == .manualUnlock && record.relay == .unlocked)
        var seen = events.makeAsyncIterator()
        // Before, `.unlocked(.grant)`: the door's log said a face had opened it.
        #expect(await seen.next() == .unlocked(.manual))
    }

    /// A manual unlock cancelled while its grant is committed (the control socket cancels it when its asker
    /// hangs up) is journaled and withheld: the relay never moves.
    @Test func aManualUnlockCancelledBeforeTheRelayMovesIsWithheld() async throws {
        let quiet = Logger.quiet("manual")
        let lines = SimulatedDoorLines(logger: quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(empty: 1, present: 0, after: 0), analyzer: ScriptedAnalyzer(), search: HeldCloud(), offline: nil,
            door: door, journal: journal, policy: DoorPolicy(door: "manual", threshold: 7000, scoreUnit: .necScore),
            settings: .init(door: "manual", approach: ApproachConfiguration(), decisionDeadline: .seconds(30)), logger: quiet)
        let asking = Task {
            while !Task.isCancelled { await Task.yield() }
            return await pipeline.unlockManually(reason: "a delivery")
        }
        asking.cancel()
        let record = await asking.value
        #expect(record.relay == .withheld)
        #expect(lines.relayChanges == 0)
        #expect(journal.decisions.map(\.decision.outcome) == [.manualUnlock])
    }
}
