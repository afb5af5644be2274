import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import Foundation
import Logging
import Synchronization
import Testing

/// The gate pipeline on its ports alone: scripted frames, a scripted analyser, an in-memory cloud and
/// journal, simulated door lines. No dlib models, camera or network: what the pipeline itself does
/// with an approach (one visit, one cloud call, the decision journaled before the relay moves).
@Suite(.timeLimit(.minutes(1)))
struct PipelineOnPortsTests {
    /// An approach: frames with nobody, then someone in view, then nobody. The first pixel says who
    /// is there (255: someone), which is all the scripted analyser looks at.
    struct ScriptedApproach: FrameSource {
        var empty = 4, present = 12, after = 8

        func frames() -> AsyncThrowingStream<Frame, any Error> {
            let script = Array(repeating: false, count: empty) + Array(repeating: true, count: present)
                + Array(repeating: false, count: after)
            return AsyncThrowingStream { continuation in
                for (index, someone) in script.enumerated() {
                    var pixels = [UInt8](repeating: 96, count: 160 * 120 * 3)
                    pixels[0] = someone ? 255 : 0
                    do {
                        let image = try PixelImage(width: 160, height: 120, layout: .rgb24, pixels: pixels)
                        continuation.yield(Frame(sequence: UInt64(index), timestamp: .milliseconds(100 * index), image: image))
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                }
                continuation.finish()
            }
        }
    }

    /// Finds one face, of the given quality, wherever the frame says someone is there.
    struct ScriptedAnalyzer: FrameAnalyzing {
        var faceQuality = 0.9

        func analyze(_ image: PixelImage, descriptorLimit: Int) throws -> ImageAnalysis {
            guard image.pixels[0] == 255 else { return ImageAnalysis(width: image.width, height: image.height, faces: []) }
            return ImageAnalysis(width: image.width, height: image.height, faces: [Self.face(quality: faceQuality)])
        }

        func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
            try FaceDescriptor([Float](repeating: 0.05, count: FaceDescriptor.dimension))
        }

        static func face(quality: Double) -> DetectedFace {
            let box = PixelBox(left: 50, top: 30, right: 110, bottom: 90)
            let measure = QualityMeasure(raw: 1, score: 100)
            return DetectedFace(
                detectionScore: 1, box: box,
                landmarks: FaceLandmarks(
                    rightEyeOuter: PixelPoint(x: 60, y: 50), rightEyeInner: PixelPoint(x: 70, y: 50),
                    leftEyeOuter: PixelPoint(x: 100, y: 50), leftEyeInner: PixelPoint(x: 90, y: 50), noseBase: PixelPoint(x: 80, y: 70)),
                attributes: FaceAttributes(
                    faceArea: box, headArea: box, rightEyeCenter: PixelPoint(x: 65, y: 50), leftEyeCenter: PixelPoint(x: 95, y: 50),
                    faceScore: 1, frontalFaceScore: 1, faceRoll: 0, facePan: 0, faceTilt: 0, faceQualityScore: quality),
                quality: QualityMeasures(
                    interEyeDistance: QualityMeasure(raw: 30, score: 100), headSize: measure, headPosition: measure, yaw: measure,
                    roll: measure, pitch: measure, sharpness: measure, luminanceMean: measure, underExposure: measure,
                    overExposure: measure, dynamicRange: measure, singleFaceDominance: measure, faceQualityScore: quality))
        }
    }

