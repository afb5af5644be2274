import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Testing
import FacegateTesting

/// The kiosk's guidance from the quality core, on real photos changed the way a door sees people:
/// far away, in the dark, moving, turned, or more than one at a time.
@Suite(.timeLimit(.minutes(2)))
struct ApproachGuidanceTests {
    let analyzer: DlibFaceAnalyzer

    init() throws { analyzer = try TestFaceAnalyzers.stills() }

    func photo(_ name: String) throws -> PixelImage {
        try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.faces.appendingPathComponent(name))))
    }

    /// A head-and-shoulders frame, 480 px square, as a door camera sees someone who has arrived.
    func atTheDoor(_ name: String) throws -> PixelImage {
        try TestPortrait.headAndShoulders([UInt8](try Data(contentsOf: SharedTestData.faces.appendingPathComponent(name))), analyzer: analyzer)
            .rgb().resized(width: 480, height: 480)
    }

    func advice(_ image: PixelImage, maxPoseDegrees: Double = 15) throws -> ApproachGuidance? {
        let faces = try analyzer.analyze(image).faces
        try #require(!faces.isEmpty, "no face found")
        return ApproachGuidance.advice(for: faces, minInterEyeDistance: 20, maxPoseDegrees: maxPoseDegrees)
    }

    @Test func aGoodFaceAtTheDoorNeedsNoAdvice() throws {
        #expect(try advice(try atTheDoor("leonardo_dicaprio/01.jpg")) == nil)
        #expect(ApproachGuidance.advice(for: [], minInterEyeDistance: 20) == nil, "nobody in view: nothing to say")
    }

    @Test func farAwayIsAskedCloser() throws {
        // The same face at a third of the size, in a frame of the same size.
        let small = try atTheDoor("leonardo_dicaprio/01.jpg").resized(width: 160, height: 160)
        var canvas = try PixelImage(width: 480, height: 480, layout: .rgb24, pixels: [UInt8](repeating: 90, count: 480 * 480 * 3))
        canvas = try canvas.pasting(small, atLeft: 160, top: 120)
        #expect(try advice(canvas) == .comeCloser)
    }

    @Test func aDarkFaceAsksForLight() throws {
        let portrait = try atTheDoor("leonardo_dicaprio/01.jpg")
        let dark = try PixelImage(width: portrait.width, height: portrait.height, layout: .rgb24, pixels: portrait.pixels.map { $0 / 5 })
        #expect(try advice(dark) == .moreLight)
    }

    @Test func aBlurredFaceIsAskedToHoldStill() throws {
        #expect(try advice(try atTheDoor("leonardo_dicaprio/01.jpg").boxBlurred(radius: 4)) == .holdStill)
    }

    @Test func aTurnedHeadIsAskedToFaceTheCamera() throws {
        // The photo's head is turned about 19° (dlib's five landmarks).
        #expect(try advice(try photo("angelina_jolie/10.jpg")) == .faceTheCamera)
        // Not where the door allows that turn (a camera to the side of it).
        #expect(try advice(try photo("angelina_jolie/10.jpg"), maxPoseDegrees: 25) != .faceTheCamera)
    }

    @Test func theAdviceIsTheFirstAPersonCanActOn() throws {
        // Far, dark and blurred at once: come closer first (the light and the blur follow from it).
        let small = try atTheDoor("leonardo_dicaprio/01.jpg").resized(width: 160, height: 160).boxBlurred(radius: 3)
        let dim = try PixelImage(width: small.width, height: small.height, layout: .rgb24, pixels: small.pixels.map { $0 / 5 })
        let canvas = try PixelImage(width: 480, height: 480, layout: .rgb24, pixels: [UInt8](repeating: 18, count: 480 * 480 * 3))
            .pasting(dim, atLeft: 160, top: 120)
        #expect(try advice(canvas) == .comeCloser)
        // At the door, dark and blurred: light before holding still.
        let portrait = try atTheDoor("leonardo_dicaprio/01.jpg").boxBlurred(radius: 4)
        let darkAndBlurred = try PixelImage(width: portrait.width, height: portrait.height, layout: .rgb24, pixels: portrait.pixels.map { $0 / 5 })
        #expect(try advice(darkAndBlurred) == .moreLight)
    }

    @Test func twoPeopleAreAskedToComeOneAtATime() throws {
        let left = try atTheDoor("leonardo_dicaprio/01.jpg").resized(width: 320, height: 320)
        let right = try atTheDoor("stock_neutral_woman/01.jpg").resized(width: 320, height: 320)
        var canvas = try PixelImage(width: 640, height: 400, layout: .rgb24, pixels: [UInt8](repeating: 90, count: 640 * 400 * 3))
        canvas = try canvas.pasting(left, atLeft: 0, top: 40).pasting(right, atLeft: 320, top: 40)
        #expect(try advice(canvas) == .oneAtATime)
    }
}
