import FacegateCapture
import FacegateCore
import FacegateImageCodec
import FacegateTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(5)))
struct ReplayImageDirectoryTests {
    @Test func replaysEveryImageInNameOrderDecodedExactly() async throws {
        let directory = TestData.path("faces/_noface")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
        let source = try ReplayFrameSource(path: directory, configuration: .init(pacing: .asFastAsPossible))

        var frames: [Frame] = []
        for try await frame in source.frames() { frames.append(frame) }

        #expect(frames.count == names.count)
        #expect(frames.map(\.sequence) == Array(0..<UInt64(names.count)))
        for (frame, name) in zip(frames, names) {
            let expected = try ImageCodec.decode([UInt8](FileManager.default.contents(atPath: "\(directory)/\(name)")!))
            #expect(frame.image == expected, "frame for \(name) differs from its decoded file")
        }
        // 5 images a second by default: 200 ms of media time apart.
        #expect(frames.map(\.timestamp) == (0..<names.count).map { Duration.milliseconds(200 * $0) })
    }

    @Test func deliversGrayWhenAsked() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("faces/_noface"), configuration: .init(pacing: .asFastAsPossible, layout: .gray8))
        var iterator = source.frames().makeAsyncIterator()
        let frame = try #require(try await iterator.next())
        #expect(frame.image.layout == .gray8)
        #expect(frame.image.pixels.count == frame.image.width * frame.image.height)
    }

    @Test func loopsWithIncreasingSequenceAndTime() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("faces/_noface"), configuration: .init(pacing: .asFastAsPossible, loops: true))
        var frames: [Frame] = []
        for try await frame in source.frames() {
            frames.append(frame)
            if frames.count == 15 { break }
        }
        #expect(frames.count == 15)
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.sequence + 1 == $1.sequence && $0.timestamp < $1.timestamp })
    }

    @Test func aCorruptImageEndsTheStreamWithAnErrorNamingIt() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = FileManager.default.contents(atPath: TestData.path("faces/_noface/01.jpg"))!
        try good.write(to: URL(fileURLWithPath: "\(directory)/a.jpg"))
        try good.prefix(good.count / 3).write(to: URL(fileURLWithPath: "\(directory)/b.jpg"))
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(directory)/notes.txt"))

        let source = try ReplayFrameSource(path: directory, configuration: .init(pacing: .asFastAsPossible))
        var delivered = 0
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in source.frames() { delivered += 1 }
        }
        #expect(delivered == 1)
        #expect(error?.code == .decodeFailed)
        #expect(error?.message.contains("b.jpg") == true)
        // The folder is the configuration's (`camera.replay_path`): the frame is named by its file name only.
        #expect(error?.message.contains(directory) == false, "\(String(describing: error))")
    }

    @Test func anEmptyDirectoryIsAClearError() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try ReplayFrameSource(path: directory)
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in source.frames() {}
        }
        #expect(error?.code == .badConfiguration)
        // Said by its key: the path is configuration, which no log line carries.
        let message = try #require(error?.message)
        #expect(!message.contains(directory) && message.contains("camera.replay_path"), "\(message)")
    }

    @Test func aMissingPathIsRefusedAtOnce() {
        #expect(throws: CaptureError(.notFound, "")) {
            try ReplayFrameSource(path: "/nonexistent/facegate/replay")
        }
    }

    @Test func aNonsenseRateIsRefused() {
        #expect(throws: CaptureError(.badConfiguration, "")) {
            try ReplayFrameSource(input: .imageDirectory("/tmp"), configuration: .init(imagesPerSecond: 0))
        }
    }

    @Test func realTimePacingSpacesFramesByTheirRate() async throws {
        // 20 images a second: six frames cannot arrive in less than 250 ms.
        let source = try ReplayFrameSource(
            path: TestData.path("faces/_noface"),
            configuration: .init(pacing: .realTime, imagesPerSecond: 20, dropsLateFrames: false))
        let clock = ContinuousClock()
        var count = 0
        let elapsed = try await clock.measure {
            for try await _ in source.frames() { count += 1 }
        }
        #expect(count == 6)
        #expect(elapsed >= .milliseconds(245))
    }
}

