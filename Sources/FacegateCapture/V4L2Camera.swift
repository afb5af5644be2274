import CFacegateV4L2
import FacegateCore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A camera through V4L2 and libv4l2: mmap streaming from a small buffer ring,
/// driver timestamps (the dequeue time where they do not advance), and recovery from unplugs and stalls.
///
/// When the device disappears (ENODEV, EIO, hang-up) or delivers no usable frame for
/// ``Configuration/stallTimeout``, the camera is closed, the outage reported
/// (log and ``Status``), and the device reopened with growing backoff until it
/// is back; the frame stream carries on with increasing sequence numbers.
/// A frame that will not decode (a corrupt MJPEG frame) is dropped and counted, not an outage.
/// Only a configuration the device can never satisfy ends the stream.
public struct V4L2Camera: FrameSource {
    public struct Configuration: Sendable {
        /// `/dev/videoN` or a stable name such as `/dev/v4l/by-id/usb-...-video-index0`.
        public var device: String
        /// Pixel format to capture; nil picks the first of YUYV, MJPEG, GREY, RGB3 the device offers.
        public var pixelFormat: FourCC?
        /// The frames must be in colour (the liveness stage judges every grey face an attack): a format
        /// picked by the camera is never GREY, and a camera offering nothing else is refused.
        public var needsColour: Bool
        public var width: Int
        public var height: Int
        /// nil keeps the device's rate, as does a device with no settable rate.
        public var framesPerSecond: Double?
        /// The layout frames are converted to for the quality core.
        public var layout: PixelImage.Layout
        /// Buffers in the mmap ring: a few, so frames are fresh and latency is low.
        public var bufferCount: Int
        /// No frame for this long counts as an outage.
        public var stallTimeout: Duration
        /// Reopen attempts wait this long at first, doubling up to ``maximumBackoff``.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration

        public init(
            device: String, pixelFormat: FourCC? = nil, width: Int = 640, height: Int = 480,
            framesPerSecond: Double? = nil, layout: PixelImage.Layout = .rgb24, bufferCount: Int = 4,
            stallTimeout: Duration = .seconds(3), initialBackoff: Duration = .milliseconds(250),
            maximumBackoff: Duration = .seconds(5), needsColour: Bool = false
        ) {
            self.device = device
            self.pixelFormat = pixelFormat
            self.needsColour = needsColour
            self.width = width
            self.height = height
            self.framesPerSecond = framesPerSecond
            self.layout = layout
            self.bufferCount = bufferCount
            self.stallTimeout = stallTimeout
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }
    }

    /// What the camera is doing, for status pages and tests.
    public enum Status: Sendable, Equatable {
        case streaming(format: String, width: Int, height: Int)
        /// Capture stopped; the error says why. Reopening follows.
        case lost(CaptureError)
        /// Reopen attempt `attempt` failed; the next follows after a backoff.
        case reopenFailed(attempt: Int, CaptureError)
        /// Streaming again after an outage of this length.
        case recovered(outage: Duration)
    }

    /// When one frame was stamped, became ready and was converted; all CLOCK_MONOTONIC.
    public struct FrameTiming: Sendable, Equatable {
        /// The driver's timestamp, when it uses the monotonic clock.
        public var driverTimestamp: Duration?
        /// When poll reported the frame ready.
        public var ready: Duration
        /// When the converted frame was in hand.
        public var inHand: Duration

        /// Dequeue and conversion: the part of the latency facegate itself adds.
        public var dequeueAndConvert: Duration { inHand - ready }
    }

    public static let preferredFormats: [FourCC] = [.yuyv, .mjpeg, .grey, .rgb24]
    /// The formats ``FrameConversion`` converts: a configured format must be one of them.
    public static let convertibleFormats: Set<FourCC> = [.yuyv, .mjpeg, .jpeg, .grey, .rgb24]

    public let configuration: Configuration
    private let logger: Logger
    private let onStatus: @Sendable (Status) -> Void
    private let onFrameTiming: (@Sendable (FrameTiming) -> Void)?

