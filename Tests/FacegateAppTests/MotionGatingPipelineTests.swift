import FacegateApp
import FacegateCapture
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Testing

/// The motion gate in the pipeline (issue 12): with nobody in view the detector runs at the periodic
/// rate only, someone who appears without visible motion is still found within the interval, and a
/// real clip gives the same visits with the gate as without it.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct MotionGatingPipelineTests {
    static let quiet = Logger.quiet("motion-gating")

    func run(
        source: any FrameSource, analyzer: any FrameAnalyzing, motion: MotionGateConfiguration, settleFrames: Int = 3
    ) async throws -> (statistics: PipelineStatistics, outcomes: [GateOutcome]) {
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let pipeline = GatePipeline(
            source: source, analyzer: analyzer, search: HeldCloud(released: true), offline: nil, door: door, journal: MemoryJournal(),
            policy: DoorPolicy(door: "gated", threshold: 7000, scoreUnit: .necScore),
            settings: .init(
                door: "gated", approach: ApproachConfiguration(settleFrames: settleFrames), motion: motion, decisionDeadline: .seconds(30)),
            logger: Self.quiet)
        let decisions = await pipeline.decisions()
        let collected = Task {
            var outcomes: [GateOutcome] = []
            for await outcome in decisions { outcomes.append(outcome) }
            return outcomes
        }
        try await pipeline.run()
        return (await pipeline.statistics, await collected.value)
    }

    @Test("someone appearing in a still scene, where the gate sees nothing move, is found at the next periodic look")
    func aStillAppearanceIsFoundWithinTheInterval() async throws {
        // 10 fps (frame n at n × 100 ms): nobody for 1.5 s, someone for 2 s, nobody for 1 s. The
        // person darkens the middle of the frame so slowly (half a level a frame) that no frame moves.
        let source = SynthesizedApproach(empty: 15, present: 20, after: 10, arrival: .gradual(levelsPerFrame: 0.5))
        let gated = try await run(source: source, analyzer: ScriptedAnalyzer(), motion: MotionGateConfiguration())
        #expect(gated.statistics.visits == 1)
        let visit = try #require(gated.outcomes.first)
        #expect(visit.record.decision.outcome == .deniedUnknown, "decided as without the gate: \(visit.record.decision.reason)")
        // Frame 0 found the scene empty. The periodic looks from frame 10 on are skipped while the
        // picture does not differ from it; the darkening adds up to a difference after about 2 s (frame
        // 35): that look finds the face, and from there every frame is analysed while it is followed,
        // to the end of the stream (the 2 s cooldown has not passed).
        #expect((30...36).contains(visit.bestFrameSequence), "\(visit.bestFrameSequence)")
        #expect(gated.statistics.framesAnalysed == 1 + 45 - Int(visit.bestFrameSequence), "\(gated.statistics)")

        let ungated = try await run(source: source, analyzer: ScriptedAnalyzer(), motion: .off)
        #expect(ungated.statistics.visits == 1)
        #expect(ungated.statistics.framesSkipped == 0 && ungated.statistics.framesAnalysed == 45)
    }

    @Test("someone whose arrival changes nothing the gate sees is still found by the unchanged scene's backstop look")
    func anUnseenArrivalIsFoundByTheBackstop() async throws {
        // The person marks one pixel only: to the gate the picture is the empty scene frame 0 found.
        // The periodic looks wait for the unchanged-scene interval (5 s, frame 50), which finds them.
        let source = SynthesizedApproach(empty: 15, present: 50, after: 10, arrival: .unseen)
        let gated = try await run(source: source, analyzer: ScriptedAnalyzer(), motion: MotionGateConfiguration())
        #expect(gated.statistics.visits == 1)
        let visit = try #require(gated.outcomes.first)
        #expect(visit.bestFrameSequence >= 50)
        #expect(gated.statistics.framesSkipped == 49, "\(gated.statistics)")
        #expect(gated.statistics.framesAnalysed == 26, "\(gated.statistics)")
        // With the backstop at the periodic interval, every periodic look runs: found at frame 20.
        var everyLook = MotionGateConfiguration()
        everyLook.unchangedSceneInterval = everyLook.fullDetectionInterval
        let looking = try await run(source: source, analyzer: ScriptedAnalyzer(), motion: everyLook)
        #expect(looking.statistics.visits == 1)
        #expect(looking.statistics.framesSkipped == 18, "\(looking.statistics)")
    }

    @Test("a real clip gives the same visits, each passing the gate as before, with the gate as without it")
    func aRealClipGivesTheSameVisits() async throws {
        let analyzer = try TestFaceAnalyzers.video()
        func replay() throws -> ReplayFrameSource {
            try ReplayFrameSource(
                path: SharedTestData.url("video/short_hamilton_clip.mp4").path, configuration: .init(pacing: .asFastAsPossible))
        }
        let gated = try await run(source: try replay(), analyzer: analyzer, motion: MotionGateConfiguration(), settleFrames: 5)
        let ungated = try await run(source: try replay(), analyzer: analyzer, motion: .off, settleFrames: 5)
        #expect(ungated.statistics.visits >= 1)
        #expect(gated.statistics.visits == ungated.statistics.visits, "gated \(gated.statistics), ungated \(ungated.statistics)")
        #expect(
            gated.outcomes.map { $0.record.decision.outcome == .deniedQuality }
                == ungated.outcomes.map { $0.record.decision.outcome == .deniedQuality },
            "the same visits pass the quality gate")
        #expect(gated.statistics.frames == ungated.statistics.frames)
    }

    @Test("walkers in a 1080p clip, lost by the whole frame shrunk to 640 px, are found where the scene moved")
    func smallFacesInAWideFrameAreFoundWhereTheSceneMoved() async throws {
        // facenet_pytorch_video.mp4: pedestrians walking toward a fixed camera, faces of 70-90 px (eye
        // distances of 26-34 px) in 1920x1080 frames.
        let analyzer = try TestFaceAnalyzers.video()
        func replay() throws -> ReplayFrameSource {
            try ReplayFrameSource(
                path: SharedTestData.url("video/facenet_pytorch_video.mp4").path, configuration: .init(pacing: .asFastAsPossible))
        }
        let ungated = try await run(source: try replay(), analyzer: analyzer, motion: .off)
        #expect(ungated.statistics.visits == 0, "every face is under the detector's window at 640 px: \(ungated.statistics)")
        let gated = try await run(source: try replay(), analyzer: analyzer, motion: MotionGateConfiguration())
        // Six, as many as scanning every frame whole at 1.5× finds (facegate-bench frames); before the
        // tiles went only where the scene moved, and a coarse one in three, four.
        #expect(gated.statistics.visits >= 5, "\(gated.statistics)")
        #expect(gated.statistics.regionScans > 0 && gated.statistics.wholeFrameScans < gated.statistics.framesAnalysed)
    }
}
