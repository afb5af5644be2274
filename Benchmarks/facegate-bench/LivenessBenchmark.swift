import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import Foundation

/// `facegate-bench liveness`: the presentation-attack stage measured as ISO/IEC 30107-3 asks, on the
/// real media of `../shared/testdata/pad` (`--testdata DIR`) and, separately, on synthesized printed-photo
/// approaches (each person's first photo in `faces/` printed (flattened tone, paper grain) and carried up
/// to the camera, tilting as a hand would), and what it costs per visit and per frame.
struct LivenessBenchmark {
    let options: Options

    struct Presentation {
        var source: String
        /// "bona fide", or the attack type (print, screen photo, screen video, mask).
        var kind: String
        var visit: Int
        var assessment: LivenessAssessment
        var passedQualityGate: Bool
    }

    func run() async throws {
        let analyzer = try DlibFaceAnalyzer(models: try FaceModels.locate(options.models))
        let detector = try PresentationAttackDetector(models: options.padModels)
        let testdata = URL(fileURLWithPath: options.testdata)
        print("machine: \(machine())")
        print("threshold \(detector.settings.threshold) (the models' own decision point, not tuned on these files)")
        if options.movement {
            try await movement(analyzer: analyzer, detector: detector, testdata: URL(fileURLWithPath: options.testdata))
            return
        }

        var real: [Presentation] = []
        var assessTimes: [Duration] = []
        var textureTimes: [Duration] = []
        let kinds = ["bonafide": "bona fide", "print": "print", "mask": "mask"]
        for folder in ["bonafide", "print", "screen", "mask"] {
            let url = testdata.appendingPathComponent("pad/\(folder)")
            for file in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() {
                let path = url.appendingPathComponent(file).path
                let isVideo = !file.hasSuffix(".jpg") && !file.hasSuffix(".png")
                let kind = kinds[folder] ?? (isVideo && file.hasPrefix("zubair") ? "screen video" : "screen photo")
                for visit in try await Self.visits(in: path, isVideo: isVideo, analyzer: analyzer) {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let assessment = try detector.assess(visit)
                    assessTimes.append(clock.now - start)
                    for sample in visit.samples {
                        let textureStart = clock.now
                        _ = try? detector.texture.score(sample.image, face: sample.box)
                        textureTimes.append(clock.now - textureStart)
                    }
                    real.append(Presentation(source: "\(folder)/\(file)", kind: kind, visit: visit.number, assessment: assessment, passedQualityGate: visit.passedQualityGate))
                }
            }
        }
        print("\nreal media (../shared/testdata/pad, provenance in pad.csv): every visit")
        print("| source | visit | kind | quality gate | verdict | liveness | cues |")
        print("|---|---|---|---|---|---|---|")
        for p in real {
            let cues = p.assessment.cues.keys.sorted().map { String(format: "%@ %.2f", $0, p.assessment.cues[$0]!) }.joined(separator: ", ")
            print("| \(p.source) | \(p.visit) | \(p.kind) | \(p.passedQualityGate ? "passes" : "fails") | \(p.assessment.verdict.rawValue) | \(String(format: "%.2f", p.assessment.liveness)) | \(cues) |")
        }
        Self.report(real, title: "real media")

        var synthesized: [Presentation] = []
        let faces = testdata.appendingPathComponent("faces")
        for person in try FileManager.default.contentsOfDirectory(atPath: faces.path).sorted() where !person.hasPrefix("_") {
            let folder = faces.appendingPathComponent(person)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else { continue }
            guard let first = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().first else { continue }
            let photo = try ImageCodec.decode([UInt8](try Data(contentsOf: folder.appendingPathComponent(first))))
            guard let portrait = try? Self.printedPortrait(photo, analyzer: analyzer) else { continue }
            var selector = ApproachSelector(configuration: ApproachConfiguration(qualityGate: QualityConfiguration().qualityGate))
            var visits: [Visit] = []
            let approach = SyntheticApproach(frameCount: 24, startBlur: 2)
            for index in 0..<approach.frameCount {
                let frame = Frame(
                    sequence: UInt64(index), timestamp: .milliseconds(100 * index),
                    image: Self.tilted(try approach.frame(index, of: portrait), by: 6 * sin(Double(index) / 4)))
                visits += selector.observe(frame: frame, faces: try analyzer.analyze(frame.image).faces)
            }
            visits += selector.finish()
            for visit in visits {
                synthesized.append(
                    Presentation(source: "faces/\(person)/\(first)", kind: "print (synthesized)", visit: visit.number, assessment: try detector.assess(visit), passedQualityGate: visit.passedQualityGate))
            }
        }
        Self.report(synthesized, title: "synthesized printed-photo approaches (labelled as such: not real attacks)")
        // The parallax cue vouches for depth it sees and accuses nothing: a print carried up is the texture cue's.
        let judgedLiveByParallax = synthesized.filter { $0.assessment.cues["parallax"] != nil }.count
        print("of which refused by the texture cue: \(synthesized.filter { ($0.assessment.cues["texture"] ?? 1) < detector.settings.threshold }.count); judged live by the parallax cue: \(judgedLiveByParallax)")

        print("\ncost on this machine")
        print("| what | median ms | p90 ms | min ms | runs |")
        print("|---|---|---|---|---|")
        print(Measurement(name: "liveness per visit (texture on up to 3 frames, parallax, fusion)", samples: assessTimes).line)
        print(Measurement(name: "texture cue per frame (both models)", samples: textureTimes).line)
    }

