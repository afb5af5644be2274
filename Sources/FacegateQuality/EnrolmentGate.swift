import FacegateCore
import Foundation

/// The stricter gate a face must pass to be enrolled: every later decision at every door compares
/// against it, so it must be large, frontal, sharp, well lit and alone in view, where a door's own
/// gate only needs a face good enough to search with.
public struct EnrolmentGate: Sendable, Equatable {
    /// Least combined quality (`faceQualityScore`, 0...1).
    public var minQuality: Double
    /// Largest yaw and pitch, degrees.
    public var maxPoseDegrees: Double
    /// Least pixels between the eye centres.
    public var minInterEyeDistance: Double

    public init(minQuality: Double = 0.7, maxPoseDegrees: Double = 15, minInterEyeDistance: Double = 40) {
        self.minQuality = minQuality
        self.maxPoseDegrees = maxPoseDegrees
        self.minInterEyeDistance = minInterEyeDistance
    }

    /// The words for another face in view.
    public static let anotherFace = "another face is in view (one person at a time)"

    /// What keeps `quality` from being enrolled, in the words an installer can act on; empty when it passes.
    public func problems(of quality: QualityMeasures) -> [String] {
        var problems: [String] = []
        // Written so that a NaN fails each check: a measure that is not a number passes nothing.
        // No other face found at all (its raw measure is capped at 100: none larger than a tenth of this
        // one's width), not merely a smaller one: the score is full from twice the area, so someone half a
        // step behind (0.7 of the size) passed it.
        if !(quality.singleFaceDominance.raw >= 100) { problems.append(EnrolmentGate.anotherFace) }
        if !(quality.interEyeDistance.raw >= minInterEyeDistance) {
            problems.append(
                "the face is too small (\(Self.format(quality.interEyeDistance.raw)) px between the eyes, at least \(Self.format(minInterEyeDistance)) needed): come closer"
            )
        }
        if !(abs(quality.yaw.raw) <= maxPoseDegrees && abs(quality.pitch.raw) <= maxPoseDegrees) {
            problems.append(
                "the face is turned (yaw \(Self.format(quality.yaw.raw))°, pitch \(Self.format(quality.pitch.raw))°, at most \(Self.format(maxPoseDegrees))°): face the camera"
            )
        }
        if !(quality.faceQualityScore >= minQuality) {
            problems.append(
                "the face's quality is \(Self.format(quality.faceQualityScore, digits: 2)), at least \(Self.format(minQuality, digits: 2)) needed\(Self.weakest(quality))"
            )
        }
        return problems
    }

    /// The weakest of the measures a person can change (light, sharpness), as a hint.
    private static func weakest(_ quality: QualityMeasures) -> String {
        let candidates: [(String, Double)] = [
            ("more light please", min(quality.luminanceMean.score, quality.underExposure.score)),
            ("less glare please", quality.overExposure.score),
            ("hold still", quality.sharpness.score),
        ]
        guard let worst = candidates.min(by: { $0.1 < $1.1 }), worst.1 < 60 else { return "" }
        return ": " + worst.0
    }

    private static func format(_ value: Double, digits: Int = 0) -> String {
        value.isFinite ? String(format: "%.\(digits)f", value) : "?"
    }
}