    /// - Parameters:
    ///   - onStatus: told of every outage and recovery (also logged).
    ///   - onFrameTiming: told when each frame was stamped, ready and in hand (benchmarks).
    public init(
        configuration: Configuration, logger: Logger = Logger(label: "facegate.camera"),
        onFrameTiming: (@Sendable (FrameTiming) -> Void)? = nil,
        onStatus: @escaping @Sendable (Status) -> Void = { _ in }
    ) throws(CaptureError) {
        guard configuration.width > 0, configuration.height > 0, configuration.width <= 8192, configuration.height <= 8192
        else { throw CaptureError(.badConfiguration, "the frame size asked for is not usable (1...8192 each way)") }
        guard (2...32).contains(configuration.bufferCount) else {
            throw CaptureError(.badConfiguration, "bufferCount must be 2...32")
        }
        guard configuration.stallTimeout > .zero, configuration.initialBackoff > .zero else {
            throw CaptureError(.badConfiguration, "stallTimeout and initialBackoff must be positive")
        }
        // A format with no converter fails every frame; once the camera has streamed that is taken for an
        // outage, and the camera is reopened for ever. Refused here instead (libv4l2 offers YU12 and others).
        if let format = configuration.pixelFormat, !Self.convertibleFormats.contains(format) {
            throw CaptureError(.badConfiguration, "the pixel format asked for cannot be converted: use YUYV, MJPG, JPEG, GREY or RGB3")
        }
        if let rate = configuration.framesPerSecond, !(rate.isFinite && rate > 0 && rate <= 1000) {
            throw CaptureError(.badConfiguration, "the frame rate asked for must be in 0<...1000")
        }
        self.configuration = configuration
        self.logger = logger
        self.onStatus = onStatus
        self.onFrameTiming = onFrameTiming
    }

    public func frames() -> AsyncThrowingStream<Frame, any Error> {
        let session = CameraSession(
            configuration: configuration, logger: logger, onStatus: onStatus, onFrameTiming: onFrameTiming)
        return AsyncThrowingStream(unfolding: { try await session.next() })
    }

    /// Describes every V4L2 capture device in `/dev` (and what it can do).
    public static func listDevices(directory: String = "/dev") -> [Result<V4L2DeviceInfo, CaptureError>] {
        guard let entries = try? listDirectory(directory) else { return [] }
        let paths = entries.filter { $0.hasPrefix("video") }
            .sorted { (Int($0.dropFirst(5)) ?? 0) < (Int($1.dropFirst(5)) ?? 0) }
            .map { "\(directory)/\($0)" }
        return paths.map { path in
            Result { () throws(CaptureError) -> V4L2DeviceInfo in
                let device = try V4L2Device(path: path)
                defer { device.close() }
                return try device.info()
            }
        }
    }

    /// Describes one device.
    public static func describe(_ path: String) throws(CaptureError) -> V4L2DeviceInfo {
        let device = try V4L2Device(path: path)
        defer { device.close() }
        return try device.info()
    }

    private static func listDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return names
    }
}

