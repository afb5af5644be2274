import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Testing

/// The approach selector as a pure state machine, on made-up faces.
@Suite(.timeLimit(.minutes(5)))
struct ApproachSelectorTests {
    static let blank = try! PixelImage(width: 4, height: 4, layout: .gray8, pixels: [UInt8](repeating: 0, count: 16))

    func face(at left: Double, size: Double = 120, quality: Double) -> DetectedFace {
        let box = PixelBox(left: left, top: 100, right: left + size, bottom: 100 + size)
        let m = QualityMeasure(raw: 60, score: 100)
        let measures = QualityMeasures(
            interEyeDistance: m, headSize: m, headPosition: m, yaw: m, roll: m, pitch: m, sharpness: m, luminanceMean: m,
            underExposure: m, overExposure: m, dynamicRange: m, singleFaceDominance: m, faceQualityScore: quality)
        let p = PixelPoint(x: left, y: 120)
        let landmarks = FaceLandmarks(rightEyeOuter: p, rightEyeInner: p, leftEyeOuter: p, leftEyeInner: p, noseBase: p)
        let attributes = FaceAttributes(
            faceArea: box, headArea: box, rightEyeCenter: p, leftEyeCenter: p, faceScore: 1, frontalFaceScore: 1, faceRoll: 0,
            facePan: 0, faceTilt: 0, faceQualityScore: quality)
        return DetectedFace(detectionScore: 1, box: box, landmarks: landmarks, attributes: attributes, quality: measures)
    }

    func frame(_ n: Int, fps: Int = 10) -> Frame {
        Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 1000 / fps), image: Self.blank)
    }

    @Test func emitsOnceWhenQualitySettlesWithTheBestFace() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 3, qualityGate: 0.5))
        let qualities = [0.2, 0.4, 0.6, 0.8, 0.75, 0.78, 0.7, 0.79, 0.6, 0.5]
        var visits: [Visit] = []
        for (n, q) in qualities.enumerated() {
            visits += selector.observe(frame: frame(n), faces: [face(at: 100 + Double(n) * 3, quality: q)])
        }
        visits += selector.finish()
        #expect(visits.count == 1)
        let visit = visits[0]
        #expect(visit.emittedBecause == .qualitySettled)
        #expect(visit.bestFrameSequence == 3)
        #expect(visit.bestFace.quality.faceQualityScore == 0.8)
        #expect(visit.passedQualityGate)
        // Emitted three non-improving frames after the best one.
        #expect(visit.lastSeen == .milliseconds(600))
    }

    @Test func aVisitCarriesHowTheFaceMovedAndItsFirstBestAndLastFrames() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 3, qualityGate: 0.5))
        let qualities = [0.2, 0.4, 0.6, 0.8, 0.75, 0.78, 0.7]
        var visits: [Visit] = []
        for (n, q) in qualities.enumerated() {
            visits += selector.observe(frame: frame(n), faces: [face(at: 100 + Double(n) * 3, quality: q)])
        }
        let visit = try? #require(visits.first)
        // Every analysed frame up to the emission, in order, with the face where it was.
        #expect(visit?.sightings.map(\.timestamp) == (0...6).map { .milliseconds($0 * 100) })
        #expect(visit?.sightings.map(\.box.left) == (0...6).map { 100 + Double($0) * 3 })
        // The first frame, the best (frame 3) and the last before the emission, for the texture cue.
        #expect(visit?.samples.map(\.timestamp) == [.zero, .milliseconds(300), .milliseconds(600)])
        #expect(visit?.samples.map(\.box.left) == [100, 109, 118])
    }

    @Test func personStayingInViewMakesNoSecondVisit() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 2, cooldown: .seconds(1)))
        var visits: [Visit] = []
        for n in 0..<200 {  // 20 s in front of the door
            visits += selector.observe(frame: frame(n), faces: [face(at: 200, quality: 0.9)])
        }
        visits += selector.finish()
        #expect(visits.count == 1)
    }

    @Test func shortGapContinuesTheVisitLongGapStartsANewOne() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 2, cooldown: .seconds(1)))
        var visits: [Visit] = []
        var n = 0
        func run(_ frames: Int, present: Bool) {
            for _ in 0..<frames {
                visits += selector.observe(frame: frame(n), faces: present ? [face(at: 200, quality: 0.9)] : [])
                n += 1
            }
        }
        run(10, present: true)
        run(5, present: false)  // 0.5 s: a missed detection or a turned head
        run(10, present: true)
        #expect(visits.count == 1)
        run(15, present: false)  // 1.5 s: gone
        #expect(selector.activeTracks == 0)
        run(10, present: true)
        #expect(visits.count == 2)
        #expect(visits.map(\.number) == [1, 2])
    }

    @Test func approachWindowEndsAPoorApproach() {
        var selector = ApproachSelector(
            configuration: ApproachConfiguration(settleFrames: 2, approachWindow: .seconds(2), qualityGate: 0.5))
        var visits: [Visit] = []
        for n in 0..<40 {
            visits += selector.observe(frame: frame(n), faces: [face(at: 200, quality: 0.3 + Double(n % 3) * 0.01)])
        }
        #expect(visits.count == 1)
        #expect(visits[0].emittedBecause == .windowEnded)
        #expect(!visits[0].passedQualityGate)
        #expect(visits[0].firstSeen == .zero && visits[0].lastSeen == .seconds(2))
    }

    @Test func personLeavingBeforeSettlingStillMakesItsVisit() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 5, cooldown: .milliseconds(500)))
        var visits: [Visit] = []
        for n in 0..<4 { visits += selector.observe(frame: frame(n), faces: [face(at: 200, quality: 0.2 * Double(n + 1))]) }
        for n in 4..<12 { visits += selector.observe(frame: frame(n), faces: []) }
        #expect(visits.count == 1)
        #expect(visits[0].emittedBecause == .personLeft)
        #expect(visits[0].bestFrameSequence == 3)
    }

    @Test func twoPeopleMakeTwoVisits() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 2))
        var visits: [Visit] = []
        for n in 0..<10 {
            visits += selector.observe(
                frame: frame(n), faces: [face(at: 50, quality: 0.9), face(at: 400, size: 100, quality: 0.7)])
        }
        #expect(visits.count == 2)
        #expect(Set(visits.map(\.bestFace.box.left)) == [50, 400])
    }

    @Test func farAwayFacesAreIgnored() {
        var selector = ApproachSelector(configuration: ApproachConfiguration(minInterEyeDistance: 80))
        var visits: [Visit] = []
        for n in 0..<30 { visits += selector.observe(frame: frame(n), faces: [face(at: 200, quality: 0.9)]) }
        visits += selector.finish()
        #expect(visits.isEmpty)
    }
}

