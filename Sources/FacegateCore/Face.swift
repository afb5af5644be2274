/// The five landmarks dlib's 5-point predictor finds, in its order.
public struct FaceLandmarks: Sendable, Hashable, Codable {
    /// Outer and inner corner of the subject's right eye (left in the image).
    public var rightEyeOuter: PixelPoint
    public var rightEyeInner: PixelPoint
    /// Outer and inner corner of the subject's left eye (right in the image).
    public var leftEyeOuter: PixelPoint
    public var leftEyeInner: PixelPoint
    /// The base of the nose, between the nostrils.
    public var noseBase: PixelPoint

    public init(
        rightEyeOuter: PixelPoint, rightEyeInner: PixelPoint,
        leftEyeOuter: PixelPoint, leftEyeInner: PixelPoint, noseBase: PixelPoint
    ) {
        self.rightEyeOuter = rightEyeOuter
        self.rightEyeInner = rightEyeInner
        self.leftEyeOuter = leftEyeOuter
        self.leftEyeInner = leftEyeInner
        self.noseBase = noseBase
    }

    public var rightEyeCenter: PixelPoint { midpoint(rightEyeOuter, rightEyeInner) }
    public var leftEyeCenter: PixelPoint { midpoint(leftEyeOuter, leftEyeInner) }

    private func midpoint(_ a: PixelPoint, _ b: PixelPoint) -> PixelPoint {
        PixelPoint(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2)
    }
}

/// Face attributes in NEC ID's "Face Attributes" schema, with numbers as numbers.
///
/// NEC ID sends every number as a JSON string (`"faceRoll": "4.93922"`), so
/// decoding takes either form; encoding writes numbers.
public struct FaceAttributes: Sendable, Hashable, Codable {
    public var faceArea: PixelBox
    public var headArea: PixelBox
    public var rightEyeCenter: PixelPoint
    public var leftEyeCenter: PixelPoint
    /// Likeness to a face, 0...1.
    public var faceScore: Double
    /// Degree of frontal view, 0...1.
    public var frontalFaceScore: Double
    /// Degrees; positive when the head leans toward the subject's left shoulder.
    public var faceRoll: Double
    /// Degrees (yaw); positive when the subject turns to their left.
    public var facePan: Double
    /// Degrees (pitch); positive when the subject looks up.
    public var faceTilt: Double
    /// Overall quality, 0...1.
    public var faceQualityScore: Double

    public init(
        faceArea: PixelBox, headArea: PixelBox, rightEyeCenter: PixelPoint, leftEyeCenter: PixelPoint,
        faceScore: Double, frontalFaceScore: Double, faceRoll: Double, facePan: Double, faceTilt: Double,
        faceQualityScore: Double
    ) {
        self.faceArea = faceArea
        self.headArea = headArea
        self.rightEyeCenter = rightEyeCenter
        self.leftEyeCenter = leftEyeCenter
        self.faceScore = faceScore
        self.frontalFaceScore = frontalFaceScore
        self.faceRoll = faceRoll
        self.facePan = facePan
        self.faceTilt = faceTilt
        self.faceQualityScore = faceQualityScore
    }
}

/// A 128-dimensional face descriptor from dlib's ResNet model.
public struct FaceDescriptor: Sendable, Hashable, Codable {
    public static let dimension = 128

    public let values: [Float]

    public init(_ values: [Float]) throws(ImageError) {
        guard values.count == Self.dimension, values.allSatisfy(\.isFinite) else {
            throw ImageError(.corrupt, "a face descriptor has \(Self.dimension) finite values, got \(values.count)")
        }
        self.values = values
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.singleValueContainer().decode([Float].self)
        do {
            try self.init(values)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    /// Euclidean distance; dlib's model puts the same person below about 0.6.
    public func distance(to other: FaceDescriptor) -> Float {
        var sum: Float = 0
        for i in 0..<Self.dimension {
            let d = values[i] - other.values[i]
            sum += d * d
        }
        return sum.squareRoot()
    }
}

/// One face found in an image, with what the quality core measured of it.
public struct DetectedFace: Sendable, Hashable, Codable {
    /// The detector's confidence; dlib's HOG scores real faces above about 0.5.
    public var detectionScore: Double
    public var box: PixelBox
    public var landmarks: FaceLandmarks
    public var attributes: FaceAttributes
    public var quality: QualityMeasures
    public var descriptor: FaceDescriptor?

    public init(
        detectionScore: Double, box: PixelBox, landmarks: FaceLandmarks, attributes: FaceAttributes,
        quality: QualityMeasures, descriptor: FaceDescriptor? = nil
    ) {
        self.detectionScore = detectionScore
        self.box = box
        self.landmarks = landmarks
        self.attributes = attributes
        self.quality = quality
        self.descriptor = descriptor
    }
}

/// What the quality core found in one image.
public struct ImageAnalysis: Sendable, Hashable, Codable {
    public var width: Int
    public var height: Int
    /// Faces, largest first.
    public var faces: [DetectedFace]

    public init(width: Int, height: Int, faces: [DetectedFace]) {
        self.width = width
        self.height = height
        self.faces = faces
    }
}

/// The local face core as the rest of facegate sees it: encoded image in,
/// faces with quality (and descriptors when asked) out.
///
/// The cloud emulators match faces through this, and the daemon builds its
/// offline cache with it.
public protocol FaceAnalyzing: Sendable {
    /// Decodes a JPEG or PNG image and analyses every face in it.
    /// - Parameters:
    ///   - encoded: the image file's bytes.
    ///   - descriptorLimit: how many faces (largest first) get a descriptor; 0 for none.
    func analyze(encoded: [UInt8], descriptorLimit: Int) throws -> ImageAnalysis
}