/// One run of the camera: the open device (if any), the frame counter and the outage bookkeeping.
actor CameraSession {
    private let configuration: V4L2Camera.Configuration
    private let logger: Logger
    private let onStatus: @Sendable (V4L2Camera.Status) -> Void
    private let onFrameTiming: (@Sendable (V4L2Camera.FrameTiming) -> Void)?
    private let executor = BlockingWorkQueue(label: "facegate.v4l2")
    private let stop = SetOnceFlag()
    private var device: DeviceBox?
    /// Sequence numbers continue across reopenings: base + the driver's own count.
    private var sequenceBase: UInt64 = 0
    private var lastSequence: UInt64?
    /// Timestamps continue too, and never stand still or go back (the selector's only clock).
    private var timestamps = AdvancingTimestamps()
    private var saidDriverTimestampsUnused = false
    private var outageStarted: ContinuousClock.Instant?
    private var attempt = 0
    private var everOpened = false
    /// The card and bus of the camera first opened: a reopen that finds another at the path (a USB
    /// re-enumeration on a box with two cameras swapped them) refuses it, so a door never sees another's.
    private var identity: CameraIdentity?
    /// Unusable frames dropped (corrupt JPEG): at most one line a minute about them, as a camera
    /// may send a bad one every frame.
    private var badFrames = DroppedFrameTally(interval: .seconds(60))

    init(
        configuration: V4L2Camera.Configuration, logger: Logger, onStatus: @escaping @Sendable (V4L2Camera.Status) -> Void,
        onFrameTiming: (@Sendable (V4L2Camera.FrameTiming) -> Void)?
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onStatus = onStatus
        self.onFrameTiming = onFrameTiming
    }

    deinit {
        let device = device
        executor.runDetached { device?.close() }
    }

    func next() async throws -> Frame? {
        let stop = stop
        return try await withTaskCancellationHandler {
            while !Task.isCancelled {
                do {
                    let device = try await openIfNeeded()
                    let configuration = configuration
                    let captured = try await executor.run {
                        try device.capture(timeout: configuration.stallTimeout, layout: configuration.layout) { stop.isSet }
                    }
                    if Task.isCancelled { break }
                    guard let captured else {
                        throw CaptureError(.stalled, "no frame from the camera within the stall timeout")
                    }
                    return frame(from: captured)
                } catch let error as CaptureError {
                    try await handle(error)
                }
            }
            await close()
            return nil
        } onCancel: {
            stop.set()
        }
    }

    /// Internal for tests: the frame path after the device.
    func frame(from captured: V4L2Device.Captured) -> Frame {
        var sequence = sequenceBase + UInt64(captured.sequence)
        if let lastSequence, sequence <= lastSequence { sequence = lastSequence + 1 }
        lastSequence = sequence
        if let started = outageStarted {
            let outage = ContinuousClock.now - started
            outageStarted = nil
            attempt = 0
            logger.notice("camera recovered", metadata: ["outage": "\(outage)"])
            onStatus(.recovered(outage: outage))
        }
        if captured.badFrames > 0 { noteBadFrames(captured.badFrames, last: captured.lastBadFrame) }
        onFrameTiming?(captured.timing)
        let (timestamp, isDriversOwn) = timestamps.stamp(driver: captured.timestamp, dequeued: captured.timing.ready)
        if captured.timestamp != nil, !isDriversOwn, !saidDriverTimestampsUnused {
            saidDriverTimestampsUnused = true
            logger.warning("camera timestamps do not advance: frames are stamped when dequeued instead of by the driver")
        }
        return Frame(sequence: sequence, timestamp: timestamp, image: captured.image, captureTime: captured.timing.dequeueAndConvert)
    }

    /// Counts frames dropped as unusable and says so in the log when a line is due: how many, and why
    /// the last one was (libjpeg's words, no image data).
    private func noteBadFrames(_ count: Int, last: CaptureError?) {
        guard let dropped = badFrames.note(count, at: .now) else { return }
        logger.warning(
            "camera frames dropped: they could not be decoded",
            metadata: ["dropped": "\(dropped)", "total": "\(badFrames.total)", "error": "\(last.map { "\($0)" } ?? "-")"])
    }

    private func openIfNeeded() async throws -> DeviceBox {
        if let device { return device }
        let configuration = configuration
        let expected = identity
        let (opened, found) = try await executor.run { () throws -> (DeviceBox, CameraIdentity) in
            let device = try V4L2Device(path: configuration.device)
            do {
                let info = try device.info()
                let found = CameraIdentity(card: info.card, busInfo: info.busInfo, serial: CameraIdentity.usbSerial(of: configuration.device))
                // Neither name goes into the message: the key says where, the log has no hardware names.
                if let expected, !expected.isSameCamera(as: found, at: configuration.device) {
                    throw CaptureError(.differentCamera, "a different camera is at camera.device (not the one first opened)")
                }
                let format =
                    try configuration.pixelFormat
                    ?? V4L2Camera.automaticFormat(
                        offered: info.formats, needsColour: configuration.needsColour, width: configuration.width,
                        height: configuration.height, framesPerSecond: configuration.framesPerSecond)
                if configuration.needsColour { try V4L2Camera.requireColour(format, among: info.formats) }
                try device.configure(
                    fourcc: format, width: configuration.width, height: configuration.height,
                    framesPerSecond: configuration.framesPerSecond, info: info)
                try device.startStreaming(bufferCount: configuration.bufferCount)
                return (DeviceBox(device), found)
            } catch {
                device.close()
                throw error
            }
        }
        device = opened
        identity = found
        everOpened = true
        // A reopened driver counts from zero again.
        sequenceBase = lastSequence.map { $0 + 1 } ?? 0
        let format = opened.formatDescription
        logger.info("camera streaming", metadata: ["format": "\(format)"])
        onStatus(.streaming(format: format, width: configuration.width, height: configuration.height))
        return opened
    }

    /// Decides whether an error ends the stream or starts an outage; waits out the backoff.
    private func handle(_ error: CaptureError) async throws {
        await close()
        // A configuration the device can never meet is final, unless it worked before
        // (a different device may have taken the path during an outage).
        let permanent: Set<CaptureError.Code> = [.formatUnavailable, .badConfiguration, .permissionDenied]
        if permanent.contains(error.code), !everOpened { throw error }
        if !everOpened, outageStarted == nil, error.code == .notFound || error.code == .notADevice {
            throw error
        }
        if outageStarted == nil {
            outageStarted = .now
            logger.error("camera lost", metadata: ["error": "\(error)"])
            onStatus(.lost(error))
        } else {
            attempt += 1
            logger.warning(
                "camera reopen failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            onStatus(.reopenFailed(attempt: attempt, error))
        }
        var backoff = configuration.initialBackoff
        for _ in 0..<min(attempt, 16) { backoff = min(backoff * 2, configuration.maximumBackoff) }
        try? await Task.sleep(for: min(backoff, configuration.maximumBackoff))
    }

    private func close() async {
        guard let device else { return }
        self.device = nil
        _ = try? await executor.run { device.close() }
    }
}

/// Which camera a device is: its card name and bus (`VIDIOC_QUERYCAP`), and its USB serial number when it has one.
struct CameraIdentity: Sendable, Equatable {
    var card: String
    var busInfo: String
    var serial: String? = nil

    /// Whether `found`, opened at `path`, is the camera first opened as `self`. A `/dev/v4l/by-id/` name is
    /// udev's for one camera (its USB vendor, product and serial), wherever it is plugged: the same card with
    /// the same serial number at another bus there is the same camera moved to another port. Without a serial
    /// (many cheap cameras have none, and two alike then share one by-id name, the last plugged taking it),
    /// or at a device number or a `by-path` name (the port itself), the bus must match too.
    func isSameCamera(as found: CameraIdentity, at path: String) -> Bool {
        guard found.card == card else { return false }
        if found.busInfo == busInfo { return true }
        guard path.hasPrefix("/dev/v4l/by-id/"), let serial, !serial.isEmpty else { return false }
        return found.serial == serial
    }

    /// The USB serial number of the camera at `path` (a device node or a link to one), from sysfs: the
    /// interface the video node belongs to, whose parent is the USB device. Nil when it has none (or is no
    /// USB camera).
    static func usbSerial(of path: String, sysfs: String = "/sys") -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        guard let node = String(cString: resolved).split(separator: "/").last else { return nil }
        let file = "\(sysfs)/class/video4linux/\(node)/device/../serial"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let serial = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return serial.isEmpty ? nil : serial
    }
}

