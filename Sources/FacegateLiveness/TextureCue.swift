import FacegateCore

/// The passive texture cue: two MiniFASNet models judge a crop around the face, one at 2.7 times the
/// face box, one at 4 times (which sees more of what holds the face: a phone's bezel, a sheet's edge,
/// fingers). Each gives the probability of a real face; the cue is the lower of the two (the publisher
/// sums them): a screen held still with its edge out of view was judged live on their mean while one
/// model called it an attack (BENCHMARKS.md). It catches prints and screens whose texture, moiré or
/// frame differs from skin; a good mask passes it (see the README's threat model).
public struct TextureCue: Sendable {
    public struct Model: Sendable {
        public var name: String
        public var classifier: TextureClassifier
        /// How much larger than the face box the crop is, about the same centre.
        public var cropScale: Double

        public init(name: String, classifier: TextureClassifier, cropScale: Double) {
            self.name = name
            self.classifier = classifier
            self.cropScale = cropScale
        }
    }

    /// The models' class that means a real face.
    static let realClass = 1
    public let models: [Model]

    public init(models: [Model]) {
        self.models = models
    }

    /// Both shipped models, loaded from `folder`.
    public init(_ folder: PADModels) throws(LivenessError) {
        self.init(models: [
            Model(name: "texture_wide", classifier: try TextureClassifier(path: folder.widePath), cropScale: 2.7),
            Model(name: "texture_widest", classifier: try TextureClassifier(path: folder.widestPath), cropScale: 4.0),
        ])
    }

    /// The probability that `face` in `image` is a real face, each model's and the lower of them.
    public func score(_ image: PixelImage, face: PixelBox) throws(LivenessError) -> TextureScore {
        let rgb = image.rgb()
        var perModel: [String: Double] = [:]
        for model in models {
            let crop = try Self.crop(around: face, scale: model.cropScale, imageWidth: rgb.width, imageHeight: rgb.height)
            let outputs = try model.classifier.classify(rgb, crop: crop)
            guard outputs.count > Self.realClass else { throw LivenessError(.inferenceFailed, "\(model.name) gave no real-face class") }
            // The models end in a softmax (models/pad/README.md). A model swapped for one without it gives
            // scores, not probabilities: a real-face score of 7 would pass any threshold, so it judges nothing.
            guard Self.areClassProbabilities(outputs) else {
                throw LivenessError(.inferenceFailed, "\(model.name) gave outputs that are not class probabilities (a model without its softmax?)")
            }
            perModel[model.name] = Double(outputs[Self.realClass])
        }
        return TextureScore(perModel: perModel)
    }

    /// Runs each model once on a plain grey picture and checks it answers in class probabilities: a model
    /// file swapped for one that cannot (no softmax, another input size) is found when the door starts,
    /// not at its first visitor, whom it would turn away with every later one.
    public func checkContract() throws(LivenessError) {
        let side = 240
        let grey: PixelImage
        do {
            grey = try PixelImage(width: side, height: side, layout: .rgb24, pixels: [UInt8](repeating: 128, count: side * side * 3))
        } catch {
            throw LivenessError(.badInput, "the contract check's picture could not be made")
        }
        // A face box small enough that even the widest crop (4 times it) stays in the picture.
        _ = try score(grey, face: PixelBox(left: 95, top: 95, right: 145, bottom: 145))
    }

    /// Each output in 0...1 and together summing to 1, within float rounding.
    static func areClassProbabilities(_ outputs: [Float]) -> Bool {
        outputs.allSatisfy { (0...1).contains($0) } && abs(outputs.reduce(0, +) - 1) <= 1e-3
    }

    /// The least share of a face box that must lie in the picture for its crop to be scored: a face at the
    /// edge (a cheek out of view) is scored, a box shifted off the picture is not.
    public static let minimumShareInside = 0.6

    /// The crop a model sees: the face box made comparable with the detector the models were trained
    /// with (dlib's HOG box is about 7 % smaller and sits 3 % of its height lower), scaled about its
    /// centre, scaled less when the frame cannot hold it, and shifted back inside the frame. A box mostly
    /// outside the frame (under ``minimumShareInside`` of it inside) gives no crop.
    public static func crop(around face: PixelBox, scale: Double, imageWidth: Int, imageHeight: Int) throws(LivenessError)
        -> CropRectangle
    {
        let faceWidth = face.right - face.left
        let faceHeight = face.bottom - face.top
        guard faceWidth.isFinite, faceHeight.isFinite, faceWidth >= 1, faceHeight >= 1, imageWidth >= 2, imageHeight >= 2 else {
            throw LivenessError(.badInput, "no face box to crop around")
        }
        // A box mostly outside the picture would be shifted into it and the crop scored would be background,
        // not the face: the models' verdict on something else is no verdict on this face.
        let insideWidth = max(0, min(face.right, Double(imageWidth)) - max(face.left, 0))
        let insideHeight = max(0, min(face.bottom, Double(imageHeight)) - max(face.top, 0))
        guard insideWidth * insideHeight >= minimumShareInside * faceWidth * faceHeight else {
            throw LivenessError(.badInput, "the face box is mostly outside the frame")
        }
        let boxWidth = faceWidth * 1.07
        let boxHeight = faceHeight * 1.07
        let centreX = (face.left + face.right) / 2
        let centreY = (face.top + face.bottom) / 2 - 0.03 * faceHeight
        let maxX = Double(imageWidth - 1)
        let maxY = Double(imageHeight - 1)
        let fitted = min(scale, maxY / boxHeight, maxX / boxWidth)
        var left = centreX - boxWidth * fitted / 2
        var right = centreX + boxWidth * fitted / 2
        var top = centreY - boxHeight * fitted / 2
        var bottom = centreY + boxHeight * fitted / 2
        if left < 0 { right -= left; left = 0 }
        if top < 0 { bottom -= top; top = 0 }
        if right > maxX { left -= right - maxX; right = maxX }
        if bottom > maxY { top -= bottom - maxY; bottom = maxY }
        let crop = CropRectangle(
            left: max(0, Int(left)), top: max(0, Int(top)), right: min(imageWidth - 1, Int(right)),
            bottom: min(imageHeight - 1, Int(bottom)))
        guard crop.width >= 2, crop.height >= 2 else { throw LivenessError(.badInput, "the face box is outside the frame") }
        return crop
    }
}

/// What the texture models said of one face.
public struct TextureScore: Sendable, Hashable {
    /// Each model's probability of a real face, by model name.
    public var perModel: [String: Double]

    public init(perModel: [String: Double]) {
        self.perModel = perModel
    }

    /// The lowest of the models' probabilities: each model must find the face real (their mean let one
    /// model's "live" outweigh the other's "attack" on a still screen without its edge).
    public var realProbability: Double {
        perModel.values.min() ?? 0
    }
}
