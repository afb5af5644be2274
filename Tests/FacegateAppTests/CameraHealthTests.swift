import AsyncHTTPClient
import FacegateApp
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
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("camera-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logger = Logger(label: "camera-health")
        logger.logLevel = .critical

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
}
