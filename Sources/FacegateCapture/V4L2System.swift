import CFacegateV4L2

#if canImport(Glibc)
import Glibc
#endif

/// One place for every V4L2 system call: retries `EINTR`, turns failures into
/// ``CaptureError`` with the errno and a code that says what it means for capture.
enum V4L2System {
    /// `ioctl` through libv4l2, retried while interrupted by a signal.
    static func ioctl<Argument>(
        _ fd: Int32, _ request: UInt, _ argument: inout Argument, _ what: @autoclosure () -> String
    ) throws(CaptureError) {
        while true {
            let result = withUnsafeMutablePointer(to: &argument) { fg_v4l2_ioctl(fd, request, $0) }
            if result != -1 { return }
            let code = errno
            if code == EINTR { continue }
            throw error(code, what())
        }
    }

    /// Like ``ioctl(_:_:_:_:)`` but reports "no more entries" (EINVAL) as false,
    /// for the VIDIOC_ENUM_* calls.
    static func enumerate<Argument>(_ fd: Int32, _ request: UInt, _ argument: inout Argument) throws(CaptureError) -> Bool {
        while true {
            let result = withUnsafeMutablePointer(to: &argument) { fg_v4l2_ioctl(fd, request, $0) }
            if result != -1 { return true }
            let code = errno
            if code == EINTR { continue }
            if code == EINVAL || code == ENOTTY { return false }
            throw error(code, "enumerating")
        }
    }

    /// Waits until the device has a frame, the timeout passes (false), or the device fails.
    static func waitReadable(_ fd: Int32, timeoutMilliseconds: Int32) throws(CaptureError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let result = poll(&entry, 1, timeoutMilliseconds)
        if result < 0 {
            let code = errno
            if code == EINTR { return false }
            throw error(code, "waiting for a frame")
        }
        if result == 0 { return false }
        if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0, entry.revents & Int16(POLLIN) == 0 {
            throw CaptureError(.deviceLost, "the device reported an error or hang-up while streaming", errno: ENODEV)
        }
        return true
    }

    static func error(_ code: Int32, _ what: String) -> CaptureError {
        let text = "\(what): \(String(cString: strerror(code)))"
        switch code {
        case ENODEV, ENXIO, EIO, ESHUTDOWN: return CaptureError(.deviceLost, text, errno: code)
        case ENOENT: return CaptureError(.notFound, text, errno: code)
        case EACCES, EPERM: return CaptureError(.permissionDenied, text, errno: code)
        case ENOTTY: return CaptureError(.notADevice, text, errno: code)
        default: return CaptureError(.ioFailed, text, errno: code)
        }
    }
}

/// A V4L2 pixel format code ("YUYV", "MJPG", "GREY", ...).
public struct FourCC: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// From its four characters; nil unless exactly four ASCII characters.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 4, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        rawValue = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    public static let yuyv = FourCC("YUYV")!
    public static let mjpeg = FourCC("MJPG")!
    public static let jpeg = FourCC("JPEG")!
    public static let grey = FourCC("GREY")!
    public static let rgb24 = FourCC("RGB3")!

    public var description: String {
        let bytes = (0..<4).map { UInt8((rawValue >> (8 * $0)) & 0xFF) }
        return String(decoding: bytes, as: UTF8.self).trimmingSuffixSpaces()
    }
}

extension String {
    fileprivate func trimmingSuffixSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension Duration {
    init(_ time: timeval) {
        self = .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec))
    }
}
