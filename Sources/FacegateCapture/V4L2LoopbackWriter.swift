import CFacegateV4L2
import FacegateCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes YUYV frames into a V4L2 output device (v4l2loopback), so real images
/// reach a real V4L2 capture device. Used by the hardware-in-the-loop tests and demos.
public final class V4L2LoopbackWriter {
    public let width: Int
    public let height: Int
    private var fd: Int32

    public init(device: String, width: Int, height: Int) throws(CaptureError) {
        let fd = open(device, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw V4L2System.error(errno, "cannot open \(device)") }
        var format = v4l2_format()
        format.type = UInt32(V4L2_BUF_TYPE_VIDEO_OUTPUT.rawValue)
        format.fmt.pix.width = UInt32(width)
        format.fmt.pix.height = UInt32(height)
        format.fmt.pix.pixelformat = FourCC.yuyv.rawValue
        format.fmt.pix.field = UInt32(V4L2_FIELD_NONE.rawValue)
        format.fmt.pix.bytesperline = UInt32(width * 2)
        format.fmt.pix.sizeimage = UInt32(width * height * 2)
        format.fmt.pix.colorspace = UInt32(V4L2_COLORSPACE_SRGB.rawValue)
        do {
            try V4L2System.ioctl(fd, fg_vidioc_s_fmt(), &format, "\(device) refused YUYV \(width)x\(height) output")
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        self.width = width
        self.height = height
    }

    deinit { close() }

    /// Writes one frame of exactly width x height x 2 bytes.
    public func write(yuyv frame: [UInt8]) throws(CaptureError) {
        guard frame.count == width * height * 2 else {
            throw CaptureError(.badConfiguration, "a YUYV frame of \(width)x\(height) is \(width * height * 2) bytes, got \(frame.count)")
        }
        var written = 0
        while written < frame.count {
            let n = frame.withUnsafeBytes { fg_v4l2_write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw V4L2System.error(errno, "writing a frame")
            }
            written += n
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

extension PixelImage {
    /// This image scaled to fit `width` x `height` (nearest neighbour, aspect kept,
    /// centred on mid grey): a photo turned into a camera-sized frame.
    public func fitted(width: Int, height: Int) throws(ImageError) -> PixelImage {
        let scale = min(Double(width) / Double(self.width), Double(height) / Double(self.height))
        let scaledWidth = max(1, Int(Double(self.width) * scale)), scaledHeight = max(1, Int(Double(self.height) * scale))
        let left = (width - scaledWidth) / 2, top = (height - scaledHeight) / 2
        let bpp = layout.bytesPerPixel
        var out = [UInt8](repeating: 128, count: width * height * bpp)
        for y in 0..<scaledHeight {
            let sourceRow = min(self.height - 1, Int(Double(y) / scale))
            for x in 0..<scaledWidth {
                let sourceColumn = min(self.width - 1, Int(Double(x) / scale))
                let s = (sourceRow * self.width + sourceColumn) * bpp, d = ((top + y) * width + left + x) * bpp
                for c in 0..<bpp { out[d + c] = pixels[s + c] }
            }
        }
        return try PixelImage(width: width, height: height, layout: layout, pixels: out)
    }

    /// The frame in YUYV 4:2:2 as a camera would send it.
    public func yuyv() -> [UInt8] { FrameConversion.yuyv(from: self) }

    /// The luminance a YUYV capture of ``yuyv()`` delivers as gray8: its Y bytes.
    public static func lumaOfYUYV(_ yuyv: [UInt8], width: Int, height: Int) throws(ImageError) -> PixelImage {
        try PixelImage(width: width, height: height, layout: .gray8, pixels: stride(from: 0, to: yuyv.count, by: 2).map { yuyv[$0] })
    }
}
