import CPNG
import CTurboJPEG
import FacegateCore

/// Decodes JPEG (libturbojpeg, turned upright as its EXIF orientation says) and PNG (libpng) files
/// to RGB, and encodes JPEG.
///
/// Every malformed input becomes an `ImageError` with a clear message: empty,
/// truncated, of an unknown format, or too large to be a camera frame or a photo.
public enum ImageCodec {
    /// Larger files are refused before decoding.
    public static let maxEncodedBytes = 64 << 20
    /// Larger images are refused after reading the header, before allocating pixels.
    public static let maxPixels = 60_000_000
    public static let maxSide = 20_000

    public enum Format: String, Sendable {
        case jpeg, png
    }

    /// The format the bytes announce, from their signature.
    public static func sniff(_ bytes: [UInt8]) -> Format? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return .png
        }
        return nil
    }

    /// Decodes a JPEG or PNG file's bytes to an RGB image.
    public static func decode(_ bytes: [UInt8]) throws(ImageError) -> PixelImage {
        guard !bytes.isEmpty else { throw ImageError(.empty, "the image is empty (0 bytes)") }
        guard bytes.count <= maxEncodedBytes else {
            throw ImageError(.tooLarge, "the image file is \(bytes.count) bytes, over the \(maxEncodedBytes) limit")
        }
        switch sniff(bytes) {
        case .jpeg: return try decodeJPEG(bytes)
        case .png: return try decodePNG(bytes)
        case nil: throw ImageError(.unsupportedFormat, "not a JPEG or PNG image")
        }
    }

    private static func checkSize(width: Int, height: Int) throws(ImageError) {
        guard width > 0, height > 0 else { throw ImageError(.invalidDimensions, "the image is \(width)x\(height)") }
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw ImageError(.tooLarge, "the image is \(width)x\(height), over the \(maxPixels)-pixel limit")
        }
    }

    private static func decodeJPEG(_ bytes: [UInt8]) throws(ImageError) -> PixelImage {
        guard let handle = tjInitDecompress() else { throw ImageError(.corrupt, "libturbojpeg could not start") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw ImageError(.corrupt, "not a readable JPEG: \(message(handle))") }
        guard width > 0, height > 0 else { throw ImageError(.corrupt, "JPEG has no usable frame header") }
        try checkSize(width: Int(width), height: Int(height))
        let count = Int(width) * Int(height) * 3
        var failure: String?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // Stop on warnings: a truncated file otherwise "decodes" with its bottom grey.
            let result = bytes.withUnsafeBufferPointer {
                tjDecompress2(
                    handle, $0.baseAddress, UInt(bytes.count), buffer.baseAddress, width, 0, height,
                    Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
            }
            if result != 0 {
                failure = message(handle)
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        if let failure { throw ImageError(.corrupt, "JPEG data is damaged or truncated: \(failure)") }
        let stored = try PixelImage(width: Int(width), height: Int(height), layout: .rgb24, pixels: pixels)
        return ExifOrientation.apply(ExifOrientation.of(jpeg: bytes), to: stored)
    }

    /// Decodes one camera frame (MJPEG) that must be `width`x`height`, straight from the driver's buffer.
    ///
    /// Cheap USB cameras send frames libjpeg warns about yet decodes whole: bytes of padding before
    /// the end-of-image marker, or no end-of-image marker. Those are accepted (bytes skipped before a
    /// restart marker are data lost inside the image: refused). A frame whose data runs out or is
    /// damaged (part of the image would be made up), that will not decode at all, or whose header
    /// announces another size (checked before any pixels are allocated) is an error. No EXIF turn:
    /// a camera frame is as the camera was set up.
    public static func decodeFrame(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int) throws(ImageError) -> PixelImage {
        guard !bytes.isEmpty else { throw ImageError(.empty, "the frame is empty (0 bytes)") }
        guard bytes.count <= maxEncodedBytes else {
            throw ImageError(.tooLarge, "the frame is \(bytes.count) bytes, over the \(maxEncodedBytes) limit")
        }
        guard width > 0, height > 0, width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw ImageError(.invalidDimensions, "a frame of \(width)x\(height) is not decodable")
        }
        if endsWithEndOfImage(bytes) { return try decodeFrameJPEG(bytes, width: width, height: height) }
        // Without its end-of-image marker a whole frame warns "premature end of JPEG file", as a cut-off
        // one does. The marker put back tells them apart: a cut-off frame's data still runs out.
        var completed = [UInt8](repeating: 0, count: bytes.count + 2)
        completed.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        completed[bytes.count] = 0xFF
        completed[bytes.count + 1] = 0xD9
        let decoded = completed.withUnsafeBytes { completed in
            Result { () throws(ImageError) -> PixelImage in try decodeFrameJPEG(completed, width: width, height: height) }
        }
        return try decoded.get()
    }

    /// Whether the frame ends with EOI (FF D9), before any zero padding the driver left after it.
    private static func endsWithEndOfImage(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        return end >= 2 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xD9
    }

    private static func decodeFrameJPEG(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int) throws(ImageError) -> PixelImage {
        guard let handle = tjInitDecompress() else { throw ImageError(.corrupt, "libturbojpeg could not start") }
        defer { tjDestroy(handle) }
        let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var frameWidth: Int32 = 0, frameHeight: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, source, UInt(bytes.count), &frameWidth, &frameHeight, &subsampling, &colorspace) == 0 else {
            throw ImageError(.corrupt, "not a readable JPEG: \(message(handle))")
        }
        // A damaged header may claim any size: allocate only for the one the camera was set to.
        guard Int(frameWidth) == width, Int(frameHeight) == height else {
            throw ImageError(.invalidDimensions, "the frame says it is \(frameWidth)x\(frameHeight), not the \(width)x\(height) negotiated")
        }
        let count = width * height * 3
        var failure: String?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // No stop on warnings: libjpeg decodes every row, and its (first) message says whether
            // the frame was whole. Only bytes skipped before the end-of-image marker leave nothing
            // made up; before a restart marker they mean data was lost inside the image.
            let result = tjDecompress2(
                handle, source, UInt(bytes.count), buffer.baseAddress, frameWidth, 0, frameHeight, Int32(TJPF_RGB.rawValue), 0)
            if result != 0 {
                let text = message(handle)
                if !isJunkBeforeEndOfImage(text) {
                    failure = text
                    buffer.initialize(repeating: 0)
                }
            }
            initialized = count
        }
        if let failure { throw ImageError(.corrupt, "JPEG frame is damaged or truncated: \(failure)") }
        return try PixelImage(width: width, height: height, layout: .rgb24, pixels: pixels)
    }

    /// libjpeg-turbo's JWRN_EXTRANEOUS_DATA for marker 0xd9 (EOI):
    /// "Corrupt JPEG data: %u extraneous bytes before marker 0x%02x".
    private static func isJunkBeforeEndOfImage(_ text: String) -> Bool {
        let prefix = "Corrupt JPEG data: ", suffix = " extraneous bytes before marker 0xd9"
        guard text.hasPrefix(prefix), text.hasSuffix(suffix), text.count > prefix.count + suffix.count else { return false }
        return text.dropFirst(prefix.count).dropLast(suffix.count).allSatisfy { ("0"..."9").contains($0) }
    }

    private static func message(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: text)
    }

    private static func decodePNG(_ bytes: [UInt8]) throws(ImageError) -> PixelImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let begun = bytes.withUnsafeBufferPointer {
            png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count)
        }
        guard begun != 0 else { throw ImageError(.corrupt, "not a readable PNG: \(pngMessage(image))") }
        try checkSize(width: Int(image.width), height: Int(image.height))
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR)  // 8-bit RGB, alpha composited away
        let count = Int(image.width) * Int(image.height) * 3
        var failure: String?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil) == 0 {
                failure = pngMessage(image)
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        if let failure { throw ImageError(.corrupt, "PNG data is damaged or truncated: \(failure)") }
        return try PixelImage(width: Int(image.width), height: Int(image.height), layout: .rgb24, pixels: pixels)
    }

    private static func pngMessage(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Encodes an RGB or gray image as JPEG.
    public static func encodeJPEG(_ image: PixelImage, quality: Int = 90) throws(ImageError) -> [UInt8] {
        guard let handle = tjInitCompress() else { throw ImageError(.encodeFailed, "libturbojpeg could not start") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let (format, subsampling) =
            image.layout == .rgb24 ? (TJPF_RGB, TJSAMP_420) : (TJPF_GRAY, TJSAMP_GRAY)
        let result = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(format.rawValue),
                &output, &size, Int32(subsampling.rawValue), Int32(min(100, max(1, quality))), 0)
        }
        defer { tjFree(output) }
        guard result == 0, let output else {
            throw ImageError(.encodeFailed, "JPEG encoding failed: \(message(handle))")
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}

extension PixelImage {
    /// The part of the image inside `box` (clamped to the image), as a new image.
    public func cropped(to box: PixelBox) throws(ImageError) -> PixelImage {
        let area = box.clamped(width: width, height: height)
        let left = Int(area.left.rounded(.down)), top = Int(area.top.rounded(.down))
        let right = Int(area.right.rounded(.up)), bottom = Int(area.bottom.rounded(.up))
        guard right > left, bottom > top else { throw ImageError(.invalidDimensions, "the crop box is outside the image") }
        let bpp = layout.bytesPerPixel
        var out = [UInt8]()
        out.reserveCapacity((right - left) * (bottom - top) * bpp)
        for row in top..<bottom {
            let start = (row * width + left) * bpp
            out.append(contentsOf: pixels[start..<(start + (right - left) * bpp)])
        }
        return try PixelImage(width: right - left, height: bottom - top, layout: layout, pixels: out)
    }
}
