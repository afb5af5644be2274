/// Why a frame source could not open, negotiate or deliver frames.
///
/// Equality is on the code only, so tests and callers match on what went
/// wrong, not on the wording.
public struct CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case notFound, notADevice, permissionDenied, unsupported, formatUnavailable
            case deviceLost, differentCamera, stalled, ioFailed, decodeFailed, badFrame, processFailed, badConfiguration
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The path does not exist or names nothing usable.
        public static let notFound = Code(.notFound)
        /// The path exists but is not a capture device.
        public static let notADevice = Code(.notADevice)
        public static let permissionDenied = Code(.permissionDenied)
        /// The device lacks a capability facegate needs (capture, streaming).
        public static let unsupported = Code(.unsupported)
        /// The configured pixel format, size or rate is not offered by the device.
        public static let formatUnavailable = Code(.formatUnavailable)
        /// The device went away (unplugged, module unloaded: ENODEV, EIO).
        public static let deviceLost = Code(.deviceLost)
        /// Another camera than the one first opened is at the path (two cameras swapped by a USB
        /// re-enumeration): refused, as if the device were still away.
        public static let differentCamera = Code(.differentCamera)
        /// No frame arrived within the configured timeout.
        public static let stalled = Code(.stalled)
        /// Any other failing system call.
        public static let ioFailed = Code(.ioFailed)
        /// A replayed image or video frame could not be decoded.
        public static let decodeFailed = Code(.decodeFailed)
        /// One captured frame is unusable (it does not decode whole, or is not the negotiated size):
        /// the frame is dropped, the camera is not lost.
        public static let badFrame = Code(.badFrame)
        /// A helper process (ffmpeg) failed or could not start.
        public static let processFailed = Code(.processFailed)
        /// The configuration asks for something impossible.
        public static let badConfiguration = Code(.badConfiguration)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// The errno behind the failure, when a system call failed.
    public let errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { message }

    public static func == (lhs: CaptureError, rhs: CaptureError) -> Bool { lhs.code == rhs.code }
}