    /// A still phone screen with its edge out of view (variants of `doubango__spoof.jpg` made here, each
    /// held still for 3 s at 15 fps), and what `liveness.require_movement` costs on every clip: whether
    /// each visit gets a parallax judgement, and its verdict without and with the requirement, with the
    /// door's selector as configured by default and with early decisions off.
    func movement(analyzer: DlibFaceAnalyzer, detector: PresentationAttackDetector, testdata: URL) async throws {
        var strictSettings = detector.settings
        strictSettings.requireMovement = true
        let strict = PresentationAttackDetector(texture: detector.texture, settings: strictSettings)
        let gate = QualityConfiguration().qualityGate
        let spoof = try ImageCodec.decode([UInt8](try Data(contentsOf: testdata.appendingPathComponent("pad/screen/doubango__spoof.jpg"))))
        print("\nstill screen without its edge: doubango__spoof.jpg and variants, each held still 3 s at 15 fps")
        print("| variant | wide | widest | mean | min (the cue) | visits | sightings | parallax | verdict | with require_movement |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (name, image) in try Self.stillScreenVariants(spoof, analyzer: analyzer) {
            guard let face = try analyzer.analyze(image).faces.first else {
                print("| \(name) | no face | | | | | | | | |")
                continue
            }
            let score = try detector.texture.score(image, face: face.box)
            let wide = score.perModel["texture_wide"] ?? .nan, widest = score.perModel["texture_widest"] ?? .nan
            var selector = ApproachSelector(configuration: ApproachConfiguration(qualityGate: gate))
            var visits: [Visit] = []
            // The same frame held still: the same detection in each.
            for index in 0..<45 {
                let frame = Frame(sequence: UInt64(index), timestamp: .milliseconds(index * 1000 / 15), image: image)
                visits += selector.observe(frame: frame, faces: [face])
            }
            visits += selector.finish()
            for visit in visits {
                let parallax = detector.parallax.measure(visit.sightings)
                print(
                    "| \(name) | \(Self.fixed(wide)) | \(Self.fixed(widest)) | \(Self.fixed((wide + widest) / 2)) | \(Self.fixed(score.realProbability)) "
                        + "| \(visits.count) | \(parallax.sightings) | \(parallax.score.map(Self.fixed) ?? "none") "
                        + "| \(try detector.assess(visit).verdict.rawValue) | \(try strict.assess(visit).verdict.rawValue) |")
            }
        }

        print("\nrequire_movement on every clip: visits whose face passes the quality gate")
        print("| clip | kind | selector | visit | sightings | parallax | verdict | with require_movement | texture as the min of the models |")
        print("|---|---|---|---|---|---|---|---|---|")
        var clips: [(String, String)] = []
        for folder in ["bonafide", "screen"] {
            let url = testdata.appendingPathComponent("pad/\(folder)")
            for file in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() where file.hasSuffix(".mp4") || file.hasSuffix(".mov") {
                clips.append(("pad/\(folder)/\(file)", folder == "bonafide" ? "bona fide" : "screen"))
            }
        }
        for file in ["short_hamilton_clip.mp4", "facenet_pytorch_video.mp4"] { clips.append(("video/\(file)", "bona fide (approach)")) }
        var totals: [String: (visits: Int, judged: Int, liveBefore: Int, liveAfter: Int)] = [:]
        for (clip, kind) in clips {
            for (label, early) in [("default", true), ("decide_early: false", false)] {
                var configuration = ApproachConfiguration(qualityGate: gate)
                if !early { configuration.earlyQuality = nil }
                let replay = try ReplayFrameSource(path: testdata.appendingPathComponent(clip).path, configuration: .init(pacing: .asFastAsPossible))
                var selector = ApproachSelector(configuration: configuration)
                var visits: [Visit] = []
                for try await frame in replay.frames() {
                    visits += selector.observe(frame: frame, faces: try analyzer.analyze(frame.image).faces, describe: { try analyzer.descriptor(of: $0, in: $1) })
                }
                visits += selector.finish()
                for visit in visits where visit.passedQualityGate {
                    let parallax = detector.parallax.measure(visit.sightings)
                    let before = try detector.assess(visit).verdict, after = try strict.assess(visit).verdict
                    print(
                        "| \(clip) | \(kind) | \(label) | \(visit.number) | \(parallax.sightings) | \(parallax.score.map(Self.fixed) ?? "none") "
                            + "| \(before.rawValue) | \(after.rawValue) | \(Self.fixed(Self.textureByMin(visit, detector: detector))) |")
                    var total = totals["\(kind), \(label)"] ?? (0, 0, 0, 0)
                    total.visits += 1
                    total.judged += parallax.score == nil ? 0 : 1
                    total.liveBefore += before == .live ? 1 : 0
                    total.liveAfter += after == .live ? 1 : 0
                    totals["\(kind), \(label)"] = total
                }
            }
        }
        print("\n| clips, selector | visits (gate passed) | with a parallax judgement | live | live with require_movement |")
        print("|---|---|---|---|---|")
        for key in totals.keys.sorted() {
            let t = totals[key]!
            print("| \(key) | \(t.visits) | \(t.judged) | \(t.liveBefore) | \(t.liveAfter) |")
        }
    }