/// Counts dropped frames and says when a log line about them is due: at the first, then at most
/// once an `interval`, each line carrying the frames dropped since the one before.
struct DroppedFrameTally {
    let interval: Duration
    private(set) var total: UInt64 = 0
    private var unreported = 0
    private var lastLine: ContinuousClock.Instant?

    init(interval: Duration) { self.interval = interval }

    /// Notes `count` more dropped frames at `now`: the number for a line now due, nil when none is.
    mutating func note(_ count: Int, at now: ContinuousClock.Instant) -> Int? {
        total += UInt64(count)
        unreported += count
        if let lastLine, lastLine.duration(to: now) < interval { return nil }
        lastLine = now
        defer { unreported = 0 }
        return unreported
    }
}

/// The open device, handed between the session and its executor. Only the
/// executor's serial queue touches it, one call at a time.
private final class DeviceBox: @unchecked Sendable {
    private let device: V4L2Device
    let formatDescription: String

    init(_ device: V4L2Device) {
        self.device = device
        self.formatDescription = "\(FourCC(rawValue: device.format.pixelformat)) \(device.format.width)x\(device.format.height)"
    }

    func capture(timeout: Duration, layout: PixelImage.Layout, shouldStop: () -> Bool) throws(CaptureError) -> V4L2Device.Captured? {
        try device.capture(timeout: timeout, layout: layout, shouldStop: shouldStop)
    }

    func close() { device.close() }
}

extension V4L2Camera {
    /// A camera whose frames are grey when the liveness stage needs colour.
    static var onlyGrey: CaptureError {
        CaptureError(.formatUnavailable, "the camera offers only grey frames, and the liveness stage needs colour")
    }

