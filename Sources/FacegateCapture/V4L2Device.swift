import CFacegateV4L2
import FacegateCore

#if canImport(Glibc)
import Glibc
#endif

/// What a V4L2 device says about itself.
public struct V4L2DeviceInfo: Sendable, Hashable, Codable {
    public struct Format: Sendable, Hashable, Codable {
        public var fourcc: String
        public var description: String
        /// Provided by libv4l2's conversion rather than the driver.
        public var emulated: Bool
        public var compressed: Bool
        public var sizes: [Size]

        public init(fourcc: String, description: String, emulated: Bool, compressed: Bool, sizes: [Size]) {
            self.fourcc = fourcc
            self.description = description
            self.emulated = emulated
            self.compressed = compressed
            self.sizes = sizes
        }
    }

    public struct Size: Sendable, Hashable, Codable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        /// Frame rates offered at this size (frames a second), empty when the driver does not say.
        public var framesPerSecond: [Double]

        public init(width: Int, height: Int, framesPerSecond: [Double]) {
            self.width = width
            self.height = height
            self.framesPerSecond = framesPerSecond
        }

        public var description: String { "\(width)x\(height)" }
    }

    public var path: String
    public var driver: String
    public var card: String
    public var busInfo: String
    public var canCapture: Bool
    public var canStream: Bool
    public var formats: [Format]
}

/// One open V4L2 capture device: negotiation, the mmap ring and dequeuing.
/// Not thread-safe: its owner calls it from one executor.
final class V4L2Device {
    let path: String
    private(set) var fd: Int32
    private var buffers: [(start: UnsafeMutableRawPointer, length: Int)] = []
    private(set) var format = v4l2_pix_format()
    private var streaming = false

    init(path: String) throws(CaptureError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw V4L2System.error(errno, "cannot open the camera")
        }
        guard status.st_mode & S_IFMT == S_IFCHR else {
            throw CaptureError(.notADevice, "the camera is not a character device")
        }
        let fd = fg_v4l2_open(path)
        guard fd >= 0 else { throw V4L2System.error(errno, "cannot open the camera") }
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    func close() {
        guard fd >= 0 else { return }
        if streaming {
            var type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = fg_v4l2_ioctl(fd, fg_vidioc_streamoff(), &type)
            streaming = false
        }
        for buffer in buffers { _ = fg_v4l2_munmap(buffer.start, buffer.length) }
        buffers = []
        _ = fg_v4l2_close(fd)
        fd = -1
    }

    // MARK: Discovery

    func info() throws(CaptureError) -> V4L2DeviceInfo {
        var capability = v4l2_capability()
        try V4L2System.ioctl(fd, fg_vidioc_querycap(), &capability, "the camera is not a V4L2 device")
        let caps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        var info = V4L2DeviceInfo(
            path: path, driver: Self.text(capability.driver), card: Self.text(capability.card),
            busInfo: Self.text(capability.bus_info), canCapture: caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0,
            canStream: caps & UInt32(V4L2_CAP_STREAMING) != 0, formats: [])
        guard info.canCapture else { return info }
        var index: UInt32 = 0
        // Bounded as the sizes are: a driver that never says "no more" cannot hold `camera list` for ever.
        while index < 64 {
            var description = v4l2_fmtdesc()
            description.index = index
            description.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            guard try V4L2System.enumerate(fd, fg_vidioc_enum_fmt(), &description) else { break }
            let fourcc = FourCC(rawValue: description.pixelformat)
            info.formats.append(
                .init(
                    fourcc: fourcc.description, description: Self.text(description.description),
                    emulated: description.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0,
                    compressed: description.flags & UInt32(V4L2_FMT_FLAG_COMPRESSED) != 0,
                    sizes: try sizes(of: fourcc)))
            index += 1
        }
        return info
    }

