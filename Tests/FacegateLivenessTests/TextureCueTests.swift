import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// The texture cue on its own, on real bona fide and attack media from ../shared/testdata/pad
/// (provenance in its pad.csv), with faces found by the real local face core.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TextureCueTests {
    static let cue: Result<TextureCue, any Error> = Result { try TextureCue(PADModels.locate(PackageFolder.url("models/pad").path)) }

    /// The texture score of the largest face in a still image.
    static func score(_ relative: String) throws -> TextureScore {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/" + relative))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first, "no face in \(relative)")
        return try cue.get().score(image, face: face.box)
    }

    /// The texture scores of the faces in every `step`-th frame of a clip.
    static func clipScores(_ relative: String, step: Int = 6) async throws -> [Double] {
        let source = try ReplayFrameSource(
            path: SharedTestData.url("pad/" + relative).path, configuration: .init(pacing: .asFastAsPossible))
        let analyzer = try TestFaceAnalyzers.video()
        var scores: [Double] = []
        for try await frame in source.frames() where frame.sequence % UInt64(step) == 0 {
            guard let face = try analyzer.analyze(frame.image).faces.first else { continue }
            scores.append(try cue.get().score(frame.image, face: face.box).realProbability)
        }
        return scores
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }

    @Test("a printed photo and a phone held up to the camera score low; a live face high", arguments: [
        ("print/silentface__image_F1.jpg", false), ("screen/silentface__image_F2.jpg", false),
        ("print/nuaa__0011_01_01_03_0.jpg", false), ("bonafide/silentface__image_T1.jpg", true),
        ("bonafide/doubango__genuine.jpg", true),
    ])
    func stills(file: String, live: Bool) throws {
        let score = try Self.score(file)
        #expect(score.perModel.count == 2)
        #expect(score.perModel.values.allSatisfy { (0...1).contains($0) })
        if live {
            #expect(score.realProbability > 0.9, "\(file): \(score)")
        } else {
            #expect(score.realProbability < 0.3, "\(file): \(score)")
        }
    }

    @Test func aLiveClipScoresHighAndTheSamePersonOnAPhoneLow() async throws {
        let live = try await Self.clipScores("bonafide/lestari15__real.mp4")
        let replay = try await Self.clipScores("screen/lestari15__fake.mp4")
        #expect(live.count >= 10 && replay.count >= 8, "faces found: live \(live.count), replay \(replay.count)")
        #expect(Self.median(live) > 0.95, "\(live)")
        #expect(Self.median(replay) < 0.05, "\(replay)")
    }

    /// A live person walks up and, for the frame that becomes the visit's best face, holds a print of
    /// someone else in front of their face: the cloud would be sent the print. The live frames around
    /// it must not outvote it, whether they are two (the median alone would say live) or one (decided
    /// early on that frame: the median of two is their mean).
    @Test func aPrintHeldUpForTheBestFaceOfALiveApproachIsAnAttack() throws {
        func sample(_ relative: String, at second: Int, best: Bool = false) throws -> VisitSample {
            let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/" + relative))))
            let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first, "no face in \(relative)")
            return VisitSample(timestamp: .seconds(second), image: image, box: face.box, isBestFace: best)
        }
        func visit(_ samples: [VisitSample]) throws -> Visit {
            let best = try #require(samples.first(where: { $0.isBestFace }))
            let faces = try TestFaceAnalyzers.video().analyze(best.image).faces
            let face = try #require(faces.first)
            var visit = Visit.still(best.image, face: face, qualityGate: 0.5)
            visit.sightings = []  // texture alone: no movement to judge
            visit.samples = samples
            return visit
        }
        let detector = PresentationAttackDetector(texture: try Self.cue.get())
        let live = try sample("bonafide/silentface__image_T1.jpg", at: 0)
        let print = try sample("print/silentface__image_F1.jpg", at: 1, best: true)
        let liveAgain = try sample("bonafide/doubango__genuine.jpg", at: 2)

        let heldUpMidway = try detector.assess(try visit([live, print, liveAgain]))
        #expect(heldUpMidway.verdict == .attack, "\(heldUpMidway)")
        #expect((heldUpMidway.cues["texture"] ?? 1) < 0.3, "the print's own score: \(heldUpMidway.cues)")
        let decidedOnIt = try detector.assess(try visit([live, print]))
        #expect(decidedOnIt.verdict == .attack, "\(decidedOnIt)")

        // The same three frames with a live best face are live: the rule costs a live approach nothing.
        var liveBest = liveAgain
        liveBest.isBestFace = true
        var printNotBest = print
        printNotBest.isBestFace = false
        #expect(try detector.assess(try visit([live, printNotBest, liveBest])).verdict == .live)
    }

    /// The texture models were trained on colour: a grey camera's faces (as the daemon feeds them, the
    /// one channel copied into three) score as attacks, the live ones too. Why a grey camera with the
    /// liveness stage on is refused (`ConfigurationTests.aGreyCameraWithLivenessOnIsRefused`).
    @Test(arguments: ["bonafide/silentface__image_T1.jpg", "bonafide/doubango__genuine.jpg"])
    func aGreyFaceIsJudgedAnAttackLiveOrNot(file: String) throws {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/\(file)"))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
        #expect(try Self.cue.get().score(image, face: face.box).realProbability > 0.9, "in colour: live")
        let grey = try Self.cue.get().score(image.grayscale(), face: face.box).realProbability
        #expect(grey < PresentationAttackDetector.Settings().threshold, "in grey: \(grey)")

        // A colour camera in its infrared mode sends such frames in a colour format: still an attack (a
        // black-and-white print filling the picture looks the same), and the reason says the frames have no
        // colour, so a door refusing everyone after dark is not read as an attack wave (review).
        let detector = PresentationAttackDetector(texture: try Self.cue.get())
        let night = try detector.assess(Visit.still(try image.grayscale().rgb(), face: face, qualityGate: 0.5))
        #expect(night.verdict == .attack && night.reason.contains("carry no colour"), "\(night)")
        let day = try detector.assess(Visit.still(image, face: face, qualityGate: 0.5))
        #expect(day.verdict == .live && !day.reason.contains("colour"), "\(day)")
        // A print in colour (a colour scene): refused without that note.
        let print = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/print/silentface__image_F1.jpg"))))
        let printFace = try #require(try TestFaceAnalyzers.video().analyze(print).faces.first)
        let printed = try detector.assess(Visit.still(print, face: printFace, qualityGate: 0.5))
        #expect(printed.verdict == .attack && !printed.reason.contains("colour"), "\(printed)")
    }

    /// The face to be sent gives the texture cue nothing to judge (no crop): the live frames around it
    /// cannot vouch for it, so the visit is uncertain (denied unless the door allows uncertain ones).
    /// Carried up flat, as a sheet is, or as a head facing the camera is, it stays uncertain: the parallax cue
    /// vouches only for depth it sees, and accuses nothing.
    @Test func aBestFaceTheCueCannotJudgeLeavesTheVisitUncertain() throws {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/bonafide/silentface__image_T1.jpg"))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
        var visit = Visit.still(image, face: face, qualityGate: 0.5)
        visit.sightings = []
        visit.samples = [
            VisitSample(timestamp: .zero, image: image, box: face.box),
            VisitSample(timestamp: .seconds(1), image: image, box: PixelBox(left: 10, top: 10, right: 10, bottom: 10), isBestFace: true),
            VisitSample(timestamp: .seconds(2), image: image, box: face.box),
        ]
        let assessment = try PresentationAttackDetector(texture: try Self.cue.get()).assess(visit)
        #expect(assessment.verdict == .uncertain, "\(assessment)")

        // The same visit carried up flat: still uncertain. A head's sightings leave it uncertain too (the best
        // face itself is not judged).
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0, turn: 10, nod: 10, roll: 10)
        let flat = try PresentationAttackDetector(texture: try Self.cue.get()).assess(visit)
        #expect(flat.verdict == .uncertain, "\(flat)")
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0.35, turn: 10, nod: 8)
        #expect(try PresentationAttackDetector(texture: try Self.cue.get()).assess(visit).verdict == .uncertain)
    }

    /// The same visit whose other frames show a printed photo: their attack evidence wins over "could
    /// not judge the best face" (uncertain, which `uncertain: allow` would send to the cloud).
    @Test func aBestFaceTheCueCannotJudgeAmongPrintedFramesIsAnAttack() throws {
        let live = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/bonafide/silentface__image_T1.jpg"))))
        let liveFace = try #require(try TestFaceAnalyzers.video().analyze(live).faces.first)
        let print = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/print/silentface__image_F1.jpg"))))
        let printFace = try #require(try TestFaceAnalyzers.video().analyze(print).faces.first)
        var visit = Visit.still(live, face: liveFace, qualityGate: 0.5)
        visit.sightings = []
        visit.samples = [
            VisitSample(timestamp: .zero, image: print, box: printFace.box),
            VisitSample(timestamp: .seconds(1), image: live, box: PixelBox(left: 10, top: 10, right: 10, bottom: 10), isBestFace: true),
            VisitSample(timestamp: .seconds(2), image: print, box: printFace.box),
        ]
        let assessment = try PresentationAttackDetector(texture: try Self.cue.get()).assess(visit)
        #expect(assessment.verdict == .attack && assessment.reason.contains("texture"), "\(assessment)")
        // A head's approach does not outweigh the printed frames.
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0.35, turn: 10, nod: 8)
        #expect(try PresentationAttackDetector(texture: try Self.cue.get()).assess(visit).verdict == .attack)
    }

    /// The stage judges the face the cloud is sent: a visit with no samples, or none marked as its best
    /// face, has no texture judgement of it, and a head-like approach alone (which a replayed video of a
    /// head also gives) does not make it live.
    @Test func withoutATextureJudgementOfTheBestFaceParallaxAloneIsNotLive() throws {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/bonafide/silentface__image_T1.jpg"))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
        let detector = PresentationAttackDetector(texture: try Self.cue.get())
        var visit = Visit.still(image, face: face, qualityGate: 0.5)
        visit.sightings = ParallaxCueTests.approach(noseDepth: 0.35, turn: 10, nod: 8)
        #expect(detector.parallax.measure(visit.sightings).score == 1, "the approach alone says live")

        visit.samples = []
        let noSamples = try detector.assess(visit)
        #expect(noSamples.verdict == .uncertain, "\(noSamples)")
        visit.samples = [VisitSample(timestamp: .zero, image: image, box: face.box), VisitSample(timestamp: .seconds(1), image: image, box: face.box)]
        let noBestFace = try detector.assess(visit)
        #expect(noBestFace.verdict == .uncertain, "\(noBestFace)")
        // The same live frame marked as the best face: live.
        visit.samples[1].isBestFace = true
        #expect(try detector.assess(visit).verdict == .live)
    }

    @Test func theCropIsTheFaceBoxScaledAboutItsCentreAndStaysInsideTheFrame() throws {
        // A 100 px face in the middle of a 640x480 frame: 107 px after the detector's correction, 2.7x that.
        let centred = try TextureCue.crop(
            around: PixelBox(left: 270, top: 190, right: 370, bottom: 290), scale: 2.7, imageWidth: 640, imageHeight: 480)
        #expect(abs(Double(centred.width) - 288.9) <= 2 && abs(Double(centred.height) - 288.9) <= 2, "\(centred)")
        #expect(abs(Double(centred.left + centred.right) / 2 - 320) <= 1)
        #expect(abs(Double(centred.top + centred.bottom) / 2 - 237) <= 1, "moved up by 3 % of the face height")

        // Near the left edge: shifted right, not shrunk.
        let atTheEdge = try TextureCue.crop(
            around: PixelBox(left: 10, top: 190, right: 110, bottom: 290), scale: 2.7, imageWidth: 640, imageHeight: 480)
        #expect(atTheEdge.left == 0 && abs(Double(atTheEdge.width) - 288.9) <= 2, "\(atTheEdge)")

        // A face too large for 4x in the frame: the scale shrinks until the crop fits.
        let large = try TextureCue.crop(
            around: PixelBox(left: 170, top: 90, right: 470, bottom: 390), scale: 4.0, imageWidth: 640, imageHeight: 480)
        #expect(large.top >= 0 && large.bottom <= 479 && large.left >= 0 && large.right <= 639, "\(large)")
        #expect(large.height >= 470, "\(large)")
    }

    @Test func badInputIsAClearError() throws {
        let cue = try Self.cue.get()
        let frame = try PixelImage(width: 64, height: 48, layout: .rgb24, pixels: [UInt8](repeating: 90, count: 64 * 48 * 3))
        #expect(throws: LivenessError(.badInput, "no face box to crop around")) {
            try cue.score(frame, face: PixelBox(left: 10, top: 10, right: 10, bottom: 10))
        }
        #expect(throws: LivenessError.self) {
            try cue.score(frame, face: PixelBox(left: .nan, top: 0, right: 20, bottom: 20))
        }

        let temporary = try TemporaryFolder("facegate-pad")
        defer { temporary.remove() }
        let folder = temporary.url
        #expect(throws: LivenessError.self) { try PADModels.locate(folder.path) }
        for name in [PADModels.wideFileName, PADModels.widestFileName] {
            try Data("not a network".utf8).write(to: folder.appendingPathComponent(name))
        }
        let error = try #require(throws: LivenessError.self) { try TextureCue(PADModels.locate(folder.path)) }
        #expect(error.code == .modelInvalid && error.message.hasPrefix("texture model cannot be read"), "\(error)")
    }
}
