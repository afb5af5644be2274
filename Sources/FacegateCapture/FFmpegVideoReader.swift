import FacegateCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Decodes a video file's first video stream with an `ffmpeg` child process
/// writing raw frames to a pipe; `ffprobe` reads the size and rate first.
///
/// The child is terminated when the reader is cancelled or released, so a
/// consumer that stops early leaves no decoder running.
final class FFmpegVideoReader: ReplayReader {
    let width: Int
    let height: Int
    let frameInterval: Duration
    private let layout: PixelImage.Layout
    private let process: Process
    private let output: FileHandle
    private let errorTail: ErrorTail
    private let path: String

    init(path: String, layout: PixelImage.Layout, ffmpegPath: String?) throws(CaptureError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw CaptureError(.notFound, "cannot read the video file")
        }
        let ffmpeg: String
        if let ffmpegPath { ffmpeg = ffmpegPath } else { ffmpeg = try Self.locate("ffmpeg") }
        let ffprobe = try Self.siblingOrLocate("ffprobe", besides: ffmpeg)
        let info = try Self.probe(path: path, ffprobe: ffprobe)
        self.width = info.width
        self.height = info.height
        self.frameInterval = info.frameInterval
        self.layout = layout
        self.path = path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = [
            "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
            // Every decoded frame once: no duplicates or drops to fill a constant rate.
            "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", layout == .gray8 ? "gray" : "rgb24", "pipe:1",
        ]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let tail = ErrorTail()
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                tail.close()
            } else {
                tail.append(data)
            }
        }
        do {
            try process.run()
        } catch {
            throw CaptureError(.processFailed, "cannot start \(ffmpeg): \(error.localizedDescription)")
        }
        self.process = process
        self.output = stdout.fileHandleForReading
        self.errorTail = tail
    }

    deinit {
        cancel()
    }

    var frameBytes: Int { width * height * layout.bytesPerPixel }

    func next(decoding: Bool, layout: PixelImage.Layout) throws(CaptureError) -> ReplayRead {
        let count = frameBytes
        var filled = 0
        var failure: Int32 = 0
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            filled = Self.readFully(output.fileDescriptor, into: buffer, error: &failure)
            if filled < count { buffer.baseAddress!.advanced(by: filled).initialize(repeating: 0, count: count - filled) }
            initialized = count
        }
        if failure != 0 {
            throw CaptureError(.ioFailed, "reading frames from ffmpeg failed: \(String(cString: strerror(failure)))", errno: failure)
        }
        if filled == 0 { return .end }
        guard filled == count else {
            try finish()
            throw CaptureError(.decodeFailed, "the video: the decoder stopped inside a frame (\(filled) of \(count) bytes)")
        }
        guard decoding else { return .skipped }
        do {
            return .frame(try PixelImage(width: width, height: height, layout: self.layout, pixels: pixels))
        } catch {
            throw CaptureError(.decodeFailed, "the video: \(error.message)")
        }
    }

    func finish() throws(CaptureError) {
        process.waitUntilExit()
        // ffmpeg's last words arrive on their own thread: wait (briefly) for its stderr to close.
        for _ in 0..<200 where !errorTail.isClosed { usleep(5_000) }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let said = errorTail.text(naming: path)
            let detail = said.isEmpty ? "" : ": \(said)"
            throw CaptureError(
                .decodeFailed, "ffmpeg could not decode the video (exit \(process.terminationStatus))\(detail)")
        }
        // A damaged or truncated file decodes as far as it can and ffmpeg still exits 0; at its
        // "error" level it says nothing about a sound file, so anything it said is damage.
        let said = errorTail.text(naming: path)
        if !said.isEmpty {
            throw CaptureError(.decodeFailed, "the video is damaged or truncated: \(said)")
        }
    }

    func cancel() {
        if process.isRunning { process.terminate() }
    }

    /// Reads until the buffer is full or the pipe ends; retries EINTR.
    private static func readFully(_ fd: Int32, into buffer: UnsafeMutableBufferPointer<UInt8>, error: inout Int32) -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if n > 0 {
                filled += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                error = errno
                break
            }
        }
        return filled
    }

    // MARK: Probing

    struct StreamInfo: Sendable, Equatable {
        var width: Int
        var height: Int
        var frameInterval: Duration
    }

    private struct ProbeOutput: Decodable {
        struct Stream: Decodable {
            var width: Int?
            var height: Int?
            var avg_frame_rate: String?
            var r_frame_rate: String?
        }
        var streams: [Stream]?
    }

    static func probe(path: String, ffprobe: String) throws(CaptureError) -> StreamInfo {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffprobe)
        process.arguments = [
            "-v", "error", "-select_streams", "v:0",
            "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate", "-of", "json", path,
        ]
        let stdout = Pipe()
        process.standardOutput = stdout
        // Its words are never used (they start with the path): not a pipe, which a damaged file's errors
        // could fill (64 KiB) while stdout is read to its end, and the open would hang for ever (review).
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw CaptureError(.processFailed, "cannot start \(ffprobe): \(error.localizedDescription)")
        }
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // ffprobe's own words start with the file's path (the configuration's `camera.replay_path`),
            // which stays out of logs: a fixed phrase instead.
            throw CaptureError(.decodeFailed, "not a readable video (camera.replay_path): ffprobe could not read it")
        }
        guard let probe = try? JSONDecoder().decode(ProbeOutput.self, from: outData),
            let stream = probe.streams?.first
        else {
            throw CaptureError(.decodeFailed, "no video stream in the file")
        }
        guard let width = stream.width, let height = stream.height, width > 0, height > 0,
            width <= 8192, height <= 8192
        else {
            throw CaptureError(.decodeFailed, "the video: unusable frame size \(stream.width ?? 0)x\(stream.height ?? 0)")
        }
        let rate = [stream.avg_frame_rate, stream.r_frame_rate].lazy.compactMap { $0.flatMap(Self.rational) }.first
        guard let rate, rate > 0.1, rate <= 1000 else {
            throw CaptureError(.decodeFailed, "the video: no usable frame rate")
        }
        return StreamInfo(width: width, height: height, frameInterval: .nanoseconds(Int64((1e9 / rate).rounded())))
    }

    /// "30000/1001" -> 29.97; "0/0" -> nil.
    static func rational(_ text: String) -> Double? {
        let parts = text.split(separator: "/")
        guard let numerator = parts.first.flatMap({ Double($0) }) else { return nil }
        let denominator = parts.count > 1 ? Double(parts[1]) ?? 0 : 1
        guard denominator > 0, numerator > 0 else { return nil }
        return numerator / denominator
    }

    static func locate(_ program: String) throws(CaptureError) -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CaptureError(.processFailed, "\(program) is not installed (not found on PATH); install the ffmpeg package")
    }

    private static func siblingOrLocate(_ program: String, besides ffmpeg: String) throws(CaptureError) -> String {
        let sibling = ((ffmpeg as NSString).deletingLastPathComponent as NSString).appendingPathComponent(program)
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return try locate(program)
    }
}

/// The last few hundred bytes ffmpeg wrote to stderr, for the error message.
private final class ErrorTail: Sendable {
    private let bytes = Mutex([UInt8]())
    /// Whether older bytes were let go: the first line kept may then be a cut one.
    private let cut = Mutex(false)
    private let closed = Mutex(false)
    private static let limit = 600

    func close() { closed.withLock { $0 = true } }

    var isClosed: Bool { closed.withLock { $0 } }

    func append(_ data: Data) {
        bytes.withLock { bytes in
            bytes.append(contentsOf: data)
            if bytes.count > Self.limit {
                bytes.removeFirst(bytes.count - Self.limit)
                cut.withLock { $0 = true }
            }
        }
    }

    /// What ffmpeg said, with the file's path (the configuration's `camera.replay_path`, kept out of
    /// logs) said by its key, and without a first line the limit cut (it may hold part of the path).
    func text(naming path: String) -> String {
        var text = bytes.withLock { String(decoding: $0, as: UTF8.self) }
        if cut.withLock({ $0 }) { text = String(text.drop { $0 != "\n" }) }
        return text.replacingOccurrences(of: path, with: "camera.replay_path").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
