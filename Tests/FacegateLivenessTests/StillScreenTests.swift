import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// A phone screen held still with its edge out of view (the audit's finding A). Real attack medium:
/// `screen/doubango__spoof.jpg` (a photo recaptured from a display, provenance in pad.csv); the variants a
/// camera could give of it are made here (re-encoded, rescaled, cropped to 640x480 about the face) and each
/// is held still for 3 s at 15 fps through the door's own selector, then judged with the real models.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct StillScreenTests {
    static let cue: Result<TextureCue, any Error> = Result { try TextureCue(PADModels.locate(PackageFolder.url("models/pad").path)) }

    /// The visits of `image` held still for 3 s at 15 fps (the same detection in each frame).
    static func heldStill(_ image: PixelImage) throws -> [Visit] {
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first, "no face")
        var selector = ApproachSelector(configuration: ApproachConfiguration(qualityGate: QualityConfiguration().qualityGate))
        var visits: [Visit] = []
        for index in 0..<45 {
            visits += selector.observe(
                frame: Frame(sequence: UInt64(index), timestamp: .milliseconds(index * 1000 / 15), image: image), faces: [face])
        }
        return visits + selector.finish()
    }

    /// The screen photo and what a camera could make of it without its edge (as `facegate-bench liveness
    /// --movement` makes them).
    static func variants() throws -> [(String, PixelImage)] {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/screen/doubango__spoof.jpg"))))
        var variants: [(String, PixelImage)] = [("original", image)]
        for quality in [75, 50, 30] {
            variants.append(("JPEG quality \(quality)", try ImageCodec.decode(try ImageCodec.encodeJPEG(image, quality: quality))))
        }
        for factor in [0.75, 0.5, 1.5] {
            let width = Int((Double(image.width) * factor).rounded()), height = Int((Double(image.height) * factor).rounded())
            variants.append(("resized x\(factor)", try image.resized(width: width, height: height)))
        }
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
        let (cx, cy) = ((face.box.left + face.box.right) / 2, (face.box.top + face.box.bottom) / 2)
        let left = min(max(0, cx - 320), Double(image.width - 640)).rounded(), top = min(max(0, cy - 240), Double(image.height - 480)).rounded()
        variants.append(("640x480 crop", try image.cropped(to: PixelBox(left: left, top: top, right: left + 640, bottom: top + 480))))
        return variants
    }

    /// Known issue: with the default settings a visit held still is judged on the texture cue alone. The
    /// screen photo scores under the threshold (0.49), but scaled to three quarters both models find it
    /// real (0.83 and 0.77): the door does not refuse it (README, threat model). `liveness.require_movement:
    /// true` does (below), at the cost measured in BENCHMARKS.md. This test fails once the default refuses it.
    @Test func aStillScreenWithoutItsEdgeIsJudgedOnTextureAloneByDefault() throws {
        let detector = PresentationAttackDetector(texture: try Self.cue.get())
        var judged: [String: LivenessAssessment] = [:]
        for (name, image) in try Self.variants() {
            let visits = try Self.heldStill(image)
            #expect(visits.count == 1, "\(name): \(visits.count) visits")
            let visit = try #require(visits.first)
            #expect(detector.parallax.measure(visit.sightings).score == nil, "\(name): held still, the parallax cue judges nothing")
            judged[name] = try detector.assess(visit)
        }
        #expect(judged["original"]?.verdict == .attack, "\(String(describing: judged["original"]))")
        // Only the view scaled to 3/4 is the known issue: every other variant must stay refused, so that a
        // regression in one of them is not hidden behind it.
        for (name, assessment) in judged.sorted(by: { $0.key < $1.key }) where name != "resized x0.75" {
            #expect(assessment.verdict != .live, "\(name): \(assessment.reason)")
        }
        withKnownIssue("the screen photo scaled to 3/4 passes the texture cue, and nothing else judges it by default") {
            #expect(judged["resized x0.75"]?.verdict != .live, "\(String(describing: judged["resized x0.75"]))")
        }
    }

    /// Each model must find the face real: the texture cue is the lower of the two models' scores. On
    /// their mean (as the publisher fuses them) the screen photo halved in size (0.61 and 0.41: 0.51) and
    /// cropped to 640x480 about the face (0.46 and 0.84: 0.65) were live.
    @Test func eachTextureModelMustFindTheFaceReal() throws {
        let detector = PresentationAttackDetector(texture: try Self.cue.get())
        for (name, image) in try Self.variants() where name == "resized x0.5" || name == "640x480 crop" {
            let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
            let score = try detector.texture.score(image, face: face.box)
            #expect(score.perModel.count == 2 && score.realProbability == score.perModel.values.min(), "\(name): \(score)")
            let visit = try #require(try Self.heldStill(image).first)
            let assessment = try detector.assess(visit)
            #expect(assessment.verdict == .attack && assessment.reason.contains("texture"), "\(name): \(assessment)")
        }
    }

    /// With `require_movement` no variant held still is live: each is uncertain (denied unless the door
    /// allows uncertain visits) or an attack. What moves is still judged: a head-like approach with a live
    /// face is live; a sheet carried up flat shows no depth, so movement is still required of it (uncertain).
    @Test func requiringMovementRefusesEveryStillVariant() throws {
        var settings = PresentationAttackDetector.Settings()
        settings.requireMovement = true
        let detector = PresentationAttackDetector(texture: try Self.cue.get(), settings: settings)
        for (name, image) in try Self.variants() {
            for visit in try Self.heldStill(image) {
                let assessment = try detector.assess(visit)
                #expect(assessment.verdict != .live, "\(name): \(assessment)")
                if assessment.verdict == .uncertain { #expect(assessment.reason.contains("movement required"), "\(assessment)") }
            }
        }

        let live = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/bonafide/silentface__image_T1.jpg"))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(live).faces.first)
        var visit = Visit.still(live, face: face, qualityGate: 0.5)
        #expect(try detector.assess(visit).verdict == .uncertain, "a live face held still is uncertain too: the setting's cost")
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0.35, turn: 10, nod: 8)
        #expect(try detector.assess(visit).verdict == .live)
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0, turn: 10, nod: 10, roll: 10)
        let flat = try detector.assess(visit)
        #expect(flat.verdict == .uncertain && flat.reason.contains("movement required"), "\(flat)")
    }
}
