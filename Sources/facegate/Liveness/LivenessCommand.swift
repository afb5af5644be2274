import ArgumentParser
import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import Foundation

/// `facegate liveness`: the presentation-attack stage over recorded footage, one line per visit.
struct LivenessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liveness",
        abstract: "Judges whether each visit in images, folders of frames or videos is a live person or a presentation attack.",
        discussion: """
            Prints one line per visit: with --json, {"source", "visit", "liveness", "verdict", "cues"}. A still image \
            is one visit judged on single-frame cues (texture); frames and videos are cut into visits as the door \
            does, and the movement over each approach is a cue too (parallax). Verdicts: live, attack, or uncertain \
            when no cue could judge. Exits 1 when a source cannot be read or holds no face.
            """
    )

    @Argument(help: "Image files (JPEG/PNG), folders of frames (in name order) or video files (decoded by ffmpeg).")
    var sources: [String]

    @Flag(help: "One JSON object per line.")
    var json = false

    @Option(help: ArgumentHelp("Folder of the presentation-attack models (default: $FACEGATE_PAD_MODELS, models/pad, then /usr/local/share/facegate/pad).", valueName: "dir"))
    var padModels: String?

    @Option(help: "A visit whose liveness (0-1) is below this is an attack.")
    var threshold = PresentationAttackDetector.Settings().threshold

    @Flag(help: "A visit the parallax cue cannot judge (held still) is uncertain, as with liveness.require_movement: true.")
    var requireMovement = false

    @Option(help: "Frame rate given to a folder of frames (a video keeps its own).")
    var fps = 10.0

    @Flag(help: "Also print what the parallax cue measured, to standard error.")
    var verbose = false

    @OptionGroup var core: QualityCoreOptions

    func validate() throws {
        // 0 (or NaN, which compares false) would judge every face live.
        guard threshold > 0, threshold <= 1 else { throw ValidationError("--threshold must be above 0 and at most 1") }
    }

    func run() async throws {
        // With descriptors: the visits are cut as the daemon cuts them, a face that reappears where it
        // was lost continuing its person's visit (re-identification).
        let analyzer = try core.makeAnalyzer(withDescriptor: true)
        let detector: PresentationAttackDetector
        do {
            var settings = try PresentationAttackDetector.Settings(threshold: threshold)
            settings.requireMovement = requireMovement
            detector = try PresentationAttackDetector(models: padModels, settings: settings)
        } catch {
            throw ValidationError(describe(error))
        }
        var failures = 0
        for source in sources {
            do {
                let visits = try await visits(in: source, analyzer: analyzer)
                guard !visits.isEmpty else { throw CommandError("no face in it") }
                for visit in visits { try report(visit, of: source, detector: detector) }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("facegate liveness: \(source): \(describe(error))\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func visits(in source: String, analyzer: DlibFaceAnalyzer) async throws -> [Visit] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else { throw CommandError("no such file") }
        if !isDirectory.boolValue, ImageCodec.sniff(try readImageFile(source)) != nil {
            let image = try ImageCodec.decode(try readImageFile(source))
            guard let face = try analyzer.analyze(image).faces.first else { return [] }
            return [Visit.still(image, face: face, qualityGate: core.qualityGate)]
        }
        let replay = try ReplayFrameSource(
            path: source, configuration: .init(pacing: .asFastAsPossible, imagesPerSecond: fps, dropsLateFrames: false))
        var selector = ApproachSelector(configuration: ApproachConfiguration(qualityGate: core.qualityGate))
        var visits: [Visit] = []
        for try await frame in replay.frames() {
            visits += selector.observe(
                frame: frame, faces: try analyzer.analyze(frame.image).faces, describe: { try analyzer.descriptor(of: $0, in: $1) })
        }
        return visits + selector.finish()
    }

    private func report(_ visit: Visit, of source: String, detector: PresentationAttackDetector) throws {
        let assessment = try detector.assess(visit)
        if verbose {
            let m = detector.parallax.measure(visit.sightings)
            FileHandle.standardError.write(
                Data(
                    ("\(source) visit \(visit.number): parallax over \(m.sightings) sightings: nose along \(fixed(m.alongSpread)), "
                        + "drop \(fixed(m.dropSpread)), noise \(fixed(m.noiseSpread)); travel \(fixed(m.travel)), "
                        + "scale \(fixed(m.scaleChange)), roll \(fixed(m.rollChangeDegrees))\n").utf8))
        }
        if json {
            print(try JSONLine.encode(LivenessLine(source: source, visit: visit.number, assessment: assessment)))
        } else {
            let cues = assessment.cues.keys.sorted().map { "\($0) \(String(format: "%.2f", assessment.cues[$0]!))" }
            print(
                "\(source) visit \(visit.number): \(assessment.verdict.rawValue), liveness \(String(format: "%.2f", assessment.liveness))"
                    + (cues.isEmpty ? "" : " (\(cues.joined(separator: ", ")))"))
        }
    }
}

private func fixed(_ value: Double) -> String { String(format: "%.3f", value) }

/// The per-visit line of `facegate liveness --json`; other tools rely on this shape.
struct LivenessLine: Encodable {
    var source: String
    var visit: Int
    var liveness: Double
    var verdict: String
    var cues: [String: Double]

    init(source: String, visit: Int, assessment: LivenessAssessment) {
        self.source = source
        self.visit = visit
        liveness = assessment.liveness
        verdict = assessment.verdict.rawValue
        cues = assessment.cues
    }
}
