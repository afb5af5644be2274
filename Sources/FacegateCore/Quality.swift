/// One quality measure: what was measured, and how good that is on 0...100.
public struct QualityMeasure: Sendable, Hashable, Codable {
    /// The measured value in its own unit (pixels, degrees, grey levels, a fraction...).
    public var raw: Double
    /// The value mapped to 0 (unusable) ... 100 (ideal).
    public var score: Double

    public init(raw: Double, score: Double) {
        self.raw = raw
        self.score = min(100, max(0, score))
    }
}

/// The per-face quality measures, modelled on ISO/IEC 29794-5 (OFIQ) where cheap.
public struct QualityMeasures: Sendable, Hashable, Codable {
    /// Pixels between the eye centres.
    public var interEyeDistance: QualityMeasure
    /// Face box height as a fraction of the image height.
    public var headSize: QualityMeasure
    /// Smallest margin between the face box and the image edge, as a fraction of the face width
    /// (negative when the face is cut off).
    public var headPosition: QualityMeasure
    /// Degrees of yaw estimated from the landmarks.
    public var yaw: QualityMeasure
    /// Degrees of roll (the eye line's slope).
    public var roll: QualityMeasure
    /// Degrees of pitch, a coarse estimate from the nose to eye-line distance.
    public var pitch: QualityMeasure
    /// Variance of the Laplacian over the face box, per mean luminance squared x 1000.
    public var sharpness: QualityMeasure
    /// Mean grey level (0...255) over the face box.
    public var luminanceMean: QualityMeasure
    /// Fraction of face pixels at or below grey level 10.
    public var underExposure: QualityMeasure
    /// Fraction of face pixels at or above grey level 245.
    public var overExposure: QualityMeasure
    /// Bits of grey-level range used (log2 of the 1st..99th percentile span).
    public var dynamicRange: QualityMeasure
    /// Area of this face over the area of the next largest face in the image (100 when alone).
    public var singleFaceDominance: QualityMeasure
    /// The combined score on 0...1 (see `QualityFormula`).
    public var faceQualityScore: Double

    public init(
        interEyeDistance: QualityMeasure, headSize: QualityMeasure, headPosition: QualityMeasure,
        yaw: QualityMeasure, roll: QualityMeasure, pitch: QualityMeasure, sharpness: QualityMeasure,
        luminanceMean: QualityMeasure, underExposure: QualityMeasure, overExposure: QualityMeasure,
        dynamicRange: QualityMeasure, singleFaceDominance: QualityMeasure, faceQualityScore: Double
    ) {
        self.interEyeDistance = interEyeDistance
        self.headSize = headSize
        self.headPosition = headPosition
        self.yaw = yaw
        self.roll = roll
        self.pitch = pitch
        self.sharpness = sharpness
        self.luminanceMean = luminanceMean
        self.underExposure = underExposure
        self.overExposure = overExposure
        self.dynamicRange = dynamicRange
        self.singleFaceDominance = singleFaceDominance
        self.faceQualityScore = faceQualityScore
    }
}
