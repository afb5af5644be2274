import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Logging
import Testing

/// An operator's unlock through the pipeline: it reaches the door as a manual one, and is withheld when
/// cancelled before the relay moves.
@Suite(.timeLimit(.minutes(2)))
struct ManualUnlockTests {
    /// A pipeline over a running door on simulated lines, with nobody at the camera.
    struct Bench {
        let lines: SimulatedDoorLines
        let door: DoorController
        let journal = MemoryJournal()
        let pipeline: GatePipeline

        init() throws {
            let quiet = Logger.quiet("manual")
            lines = SimulatedDoorLines(logger: quiet)
            door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: quiet)
            pipeline = GatePipeline(
                source: SynthesizedApproach(empty: 1, present: 0, after: 0), analyzer: ScriptedAnalyzer(), search: HeldCloud(), offline: nil,
                door: door, journal: journal, policy: DoorPolicy(door: "manual", threshold: 7000, scoreUnit: .necScore),
                settings: .init(door: "manual", approach: ApproachConfiguration(), decisionDeadline: .seconds(30)), logger: quiet)
        }
    }

    @Test func aManualUnlockReachesTheDoorAsManualNotAsAGrant() async throws {
        let bench = try Bench()
        let doorTask = Task { try await bench.door.run() }
        defer { doorTask.cancel() }
        let events = await bench.door.events()
        let record = await bench.pipeline.unlockManually(reason: "a delivery", by: "uid 0, pid 1")
        #expect(record.decision.outcome == .manualUnlock && record.relay == .unlocked)
        var seen = events.makeAsyncIterator()
        // Before, `.unlocked(.grant)`: the door's log said a face had opened it.
        #expect(await seen.next() == .unlocked(.manual))
    }

    /// A manual unlock cancelled while its grant is committed (the control socket cancels it when its asker
    /// hangs up) is journaled and withheld: the relay never moves.
    @Test func aManualUnlockCancelledBeforeTheRelayMovesIsWithheld() async throws {
        let bench = try Bench()
        let doorTask = Task { try await bench.door.run() }
        defer { doorTask.cancel() }
        let pipeline = bench.pipeline
        let asking = Task {
            while !Task.isCancelled { await Task.yield() }
            return await pipeline.unlockManually(reason: "a delivery")
        }
        asking.cancel()
        let record = await asking.value
        #expect(record.relay == .withheld)
        #expect(bench.lines.relayChanges == 0)
        #expect(bench.journal.decisions.map(\.decision.outcome) == [.manualUnlock])
    }

    /// A manual unlock waiting for a door held by a relay write that hangs (the exit button's, on a stalled
    /// bus), whose asker hangs up meanwhile, drives nothing once the door is free: journaled, relay
    /// `withheld`. Before, cancellation was checked only before the door was asked, and the queued
    /// unlock went through when the hung write returned: the door opened for nobody (review).
    @Test func aManualUnlockCancelledWhileItWaitsForTheDoorIsWithheld() async throws {
        let quiet = Logger.quiet("manual")
        let lines = StuckUnlockLines()
        defer { lines.unstick() }
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(empty: 1, present: 0, after: 0), analyzer: ScriptedAnalyzer(), search: HeldCloud(), offline: nil,
            door: door, journal: journal, policy: DoorPolicy(door: "manual", threshold: 7000, scoreUnit: .necScore),
            settings: .init(door: "manual", approach: ApproachConfiguration(), decisionDeadline: .seconds(30)), logger: quiet)
        lines.pressExit()
        #expect(await lines.waitUntilStuck(timeout: .seconds(20)), "the exit press never drove the relay")
        let asking = Task { await pipeline.unlockManually(reason: "a delivery") }
        // Committed, then waiting for the door.
        for _ in 0..<200 where journal.decisions.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(journal.decisions.map(\.decision.outcome) == [.manualUnlock])
        try await Task.sleep(for: .milliseconds(300))
        asking.cancel()
        lines.unstick()
        let record = await asking.value
        #expect(record.relay == .withheld)
        try await Task.sleep(for: .milliseconds(200))
        #expect(lines.unlockWrites == 1, "only the exit press's write")
        #expect(journal.relays.map(\.result) == [.withheld])
    }
}
