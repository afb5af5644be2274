import FacegateCore
import FacegateImageCodec
import Foundation

/// The local quality core: finds faces, measures their quality and, when asked,
/// computes descriptors, all on this machine.
public struct DlibFaceAnalyzer: FaceAnalyzing, FrameAnalyzing {
    public let engine: FaceEngine
    public let configuration: QualityConfiguration

    public init(engine: FaceEngine, configuration: QualityConfiguration = QualityConfiguration()) {
        self.engine = engine
        self.configuration = configuration
    }

    /// Loads the models from `models` (or the default folders) and builds an analyzer.
    public init(
        models: FaceModels? = nil, configuration: QualityConfiguration = QualityConfiguration(),
        withDescriptor: Bool = true
    ) throws {
        let located = try models ?? FaceModels.locate()
        self.init(engine: try FaceEngine(models: located, withDescriptor: withDescriptor), configuration: configuration)
    }

    public func analyze(encoded: [UInt8], descriptorLimit: Int) throws -> ImageAnalysis {
        try analyze(try ImageCodec.decode(encoded), descriptorLimit: descriptorLimit)
    }

    /// Analyses every face in a frame; the `descriptorLimit` largest get a descriptor.
    public func analyze(_ image: PixelImage, descriptorLimit: Int = 0) throws -> ImageAnalysis {
        try analyze(image, plan: .wholeFrame, descriptorLimit: descriptorLimit)
    }

    /// Analyses the faces found where `plan` says to look; the `descriptorLimit` largest get a descriptor.
    public func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
        let gray = image.grayscale()
        let boxes: [(box: PixelBox, score: Double)]
        switch plan {
        case .wholeFrame: boxes = try detectFaces(in: gray)
        case .regions(let regions): boxes = try detectFaces(in: gray, regions: regions)
        }
        let areas = boxes.map(\.box.area)
        var faces: [DetectedFace] = []
        faces.reserveCapacity(boxes.count)
        for (index, found) in boxes.enumerated() {
            let landmarks = try engine.landmarks(in: gray, box: found.box)
            var others = areas
            others.remove(at: index)
            let quality = QualityMeasurement.measure(gray: gray, box: found.box, landmarks: landmarks, otherFaceAreas: others)
            var face = DetectedFace(
                detectionScore: found.score, box: found.box, landmarks: landmarks,
                attributes: Self.attributes(box: found.box, score: found.score, landmarks: landmarks, quality: quality),
                quality: quality)
            if index < descriptorLimit {
                face.descriptor = try descriptor(of: face, in: image)
            }
            faces.append(face)
        }
        return ImageAnalysis(width: image.width, height: image.height, faces: faces)
    }

    /// The descriptor of a face found earlier in `image`.
    public func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
        try engine.descriptor(in: image.rgb(), box: face.box, landmarks: face.landmarks)
    }

    /// Detections on the frame scaled to the detection width, mapped back, largest first.
    ///
    /// Large frames are scaled down: cheaper, and a face at the door stays over
    /// HOG's 80-px minimum. An image under half the detection width with no face
    /// found is tried again doubled, since a face in it may be under that minimum.
    private func detectFaces(in gray: PixelImage) throws -> [(box: PixelBox, score: Double)] {
        let target = configuration.detectionWidth
        var found = try detect(in: gray, scale: gray.width > target ? Double(target) / Double(gray.width) : 1)
        if found.isEmpty, gray.width * 2 <= target {
            found = try detect(in: gray, scale: 2)
        }
        return found.sorted { $0.box.area > $1.box.area }.prefix(configuration.maxFaces).map { $0 }
    }

    /// Detections in each region at its scale, mapped back to the frame; a face found by two
    /// overlapping regions counts once (the higher-scoring box).
    private func detectFaces(in gray: PixelImage, regions: [DetectionRegion]) throws -> [(box: PixelBox, score: Double)] {
        var found: [(box: PixelBox, score: Double)] = []
        for region in regions {
            // The scanned crop is at least a little over the detector's 80-px window, or nothing fits.
            let minimumSide = 96 / max(region.scale, 0.01)
            var area = region.area
            if area.width < minimumSide { area = area.widened(to: minimumSide, horizontally: true) }
            if area.height < minimumSide { area = area.widened(to: minimumSide, horizontally: false) }
            area = area.clamped(width: gray.width, height: gray.height)
            let left = area.left.rounded(.down), top = area.top.rounded(.down)
            guard area.width * region.scale >= 80, area.height * region.scale >= 80, let crop = try? gray.cropped(to: area) else {
                continue
            }
            for detection in try detect(in: crop, scale: region.scale) {
                let box = detection.box
                found.append(
                    (PixelBox(left: box.left + left, top: box.top + top, right: box.right + left, bottom: box.bottom + top), detection.score))
            }
        }
        var kept: [(box: PixelBox, score: Double)] = []
        for candidate in found.sorted(by: { $0.score > $1.score }) where !kept.contains(where: { $0.box.overlap(with: candidate.box) > 0.4 }) {
            kept.append(candidate)
        }
        return kept.sorted { $0.box.area > $1.box.area }.prefix(configuration.maxFaces).map { $0 }
    }

    private func detect(in gray: PixelImage, scale: Double) throws -> [(box: PixelBox, score: Double)] {
        let scaled =
            scale == 1
            ? gray
            : try gray.resized(
                width: max(1, Int((Double(gray.width) * scale).rounded())),
                height: max(1, Int((Double(gray.height) * scale).rounded())))
        return try engine.detect(in: scaled, minScore: configuration.minDetectionScore)
            .map { (box: $0.box.scaled(by: 1 / scale), score: $0.score) }
    }

    /// The NEC ID attribute record of a face.
    static func attributes(box: PixelBox, score: Double, landmarks: FaceLandmarks, quality: QualityMeasures) -> FaceAttributes {
        FaceAttributes(
            faceArea: box, headArea: QualityMeasurement.headArea(of: box),
            rightEyeCenter: landmarks.rightEyeCenter, leftEyeCenter: landmarks.leftEyeCenter,
            // HOG confidence to 0...1: 0.5 at the detector's own threshold, 0.95 at 1.
            faceScore: 1 / (1 + exp(-3 * score)),
            frontalFaceScore: quality.yaw.score * quality.pitch.score / 10_000,
            faceRoll: quality.roll.raw, facePan: quality.yaw.raw, faceTilt: quality.pitch.raw,
            faceQualityScore: quality.faceQualityScore)
    }
}

extension PixelBox {
    /// The same centre, `side` wide (or high).
    func widened(to side: Double, horizontally: Bool) -> PixelBox {
        if horizontally {
            let centre = (left + right) / 2
            return PixelBox(left: centre - side / 2, top: top, right: centre + side / 2, bottom: bottom)
        }
        let centre = (top + bottom) / 2
        return PixelBox(left: left, top: centre - side / 2, right: right, bottom: centre + side / 2)
    }
}
