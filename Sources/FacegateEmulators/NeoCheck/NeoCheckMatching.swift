import FacegateCore
import Foundation

/// How the emulator turns facegate's local face analysis into FaceCheck answers.
///
/// Confidence (0...100) from the Euclidean distance `d` between dlib descriptors:
///
///     confidence = 100 / (1 + exp(15 * (d - 0.50)))
///
/// The result is `ok` when the confidence is at least 50, that is `d <= 0.50`,
/// else `failed`. On the shared test photographs the same person lies at
/// 0.26...0.50 for all but one pair (0.56...0.62; confidence 29...40), and
/// different people at 0.52 and beyond (two men at 0.52...0.53; confidence 38...41).
/// dlib's customary 0.6 would accept those two men; 0.50 does not, at the cost of
/// refusing a few hard same-person pairs, which suits a door.
public enum NeoCheckMatching {
    public static let midpointDistance = 0.50
    public static let steepness = 15.0
    public static let acceptConfidence = 50.0

    public static func confidence(distance: Double) -> Double {
        100 / (1 + exp(steepness * (distance - midpointDistance)))
    }

    public static func isMatch(confidence: Double) -> Bool {
        confidence >= acceptConfidence
    }

    /// Face QA of the largest face of an analysed image, from the local quality measures.
    ///
    /// Each ICAO check passes when the measures behind it score at least 50 of 100:
    /// - goodVerticalFacePosition: head position and pitch, and the face centre in the middle half vertically;
    /// - horizontallyCenteredFace: the face centre within the middle 30% horizontally;
    /// - goodExposure: mean luminance, under- and over-exposure;
    /// - resolution: the distance between the eyes;
    /// - onlyOneFaceVisible: exactly one face found;
    /// - isFrontal: yaw, roll and pitch;
    /// - overallPhotoQuality: the combined quality score at least 0.5, one face, frontal;
    /// - eyesNotRed is not assessed (the local core has no red-eye measure) and is left out.
    static func faceQA(of analysis: ImageAnalysis) -> FaceQAWire? {
        guard let face = analysis.faces.first else { return nil }
        let q = face.quality
        let width = Double(analysis.width)
        let height = Double(analysis.height)
        let center = face.box.center
        let good: (QualityMeasure) -> Bool = { $0.score >= 50 }
        let vertical = good(q.headPosition) && good(q.pitch) && abs(center.y - height / 2) <= height / 4
        let horizontal = abs(center.x - width / 2) <= width * 0.15
        let exposure = good(q.luminanceMean) && good(q.underExposure) && good(q.overExposure)
        let frontal = good(q.yaw) && good(q.roll) && good(q.pitch)
        let single = analysis.faces.count == 1
        return FaceQAWire(
            faceRectangle: .init(left: face.box.left, top: face.box.top, width: face.box.width, height: face.box.height),
            featurePoints: .init(
                rightEye: face.landmarks.rightEyeCenter, leftEye: face.landmarks.leftEyeCenter,
                nose: face.landmarks.noseBase),
            imageFeatures: [
                "sharpness": q.sharpness.score,
                "blur": 100 - q.sharpness.score,
                "exposure": q.luminanceMean.score,
                "luminanceMean": q.luminanceMean.raw,
                "underExposure": q.underExposure.raw,
                "overExposure": q.overExposure.raw,
                "dynamicRange": q.dynamicRange.raw,
                "interEyeDistance": q.interEyeDistance.raw,
                "yaw": q.yaw.raw,
                "roll": q.roll.raw,
                "pitch": q.pitch.raw,
                "quality": q.faceQualityScore * 100,
            ],
            checks: .init(
                goodVerticalFacePosition: vertical, horizontallyCenteredFace: horizontal, goodExposure: exposure,
                resolution: good(q.interEyeDistance), onlyOneFaceVisible: single, isFrontal: frontal,
                overallPhotoQuality: q.faceQualityScore >= 0.5 && single && frontal))
    }
}