@Suite(.timeLimit(.minutes(5)))
struct ReplayVideoTests {
    @Test func decodesEveryFrameOfASmallClip() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("video/face_api_js_video.mp4"), configuration: .init(pacing: .asFastAsPossible))
        var frames: [Frame] = []
        for try await frame in source.frames() { frames.append(frame) }

        #expect(frames.count == 5)
        for frame in frames {
            #expect(frame.image.width == 820 && frame.image.height == 460 && frame.image.layout == .rgb24)
        }
        // 23.976 fps: about 41.7 ms apart in media time.
        let step = frames[1].timestamp - frames[0].timestamp
        #expect(step > .milliseconds(41) && step < .milliseconds(42))
        // Real pictures, not blank buffers.
        #expect(Set(frames[0].image.pixels.prefix(50_000)).count > 50)
    }

    @Test("a truncated video gives the frames it holds, then an error saying it is damaged", arguments: [
        "pad/bonafide/lestari15__real.mp4", "pad/bonafide/zubair__real.mov",
    ])
    func aTruncatedVideoIsAClearError(clip: String) async throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: TestData.path(clip)))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-cut-\(UUID().uuidString.prefix(8))-\((clip as NSString).lastPathComponent)")
        try whole.prefix(whole.count / 6).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let source = try ReplayFrameSource(path: cut.path, configuration: .init(pacing: .asFastAsPossible))
        var frames = 0
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in source.frames() { frames += 1 }
        }
        #expect(frames > 0, "what the file holds is still delivered")
        #expect(error?.code == .decodeFailed && error?.message.contains("damaged or truncated") == true, "\(String(describing: error))")
        #expect(error?.message.contains(cut.lastPathComponent) == false, "the video's path is the configuration's")
    }

    @Test func decodesTheHamiltonClipAsGray() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("video/short_hamilton_clip.mp4"),
            configuration: .init(pacing: .asFastAsPossible, layout: .gray8))
        var count = 0
        var last: Frame?
        for try await frame in source.frames() {
            #expect(frame.image.width == 640 && frame.image.height == 360 && frame.image.layout == .gray8)
            if let last { #expect(frame.sequence == last.sequence + 1 && frame.timestamp > last.timestamp) }
            last = frame
            count += 1
        }
        // 275 frames at 29.97 fps per its manifest, each delivered once.
        #expect(count == 275)
    }

    @Test func stoppingEarlyIsClean() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("video/facenet_pytorch_video.mp4"), configuration: .init(pacing: .asFastAsPossible))
        var count = 0
        for try await frame in source.frames() {
            #expect(frame.image.width == 1920)
            count += 1
            if count == 3 { break }
        }
        #expect(count == 3)
    }

    @Test func aFileThatIsNotAVideoIsAClearError() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/clip.mp4"
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: path))
        let source = try ReplayFrameSource(path: path)
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in source.frames() {}
        }
        #expect(error?.code == .decodeFailed)
        // ffprobe's words start with the file's path, which is configuration: not passed on.
        let message = try #require(error?.message)
        #expect(!message.contains(path) && message.contains("camera.replay_path"), "\(message)")
    }

    /// ffprobe's errors are not piped: a damaged file that makes it write more than a pipe holds (64 KiB)
    /// before its answer hung the open for ever, stdout read to its end while ffprobe waited on stderr
    /// (review). An ffprobe that writes 200 KB of errors first, then answers, is waited for here at most
    /// 20 s: the errors written whole is the proof (a full pipe stops the writer, which `timeout` ends).
    @Test func anFFprobeThatWritesManyErrorsDoesNotHangTheOpen() async throws {
        let folder = try TemporaryFolder("ffprobe-errors")
        defer { folder.remove() }
        try FileManager.default.createSymbolicLink(atPath: folder.file("ffmpeg"), withDestinationPath: "/usr/bin/ffmpeg")
        let script = """
            #!/bin/sh
            timeout 20 sh -c 'head -c 200000 /dev/zero | tr "\\0" x >&2' && touch '\(folder.file("errors-written"))'
            exec /usr/bin/ffprobe "$@"
            """
        try script.write(toFile: folder.file("ffprobe"), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.file("ffprobe"))
        let source = try ReplayFrameSource(
            path: TestData.path("video/short_hamilton_clip.mp4"), configuration: .init(ffmpegPath: folder.file("ffmpeg")))
        var frames = 0
        for try await _ in source.frames() {
            frames += 1
            break
        }
        #expect(frames == 1)
        #expect(FileManager.default.fileExists(atPath: folder.file("errors-written")), "ffprobe's errors were not taken: it waited on a full pipe")
    }

    @Test func aMissingFFmpegIsAClearError() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("video/face_api_js_video.mp4"),
            configuration: .init(ffmpegPath: "/nonexistent/ffmpeg"))
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in source.frames() {}
        }
        #expect(error?.code == .processFailed)
    }

    @Test func realTimeDropsFramesASlowConsumerMissed() async throws {
        let source = try ReplayFrameSource(
            path: TestData.path("video/short_hamilton_clip.mp4"), configuration: .init(pacing: .realTime))
        var sequences: [UInt64] = []
        for try await frame in source.frames() {
            sequences.append(frame.sequence)
            if sequences.count == 3 { break }
            // Much slower than the clip's 33 ms a frame.
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(sequences.count == 3)
        #expect(sequences.last! >= 4, "a consumer 6x too slow must see gaps, saw \(sequences)")
    }
}
