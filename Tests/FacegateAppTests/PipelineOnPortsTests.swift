import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
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
        /// Each decision's approach: from the face's first frame to the frame that completed its visit.
        var approaches: [Duration]
        /// The sightings of each visit the liveness stage was given.
        var sightingsJudged: [Int]
        /// What `run()` threw, if anything.
        var failure: (any Error)?
    }

    func run(
        source: any FrameSource = SynthesizedApproach(), analyzer: ScriptedAnalyzer = ScriptedAnalyzer(),
        liveness: (any PresentationAttackDetecting)? = nil, uncertainLiveness: UncertainLivenessPolicy = .deny, cloud: HeldCloud
    ) async throws -> Outcome {
        let logger = Logger.quiet("pipeline-on-ports")
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: logger)
        let doorTask = Task { try await door.run() }
        let journal = MemoryJournal()
        var settings = GatePipelineSettings(door: "ports", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(10))
        settings.uncertainLiveness = uncertainLiveness
        let pipeline = GatePipeline(
            source: source, analyzer: analyzer, liveness: liveness, search: cloud, offline: nil, door: door,
            journal: journal, policy: DoorPolicy(door: "ports", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"]),
            settings: settings, logger: logger)
        let observed = await pipeline.decisions()
        let collecting = Task { await observed.reduce(into: [Duration]()) { $0.append($1.approach) } }
        let failure: (any Error)?
        do {
            try await pipeline.run()
            failure = nil
        } catch {
            failure = error
        }
        if !(source is FailingSource) { #expect(failure == nil, "\(String(describing: failure))") }
        // Past the pulse: the door has relocked.
        try await Task.sleep(for: .milliseconds(400))
        doorTask.cancel()
        _ = try? await doorTask.value
        #expect(journal.relaysBeforeTheirDecision == 0, "the relay's result is journaled against a decision already recorded")
        #expect(cloud.emptyProbes == 0, "the cloud gets the best face's crop")
        await pipeline.closeObservers()
        return Outcome(
            statistics: await pipeline.statistics, decisions: journal.decisions, relays: journal.relays,
            searches: cloud.calls, relayChanges: lines.relayChanges, relayLockedAtEnd: !lines.relayIsUnlocked,
            approaches: await collecting.value, sightingsJudged: (liveness as? ScriptedLiveness)?.judged.sightings ?? [], failure: failure)
    }

    /// A source whose frames end in an error (a replay of a video damaged part-way) after `frames` of `approach`.
    struct FailingSource: FrameSource {
        struct Damaged: Error {}
        var approach: SynthesizedApproach
        /// How many of the approach's frames come before the error.
        var count: Int

        func frames() -> AsyncThrowingStream<Frame, any Error> {
            let (stream, continuation) = AsyncThrowingStream<Frame, any Error>.makeStream()
            let (approach, count) = (approach, count)
            let producer = Task {
                var taken = 0
                do {
                    for try await frame in approach.frames() {
                        guard taken < count else { break }
                        continuation.yield(frame)
                        taken += 1
                    }
                    continuation.finish(throwing: Damaged())
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in producer.cancel() }
            return stream
        }
    }

    /// The frames fail while a person is followed: their visit is decided, as at the frames' end, and then the
    /// failure reaches the caller (the daemon restarts the pipeline). Before, the visit was dropped unjournaled.
    @Test("a source that fails while a face is followed still decides that visit, then reports the failure")
    func aSourceFailingMidVisitStillDecidesIt() async throws {
        // Two frames of the person: fewer than the three the selector settles on, so only the end of the frames completes it.
        let source = FailingSource(approach: SynthesizedApproach(empty: 2, present: 2, after: 4), count: 4)
        let outcome = try await run(source: source, cloud: HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])], released: true))
        #expect(outcome.failure is FailingSource.Damaged, "\(String(describing: outcome.failure))")
        #expect(outcome.decisions.map(\.decision.outcome) == [.granted])
        #expect(outcome.searches == 1)
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

    /// A liveness stage that says what it is told, or fails.
    struct ScriptedLiveness: PresentationAttackDetecting {
        var verdict: LivenessVerdict?
        let judged = JudgedVisits()

        final class JudgedVisits: Sendable {
            private let counts = Mutex<[Int]>([])
            var sightings: [Int] { counts.withLock { $0 } }
            func add(_ count: Int) { counts.withLock { $0.append(count) } }
        }

        func assess(_ visit: Visit) throws -> LivenessAssessment {
            judged.add(visit.sightings.count)
            guard let verdict else { throw ImageError(.corrupt, "the texture model failed") }
            return LivenessAssessment(
                liveness: verdict == .live ? 0.9 : 0.1, verdict: verdict, cues: ["texture": verdict == .live ? 0.9 : 0.1],
                reason: "scripted \(verdict.rawValue)")
        }
    }

    static let alice = [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])]

    @Test("a visit the liveness stage refuses, or cannot judge, makes no cloud call and leaves the relay still")
    func aRefusedVisitIsNotSearched() async throws {
        for (verdict, outcome) in [(LivenessVerdict.attack, Decision.Outcome.deniedPresentationAttack), (.uncertain, .deniedPresentationAttack), (nil, .error)] {
            let run = try await run(liveness: ScriptedLiveness(verdict: verdict), cloud: HeldCloud(candidates: Self.alice, released: true))
            #expect(run.searches == 0, "\(String(describing: verdict))")
            #expect(run.decisions.map(\.decision.outcome) == [outcome], "\(String(describing: verdict))")
            #expect(run.relayChanges == 0 && run.relayLockedAtEnd)
            // A stage that failed is counted apart: a model failing on every visit is a fault, not an attack wave.
            #expect(run.statistics.livenessChecks == 1 && run.statistics.livenessRefusals == (verdict == nil ? 0 : 1), "\(String(describing: verdict))")
            #expect(run.statistics.livenessErrors == (verdict == nil ? 1 : 0), "\(String(describing: verdict))")
            #expect(run.decisions.first?.liveness?.verdict == verdict, "journaled with its verdict (none when the stage failed)")
        }
    }

    @Test("a live visit, or an unjudged one at a door that allows it, is searched and opens the door")
    func aLiveVisitIsSearched() async throws {
        let live = try await run(liveness: ScriptedLiveness(verdict: .live), cloud: HeldCloud(candidates: Self.alice, released: true))
        #expect(live.searches == 1 && live.decisions.map(\.decision.outcome) == [.granted])
        #expect(live.decisions.first?.liveness?.cues == ["texture": 0.9])
        let allowed = try await run(
            liveness: ScriptedLiveness(verdict: .uncertain), uncertainLiveness: .allow, cloud: HeldCloud(candidates: Self.alice, released: true))
        #expect(allowed.searches == 1 && allowed.decisions.map(\.decision.outcome) == [.granted])
    }

    @Test("a clearly good face is sent once seen six times, the parallax cue's sightings; without a liveness stage, on its first frame")
    func aClearlyGoodFaceWaitsForTheLivenessStagesSightingsOnly() async throws {
        // Its frames are stamped as a 10 fps camera's.
        let interval = Duration.milliseconds(100)
        let approach = SynthesizedApproach(present: 12)
        let judged = try await run(source: approach, liveness: ScriptedLiveness(verdict: .live), cloud: HeldCloud(candidates: Self.alice, released: true))
        #expect(judged.sightingsJudged.count == 1 && judged.sightingsJudged.allSatisfy { $0 >= 6 }, "\(judged.sightingsJudged)")
        #expect(judged.approaches == [interval * 5], "six frames, five intervals: \(judged.approaches)")
        let unjudged = try await run(source: approach, cloud: HeldCloud(candidates: Self.alice, released: true))
        #expect(unjudged.decisions.map(\.decision.outcome) == [.granted])
        #expect(unjudged.approaches == [.zero], "sent on the face's first frame: \(unjudged.approaches)")
    }
}
