import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Testing

/// The gate pipeline on its ports alone: scripted frames, a scripted analyser, an in-memory cloud and
/// journal, simulated door lines. No dlib models, camera or network: what the pipeline itself does
/// with an approach (one visit, one cloud call, the decision journaled before the relay moves).
@Suite(.timeLimit(.minutes(1)))
struct PipelineOnPortsTests {
    struct Outcome {
        var statistics: PipelineStatistics
        var decisions: [DecisionRecord]
        var relays: [RelayRecord]
        var searches: Int
        var relayChanges: Int
        var relayLockedAtEnd: Bool
    }

    func run(analyzer: ScriptedAnalyzer = ScriptedAnalyzer(), cloud: HeldCloud) async throws -> Outcome {
        var logger = Logger(label: "pipeline-on-ports")
        logger.logLevel = .critical
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: logger)
        let doorTask = Task { try await door.run() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(), analyzer: analyzer, search: cloud, offline: nil, door: door, journal: journal,
            policy: DoorPolicy(door: "ports", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"]),
            settings: .init(door: "ports", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(10)),
            logger: logger)
        try await pipeline.run()
        // Past the pulse: the door has relocked.
        try await Task.sleep(for: .milliseconds(400))
        doorTask.cancel()
        _ = try? await doorTask.value
        #expect(journal.relaysBeforeTheirDecision == 0, "the relay's result is journaled against a decision already recorded")
        #expect(cloud.emptyProbes == 0, "the cloud gets the best face's crop")
        return Outcome(
            statistics: await pipeline.statistics, decisions: journal.decisions, relays: journal.relays,
            searches: cloud.calls, relayChanges: lines.relayChanges, relayLockedAtEnd: !lines.relayIsUnlocked)
    }

    @Test("an approach is one visit and one cloud call; a match opens the door after the grant is journaled")
    func aMatchOpensTheDoorOnce() async throws {
        let outcome = try await run(cloud: HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])], released: true))
        #expect(outcome.statistics.visits == 1)
        #expect(outcome.searches == 1, "one cloud call per visit, not per frame")
        #expect(outcome.decisions.map(\.decision.outcome) == [.granted])
        #expect(outcome.decisions.first?.decision.subjectId == "alice")
        #expect(outcome.relays.map(\.result) == [.unlocked])
        #expect(outcome.relayChanges >= 2 && outcome.relayLockedAtEnd, "unlocked for the pulse, then locked again")
    }

    @Test("nobody the cloud knows: denied, and the relay never moves")
    func aStrangerLeavesTheDoorLocked() async throws {
        let outcome = try await run(cloud: HeldCloud(candidates: [], released: true))
        #expect(outcome.searches == 1)
        #expect(outcome.decisions.map(\.decision.outcome) == [.deniedUnknown])
        #expect(outcome.relays.isEmpty && outcome.relayChanges == 0 && outcome.relayLockedAtEnd)
    }

    @Test("a face under the quality gate is denied without a cloud call")
    func aPoorFaceIsNotSearched() async throws {
        let outcome = try await run(
            analyzer: ScriptedAnalyzer(faceQuality: 0.2), cloud: HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100)], released: true))
        #expect(outcome.searches == 0, "no cloud call for a face that fails the gate")
        #expect(outcome.decisions.map(\.decision.outcome) == [.deniedQuality])
        #expect(outcome.relayChanges == 0 && outcome.relayLockedAtEnd)
    }
}
