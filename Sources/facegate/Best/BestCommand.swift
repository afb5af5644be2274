import ArgumentParser
import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation

/// `facegate best`: the approach selector over recorded frames.
struct BestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "best",
        abstract: "Picks the best face of each approach in a folder of frames or a video; one JSON line per visit."
    )

    @Argument(help: "A folder of JPEG/PNG frames (in name order) or a video file (decoded by ffmpeg).")
    var source: String

    @Option(help: ArgumentHelp("Write each visit's best-face crop (JPEG) into this folder.", valueName: "dir"))
    var out: String?

    @Option(help: "Frame rate given to a folder of frames (a video keeps its own).")
    var fps = 10.0

    @Flag(help: "Replay at the recording's pace instead of as fast as possible.")
    var realTime = false

    @Option(help: "Seconds a face must be gone before its person counts as having left.")
    var cooldown = 2.0

    @Option(help: "Seconds after first sight at which an approach's visit is emitted at the latest.")
    var window = 4.0

    @Option(help: "Seconds after a face was lost during which the same face reappearing there continues its visit (0: off).")
    var reidentify = 10.0

    @Flag(help: "Always wait for the quality to settle, even for a clearly good first face.")
    var waitForSettle = false

    @Flag(help: "Scan every frame whole, as with `motion.enabled: false` (by default frames go through the daemon's motion gate and detection regions).")
    var everyFrame = false

    @OptionGroup var core: QualityCoreOptions

    func run() async throws {
        let analyzer = try core.makeAnalyzer(withDescriptor: reidentify > 0)
        let replay: ReplayFrameSource
        do {
            replay = try ReplayFrameSource(
                path: source,
                configuration: .init(pacing: realTime ? .realTime : .asFastAsPossible, imagesPerSecond: fps, dropsLateFrames: false))
        } catch {
            throw ValidationError(describe(error))
        }
        if let out { try PrivateOutput.makeFolder(out) }
        var selector = ApproachSelector(
            configuration: ApproachConfiguration(
                approachWindow: .milliseconds(Int(window * 1000)), cooldown: .milliseconds(Int(cooldown * 1000)),
                qualityGate: core.qualityGate, earlyQuality: waitForSettle ? nil : ApproachConfiguration().earlyQuality,
                reidentifyWindow: .milliseconds(Int(reidentify * 1000))))
        let describe: ApproachSelector.DescribeFace? = reidentify > 0 ? { try analyzer.descriptor(of: $0, in: $1) } : nil
        // The daemon's frame path: the motion gate, then the detector where the planner says.
        var gate = MotionGate(configuration: everyFrame ? .off : MotionGateConfiguration())
        var planner = DetectionPlanner(
            settings: .init(detectionWidth: analyzer.configuration.detectionWidth, minInterEyeDistance: selector.configuration.minInterEyeDistance))
        for try await frame in replay.frames() {
            var plan = DetectionPlan.wholeFrame
            let thumbnail = everyFrame ? nil : MotionGate.thumbnail(of: frame.image)
            if let thumbnail {
                if gate.judge(frame, thumbnail: thumbnail, following: selector.activeTracks > 0) == .skip { continue }
                plan = planner.plan(
                    width: frame.image.width, height: frame.image.height, at: frame.timestamp,
                    followed: selector.expectedFaces(at: frame.timestamp), motion: gate.motion, minMovingCells: gate.minMovingCells)
            }
            let faces = try analyzer.analyze(frame.image, plan: plan, descriptorLimit: 0).faces
            if let thumbnail, case .wholeFrame = plan {
                gate.noteWholeFrameScan(at: frame.timestamp, thumbnail: thumbnail, foundFaces: !faces.isEmpty)
            }
            for visit in selector.observe(frame: frame, faces: faces, describe: describe) {
                print(try line(for: visit))
            }
        }
        for visit in selector.finish() { print(try line(for: visit)) }
    }

    private func line(for visit: Visit) throws -> String {
        var crop: String?
        if let out {
            let path = "\(out)/visit-\(visit.number).jpg"
            let jpeg = try ImageCodec.encodeJPEG(try visit.bestFrame.cropped(to: visit.bestFace.attributes.headArea))
            try PrivateOutput.write(jpeg, to: path)
            crop = path
        }
        return try JSONLine.encode(VisitReport(visit: visit, crop: crop))
    }
}

/// The per-visit line of `facegate best`.
struct VisitReport: Encodable {
    var visit: Int
    /// Seconds from the start of the recording.
    var firstSeen: Double
    var lastSeen: Double
    var framesSeen: Int
    var bestFrame: UInt64
    var quality: Double
    var passedQualityGate: Bool
    var emittedBecause: String
    var attributes: FaceAttributes
    var crop: String?

    init(visit: Visit, crop: String?) {
        func seconds(_ d: Duration) -> Double { d.timeInterval }
        self.visit = visit.number
        firstSeen = seconds(visit.firstSeen)
        lastSeen = seconds(visit.lastSeen)
        framesSeen = visit.framesSeen
        bestFrame = visit.bestFrameSequence
        quality = visit.bestFace.quality.faceQualityScore
        passedQualityGate = visit.passedQualityGate
        emittedBecause = visit.emittedBecause.rawValue
        attributes = visit.bestFace.attributes
        self.crop = crop
    }
}
