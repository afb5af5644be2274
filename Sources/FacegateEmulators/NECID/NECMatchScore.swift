import FacegateCore
import Foundation

/// How the emulator turns dlib descriptor distance into NEC ID's 0...9999 score.
///
/// A logistic centred between dlib's same-person distances (about 0.33...0.45)
/// and different-person ones (0.6 and up):
///
///     score = round(9999 / (1 + exp(15 * (d - 0.55))))
///
/// d = 0.40 gives 9046, 0.45 gives 8175, 0.49 about 7109 (just above the default
/// threshold 7000, reached at d ≈ 0.4935), 0.55 gives 5000, 0.60 gives 3208 and
/// 0.65 gives 1824; so the same person lands well above 7000 and strangers well below.
public enum NECMatchScore {
    public static let midpointDistance: Double = 0.55
    public static let steepness: Double = 15

    public static func score(distance: Float) -> Int {
        let value = 9999 / (1 + exp(steepness * (Double(distance) - midpointDistance)))
        return min(9999, max(0, Int(value.rounded())))
    }

    public static func score(_ a: FaceDescriptor, _ b: FaceDescriptor) -> Int {
        score(distance: a.distance(to: b))
    }
}
