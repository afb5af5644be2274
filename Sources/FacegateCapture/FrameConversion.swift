import FacegateCore
import FacegateImageCodec

/// Converts one captured buffer, straight out of the driver's mapped memory,
/// into the layout the quality core reads: one pass, one allocation.
enum FrameConversion {
    static func convert(
        _ buffer: UnsafeRawBufferPointer, format: FourCC, width: Int, height: Int, bytesPerLine: Int,
        to layout: PixelImage.Layout
    ) throws(CaptureError) -> PixelImage {
        switch format {
        case .yuyv: return try yuyv(buffer, width: width, height: height, stride: max(bytesPerLine, width * 2), to: layout)
        case .grey: return try grey(buffer, width: width, height: height, stride: max(bytesPerLine, width), to: layout)
        case .rgb24: return try rgb(buffer, width: width, height: height, stride: max(bytesPerLine, width * 3), to: layout)
        case .mjpeg, .jpeg:
            do {
                let image = try ImageCodec.decodeFrame(buffer, width: width, height: height)
                return layout == .gray8 ? image.grayscale() : image
            } catch {
                throw CaptureError(.badFrame, "a JPEG frame could not be decoded: \(error.message)")
            }
        default:
            throw CaptureError(.formatUnavailable, "no converter for pixel format \(format)")
        }
    }

    private static func check(_ buffer: UnsafeRawBufferPointer, stride: Int, height: Int, rowBytes: Int) throws(CaptureError) {
        guard buffer.count >= stride * (height - 1) + rowBytes else {
            throw CaptureError(.badFrame, "a frame is short: \(buffer.count) bytes for \(height) rows of \(stride)")
        }
    }

    /// YUYV 4:2:2: Y0 U Y1 V per pixel pair. Gray takes the Y bytes as they are (exact).
    static func yuyv(
        _ buffer: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int, to layout: PixelImage.Layout
    ) throws(CaptureError) -> PixelImage {
        try check(buffer, stride: stride, height: height, rowBytes: width * 2)
        let source = buffer.bindMemory(to: UInt8.self)
        let count = width * height * layout.bytesPerPixel
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            for row in 0..<height {
                let input = row * stride
                if layout == .gray8 {
                    let output = row * width
                    for x in 0..<width { out[output + x] = source[input + 2 * x] }
                } else {
                    var output = row * width * 3
                    for pair in 0..<(width / 2) {
                        let base = input + 4 * pair
                        let u = Int32(source[base + 1]) - 128, v = Int32(source[base + 3]) - 128
                        for y in [source[base], source[base + 2]] {
                            writeRGB(y: Int32(y), u: u, v: v, into: out, at: output)
                            output += 3
                        }
                    }
                    if width % 2 == 1 {
                        // An odd row's last pixel has no pair (its V would lie past the row): it takes
                        // the colour of the pair before it, or none in a row one pixel wide.
                        let previous = input + 2 * width - 6
                        let (u, v) = width > 1 ? (Int32(source[previous + 1]) - 128, Int32(source[previous + 3]) - 128) : (0, 0)
                        writeRGB(y: Int32(source[input + 2 * (width - 1)]), u: u, v: v, into: out, at: output)
                    }
                }
            }
            initialized = count
        }
        return try image(width, height, layout, pixels)
    }

    /// BT.601 limited range to RGB, in integers.
    @inline(__always)
    private static func writeRGB(y: Int32, u: Int32, v: Int32, into out: UnsafeMutableBufferPointer<UInt8>, at index: Int) {
        let c = 298 * (y - 16)
        out[index] = clamp((c + 409 * v + 128) >> 8)
        out[index + 1] = clamp((c - 100 * u - 208 * v + 128) >> 8)
        out[index + 2] = clamp((c + 516 * u + 128) >> 8)
    }

    @inline(__always)
    private static func clamp(_ value: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(255, max(0, value))) }

    static func grey(
        _ buffer: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int, to layout: PixelImage.Layout
    ) throws(CaptureError) -> PixelImage {
        try check(buffer, stride: stride, height: height, rowBytes: width)
        let source = buffer.bindMemory(to: UInt8.self)
        let count = width * height * layout.bytesPerPixel
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            for row in 0..<height {
                for x in 0..<width {
                    let value = source[row * stride + x]
                    if layout == .gray8 {
                        out[row * width + x] = value
                    } else {
                        let o = (row * width + x) * 3
                        out[o] = value
                        out[o + 1] = value
                        out[o + 2] = value
                    }
                }
            }
            initialized = count
        }
        return try image(width, height, layout, pixels)
    }

    static func rgb(
        _ buffer: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int, to layout: PixelImage.Layout
    ) throws(CaptureError) -> PixelImage {
        try check(buffer, stride: stride, height: height, rowBytes: width * 3)
        let source = buffer.bindMemory(to: UInt8.self)
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for row in 0..<height {
            pixels.append(contentsOf: source[(row * stride)..<(row * stride + width * 3)])
        }
        let rgbImage = try image(width, height, .rgb24, pixels)
        return layout == .gray8 ? rgbImage.grayscale() : rgbImage
    }

    private static func image(_ width: Int, _ height: Int, _ layout: PixelImage.Layout, _ pixels: [UInt8]) throws(CaptureError)
        -> PixelImage
    {
        do {
            return try PixelImage(width: width, height: height, layout: layout, pixels: pixels)
        } catch {
            throw CaptureError(.decodeFailed, error.message)
        }
    }

    /// RGB to YUYV (BT.601 limited range), for feeding a loopback device.
    static func yuyv(from image: PixelImage) -> [UInt8] {
        let width = image.width - image.width % 2
        var out = [UInt8](repeating: 0, count: width * image.height * 2)
        let rgb = image.layout == .rgb24 ? image.pixels : image.pixels.flatMap { [$0, $0, $0] }
        for row in 0..<image.height {
            for pair in 0..<(width / 2) {
                var us: Int32 = 0, vs: Int32 = 0
                for k in 0..<2 {
                    let i = (row * image.width + 2 * pair + k) * 3
                    let r = Int32(rgb[i]), g = Int32(rgb[i + 1]), b = Int32(rgb[i + 2])
                    out[(row * width + 2 * pair) * 2 + 2 * k] = clamp(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16)
                    us += ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
                    vs += ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
                }
                out[(row * width + 2 * pair) * 2 + 1] = clamp(us / 2)
                out[(row * width + 2 * pair) * 2 + 3] = clamp(vs / 2)
            }
        }
        return out
    }
}
