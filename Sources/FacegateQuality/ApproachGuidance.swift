import FacegateCore

/// What to tell the person at the door, in plain words, from the quality core's measures of the
/// faces in the latest frame: the kiosk shows it while they approach.
///
/// One piece of advice at a time, the first that applies in the order a person can act on it: others
/// in view, then distance, then pose, then light, then movement. Nil when the face is good (or there
/// is none): there is nothing to ask of them.
public enum ApproachGuidance: String, Sendable, CaseIterable {
    case oneAtATime = "one-at-a-time"
    case comeCloser = "come-closer"
    case faceTheCamera = "face-the-camera"
    case moreLight = "more-light"
    case holdStill = "hold-still"

    /// The words the kiosk shows.
    public var message: String {
        switch self {
        case .oneAtATime: "One person at a time"
        case .comeCloser: "Come closer"
        case .faceTheCamera: "Face the camera"
        case .moreLight: "More light please"
        case .holdStill: "Hold still"
        }
    }

    /// The advice for a frame's faces (largest first, as the analyser gives them), or nil.
    /// - Parameters:
    ///   - minInterEyeDistance: the approach's own minimum: a face under twice it is asked closer, since
    ///     the best faces come from well above the minimum.
    ///   - maxPoseDegrees: the turn and tilt an early decision allows (`approach.early_max_pose_degrees`):
    ///     beyond it the best face is yet to come.
    public static func advice(for faces: [DetectedFace], minInterEyeDistance: Double, maxPoseDegrees: Double = 15) -> ApproachGuidance? {
        guard let face = faces.max(by: { $0.box.area < $1.box.area }) else { return nil }
        let quality = face.quality
        // Another face nearly as large as the nearest one: the door cannot tell whose visit it is.
        if faces.count > 1, faces.contains(where: { $0.box != face.box && $0.box.area >= face.box.area * 0.5 }) { return .oneAtATime }
        if quality.interEyeDistance.raw < max(2 * minInterEyeDistance, 30) { return .comeCloser }
        if abs(quality.yaw.raw) > maxPoseDegrees || abs(quality.pitch.raw) > maxPoseDegrees { return .faceTheCamera }
        if quality.luminanceMean.score < 40 || quality.underExposure.score < 40 { return .moreLight }
        if quality.sharpness.score < 25 { return .holdStill }
        return nil
    }
}