    /// A cloud that answers every search with the same candidates, and counts the searches.
    final class ScriptedCloud: FaceSearch {
        let candidates: [MatchCandidate]
        let searches = Mutex(0)
        init(_ candidates: [MatchCandidate]) { self.candidates = candidates }
        var backendName: String { "scripted" }
        var scoreUnit: ScoreUnit { .necScore }
        func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
            searches.withLock { $0 += 1 }
            #expect(!probe.jpeg.isEmpty, "the cloud gets the best face's crop")
            return candidates
        }
    }

    /// The journal in memory; each grant's decision is checked to be recorded before its relay record.
    final class MemoryJournal: GateJournal {
        let decisions = Mutex<[DecisionRecord]>([])
        let relays = Mutex<[RelayRecord]>([])
        func record(_ decision: DecisionRecord) -> Bool { decisions.withLock { $0.append(decision) }; return true }
        func record(_ event: DoorEventRecord) -> Bool { true }
        func recordRecheck(_ recheck: RecheckRecord) -> Bool { true }
        func recordRelay(_ relay: RelayRecord) -> Bool {
            let known = decisions.withLock { $0.contains { $0.id == relay.decisionId } }
            #expect(known, "the relay's result is journaled against a decision already recorded")
            relays.withLock { $0.append(relay) }
            return true
        }
        func flush() async throws {}
        func newestDecisionTime() async -> Date? { nil }
    }

    struct Outcome {
        var statistics: PipelineStatistics
        var decisions: [DecisionRecord]
        var relays: [RelayRecord]
        var searches: Int
        var relayChanges: Int
        var relayLockedAtEnd: Bool
    }

    func run(analyzer: ScriptedAnalyzer = ScriptedAnalyzer(), cloud: ScriptedCloud) async throws -> Outcome {
        var logger = Logger(label: "pipeline-on-ports")
        logger.logLevel = .critical
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: logger)
        let doorTask = Task { try await door.run() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: ScriptedApproach(), analyzer: analyzer, search: cloud, offline: nil, door: door, journal: journal,
            policy: DoorPolicy(door: "ports", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"]),
            settings: .init(door: "ports", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(10)),
            logger: logger)
        try await pipeline.run()
        // Past the pulse: the door has relocked.
        try await Task.sleep(for: .milliseconds(400))
        doorTask.cancel()
        _ = try? await doorTask.value
        return Outcome(
            statistics: await pipeline.statistics, decisions: journal.decisions.withLock { $0 }, relays: journal.relays.withLock { $0 },
            searches: cloud.searches.withLock { $0 }, relayChanges: lines.relayChanges, relayLockedAtEnd: !lines.relayIsUnlocked)
    }

    @Test("an approach is one visit and one cloud call; a match opens the door after the grant is journaled")
    func aMatchOpensTheDoorOnce() async throws {
        let outcome = try await run(cloud: ScriptedCloud([MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])]))
        #expect(outcome.statistics.visits == 1)
        #expect(outcome.searches == 1, "one cloud call per visit, not per frame")
        #expect(outcome.decisions.map(\.decision.outcome) == [.granted])
        #expect(outcome.decisions.first?.decision.subjectId == "alice")
        #expect(outcome.relays.map(\.result) == [.unlocked])
        #expect(outcome.relayChanges >= 2 && outcome.relayLockedAtEnd, "unlocked for the pulse, then locked again")
    }

    @Test("nobody the cloud knows: denied, and the relay never moves")
    func aStrangerLeavesTheDoorLocked() async throws {
        let outcome = try await run(cloud: ScriptedCloud([]))
        #expect(outcome.searches == 1)
        #expect(outcome.decisions.map(\.decision.outcome) == [.deniedUnknown])
        #expect(outcome.relays.isEmpty && outcome.relayChanges == 0 && outcome.relayLockedAtEnd)
    }

    @Test("a face under the quality gate is denied without a cloud call")
    func aPoorFaceIsNotSearched() async throws {
        let outcome = try await run(
            analyzer: ScriptedAnalyzer(faceQuality: 0.2), cloud: ScriptedCloud([MatchCandidate(subjectId: "alice", score: 9100)]))
        #expect(outcome.searches == 0, "no cloud call for a face that fails the gate")
        #expect(outcome.decisions.map(\.decision.outcome) == [.deniedQuality])
        #expect(outcome.relayChanges == 0 && outcome.relayLockedAtEnd)
    }
}
