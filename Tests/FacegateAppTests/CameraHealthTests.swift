import AsyncHTTPClient
@testable import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// `/health` judges the camera by the frames it delivers, not by how fast they are analysed: a slow
/// quality core (a small box, or emulation) is not a failed camera, while a camera that stops
/// sending is one once the silence passes its limit.
@Suite(.timeLimit(.minutes(1)))
struct CameraHealthTests {
    /// The scripted analyzer, taking `seconds` over every frame as a slow box would.
    struct SlowAnalyzer: FrameAnalyzing {
        let seconds: Double
        let scripted = ScriptedAnalyzer()

        func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
            Thread.sleep(forTimeInterval: seconds)
            return try scripted.analyze(image, plan: plan, descriptorLimit: descriptorLimit)
        }

        func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
            try scripted.descriptor(of: face, in: image)
        }
    }

    /// A door whose every frame takes 1.2 s to analyse, with a camera silence limit of 0.7 s; `body`
    /// gets the camera's health on demand and the source (start it, release it).
    private func withSlowDoor(
        analysisLimit: Duration = .seconds(15), wallClock: @escaping @Sendable () -> Date = { Date() },
        _ body: (_ camera: () async throws -> DoorHealthReport.Component, _ source: HeldSource, _ service: DoorControllerService) async throws -> Void
    ) async throws {
        let temporary = try TemporaryFolder("camera-health")
        defer { temporary.remove() }
        let folder = temporary.url
        let logger = Logger.quiet("camera-health")

        var configuration = FacegateConfiguration()
        configuration.door.name = "camera health"
        configuration.door.tags = ["staff"]
        // Not the system's socket: tests run side by side.
        configuration.control.socket = nil
        // Every frame analysed: the scene's frames are all alike, which the motion gate would skip.
        configuration.motion.enabled = false
        configuration.offlineCache.enabled = false
        configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, logger: logger)
        let journal = SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger)
        let cloud = HeldCloud()
        // Three empty frames at once, then nothing: the camera goes quiet.
        let source = HeldSource(SynthesizedApproach(empty: 3, present: 0, after: 0))
        let parts = DoorParts(
            source: source, analyzer: SlowAnalyzer(seconds: 1.2), search: cloud, directory: cloud, cache: nil, door: door, journal: journal,
            close: {})
        let listening = AsyncStream<Int>.makeStream()
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        // Well under one analysis: judged by analysed frames, the camera would fail between every two.
        settings.cameraSilenceLimit = .milliseconds(700)
        settings.analysisLimit = analysisLimit
        settings.wallClock = wallClock
        settings.onStatusServerListening = { port in listening.continuation.yield(port) }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = httpClient.shutdown() }

        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            var ports = listening.stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            func camera() async throws -> DoorHealthReport.Component {
                let response = try await httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                return try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(String(buffer: body).utf8)).camera
            }
            try await body(camera, source, service)
            trigger.triggerGracefulShutdown()
            source.release.finish()
            try await running.value
        }
    }

    @Test("a frame in a slow analysis keeps the camera ok; a camera that stops sending is failed after the silence")
    func aSlowAnalysisIsNotASilentCamera() async throws {
        try await withSlowDoor { camera, source, service in
            source.start.finish()
            // Three frames of 1.2 s each: asked every 300 ms meanwhile, the camera is ok every time.
            let clock = ContinuousClock()
            let analysing = clock.now
            var answers: [DoorHealthReport.Status] = []
            while clock.now - analysing < .milliseconds(3300) {
                try await Task.sleep(for: .milliseconds(300))
                answers.append(try await camera().status)
            }
            #expect(answers.count >= 5 && answers.allSatisfy { $0 == .ok }, "while frames were being analysed: \(answers)")

            // The third frame analysed and no fourth coming: failed once the silence passes 0.7 s.
            try await Task.sleep(for: .milliseconds(1500))
            let quiet = try await camera()
            #expect(quiet.status == .failed, "\(quiet)")
            #expect(quiet.lastError?.contains("no frame for over") == true, "\(quiet)")
            #expect(await service.pipeline.statistics.framesAnalysed == 3)
        }
    }

    /// The camera's silence is measured on the steady clock: a wall clock set back an hour just after
    /// the last frame does not keep a camera that stopped sending ok for that hour.
    @Test("a wall clock set back after the last frame does not keep a silent camera ok")
    func aClockSetBackDoesNotHideASilentCamera() async throws {
        let setBack = SetOnceFlag()
        // An hour ahead while the frames come, then put right: set back by an hour.
        try await withSlowDoor(wallClock: { setBack.isSet ? Date() : Date().addingTimeInterval(3600) }) { camera, source, service in
            source.start.finish()
            // The third and last frame has arrived (its 1.2 s analysis begun): the clock is set back.
            while await service.pipeline.statistics.framesAnalysed < 3 { try await Task.sleep(for: .milliseconds(50)) }
            setBack.set()
            // Past that analysis and the 0.7 s silence: failed, as with a clock left alone.
            try await Task.sleep(for: .milliseconds(2500))
            let quiet = try await camera()
            #expect(quiet.status == .failed, "\(quiet)")
            #expect(quiet.lastError?.contains("no frame for over") == true, "\(quiet)")
        }
    }

    @Test("a frame in analysis past the analysis limit is a failure: the quality core is hung")
    func anAnalysisPastItsLimitIsAFailure() async throws {
        try await withSlowDoor(analysisLimit: .milliseconds(400)) { camera, source, _ in
            source.start.finish()
            // 0.9 s into the first frame's 1.2 s: past both the silence (0.7 s) and the analysis limit.
            try await Task.sleep(for: .milliseconds(900))
            let hung = try await camera()
            #expect(hung.status == .failed, "\(hung)")
            #expect(hung.lastError?.contains("quality core is hung") == true, "\(hung)")
        }
    }
    /// A camera whose first run fails at once (its udev link not there yet), then sends three frames and
    /// goes silent (unplugged weeks later) until the door stops.
    final class FailsOnceThenGoesSilent: FrameSource {
        struct NotThereYet: Error, CustomStringConvertible {
            var description: String { "cannot open the camera: No such file or directory" }
        }
        private let runs = Mutex(0)
        let stopped = SetOnceFlag()

        func frames() -> AsyncThrowingStream<Frame, any Error> {
            let run = runs.withLock { runs in
                runs += 1
                return runs
            }
            if run == 1 { return AsyncThrowingStream { $0.finish(throwing: NotThereYet()) } }
            let stopped = stopped
            return AsyncThrowingStream { continuation in
                let task = Task {
                    for try await frame in SynthesizedApproach(empty: 3, present: 0, after: 0).frames() { continuation.yield(frame) }
                    while !Task.isCancelled, !stopped.isSet { try? await Task.sleep(for: .milliseconds(50)) }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        }
    }

    /// A door on `source` (its outages told to `outages`) with a 1 s camera silence limit and a pause (300 ms
    /// unless said) before a failed camera is run again; `body` gets the camera's health on demand and the service.
    private func withDoor(
        source: any FrameSource, outages: CameraOutages = CameraOutages(), captureRestartDelay: Duration = .milliseconds(300),
        _ body: (_ camera: () async throws -> DoorHealthReport.Component, _ service: DoorControllerService) async throws -> Void
    ) async throws {
        let temporary = try TemporaryFolder("camera-health")
        defer { temporary.remove() }
        let folder = temporary.url
        let logger = Logger.quiet("camera-health")
        var configuration = FacegateConfiguration()
        configuration.door.name = "camera health"
        configuration.door.tags = ["staff"]
        configuration.control.socket = nil
        configuration.motion.enabled = false
        configuration.offlineCache.enabled = false
        configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, logger: logger)
        let journal = SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger)
        let cloud = HeldCloud()
        var parts = DoorParts(
            source: source, analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: nil, door: door, journal: journal, close: {})
        parts.cameraOutages = outages
        let listening = AsyncStream<Int>.makeStream()
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.cameraSilenceLimit = .seconds(1)
        settings.captureRestartDelay = captureRestartDelay
        settings.onStatusServerListening = { port in listening.continuation.yield(port) }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = httpClient.shutdown() }

        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            var ports = listening.stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            func camera() async throws -> DoorHealthReport.Component {
                let response = try await httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                return try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(String(buffer: body).utf8)).camera
            }
            try await body(camera, service)
            trigger.triggerGracefulShutdown()
            (source as? FailsOnceThenGoesSilent)?.stopped.set()
            try await running.value
        }
    }

    /// `/health` says why the camera stopped now, not why it failed long before: a first open that failed
    /// (the door then started on the second) is over once a frame came, and a silence after it is said as a
    /// silence, since its last frame. Before, the first failure stayed, and a camera unplugged weeks later
    /// showed "cannot open the camera" since the boot.
    @Test("a camera failure is cleared by the frames after it: a later silence is said as one, since its last frame")
    func aFailureBeforeTheFramesIsNotShownForALaterSilence() async throws {
        // The second open over a second after the first failed: the two are in different whole seconds, which
        // is all /health's times say.
        try await withDoor(source: FailsOnceThenGoesSilent(), captureRestartDelay: .milliseconds(1100)) { camera, service in
            while await service.pipeline.statistics.frames < 3 { try await Task.sleep(for: .milliseconds(50)) }
            let lastFrame = try #require(await service.pipeline.healthFacts.lastFrame)
            // Past the 1 s silence limit.
            try await Task.sleep(for: .milliseconds(1800))
            let silent = try await camera()
            #expect(silent.status == .failed, "\(silent)")
            #expect(silent.lastError == "no frame for over 1 s", "\(silent)")
            // /health's times are whole seconds (ISO 8601), so the pipeline's own last frame is compared
            // at that precision: a tolerance around the test's own clock failed on a slow machine.
            let since = try #require(silent.since)
            let lastFrameSecond = Date(timeIntervalSinceReferenceDate: lastFrame.timeIntervalSinceReferenceDate.rounded(.down))
            #expect(since == lastFrameSecond, "since the last frame, not the first failure: \(since) vs \(lastFrame)")
        }
    }

    /// A V4L2 camera lost (here: at a path it cannot open, an I/O failure, so it keeps trying) is said with
    /// the capture layer's reason, which names no path, while the door waits for it.
    @Test("a lost V4L2 camera is said on /health with its reason and no path")
    func aLostV4L2CameraIsSaidWithItsReason() async throws {
        let temporary = try TemporaryFolder("camera-health-v4l2")
        defer { temporary.remove() }
        let folder = temporary.url
        let file = folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: file)
        var camera = FacegateConfiguration().camera
        // Under a regular file: ENOTDIR, which the camera treats as an outage (not "no such camera").
        camera.device = file.appendingPathComponent("video0").path
        let logger = Logger.quiet("camera-health")
        let outages = CameraOutages()
        let source = try DoorParts.frameSource(camera, needsColour: false, logger: logger, onStatus: { outages.note($0) })
        try await withDoor(source: source, outages: outages) { camera, _ in
            let clock = ContinuousClock()
            let started = clock.now
            var said = try await camera()
            while said.lastError?.contains("the camera was lost") != true, clock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(100))
                said = try await camera()
            }
            #expect(said.status == .failed, "\(said)")
            #expect(said.lastError?.contains("cannot open the camera: Not a directory") == true, "\(said)")
            #expect(said.lastError?.contains(folder.path) == false && said.lastError?.contains("video0") == false, "\(said)")
        }
    }
}
