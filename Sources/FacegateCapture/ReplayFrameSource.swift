import FacegateCore
import FacegateImageCodec
import Foundation
import Synchronization

/// Frames from a directory of JPEG/PNG images or from a video file, for demos
/// and tests: the same `FrameSource` the daemon reads a camera through.
///
/// A video is decoded by an `ffmpeg` process to raw pixels. Frames carry media
/// time as their timestamp (starting at zero), so a replay run as fast as
/// possible looks to the rest of the pipeline just like one paced in real time.
public struct ReplayFrameSource: FrameSource {
    public enum Input: Sendable, Equatable {
        /// Every `.jpg`, `.jpeg` and `.png` file in the directory, in name order.
        case imageDirectory(String)
        /// Any video ffmpeg can read; its first video stream.
        case videoFile(String)
    }

    public enum Pacing: Sendable, Equatable {
        /// A frame is released when its media time has come, as a camera would.
        case realTime
        /// Frames are released as soon as the consumer asks.
        case asFastAsPossible
    }

    public struct Configuration: Sendable {
        public var pacing: Pacing
        /// Frame rate given to an image directory (a video keeps its own).
        public var imagesPerSecond: Double
        /// The layout of the delivered frames.
        public var layout: PixelImage.Layout
        /// Start over at the end instead of finishing (for demos).
        public var loops: Bool
        /// In real time, drop frames the consumer was too slow to take, as a
        /// camera does; the gap shows in the frame sequence numbers.
        public var dropsLateFrames: Bool
        /// ffmpeg's path; nil looks it up on PATH.
        public var ffmpegPath: String?

        public init(
            pacing: Pacing = .realTime, imagesPerSecond: Double = 5, layout: PixelImage.Layout = .rgb24,
            loops: Bool = false, dropsLateFrames: Bool = true, ffmpegPath: String? = nil
        ) {
            self.pacing = pacing
            self.imagesPerSecond = imagesPerSecond
            self.layout = layout
            self.loops = loops
            self.dropsLateFrames = dropsLateFrames
            self.ffmpegPath = ffmpegPath
        }
    }

    public let input: Input
    public let configuration: Configuration

    public init(input: Input, configuration: Configuration = Configuration()) throws(CaptureError) {
        guard configuration.imagesPerSecond.isFinite, configuration.imagesPerSecond > 0,
            configuration.imagesPerSecond <= 1000
        else {
            throw CaptureError(.badConfiguration, "imagesPerSecond must be in 0<...1000, got \(configuration.imagesPerSecond)")
        }
        self.input = input
        self.configuration = configuration
    }

    /// A replay of whatever is at `path`: a directory replays its images, a file is played as a video.
    public init(path: String, configuration: Configuration = Configuration()) throws(CaptureError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CaptureError(.notFound, "no such file or directory")
        }
        try self.init(input: isDirectory.boolValue ? .imageDirectory(path) : .videoFile(path), configuration: configuration)
    }

    public func frames() -> AsyncThrowingStream<Frame, any Error> {
        let session = ReplaySession(input: input, configuration: configuration)
        // Pull-driven: a frame is read only when the consumer asks for one, so a
        // fast replay never piles decoded frames up in memory.
        return AsyncThrowingStream(unfolding: { try await session.next() })
    }
}