    private func sizes(of fourcc: FourCC) throws(CaptureError) -> [V4L2DeviceInfo.Size] {
        var sizes: [V4L2DeviceInfo.Size] = []
        var index: UInt32 = 0
        while index < 64 {
            var size = v4l2_frmsizeenum()
            size.index = index
            size.pixel_format = fourcc.rawValue
            guard try V4L2System.enumerate(fd, fg_vidioc_enum_framesizes(), &size) else { break }
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                let width = Int(size.discrete.width), height = Int(size.discrete.height)
                sizes.append(.init(width: width, height: height, framesPerSecond: try rates(fourcc, width, height)))
            } else {
                // Stepwise or continuous: report the two ends.
                let s = size.stepwise
                for (w, h) in [(s.min_width, s.min_height), (s.max_width, s.max_height)] {
                    sizes.append(.init(width: Int(w), height: Int(h), framesPerSecond: try rates(fourcc, Int(w), Int(h))))
                }
                break
            }
            index += 1
        }
        return sizes
    }

    private func rates(_ fourcc: FourCC, _ width: Int, _ height: Int) throws(CaptureError) -> [Double] {
        var rates: [Double] = []
        var index: UInt32 = 0
        while index < 32 {
            var interval = v4l2_frmivalenum()
            interval.index = index
            interval.pixel_format = fourcc.rawValue
            interval.width = UInt32(width)
            interval.height = UInt32(height)
            guard try V4L2System.enumerate(fd, fg_vidioc_enum_frameintervals(), &interval) else { break }
            let fraction = interval.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue ? interval.discrete : interval.stepwise.min
            if fraction.numerator > 0 { rates.append((Double(fraction.denominator) / Double(fraction.numerator) * 100).rounded() / 100) }
            if interval.type != V4L2_FRMIVAL_TYPE_DISCRETE.rawValue { break }
            index += 1
        }
        return rates
    }

    private static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    // MARK: Negotiation and streaming

    /// A device that can capture and stream, or the refusal: without the card's name, as these reach the log and
    /// `/health`, which name no hardware.
    static func checkCanStream(_ info: V4L2DeviceInfo) throws(CaptureError) {
        guard info.canCapture else { throw CaptureError(.unsupported, "the camera cannot capture video") }
        guard info.canStream else { throw CaptureError(.unsupported, "the camera cannot stream") }
    }

    /// Sets format, size and rate; throws ``CaptureError/Code/formatUnavailable`` naming what the device offers.
    func configure(
        fourcc: FourCC, width: Int, height: Int, framesPerSecond: Double?, info: V4L2DeviceInfo
    ) throws(CaptureError) {
        try Self.checkCanStream(info)
        let offered = info.formats.map(\.fourcc)
        guard offered.contains(fourcc.description) else {
            throw CaptureError(
                .formatUnavailable, "the camera does not offer the pixel format asked for; it offers \(offered.joined(separator: ", "))")
        }
        var request = v4l2_format()
        request.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        request.fmt.pix.width = UInt32(width)
        request.fmt.pix.height = UInt32(height)
        request.fmt.pix.pixelformat = fourcc.rawValue
        request.fmt.pix.field = UInt32(V4L2_FIELD_NONE.rawValue)
        // The camera's own facts are said; what was asked for (the configuration's values) is not.
        try V4L2System.ioctl(fd, fg_vidioc_s_fmt(), &request, "the camera refused the pixel format and size asked for")
        let granted = request.fmt.pix
        guard granted.pixelformat == fourcc.rawValue, Int(granted.width) == width, Int(granted.height) == height else {
            let sizes = info.formats.first { $0.fourcc == fourcc.description }?.sizes.map(\.description) ?? []
            throw CaptureError(
                .formatUnavailable,
                "the camera cannot capture the pixel format at the size asked for (it offered \(FourCC(rawValue: granted.pixelformat)) "
                    + "\(granted.width)x\(granted.height)); its sizes in that format: \(sizes.joined(separator: ", "))")
        }
        format = granted
        if let framesPerSecond {
            try setRate(framesPerSecond)
        }
    }

    private func setRate(_ framesPerSecond: Double) throws(CaptureError) {
        var parameters = v4l2_streamparm()
        parameters.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try V4L2System.ioctl(fd, fg_vidioc_g_parm(), &parameters, "the camera: reading the frame rate")
        // Many drivers (v4l2loopback, some UVC bridges) have no settable rate: they run at their own,
        // which a door camera can live with. A rate the driver accepts but does not honour is an error.
        guard parameters.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0 else { return }
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((framesPerSecond * 1000).rounded()))
        try V4L2System.ioctl(fd, fg_vidioc_s_parm(), &parameters, "the camera: setting the frame rate")
        let granted = parameters.parm.capture.timeperframe
        let rate = granted.numerator > 0 ? Double(granted.denominator) / Double(granted.numerator) : 0
        guard V4L2Camera.isTheRate(rate, asked: framesPerSecond) else {
            throw CaptureError(.formatUnavailable, "the camera cannot capture at the frame rate asked for (it offered \(rate) fps)")
        }
    }

    /// Allocates and maps the buffer ring, queues every buffer and starts streaming.
    func startStreaming(bufferCount: Int) throws(CaptureError) {
        var request = v4l2_requestbuffers()
        request.count = UInt32(bufferCount)
        request.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        request.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
        try V4L2System.ioctl(fd, fg_vidioc_reqbufs(), &request, "the camera: allocating buffers")
        guard request.count >= 2 else { throw CaptureError(.unsupported, "the camera granted \(request.count) buffers, needs 2") }
        for index in 0..<request.count {
            var buffer = v4l2_buffer()
            buffer.index = index
            buffer.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            buffer.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
            try V4L2System.ioctl(fd, fg_vidioc_querybuf(), &buffer, "the camera: querying buffer \(index)")
            let start = fg_v4l2_mmap(fd, Int(buffer.length), Int64(buffer.m.offset))
            guard let start, start != MAP_FAILED else { throw V4L2System.error(errno, "the camera: mapping buffer \(index)") }
            buffers.append((start, Int(buffer.length)))
            try V4L2System.ioctl(fd, fg_vidioc_qbuf(), &buffer, "the camera: queueing buffer \(index)")
        }
        var type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try V4L2System.ioctl(fd, fg_vidioc_streamon(), &type, "the camera: starting the stream")
        streaming = true
    }

    struct Captured {
        var sequence: UInt32
        var timestamp: Duration?
        var image: PixelImage
        var timing: V4L2Camera.FrameTiming
        /// Unusable frames dropped while waiting for this one, and why the last was.
        var badFrames = 0
        var lastBadFrame: CaptureError?
    }

    /// CLOCK_MONOTONIC, the clock drivers stamp frames with.
    static func monotonicNow() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return .seconds(Int64(now.tv_sec)) + .nanoseconds(Int64(now.tv_nsec))
    }

    /// A wait for a frame that gave none: when frames came, none usable, for the whole wait (a marginal cable's
    /// flagged frames, corrupt JPEGs), the camera is failing and the stall says so and how many were dropped;
    /// otherwise (nothing came, or a stop) it returns and the caller has no frame.
    static func endOfWaitWithoutAFrame(badFrames: Int, lastBadFrame: CaptureError?, stopped: Bool) throws(CaptureError) {
        if let lastBadFrame, !stopped {
            throw CaptureError(
                .stalled, "no usable frame from the camera within the stall timeout: \(badFrames) dropped, the last because \(lastBadFrame)")
        }
    }

    /// Waits up to `timeout` for a frame; nil when none came (a stall, or cancellation via `shouldStop`).
    func capture(
        timeout: Duration, layout: PixelImage.Layout, shouldStop: () -> Bool
    ) throws(CaptureError) -> Captured? {
        let deadline = ContinuousClock.now + timeout
        let fd = self.fd
        var ready = Self.monotonicNow()
        var badFrames = 0
        var lastBadFrame: CaptureError?
        let taken = try BufferRing.nextUsableFrame(
            waitReadable: { () throws(CaptureError) -> Bool in
                while true {
                    if shouldStop() { return false }
                    let remaining = deadline - ContinuousClock.now
                    guard remaining > .zero else { return false }
                    // Short slices, so cancellation is noticed quickly while waiting.
                    let slice = min(remaining, .milliseconds(100))
                    let milliseconds = Int32(slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000)
                    if try V4L2System.waitReadable(fd, timeoutMilliseconds: max(1, milliseconds)) {
                        ready = Self.monotonicNow()
                        return true
                    }
                }
            },
            dequeue: { () throws(CaptureError) -> v4l2_buffer? in
                var buffer = v4l2_buffer()
                buffer.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
                buffer.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
                do throws(CaptureError) {
                    try V4L2System.ioctl(fd, fg_vidioc_dqbuf(), &buffer, "the camera: dequeuing a frame")
                } catch {
                    if error.errno == EAGAIN { return nil }
                    throw error
                }
                return buffer
            },
            requeue: { buffer in _ = try? V4L2System.ioctl(fd, fg_vidioc_qbuf(), &buffer, "the camera: requeueing") },
            isError: { $0.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 },
            convert: { buffer throws(CaptureError) -> PixelImage in
                let index = Int(buffer.index)
                guard index < buffers.count else { throw CaptureError(.ioFailed, "the camera returned unknown buffer \(index)") }
                let bytes = UnsafeRawBufferPointer(start: buffers[index].start, count: min(Int(buffer.bytesused), buffers[index].length))
                return try FrameConversion.convert(
                    bytes, format: FourCC(rawValue: format.pixelformat), width: Int(format.width), height: Int(format.height),
                    bytesPerLine: Int(format.bytesperline), to: layout)
            },
            onBadFrame: { error in
                badFrames += 1
                lastBadFrame = error
            })
        guard let taken else {
            try Self.endOfWaitWithoutAFrame(badFrames: badFrames, lastBadFrame: lastBadFrame, stopped: shouldStop())
            return nil
        }
        let (buffer, image) = taken
        let monotonic = buffer.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        let timestamp = monotonic ? Duration(buffer.timestamp) : nil
        return Captured(
            sequence: buffer.sequence, timestamp: timestamp, image: image,
            timing: .init(driverTimestamp: timestamp, ready: ready, inHand: Self.monotonicNow()), badFrames: badFrames,
            lastBadFrame: lastBadFrame)
    }
}
