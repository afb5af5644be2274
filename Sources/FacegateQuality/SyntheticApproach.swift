import FacegateCore

/// Frames of a person walking up to a camera, synthesized from one photo.
///
/// Used where only one redistributable photo of a person exists (the demo) and
/// by tests: the photo is placed on a plain canvas at a growing scale, moving
/// toward the centre, with motion blur and dim light that fade as the person
/// arrives and (optionally) blur again as they turn to go.
public struct SyntheticApproach: Sendable {
    public var canvasWidth: Int
    public var canvasHeight: Int
    /// Frames in the approach.
    public var frameCount: Int
    /// Portrait height as a fraction of the canvas height, at the first and the closest frame.
    public var startScale: Double
    public var endScale: Double
    /// Box-blur radius in pixels at the first frame (0 at the closest).
    public var startBlur: Int
    /// Brightness factor at the first frame (1 at the closest).
    public var startBrightness: Double
    /// Grey level of the background.
    public var background: UInt8

    public init(
        canvasWidth: Int = 640, canvasHeight: Int = 480, frameCount: Int = 24, startScale: Double = 0.35,
        endScale: Double = 0.95, startBlur: Int = 6, startBrightness: Double = 0.45, background: UInt8 = 90
    ) {
        self.canvasWidth = canvasWidth
        self.canvasHeight = canvasHeight
        self.frameCount = max(2, frameCount)
        self.startScale = startScale
        self.endScale = endScale
        self.startBlur = startBlur
        self.startBrightness = startBrightness
        self.background = background
    }

    /// Progress 0 (far) ... 1 (closest) of frame `index`.
    public func progress(of index: Int) -> Double { Double(index) / Double(frameCount - 1) }

    /// The frame `index` of the approach, RGB.
    public func frame(_ index: Int, of portrait: PixelImage) throws -> PixelImage {
        let t = progress(of: index)
        let scale = startScale + (endScale - startScale) * t
        let height = max(8, Int(Double(canvasHeight) * scale))
        let width = max(8, min(canvasWidth, Int(Double(height) * Double(portrait.width) / Double(portrait.height))))
        var person = try portrait.rgb().resized(width: width, height: height)
        let blur = Int((Double(startBlur) * (1 - t)).rounded())
        if blur > 0 { person = person.boxBlurred(radius: blur) }
        let brightness = startBrightness + (1 - startBrightness) * t
        // From the left third toward the centre.
        let left = Int(Double(canvasWidth - width) * (0.2 + 0.3 * t))
        let top = max(0, (canvasHeight - height) / 2)
        var canvas = [UInt8](repeating: background, count: canvasWidth * canvasHeight * 3)
        for y in 0..<min(height, canvasHeight - top) {
            for x in 0..<min(width, canvasWidth - left) {
                let source = (y * width + x) * 3, target = ((y + top) * canvasWidth + x + left) * 3
                for c in 0..<3 {
                    canvas[target + c] = UInt8(min(255, Double(person.pixels[source + c]) * brightness))
                }
            }
        }
        return try PixelImage(width: canvasWidth, height: canvasHeight, layout: .rgb24, pixels: canvas)
    }
}

extension PixelImage {
    /// A box blur of the given radius (separable, edges clamped).
    public func boxBlurred(radius: Int) -> PixelImage {
        guard radius > 0 else { return self }
        let channels = layout.bytesPerPixel
        func pass(_ source: [UInt8], horizontal: Bool) -> [UInt8] {
            var out = source
            let (outer, inner) = horizontal ? (height, width) : (width, height)
            let window = 2 * radius + 1
            for o in 0..<outer {
                for c in 0..<channels {
                    func index(_ i: Int) -> Int {
                        let clamped = min(max(i, 0), inner - 1)
                        return (horizontal ? (o * width + clamped) : (clamped * width + o)) * channels + c
                    }
                    var sum = 0
                    for i in -radius...radius { sum += Int(source[index(i)]) }
                    for i in 0..<inner {
                        out[index(i)] = UInt8(sum / window)
                        sum += Int(source[index(i + radius + 1)]) - Int(source[index(i - radius)])
                    }
                }
            }
            return out
        }
        let blurred = pass(pass(pixels, horizontal: true), horizontal: false)
        return try! PixelImage(width: width, height: height, layout: layout, pixels: blurred)
    }
}