/// One run of a replay: the open reader, the pacing clock and the counters.
private actor ReplaySession {
    private let input: ReplayFrameSource.Input
    private let configuration: ReplayFrameSource.Configuration
    private let executor = BlockingWorkQueue(label: "facegate.replay")
    private var reader: (any ReplayReader)?
    private var sequence: UInt64 = 0
    /// Media time at which the current pass over the input started (grows with each loop).
    private var passOffset: Duration = .zero
    private var framesThisPass = 0
    private var start: ContinuousClock.Instant?
    private var finished = false

    init(input: ReplayFrameSource.Input, configuration: ReplayFrameSource.Configuration) {
        self.input = input
        self.configuration = configuration
    }

    func next() async throws -> Frame? {
        while !finished, !Task.isCancelled {
            let reader = try await openReader()
            let timestamp = passOffset + reader.frameInterval * framesThisPass
            let due = dueInstant(for: timestamp)
            let late = due.map { ContinuousClock.now - $0 > reader.frameInterval } ?? false
            let drop = late && configuration.dropsLateFrames
            let layout = configuration.layout
            let decodeStart = ContinuousClock.now
            let result = try await executor.run { try reader.next(decoding: !drop, layout: layout) }
            let decodeTime = ContinuousClock.now - decodeStart
            switch result {
            case .end:
                try await endOfPass(reader)
                continue
            case .skipped:
                framesThisPass += 1
                sequence += 1
                continue
            case .frame(let image):
                framesThisPass += 1
                if let due {
                    do {
                        try await Task.sleep(until: due, clock: .continuous)
                    } catch {
                        return nil  // cancelled
                    }
                }
                let frame = Frame(sequence: sequence, timestamp: timestamp, image: image, captureTime: decodeTime)
                sequence += 1
                return frame
            }
        }
        close()
        return nil
    }

    private func dueInstant(for timestamp: Duration) -> ContinuousClock.Instant? {
        guard configuration.pacing == .realTime else { return nil }
        if start == nil { start = .now }
        return start.map { $0 + timestamp }
    }

    private func openReader() async throws -> any ReplayReader {
        if let reader { return reader }
        let input = input
        let configuration = configuration
        let opened: any ReplayReader = try await executor.run { () throws -> any ReplayReader in
            switch input {
            case .imageDirectory(let path):
                return try ImageDirectoryReader(directory: path, imagesPerSecond: configuration.imagesPerSecond)
            case .videoFile(let path):
                return try FFmpegVideoReader(path: path, layout: configuration.layout, ffmpegPath: configuration.ffmpegPath)
            }
        }
        reader = opened
        return opened
    }

    private func endOfPass(_ current: any ReplayReader) async throws {
        reader = nil
        try await executor.run { try current.finish() }
        guard configuration.loops, framesThisPass > 0 else {
            finished = true
            return
        }
        passOffset += current.frameInterval * framesThisPass
        framesThisPass = 0
    }

    private func close() {
        finished = true
        reader?.cancel()
        reader = nil
    }
}

enum ReplayRead: Sendable {
    case frame(PixelImage)
    /// The frame was passed over without decoding (a late frame being dropped).
    case skipped
    case end
}

/// What the replay session reads frames through. Calls are blocking and come
/// one at a time from the session's executor.
protocol ReplayReader: Sendable {
    var frameInterval: Duration { get }
    func next(decoding: Bool, layout: PixelImage.Layout) throws(CaptureError) -> ReplayRead
    /// Called at the end of the input: reports any failure that only shows then.
    func finish() throws(CaptureError)
    /// Stops early; releases whatever the reader holds.
    func cancel()
}

/// Reads a directory's JPEG and PNG files in name order.
final class ImageDirectoryReader: ReplayReader {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    let frameInterval: Duration
    private let files: [String]
    private let index = Mutex(0)

    init(directory: String, imagesPerSecond: Double) throws(CaptureError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            // Said by its key: the directory is the configuration's (`camera.replay_path`), kept out of logs.
            throw CaptureError(.notFound, "cannot list the image directory (camera.replay_path)")
        }
        files = names
            .filter { Self.extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
        guard !files.isEmpty else {
            throw CaptureError(.badConfiguration, "no .jpg, .jpeg or .png files in the image directory (camera.replay_path)")
        }
        frameInterval = .nanoseconds(Int64((1e9 / imagesPerSecond).rounded()))
    }

    func next(decoding: Bool, layout: PixelImage.Layout) throws(CaptureError) -> ReplayRead {
        let taken = index.withLock { index -> Int? in
            guard index < files.count else { return nil }
            defer { index += 1 }
            return index
        }
        guard let taken else { return .end }
        guard decoding else { return .skipped }
        let path = files[taken]
        // Named by the frame's file name: the folder is the configuration's (`camera.replay_path`).
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CaptureError(.notFound, "cannot read the frame \(name)")
        }
        do {
            let image = try ImageCodec.decode([UInt8](data))
            return .frame(layout == .gray8 ? image.grayscale() : image)
        } catch {
            throw CaptureError(.decodeFailed, "the frame \(name): \(error.message)")
        }
    }

    func finish() throws(CaptureError) {}
    func cancel() {}
}