    /// The screen photo as a camera could give it without its edge: re-encoded, rescaled, or cropped
    /// to 640x480 about the face.
    static func stillScreenVariants(_ image: PixelImage, analyzer: DlibFaceAnalyzer) throws -> [(String, PixelImage)] {
        var variants: [(String, PixelImage)] = [("original", image)]
        for quality in [75, 50, 30] {
            variants.append(("JPEG quality \(quality)", try ImageCodec.decode(try ImageCodec.encodeJPEG(image, quality: quality))))
        }
        for factor in [0.75, 0.5, 1.5] {
            let width = Int((Double(image.width) * factor).rounded()), height = Int((Double(image.height) * factor).rounded())
            variants.append(("resized x\(factor)", try image.resized(width: width, height: height)))
        }
        if let face = try analyzer.analyze(image).faces.first {
            let (cx, cy) = ((face.box.left + face.box.right) / 2, (face.box.top + face.box.bottom) / 2)
            let left = min(max(0, cx - 320), Double(image.width - 640)), top = min(max(0, cy - 240), Double(image.height - 480))
            variants.append(("640x480 crop about the face", try image.cropped(to: PixelBox(left: left.rounded(), top: top.rounded(), right: left.rounded() + 640, bottom: top.rounded() + 480))))
        }
        return variants
    }

    /// The texture cue as the stage computes it (the median of the judged frames, or the best face's own
    /// score if lower), with each frame's score the lower of the two models' instead of their mean.
    static func textureByMin(_ visit: Visit, detector: PresentationAttackDetector) -> Double {
        var scores: [Double] = [], best: [Double] = []
        for sample in visit.samples {
            guard let score = try? detector.texture.score(sample.image, face: sample.box), let low = score.perModel.values.min() else { continue }
            scores.append(low)
            if sample.isBestFace { best.append(low) }
        }
        guard !scores.isEmpty else { return .nan }
        let sorted = scores.sorted(), middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        return min(median, best.min() ?? .infinity)
    }

    static func fixed(_ value: Double) -> String { String(format: "%.3f", value) }

