import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// The parallax cue on its own: the geometry of a flat sheet against a head in depth, then real
/// footage and a synthesized printed-photo approach through the real face core.
@Suite(.timeLimit(.minutes(2)))
struct ParallaxCueTests {
    /// The five landmarks of a face whose eye corners lie in a plane and whose nose base stands
    /// `noseDepth` eye distances in front of it, seen orthographically after turning by `yaw` and
    /// nodding by `pitch` (degrees), at `scale` pixels an eye distance, with deterministic noise.
    static func sighting(
        _ index: Int, yaw: Double, pitch: Double, roll: Double = 0, scale: Double, at centre: (x: Double, y: Double),
        noseDepth: Double, noise: Double = 0.5
    ) -> FaceSighting {
        let y = yaw * .pi / 180, p = pitch * .pi / 180, r = roll * .pi / 180
        func project(_ x: Double, _ down: Double, _ z: Double, jitter: Int) -> PixelPoint {
            // Yaw about the vertical axis, then pitch about the horizontal one, then roll in the image.
            let x1 = x * cos(y) + z * sin(y), z1 = -x * sin(y) + z * cos(y)
            let y2 = down * cos(p) - z1 * sin(p)
            let xr = x1 * cos(r) - y2 * sin(r), yr = x1 * sin(r) + y2 * cos(r)
            // A fixed pseudo-random jitter in [-noise, noise] per point and frame.
            let seed = Double((index * 7919 + jitter * 104_729) % 1000) / 1000
            return PixelPoint(x: centre.x + scale * xr + noise * (2 * seed - 1), y: centre.y + scale * yr + noise * (1 - 2 * seed))
        }
        let landmarks = FaceLandmarks(
            rightEyeOuter: project(-0.7, 0, 0, jitter: 1), rightEyeInner: project(-0.3, 0, 0, jitter: 2),
            leftEyeOuter: project(0.7, 0, 0, jitter: 3), leftEyeInner: project(0.3, 0, 0, jitter: 4),
            noseBase: project(0, 0.6, noseDepth, jitter: 5))
        let half = scale
        return FaceSighting(
            timestamp: .milliseconds(100 * index),
            box: PixelBox(left: centre.x - half, top: centre.y - half, right: centre.x + half, bottom: centre.y + half), landmarks: landmarks)
    }

    /// Twenty frames of an approach: growing from 60 to 90 px an eye distance, drifting right,
    /// with the face turning by up to `turn` degrees and nodding by up to `nod`.
    static func approach(noseDepth: Double, turn: Double, nod: Double, roll: Double = 0) -> [FaceSighting] {
        (0..<20).map { i in
            let t = Double(i) / 19
            return sighting(
                i, yaw: turn * sin(t * 2 * .pi), pitch: nod * cos(t * 2 * .pi), roll: roll * t, scale: 60 + 30 * t,
                at: (x: 250 + 80 * t, y: 220), noseDepth: noseDepth)
        }
    }

    @Test func aHeadShowingItsDepthIsJudgedLiveAndNothingElseIsJudged() {
        let cue = ParallaxCue()
        // A head walking up, turning by 10 degrees and nodding by 8.
        let head = cue.measure(Self.approach(noseDepth: 0.35, turn: 10, nod: 8))
        #expect(head.score == 1, "\(head)")

        // A printed photo carried up and tilted by hand by 10 degrees each way, turning in its plane: no depth,
        // so not judged (left to the texture cue), and never live.
        let sheet = cue.measure(Self.approach(noseDepth: 0, turn: 10, nod: 10, roll: 10))
        #expect(sheet.score == nil, "\(sheet)")
        // Tilted twice as far both ways at once, the sheet's shear is still short of a head's turn.
        let tilted = cue.measure(Self.approach(noseDepth: 0, turn: 20, nod: 15, roll: 10))
        #expect(tilted.score == nil, "\(tilted)")

        // A head walking up while it keeps facing the camera (a kiosk at eye level, a user told to look at it):
        // it grows and crosses the frame with no parallax at all, as a sheet does. Not judged, and above all not
        // judged flat (before: scored 0, and the person was refused as an attack wherever faces were large).
        let facingTheCamera = cue.measure(Self.approach(noseDepth: 0.35, turn: 0, nod: 0))
        #expect(facingTheCamera.score == nil, "\(facingTheCamera)")
        // The same with a walker's sway (3 degrees each way) and a small nod: never scored as flat either.
        let swaying = cue.measure(Self.approach(noseDepth: 0.35, turn: 3, nod: 2, roll: 4))
        #expect(swaying.score != 0 && (swaying.score ?? 1) >= PresentationAttackDetector.Settings().threshold, "\(swaying)")

        // A head held still (a person waiting, or a photo on a stand): left to the other cues.
        let still = cue.measure((0..<20).map { Self.sighting($0, yaw: 0, pitch: 0, scale: 70, at: (x: 300, y: 220), noseDepth: 0.35) })
        #expect(still.score == nil, "\(still)")

        // Too few sightings, and faces too small to tell the nose's movement from noise.
        #expect(cue.measure(Array(Self.approach(noseDepth: 0.35, turn: 8, nod: 8).prefix(3))).score == nil)
        let far = (0..<20).map { i in
            Self.sighting(i, yaw: 8 * sin(Double(i)), pitch: 0, scale: 25 + Double(i), at: (x: 300, y: 220), noseDepth: 0.35)
        }
        #expect(cue.measure(far).score == nil)
    }

