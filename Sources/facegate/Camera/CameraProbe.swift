import ArgumentParser
import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Hidden: streams from a camera and reports, as JSON lines, what the
/// hardware-in-the-loop tests check (frames counted, timestamps increasing,
/// frames equal to the fed photos, outages and recovery, latency and CPU per frame).
struct CameraProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Stream and report measurements as JSON lines (for tests).", shouldDisplay: false)

    @OptionGroup var camera: CameraOptions

    @Option(help: "Frames to take before reporting.")
    var frames: Int = 30

    @Option(help: "Photos fed into the device by `camera feed`: every frame must equal one of them.")
    var photos: String?

    @Option(help: "Dlib model folder: run the quality core on the first frame of each fed photo.")
    var models: String?

    @Option(help: "Give up after this many seconds.")
    var seconds: Double = 60

    func run() async throws {
        let expected = try photos.map { try FeedFrames.load(directory: $0, size: try camera.cameraConfiguration(layout: .gray8)) }
        let analyzer = try models.map { try DlibFaceAnalyzer(models: FaceModels(directory: $0), withDescriptor: false) }
        var photosWithFace = 0
        let statuses = Mutex<[String]>([])
        let timings = Mutex<[V4L2Camera.FrameTiming]>([])
        let source = try V4L2Camera(
            configuration: try camera.cameraConfiguration(layout: expected == nil ? .rgb24 : .gray8),
            onFrameTiming: { timing in timings.withLock { $0.append(timing) } }
        ) { status in
            let line = Self.describe(status)
            statuses.withLock { $0.append(line) }
            print(#"{"status":"\#(line)"}"#)
            fflush(nil)
        }
        var count = 0, increasing = true, matched = 0
        var seenPhotos = Set<Int>()
        var previous: Frame?
        var gaps = 0
        let cpuStart = Self.cpuSeconds()
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let watchdog = Task {
            try await Task.sleep(until: deadline, clock: .continuous)
            print(#"{"error":"timed out"}"#)
            fflush(nil)
            Glibc.exit(3)
        }
        defer { watchdog.cancel() }
        for try await frame in source.frames() {
            if let previous {
                if frame.timestamp <= previous.timestamp || frame.sequence <= previous.sequence { increasing = false }
                if frame.sequence > previous.sequence + 1 { gaps += 1 }
            }
            if let expected {
                if let index = expected.firstIndex(where: { $0.pixels == frame.image.pixels }) {
                    matched += 1
                    if seenPhotos.insert(index).inserted, let analyzer {
                        if try !analyzer.analyze(frame.image).faces.isEmpty { photosWithFace += 1 }
                    }
                }
            }
            previous = frame
            count += 1
            if count == frames { break }
        }
        let cpu = (Self.cpuSeconds() - cpuStart) * 1000 / Double(max(count, 1))
        let taken = timings.withLock { $0 }
        // Driver stamp to frame in hand; drivers that stamp ahead of delivery (vivid under TCG) are left out.
        let driverToHand = taken.compactMap { t in t.driverTimestamp.flatMap { $0 <= t.ready ? (t.inHand - $0).milliseconds : nil } }
        var report: [String: Any] = [
            "frames": count, "timestampsIncreasing": increasing, "sequenceGaps": gaps,
            "dequeueConvertMillisecondsMedian": Self.median(taken.map(\.dequeueAndConvert.milliseconds)),
            "driverToHandMillisecondsMedian": driverToHand.isEmpty ? "n/a" : Self.median(driverToHand),
            "cpuMillisecondsPerFrame": (cpu * 100).rounded() / 100,
            "statuses": statuses.withLock { $0 },
        ]
        if let previous {
            report["width"] = previous.image.width
            report["height"] = previous.image.height
        }
        if let expected {
            report["matched"] = matched
            report["photosSeen"] = seenPhotos.count
            report["photos"] = expected.count
            if analyzer != nil { report["photosWithFace"] = photosWithFace }
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
    }

    static func describe(_ status: V4L2Camera.Status) -> String {
        switch status {
        case .streaming(let format, _, _): "streaming \(format)"
        case .lost(let error): "lost: \(error.code)"
        case .reopenFailed(let attempt, let error): "reopen \(attempt) failed: \(error.code)"
        case .recovered(let outage): "recovered after \(Int(outage.milliseconds)) ms"
        }
    }

    static func median(_ values: [Double]) -> Any {
        guard !values.isEmpty else { return "n/a" }
        return (values.sorted()[values.count / 2] * 100).rounded() / 100
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}


/// The camera-sized frames made from a folder of photos, as `camera feed` writes them.
enum FeedFrames {
    static func yuyvFrames(directory: String, width: Int, height: Int) throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !names.isEmpty else { throw ValidationError("no photos in \(directory)") }
        return try names.map { name in
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else {
                throw ValidationError("cannot read \(directory)/\(name)")
            }
            return try ImageCodec.decode([UInt8](data)).fitted(width: width, height: height).yuyv()
        }
    }

    /// What a gray8 capture of the fed frames must read back: their Y bytes.
    static func load(directory: String, size configuration: V4L2Camera.Configuration) throws -> [PixelImage] {
        try yuyvFrames(directory: directory, width: configuration.width, height: configuration.height).map {
            try PixelImage.lumaOfYUYV($0, width: configuration.width, height: configuration.height)
        }
    }
}

/// Hidden: writes frames made from photos into a v4l2loopback device, in a loop.
struct CameraFeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed", abstract: "Feed photos into a v4l2loopback device as YUYV frames (for tests).",
        shouldDisplay: false)

    @Option(help: "The loopback device.")
    var device: String

    @Option(help: "Folder of JPEG/PNG photos.")
    var photos: String

    @Option(help: "Frame size, WIDTHxHEIGHT.")
    var size: String = "640x480"

    @Option(help: "Frames a second.")
    var fps: Double = 15

    @Option(help: "Stop after this many seconds (0: run until killed).")
    var seconds: Double = 0

    func run() async throws {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, fps > 0 else { throw ValidationError("--size WIDTHxHEIGHT and a positive --fps") }
        let frames = try FeedFrames.yuyvFrames(directory: photos, width: parts[0], height: parts[1])
        // A loopback with exclusive caps cannot take a writer while a reader holds it;
        // keep trying, so a feeder can come back while a camera source waits between reopens.
        var writer: V4L2LoopbackWriter?
        let giveUp = ContinuousClock.now + .seconds(60)
        while writer == nil {
            do {
                writer = try V4L2LoopbackWriter(device: device, width: parts[0], height: parts[1])
            } catch {
                guard ContinuousClock.now < giveUp else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let writer else { return }
        let interval = Duration.milliseconds(Int64(1000 / fps))
        let clock = ContinuousClock()
        let start = clock.now
        var next = start
        var index = 0
        print("feeding \(frames.count) photos into \(device)")
        fflush(nil)
        while seconds == 0 || clock.now - start < .milliseconds(Int64(seconds * 1000)) {
            try writer.write(yuyv: frames[index % frames.count])
            index += 1
            next += interval
            try await Task.sleep(until: next, clock: clock)
        }
        writer.close()
    }
}