/// The whole capture-side path on frames synthesized from a real photo.
@Suite(.timeLimit(.minutes(5)))
struct SyntheticApproachTests {
    @Test func oneVisitWithAPassingFaceFromTheCloseSharpFrames() throws {
        let portrait = try TestData.image("jeff_bezos/01.jpg")
        let approach = SyntheticApproach(frameCount: 20)
        var selector = ApproachSelector(configuration: ApproachConfiguration(settleFrames: 4, approachWindow: .seconds(10)))
        var visits: [Visit] = []
        var qualities: [Double] = []
        for n in 0..<approach.frameCount {
            let image = try approach.frame(n, of: portrait)
            let faces = try SharedAnalyzer.frames.analyze(image).faces
            qualities.append(faces.first?.quality.faceQualityScore ?? -1)
            visits += selector.observe(frame: Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 100), image: image), faces: faces)
        }
        // Standing at the door afterwards adds nothing.
        let last = try approach.frame(approach.frameCount - 1, of: portrait)
        let lastFaces = try SharedAnalyzer.frames.analyze(last).faces
        for n in approach.frameCount..<(approach.frameCount + 20) {
            visits += selector.observe(frame: Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 100), image: last), faces: lastFaces)
        }
        visits += selector.finish()
        print("synthetic approach qualities: \(qualities.map { ($0 * 100).rounded() / 100 })")
        #expect(visits.count == 1)
        let visit = try #require(visits.first)
        #expect(visit.passedQualityGate)
        // The best face comes from the second half, where the person is close and sharp.
        #expect(visit.bestFrameSequence >= UInt64(approach.frameCount / 2))
        #expect(qualities.prefix(3).allSatisfy { $0 < visit.bestFace.quality.faceQualityScore })
        let crop = try ImageCodec.encodeJPEG(try visit.bestFrame.cropped(to: visit.bestFace.attributes.headArea))
        #expect(ImageCodec.sniff(crop) == .jpeg)
        // The crop is what goes to the cloud: the face must still be found in it.
        #expect(try SharedAnalyzer.still.analyze(encoded: crop, descriptorLimit: 0).faces.count == 1)
    }
}
