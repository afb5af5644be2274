import FacegateCore
import FacegateImageCodec
import FacegateQuality

/// Head and shoulders around a photo's largest face, as a door camera frames someone close (the
/// test photos range from close-ups to full figures): what the tests' synthesized approaches walk up with.
public enum TestPortrait {
    public static func headAndShoulders(_ bytes: [UInt8], analyzer: DlibFaceAnalyzer) throws -> PixelImage {
        let image = try ImageCodec.decode(bytes)
        guard let face = try analyzer.analyze(image).faces.max(by: { $0.attributes.faceArea.width < $1.attributes.faceArea.width }) else {
            throw ImageError(.corrupt, "no face in the portrait's photo")
        }
        let box = face.attributes.faceArea
        let (cx, cy, side) = ((box.left + box.right) / 2, (box.top + box.bottom) / 2, max(box.width, box.height) * 2.2)
        return try image.cropped(to: PixelBox(left: cx - side / 2, top: cy - side / 2, right: cx + side / 2, bottom: cy + side / 2))
    }
}

extension PixelImage {
    /// `image` (RGB) copied in with its top left corner at (`left`, `top`), clipped to this image.
    public func pasting(_ image: PixelImage, atLeft left: Int, top: Int) throws -> PixelImage {
        var pixels = self.pixels
        for y in 0..<image.height where y + top < height {
            for x in 0..<image.width where x + left < width {
                for c in 0..<3 { pixels[((y + top) * width + x + left) * 3 + c] = image.pixels[(y * image.width + x) * 3 + c] }
            }
        }
        return try PixelImage(width: width, height: height, layout: .rgb24, pixels: pixels)
    }
}