    /// Grey pixel formats a camera may offer natively (V4L2's luminance-only fourccs, by their text).
    static let greyFormats: Set<String> = [
        "GREY", "Y4", "Y6", "Y10", "Y12", "Y14", "Y16", "Y10B", "Y10P", "Y12P", "Y14P", "Y8I", "Y10I", "Y12I", "Y16I",
    ]

    /// The format `camera.format: auto` captures in, of those the camera offers. libv4l2 adds the colour
    /// formats it converts to (RGB3, BGR3, YU12, YV12) to every camera's list, a grey-only one's too (an
    /// infrared or monochrome camera): those are grey pixels in colour's clothes, which the liveness stage
    /// judges as attacks, live faces included. So when colour is needed, a format libv4l2 makes counts only
    /// when the driver itself offers some colour format to make it from.
    ///
    /// With the size asked for, the first of the preferred formats the camera lists at that size (and at the
    /// rate asked for, when it lists rates) is taken, not the first by name: a webcam offering YUYV up to
    /// 640x480 and MJPEG up to 1920x1080 streams 1920x1080 in MJPEG, where YUYV was picked and refused
    /// ("cannot capture YUYV at 1920x1080") and the door had no camera (review). A camera that lists no
    /// sizes, or none of the size, gets the first by name, as before, and its refusal says which sizes it has.
    public static func automaticFormat(
        offered formats: [V4L2DeviceInfo.Format], needsColour: Bool, width: Int? = nil, height: Int? = nil,
        framesPerSecond: Double? = nil
    ) throws(CaptureError) -> FourCC {
        if needsColour, !hasNativeColour(formats), formats.contains(where: { !$0.emulated && greyFormats.contains($0.fourcc) }) {
            throw onlyGrey
        }
        let byName = try automaticFormat(offered: Set(formats.map(\.fourcc)), needsColour: needsColour)
        guard let width, let height else { return byName }
        let usable = needsColour ? preferredFormats.filter { $0 != .grey } : preferredFormats
        func offers(_ fourcc: FourCC, atTheRate: Bool) -> Bool {
            guard let format = formats.first(where: { $0.fourcc == fourcc.description }),
                let size = format.sizes.first(where: { $0.width == width && $0.height == height })
            else { return false }
            guard atTheRate, let wanted = framesPerSecond, !size.framesPerSecond.isEmpty else { return true }
            // The rate the opening insists on (``isTheRate(_:asked:)``), not any rate at or above it: a
            // webcam listing YUYV at 30, 20 and 10 fps was taken for 15 fps over MJPEG at 15, then refused
            // at the rate the driver granted (20), and the door had no camera (review).
            return size.framesPerSecond.contains { isTheRate($0, asked: wanted) }
        }
        return usable.first { offers($0, atTheRate: true) } ?? usable.first { offers($0, atTheRate: false) } ?? byName
    }

    /// Whether a camera's rate is the one asked for: within 5 % (at least half a frame a second), as a
    /// driver rounds a frame interval. Both the format `auto` takes and the rate an opening accepts use it.
    static func isTheRate(_ rate: Double, asked: Double) -> Bool {
        abs(rate - asked) <= max(0.5, asked * 0.05)
    }

    /// Refuses `format` (configured, or chosen by `auto`) when colour is needed and it is grey, or made by
    /// libv4l2 from a camera that offers only grey.
    public static func requireColour(_ format: FourCC, among formats: [V4L2DeviceInfo.Format]) throws(CaptureError) {
        let made = formats.first { $0.fourcc == format.description }?.emulated ?? false
        guard greyFormats.contains(format.description) || (made && !hasNativeColour(formats)) else { return }
        throw onlyGrey
    }

    private static func hasNativeColour(_ formats: [V4L2DeviceInfo.Format]) -> Bool {
        formats.contains { !$0.emulated && !greyFormats.contains($0.fourcc) }
    }

    /// The format `camera.format: auto` captures in, of those the camera offers (by fourcc text).
    public static func automaticFormat(offered: Set<String>, needsColour: Bool) throws(CaptureError) -> FourCC {
        let usable = needsColour ? preferredFormats.filter { $0 != .grey } : preferredFormats
        guard let format = usable.first(where: { offered.contains($0.description) }) else {
            if needsColour, offered.contains(FourCC.grey.description) {
                throw onlyGrey
            }
            throw CaptureError(.formatUnavailable, "the camera offers none of YUYV, MJPG, GREY, RGB3")
        }
        return format
    }
}
