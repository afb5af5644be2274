import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

/// A camera that goes silent (unplugged, stalled) while someone is at the door: their visit, still
/// being followed, must not open the door when the frames come back, long after they may have gone.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CameraSilenceTests {
    static let quiet = Logger.quiet("camera-silence")

    struct Run {
        var statistics: PipelineStatistics
        var journaled: [DecisionRecord]
        var cloudCalls: Int
        var relayChanges: Int
    }

    /// The scripted analyzer, taking `seconds` over the first frame with a face and no time over the rest: one
    /// analysis slow enough (a loaded box) that the frames after it wait in the source's queue.
    final class SlowOnceAnalyzer: FrameAnalyzing {
        let seconds: Double
        let scripted = ScriptedAnalyzer()
        private let slowed = Mutex(false)

        init(seconds: Double) { self.seconds = seconds }

        func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
            let analysis = try scripted.analyze(image, plan: plan, descriptorLimit: descriptorLimit)
            let first = !analysis.faces.isEmpty && slowed.withLock { slowed in
                let first = !slowed
                slowed = true
                return first
            }
            if first { Thread.sleep(forTimeInterval: seconds) }
            return analysis
        }

        func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
            try scripted.descriptor(of: face, in: image)
        }
    }

    /// The scripted analyzer, failing `failures` analyses in a row after the third frame with a face (and the
    /// `passing` analyses after it): frames that come on time but cannot be analysed (the detector failing
    /// under memory pressure, say).
    final class FailingAnalyzer: FrameAnalyzing {
        let scripted = ScriptedAnalyzer()
        let failures: Int
        let passing: Int
        private let counts = Mutex((withFaces: 0, passed: 0, failed: 0))

        init(failures: Int, after passing: Int = 0) {
            self.failures = failures
            self.passing = passing
        }

        func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
            let analysis = try scripted.analyze(image, plan: plan, descriptorLimit: descriptorLimit)
            let fails = counts.withLock { counts in
                guard counts.withFaces >= 3, counts.passed >= passing, counts.failed < failures else {
                    if !analysis.faces.isEmpty { counts.withFaces += 1 } else if counts.withFaces >= 3 { counts.passed += 1 }
                    return false
                }
                counts.failed += 1
                return true
            }
            if fails { throw ImageError(.corrupt, "the detector failed") }
            return analysis
        }

        func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
            try scripted.descriptor(of: face, in: image)
        }
    }

    /// Frames that come on time but cannot be analysed blind the selector as a silent camera does: a visit
    /// whose person went unseen through 4 s of them opens nothing when the analysis recovers (review: with the
    /// camera prompt no silence was seen, and the visit was decided, and granted, on a face 4 s old). A second
    /// of them, under the cooldown, still has the visit decided.
    @Test func aVisitUnseenThroughFramesThatCouldNotBeAnalysedOpensNothing() async throws {
        let blind = try await run(SynthesizedApproach(empty: 4, present: 3, after: 80), analyzer: FailingAnalyzer(failures: 40))
        #expect(blind.statistics.visits == 1)
        #expect(blind.journaled.map(\.decision.outcome) == [.error], "\(blind.journaled.map(\.decision.reason))")
        let reason = try #require(blind.journaled.first?.decision.reason)
        #expect(reason.contains("no frame could be analysed for"), "\(reason)")
        #expect(blind.cloudCalls == 0 && blind.relayChanges == 0)

        let blink = try await run(SynthesizedApproach(empty: 4, present: 3, after: 80), analyzer: FailingAnalyzer(failures: 10))
        #expect(blink.journaled.map(\.decision.outcome) == [.granted], "\(blink.journaled.map(\.decision.reason))")
        #expect(blink.cloudCalls == 1)
    }

    func run(_ source: SynthesizedApproach, analyzer: any FrameAnalyzing = ScriptedAnalyzer()) async throws -> Run {
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])], released: true)
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: source, analyzer: analyzer, search: cloud, offline: nil, door: door, journal: journal,
            policy: DoorPolicy(door: "silence", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"]),
            settings: .init(
                // No early decision: without a liveness stage one sighting would decide a clearly good face at
                // once (b2e7808), before the silence these visits are about.
                door: "silence", approach: ApproachConfiguration(settleFrames: 5, earlyQuality: nil), motion: MotionGateConfiguration(),
                decisionDeadline: .seconds(30)),
            logger: Self.quiet)
        try await pipeline.run()
        return Run(statistics: await pipeline.statistics, journaled: journal.decisions, cloudCalls: cloud.calls, relayChanges: lines.relayChanges)
    }

    @Test("a visit whose person the camera stopped showing for longer than leaving explains is journaled undecided; the door stays locked")
    func aVisitTheCameraWentSilentOnOpensNothing() async throws {
        // 10 fps: someone for 3 frames (too few to be decided yet), then the camera sends nothing for 4 s,
        // then 3 s of an empty scene.
        let silent = try await run(SynthesizedApproach(empty: 4, present: 3, after: 30, silence: (afterFrame: 6, duration: .seconds(4))))
        #expect(silent.statistics.visits == 1)
        #expect(silent.journaled.map(\.decision.outcome) == [.error])
        let reason = try #require(silent.journaled.first?.decision.reason)
        #expect(reason.contains("the camera sent no frame for 4 s after the person was last seen"), "\(reason)")
        #expect(silent.cloudCalls == 0, "not searched")
        #expect(silent.relayChanges == 0, "the door never opened")

        // The same visit with the frames coming on: the person leaves before it settled, and it is
        // decided at the cooldown, as it always was.
        let steady = try await run(SynthesizedApproach(empty: 4, present: 3, after: 30))
        #expect(steady.journaled.map(\.decision.outcome) == [.granted])
        #expect(steady.cloudCalls == 1 && steady.relayChanges > 0)

        // A camera silent for less than the allowance past the cooldown still has the visit decided.
        let hiccup = try await run(SynthesizedApproach(empty: 4, present: 3, after: 30, silence: (afterFrame: 6, duration: .milliseconds(2500))))
        #expect(hiccup.journaled.map(\.decision.outcome) == [.granted])

        // Frames that come late because the analysis was slow (a loaded box), not because the camera
        // was silent: the frame times jump as after a silence, but the pipeline never waited for one.
        let slow = try await run(SynthesizedApproach(empty: 4, present: 3, after: 30, jump: (afterFrame: 6, duration: .seconds(4))))
        #expect(slow.journaled.map(\.decision.outcome) == [.granted])

        // Someone there when the frames come back is decided on what the camera shows then, and only on
        // that: the visit followed before the silence ends undecided (who stood there then may be gone, and
        // another person, or a photo held up meanwhile, must not inherit its best face), and the face seen
        // after it is a visit of its own. Before, the face after the silence continued the earlier visit
        // and the door opened on its best face, from before the silence.
        let stayed = try await run(SynthesizedApproach(empty: 4, present: 12, after: 30, silence: (afterFrame: 6, duration: .seconds(4))))
        #expect(stayed.statistics.visits == 2, "the visit before the silence, and one after it")
        #expect(stayed.journaled.map(\.decision.outcome) == [.error, .granted])
        #expect(stayed.journaled.first?.decision.reason.contains("the camera sent no frame for 4 s") == true)
        #expect(stayed.cloudCalls == 1, "only the face seen after the silence is searched")

        // Someone already decided, still there through a silence: the face after it is theirs again (by
        // likeness), not a second decision and a second opening.
        let decided = try await run(SynthesizedApproach(empty: 4, present: 30, after: 30, silence: (afterFrame: 20, duration: .seconds(4))))
        #expect(decided.statistics.visits == 1, "one person, one decision")
        #expect(decided.journaled.map(\.decision.outcome) == [.granted])
        #expect(decided.cloudCalls == 1)
    }

    /// Frames late because one analysis took longer than a silence would need (4 s, over the 2 s cooldown and
    /// the 1 s allowance), the camera prompt throughout: the pipeline never waited for a frame, so the visit is
    /// decided as usual. Measured from when a frame arrived instead of from when the pipeline asked for the next,
    /// the slow analysis would count as a silence and the visit end undecided.
    @Test("an analysis slower than a silence is not a silent camera: the visit is decided")
    func anAnalysisSlowerThanASilenceIsNotACameraSilence() async throws {
        let slow = try await run(SynthesizedApproach(empty: 4, present: 3, after: 30), analyzer: SlowOnceAnalyzer(seconds: 4))
        #expect(slow.statistics.visits == 1)
        #expect(slow.journaled.map(\.decision.outcome) == [.granted], "\(slow.journaled.map(\.decision.reason))")
        #expect(slow.cloudCalls == 1 && slow.relayChanges > 0)
    }

    @Test("a stop while the camera is silent decides no visit it was following: they are journaled undecided, the door stays locked")
    func aStopDuringACameraSilenceOpensNothing() async throws {
        // Someone for 3 frames, then the camera sends nothing for 4 s, then the frames end (the daemon is
        // stopped while the camera is unplugged: the V4L2 source ends its frames on cancellation).
        let stopped = try await run(SynthesizedApproach(empty: 4, present: 3, after: 0, silence: (afterFrame: 6, duration: .seconds(4))))
        #expect(stopped.journaled.map(\.decision.outcome) == [.error])
        let reason = try #require(stopped.journaled.first?.decision.reason)
        #expect(reason.contains("the camera sent no frame for 4 s after the person was last seen"), "\(reason)")
        #expect(stopped.cloudCalls == 0 && stopped.relayChanges == 0)

        // A stop with the frames coming on still decides the visit being followed: a grant opens the door.
        let steady = try await run(SynthesizedApproach(empty: 4, present: 3, after: 0))
        #expect(steady.journaled.map(\.decision.outcome) == [.granted])
        #expect(steady.cloudCalls == 1 && steady.relayChanges > 0)
    }
}