    /// APCER per attack type and BPCER, counting only presentations whose face passes the quality gate
    /// (the others never reach the liveness stage at the door), with the counts.
    static func report(_ presentations: [Presentation], title: String) {
        print("\n\(title): presentations whose face passes the quality gate")
        print("| type | presentations | classified wrongly | rate |")
        print("|---|---|---|---|")
        let gated = presentations.filter(\.passedQualityGate)
        for kind in ["print", "print (synthesized)", "screen photo", "screen video", "mask"] {
            let attacks = gated.filter { $0.kind == kind }
            guard !attacks.isEmpty else { continue }
            let accepted = attacks.filter { $0.assessment.verdict == .live }.count
            print("| APCER \(kind) | \(attacks.count) | \(accepted) accepted | \(String(format: "%.0f %%", 100 * Double(accepted) / Double(attacks.count))) |")
        }
        let bonaFide = gated.filter { $0.kind == "bona fide" }
        if !bonaFide.isEmpty {
            let refused = bonaFide.filter { $0.assessment.verdict != .live }.count
            print("| BPCER | \(bonaFide.count) | \(refused) refused | \(String(format: "%.0f %%", 100 * Double(refused) / Double(bonaFide.count))) |")
        }
        let failing = presentations.count - gated.count
        if failing > 0 { print("(\(failing) more presentations fail the quality gate: no cloud call at the door whatever their liveness)") }
    }

    static func visits(in path: String, isVideo: Bool, analyzer: DlibFaceAnalyzer) async throws -> [Visit] {
        if !isVideo {
            let image = try ImageCodec.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            guard let face = try analyzer.analyze(image).faces.first else { return [] }
            return [Visit.still(image, face: face, qualityGate: QualityConfiguration().qualityGate)]
        }
        let replay = try ReplayFrameSource(path: path, configuration: .init(pacing: .asFastAsPossible))
        var selector = ApproachSelector(configuration: ApproachConfiguration(qualityGate: QualityConfiguration().qualityGate))
        var visits: [Visit] = []
        for try await frame in replay.frames() { visits += selector.observe(frame: frame, faces: try analyzer.analyze(frame.image).faces) }
        return visits + selector.finish()
    }

    /// Head and shoulders around the photo's largest face, as a door camera frames someone close.
    static func headAndShoulders(_ photo: PixelImage, analyzer: DlibFaceAnalyzer) throws -> PixelImage {
        guard let face = try analyzer.analyze(photo).faces.max(by: { $0.box.area < $1.box.area }) else { throw ImageError(.corrupt, "no face") }
        let box = face.attributes.faceArea
        let (cx, cy, side) = ((box.left + box.right) / 2, (box.top + box.bottom) / 2, max(box.width, box.height) * 2.2)
        return try photo.cropped(to: PixelBox(left: cx - side / 2, top: cy - side / 2, right: cx + side / 2, bottom: cy + side / 2)).rgb()
    }

    /// A photo as a home printer gives it back: head and shoulders, tone flattened (ink does not
    /// reach the screen's black or white), colour washed out, and a fixed paper grain.
    static func printedPortrait(_ photo: PixelImage, analyzer: DlibFaceAnalyzer) throws -> PixelImage {
        let crop = try headAndShoulders(photo, analyzer: analyzer)
        var pixels = crop.pixels
        var seed: UInt32 = 12_345
        for i in stride(from: 0, to: pixels.count, by: 3) {
            let grey = (Double(pixels[i]) + Double(pixels[i + 1]) + Double(pixels[i + 2])) / 3
            seed = seed &* 1_103_515_245 &+ 12_345
            let grain = Double(Int(seed >> 16) % 13) - 6
            for c in 0..<3 {
                let washed = 0.7 * Double(pixels[i + c]) + 0.3 * grey
                pixels[i + c] = UInt8(max(0, min(255, 30 + washed * 0.75 + grain)))
            }
        }
        return try PixelImage(width: crop.width, height: crop.height, layout: .rgb24, pixels: pixels)
    }

    /// The frame with its content sheared horizontally by `degrees` about the centre: a sheet turned
    /// a little about its vertical axis, as a hand holding it does.
    static func tilted(_ image: PixelImage, by degrees: Double) -> PixelImage {
        let shear = tan(degrees * .pi / 180) * 0.3
        let width = image.width, height = image.height
        var out = image.pixels
        for y in 0..<height {
            let shift = Int((Double(y - height / 2) * shear).rounded())
            for x in 0..<width {
                let source = min(width - 1, max(0, x + shift))
                for c in 0..<3 { out[(y * width + x) * 3 + c] = image.pixels[(y * width + source) * 3 + c] }
            }
        }
        return (try? PixelImage(width: width, height: height, layout: image.layout, pixels: out)) ?? image
    }
}
