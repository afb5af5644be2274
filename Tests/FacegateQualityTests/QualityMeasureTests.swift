import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Testing

/// Each measure moves the way it should when the same face is made worse.
@Suite(.timeLimit(.minutes(5)))
struct QualityMeasureTests {
    func onlyFace(_ image: PixelImage) throws -> DetectedFace {
        let faces = try SharedAnalyzer.still.analyze(image).faces
        return try #require(faces.count == 1 ? faces.first : nil, "expected one face, found \(faces.count)")
    }

    func scaled(_ image: PixelImage, brightness: Double) throws -> PixelImage {
        try PixelImage(
            width: image.width, height: image.height, layout: image.layout,
            pixels: image.pixels.map { UInt8(min(255, Double($0) * brightness)) })
    }

    @Test func blurLowersSharpnessAndQuality() throws {
        let image = try TestData.image("jeff_bezos/01.jpg")
        let sharp = try onlyFace(image)
        let blurred = try onlyFace(image.boxBlurred(radius: 4))
        #expect(blurred.quality.sharpness.raw < sharp.quality.sharpness.raw / 3)
        #expect(blurred.quality.faceQualityScore < sharp.quality.faceQualityScore)
    }

    @Test func darknessLowersLuminanceAndRaisesUnderExposure() throws {
        let image = try TestData.image("matt_damon/01.jpg")
        let normal = try onlyFace(image)
        let dark = try onlyFace(try scaled(image, brightness: 0.25))
        #expect(dark.quality.luminanceMean.raw < normal.quality.luminanceMean.raw * 0.4)
        #expect(dark.quality.luminanceMean.score < normal.quality.luminanceMean.score)
        #expect(dark.quality.underExposure.raw > normal.quality.underExposure.raw)
        #expect(dark.quality.faceQualityScore < normal.quality.faceQualityScore)
    }

    @Test func overExposureIsSeen() throws {
        let image = try TestData.image("matt_damon/01.jpg")
        let normal = try onlyFace(image)
        let bright = try onlyFace(try scaled(image, brightness: 2.2))
        #expect(bright.quality.overExposure.raw > normal.quality.overExposure.raw + 0.1)
        #expect(bright.quality.overExposure.score < normal.quality.overExposure.score)
    }

    @Test func smallerFaceHasSmallerEyeDistanceAndHeadSize() throws {
        let approach = SyntheticApproach(frameCount: 10, startBlur: 0, startBrightness: 1)
        let portrait = try TestData.image("jeff_bezos/01.jpg")
        let far = try onlyFace(try approach.frame(2, of: portrait))
        let near = try onlyFace(try approach.frame(9, of: portrait))
        #expect(far.quality.interEyeDistance.raw < near.quality.interEyeDistance.raw * 0.7)
        #expect(far.quality.headSize.raw < near.quality.headSize.raw)
    }

    @Test func faceCutByTheFrameEdgeScoresLowOnPosition() throws {
        let image = try TestData.image("tom_cruise/01.jpg")
        let whole = try onlyFace(image)
        // Keep the left 60 % of the face box: the face runs off the right edge.
        let box = whole.box
        let cut = try image.cropped(to: PixelBox(left: 0, top: 0, right: box.left + box.width * 0.8, bottom: Double(image.height)))
        let faces = try SharedAnalyzer.still.analyze(cut).faces
        if let face = faces.first {
            #expect(face.quality.headPosition.raw < whole.quality.headPosition.raw)
            #expect(face.quality.headPosition.score < whole.quality.headPosition.score)
        }
        #expect(whole.quality.headPosition.raw >= 0)
    }

    @Test func rollFollowsRotationOfTheEyeLine() throws {
        // Mirror the photo: roll and yaw change sign, the eyes swap sides in the image.
        let image = try TestData.image("jeff_bezos/01.jpg")
        var mirrored = image.pixels
        for y in 0..<image.height {
            for x in 0..<(image.width / 2) {
                for c in 0..<3 {
                    mirrored.swapAt((y * image.width + x) * 3 + c, (y * image.width + image.width - 1 - x) * 3 + c)
                }
            }
        }
        let a = try onlyFace(image)
        let b = try onlyFace(try PixelImage(width: image.width, height: image.height, layout: .rgb24, pixels: mirrored))
        #expect(abs(a.quality.roll.raw + b.quality.roll.raw) < 2.5)
        #expect(abs(a.quality.yaw.raw + b.quality.yaw.raw) < 6)
        #expect(b.attributes.rightEyeCenter.x < b.attributes.leftEyeCenter.x)
    }

    @Test func combinedScoreFollowsTheDocumentedFormula() throws {
        let face = try onlyFace(try TestData.image("jeff_bezos/01.jpg"))
        #expect(abs(QualityMeasurement.combinedScore(face.quality) - face.quality.faceQualityScore) < 1e-12)
        var poor = face.quality
        poor.yaw = QualityMeasure(raw: 50, score: 0)
        // A face turned away scores 0 whatever else is good.
        #expect(QualityMeasurement.combinedScore(poor) == 0)
        var half = face.quality
        half.interEyeDistance = QualityMeasure(raw: 32.5, score: 25)
        #expect(QualityMeasurement.combinedScore(half) < face.quality.faceQualityScore * 0.55)
    }
}
