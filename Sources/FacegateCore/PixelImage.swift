/// An uncompressed image in memory, rows packed without padding.
///
/// The capture stage produces these and the quality stage reads them; both
/// agree on two layouts, which is all the face core needs.
public struct PixelImage: Sendable, Equatable {
    public enum Layout: String, Sendable, Codable {
        /// One byte of luminance a pixel.
        case gray8
        /// Three bytes a pixel: red, green, blue.
        case rgb24

        public var bytesPerPixel: Int {
            switch self {
            case .gray8: 1
            case .rgb24: 3
            }
        }
    }

    public let width: Int
    public let height: Int
    public let layout: Layout
    public let pixels: [UInt8]

    /// Wraps pixel bytes, checking that their count matches the size and layout.
    public init(width: Int, height: Int, layout: Layout, pixels: [UInt8]) throws(ImageError) {
        guard width > 0, height > 0 else {
            throw ImageError(.invalidDimensions, "image is \(width)x\(height)")
        }
        let (expected, overflow) = width.multipliedReportingOverflow(by: height * layout.bytesPerPixel)
        guard !overflow, pixels.count == expected else {
            throw ImageError(
                .invalidDimensions,
                "\(layout.rawValue) \(width)x\(height) needs \(expected) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.layout = layout
        self.pixels = pixels
    }

    public var bytesPerRow: Int { width * layout.bytesPerPixel }

    /// The luminance of this image (ITU-R BT.601 weights), or itself if already gray.
    public func grayscale() -> PixelImage {
        guard layout == .rgb24 else { return self }
        let count = width * height
        let gray = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            pixels.withUnsafeBufferPointer { rgb in
                for i in 0..<count {
                    let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
                    buffer[i] = UInt8((77 * r + 150 * g + 29 * b + 128) >> 8)
                }
            }
            initialized = count
        }
        // The count matches by construction.
        return try! PixelImage(width: width, height: height, layout: .gray8, pixels: gray)
    }

    /// This image as RGB (gray replicated into three channels), or itself if already RGB.
    public func rgb() -> PixelImage {
        guard layout == .gray8 else { return self }
        var out = [UInt8](repeating: 0, count: pixels.count * 3)
        for (i, value) in pixels.enumerated() {
            out[3 * i] = value
            out[3 * i + 1] = value
            out[3 * i + 2] = value
        }
        // The count matches by construction.
        return try! PixelImage(width: width, height: height, layout: .rgb24, pixels: out)
    }
}

/// Why an image could not be used.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case empty
        case tooLarge
        case unsupportedFormat
        case corrupt
        case invalidDimensions
        case encodeFailed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: ImageError, rhs: ImageError) -> Bool { lhs.code == rhs.code }
}
