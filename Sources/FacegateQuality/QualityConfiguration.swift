/// Settings of the local quality core.
public struct QualityConfiguration: Sendable, Equatable {
    /// Frames wider than this are scaled down to it for detection and the boxes
    /// mapped back: HOG finds faces of about 80 px and up at the scale it runs on,
    /// and a person at a door is larger than that in a 640-px-wide frame.
    public var detectionWidth: Int
    /// Detections scoring below this are dropped (HOG fires at 0.0-0.3 on round non-faces).
    public var minDetectionScore: Double
    /// A face whose `faceQualityScore` is below this does not go to the cloud.
    public var qualityGate: Double
    /// Faces analysed per image at most, largest first.
    public var maxFaces: Int

    /// For still photos (enrolment, `facegate faces`): detection at up to 1600 px wide
    /// finds the smaller faces of group photos, at about four times a frame's cost.
    public static let stillImage = QualityConfiguration(detectionWidth: 1600)

    public init(detectionWidth: Int = 640, minDetectionScore: Double = 0.3, qualityGate: Double = 0.5, maxFaces: Int = 20) {
        self.detectionWidth = detectionWidth
        self.minDetectionScore = minDetectionScore
        self.qualityGate = qualityGate
        self.maxFaces = maxFaces
    }
}