    @Test func aPhotoCarriedUpToTheCameraIsNeverJudgedLive() throws {
        // Synthesized print attack (labelled as such): a real photo on a plane, brought closer and
        // across the frame as the door's demo does, through the real face core.
        let analyzer = try TestFaceAnalyzers.video()
        let portrait = try TestPortrait.headAndShoulders(
            [UInt8](try Data(contentsOf: SharedTestData.url("faces/matt_damon/01.jpg"))), analyzer: TestFaceAnalyzers.stills())
        let approach = SyntheticApproach(frameCount: 20, startBlur: 0)
        var sightings: [FaceSighting] = []
        for index in 0..<approach.frameCount {
            let frame = try approach.frame(index, of: portrait)
            if let face = try analyzer.analyze(frame).faces.first {
                sightings.append(FaceSighting(timestamp: .milliseconds(100 * index), box: face.box, landmarks: face.landmarks))
            }
        }
        let measurement = ParallaxCue().measure(sightings)
        #expect(sightings.count >= 10)
        // Measured (it grew and crossed the frame), and no depth seen: left to the texture cue, never live.
        #expect(measurement.scaleChange > 0.15 && measurement.score == nil, "\(measurement)")
    }

    /// `approach.settle_frames: 0` sent a visit on its first good frame, with one sighting: the parallax cue
    /// (six at least) judged nothing, and a print was judged on texture alone, silently. A visit now settles
    /// only once the face has been seen in as many frames as an early decision needs.
    @Test func aVisitSettledAtOnceStillGivesTheParallaxCueItsSightings() throws {
        let analyzer = try TestFaceAnalyzers.video()
        let portrait = try TestPortrait.headAndShoulders(
            [UInt8](try Data(contentsOf: SharedTestData.url("faces/matt_damon/01.jpg"))), analyzer: TestFaceAnalyzers.stills())
        // Close enough from the first frame to pass the gate, and for the cue's noise floor (at 0.35 of the
        // frame's height the first six frames' faces are too small for it to judge).
        let approach = SyntheticApproach(frameCount: 20, startScale: 0.5, startBlur: 0)
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 0, earlyQuality: nil))
        var visits: [Visit] = []
        for index in 0..<approach.frameCount {
            let frame = Frame(sequence: UInt64(index), timestamp: .milliseconds(100 * index), image: try approach.frame(index, of: portrait))
            visits += selector.observe(frame: frame, faces: try analyzer.analyze(frame.image).faces)
        }
        visits += selector.finish()
        let visit = try #require(visits.first)
        #expect(visit.emittedBecause == .qualitySettled, "\(visit.emittedBecause)")
        let measurement = ParallaxCue().measure(visit.sightings)
        #expect(measurement.sightings >= ParallaxCue.Settings().minSightings, "\(measurement)")
        // Enough sightings, over a face the cue can measure: it could have seen depth, and saw none (a photo).
        #expect(measurement.noiseSpread <= ParallaxCue.Settings().maxNoiseSpread && measurement.score == nil, "\(measurement)")
    }

    @Test func fusionTakesTheWeakestCueAndSaysWhich() {
        let live = PresentationAttackDetector.fuse(["texture": 0.97, "parallax": 1], threshold: 0.5)
        #expect(live.verdict == .live && live.liveness == 0.97)
        let flat = PresentationAttackDetector.fuse(["texture": 0.97, "parallax": 0.1], threshold: 0.5)
        #expect(flat.verdict == .attack && flat.liveness == 0.1 && flat.reason.contains("parallax"), "\(flat)")
        let screen = PresentationAttackDetector.fuse(["texture": 0.02], threshold: 0.5)
        #expect(screen.verdict == .attack && screen.reason.contains("the texture cue scored 0.02, below 0.50"), "\(screen)")
        let nothing = PresentationAttackDetector.fuse([:], threshold: 0.5)
        #expect(nothing.verdict == .uncertain && nothing.liveness == 0)
        // The threshold is the door's: a stricter door refuses what a lenient one lets in.
        #expect(PresentationAttackDetector.fuse(["texture": 0.8], threshold: 0.9).verdict == .attack)
        #expect(PresentationAttackDetector.fuse(["texture": 0.5], threshold: 0.5).verdict == .live)
    }

    /// The comparison is "live only if at or above": a NaN threshold or cue score is an attack, and
    /// the settings refuse a threshold every score would pass (0, negative, NaN) or none could (> 1).
    @Test func aThresholdOrScoreThatIsNotANumberJudgesNothingLive() {
        #expect(PresentationAttackDetector.fuse(["texture": 0.97, "parallax": 1], threshold: .nan).verdict == .attack)
        #expect(PresentationAttackDetector.fuse(["texture": 0.97], threshold: -0.1).verdict == .attack)
        #expect(PresentationAttackDetector.fuse(["texture": 0.97], threshold: 0).verdict == .attack)
        let nanCue = PresentationAttackDetector.fuse(["texture": .nan, "parallax": 1], threshold: 0.5)
        #expect(nanCue.verdict == .attack && nanCue.reason.contains("texture"), "\(nanCue)")
        // Wherever the NaN cue falls in the dictionary's order (a NaN compares false both ways).
        for count in 2...12 {
            var cues = Dictionary(uniqueKeysWithValues: (0..<count).map { ("cue\($0)", 1.0) })
            cues["cue\(count / 2)"] = .nan
            #expect(PresentationAttackDetector.fuse(cues, threshold: 0.5).verdict == .attack, "\(cues)")
        }
        for threshold in [Double.nan, -0.1, 0, 1.5, .infinity, -.infinity] {
            #expect(throws: LivenessError.self, "threshold \(threshold)") { try PresentationAttackDetector.Settings(threshold: threshold) }
        }
        #expect((try? PresentationAttackDetector.Settings(threshold: 1))?.threshold == 1)
        #expect((try? PresentationAttackDetector.Settings(threshold: 0.3))?.threshold == 0.3)
        #expect(PresentationAttackDetector.Settings().threshold == 0.5)
    }
}
