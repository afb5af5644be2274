import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation

/// `facegate-bench frames`: what a frame costs on the daemon's frame path while someone is in view:
/// the motion gate's thumbnail and verdict, the detection plan, the detector, landmarks and quality,
/// and the approach selector, per frame, on one thread. Each scene runs twice in one go: as before
/// issue 12 (every frame scanned whole, shrunk to the detection width) and as the daemon runs now
/// (the gate, and the detector only around the faces followed and where the scene moved).
struct FramePathBenchmark {
    let options: Options

    struct Scene {
        var name: String
        var frames: () throws -> AsyncThrowingStream<Frame, any Error>
    }

    struct Result {
        var followed: [Double] = []
        var all: [Double] = []
        var visits = 0
        var passing = 0
    }

    @_optimize(none)
    func run() async throws {
        let analyzer = try DlibFaceAnalyzer(models: try FaceModels.locate(options.models))
        let portrait = try ImageCodec.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: options.media + "/obama2.jpg"))))
        print("machine: \(machine())")
        print("per frame, ms (wall time on one thread, the frame's decoding and synthesis excluded); 'followed' = frames on which a face was already being followed")
        print("| scene | path | median ms, face followed | p90 ms, face followed | median ms, all frames | frames | visits (passing the gate) |")
        print("|---|---|---|---|---|---|---|")
        var scenes = [
            Scene(name: "640x480, a person walks up and stays 3 s") { try Self.approach(of: portrait, width: 640, height: 480) },
            Scene(name: "1920x1080, a person walks up and stays 3 s") { try Self.approach(of: portrait, width: 1920, height: 1080) },
        ]
        let clip = options.testdata + "/video/facenet_pytorch_video.mp4"
        if FileManager.default.fileExists(atPath: clip) {
            scenes.append(
                Scene(name: "1920x1080, facenet_pytorch_video.mp4 (walkers)") {
                    try ReplayFrameSource(path: clip, configuration: .init(pacing: .asFastAsPossible)).frames()
                })
        }
        // The reference for the walkers: every frame scanned whole at 1.5 times its size, which finds every
        // face from a 20-px eye distance up (too slow for a door, fine for counting them).
        let reference = DlibFaceAnalyzer(engine: analyzer.engine, configuration: QualityConfiguration(detectionWidth: 2880))
        for scene in scenes {
            for mode in scene.name.contains("facenet") ? [0, 1, 2] : [0, 1] {
                let planned = mode == 1
                let result = try await measure(scene, planned: planned, analyzer: mode == 2 ? reference : analyzer)
                func median(_ values: [Double]) -> String { values.isEmpty ? "-" : String(format: "%.1f", values.sorted()[values.count / 2]) }
                func p90(_ values: [Double]) -> String {
                    values.isEmpty ? "-" : String(format: "%.1f", values.sorted()[min(values.count - 1, Int(Double(values.count) * 0.9))])
                }
                print(
                    "| \(scene.name) | \(["whole frame (before)", "gate + regions (now)", "reference: whole frame at 1.5x"][mode]) | \(median(result.followed)) | \(p90(result.followed)) | \(median(result.all)) | \(result.all.count) | \(result.visits) (\(result.passing)) |")
            }
        }
    }

    @_optimize(none)
    private func measure(_ scene: Scene, planned: Bool, analyzer: DlibFaceAnalyzer) async throws -> Result {
        let detection = analyzer.configuration.detectionWidth
        let approach = ApproachConfiguration(earlyQuality: planned ? 0.8 : nil, reidentifyWindow: planned ? .seconds(10) : .zero)
        var gate = MotionGate(configuration: planned ? MotionGateConfiguration() : .off)
        var planner = DetectionPlanner(settings: .init(detectionWidth: detection, minInterEyeDistance: approach.minInterEyeDistance))
        var selector = ApproachSelector(configuration: approach)
        var result = Result()
        let clock = ContinuousClock()
        for try await frame in try scene.frames() {
            let started = clock.now
            let followed = selector.activeTracks > 0
            var plan = DetectionPlan.wholeFrame
            var skipped = false
            if planned {
                let thumbnail = MotionGate.thumbnail(of: frame.image)
                if gate.judge(frame, thumbnail: thumbnail, following: followed) == .skip {
                    skipped = true
                } else {
                    plan = planner.plan(
                        width: frame.image.width, height: frame.image.height, at: frame.timestamp,
                        followed: selector.expectedFaces(at: frame.timestamp), motion: gate.motion, minMovingCells: gate.minMovingCells)
                }
            }
            if !skipped {
                let faces = try analyzer.analyze(frame.image, plan: plan, descriptorLimit: 0).faces
                let visits = selector.observe(frame: frame, faces: faces, describe: { try analyzer.descriptor(of: $0, in: $1) })
                result.visits += visits.count
                result.passing += visits.count { $0.passedQualityGate }
            }
            let ms = (clock.now - started).milliseconds
            result.all.append(ms)
            if followed { result.followed.append(ms) }
        }
        let rest = selector.finish()
        result.visits += rest.count
        result.passing += rest.count { $0.passedQualityGate }
        return result
    }

    /// An empty scene for 1 s, a person walking up for 3 s (30 frames at 10 fps) and standing at the door
    /// for 3 s, with the sensor's noise: the frames are made as they are taken.
    static func approach(of portrait: PixelImage, width: Int, height: Int) throws -> AsyncThrowingStream<Frame, any Error> {
        let approach = SyntheticApproach(canvasWidth: width, canvasHeight: height, frameCount: 30)
        let last = try approach.frame(approach.frameCount - 1, of: portrait)
        let empty = try PixelImage(width: width, height: height, layout: .rgb24, pixels: [UInt8](repeating: 90, count: width * height * 3))
        let total = 10 + approach.frameCount + 30
        return AsyncThrowingStream { continuation in
            do {
                for n in 0..<total {
                    let image: PixelImage
                    if n < 10 {
                        image = empty
                    } else if n < 10 + approach.frameCount {
                        image = try approach.frame(n - 10, of: portrait)
                    } else {
                        image = last
                    }
                    continuation.yield(Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 100), image: image))
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }
}
