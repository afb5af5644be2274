import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateOfflineCache
import FacegateQuality
import Foundation
import Logging

/// The product on built-in defaults: the real pipeline, fed by synthesized approaches from the
/// bundled portraits, searching the NEC ID emulator (started here, with one person enrolled),
/// opening a simulated door and journaling to SQLite in a temporary state folder.
public struct DoorDemo: Sendable {
    public struct Options: Sendable {
        public var media: DemoMedia
        public var modelsDirectory: String?
        public var stateDirectory: URL
        public var realTime: Bool
        /// Where the kiosk page is served (port 0: a free one), or nil for none.
        public var kiosk: ListenAddress?
        /// Where the demo's lines go.
        public var print: @Sendable (String) -> Void

        public init(
            media: DemoMedia, modelsDirectory: String?, stateDirectory: URL, realTime: Bool, kiosk: ListenAddress? = nil,
            print: @escaping @Sendable (String) -> Void
        ) {
            self.kiosk = kiosk
            self.media = media
            self.modelsDirectory = modelsDirectory
            self.stateDirectory = stateDirectory
            self.realTime = realTime
            self.print = print
        }
    }

    /// What happened, for the summary and tests.
    public struct Summary: Sendable {
        public var outcomes: [DemoOutcome] = []
        public var statistics = PipelineStatistics()
        public var relayChanges = 0
        public var journalPath: String = ""
    }

    /// One decision, with who the scene had at the door.
    public struct DemoOutcome: Sendable {
        public var visitor: String?
        public var outcome: GateOutcome
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run() async throws -> Summary {
        let say = options.print
        var logger = Logger(label: "facegate.demo")
        // The demo prints its own account of each decision; the daemon's log lines would repeat it.
        logger.logLevel = .warning
        let models = try FaceModels.locate(options.modelsDirectory)
        let engine = try FaceEngine(models: models)
        let frames = DlibFaceAnalyzer(engine: engine)
        let stills = DlibFaceAnalyzer(engine: engine, configuration: .stillImage)
        try FileManager.default.createDirectory(at: options.stateDirectory, withIntermediateDirectories: true)

        say("starting the NEC ID emulator on loopback (state in \(options.stateDirectory.path)/nec-emulator)")
        var emulatorLogger = Logger(label: "facegate.emulator.necid")
        // The emulator's own chatter (listening, shutting down) is not the demo's story.
        emulatorLogger.logLevel = .critical
        let cloud = try await EmulatedNEC.start(
            stateDirectory: options.stateDirectory.appendingPathComponent("nec-emulator"), analyzer: stills,
            logger: emulatorLogger)
        let httpClient = NECIDClient.makeHTTPClient()
        do {
            let summary = try await run(cloud: cloud, httpClient: httpClient, frames: frames, logger: logger)
            await cloud.stop()
            try await httpClient.shutdown()
            return summary
        } catch {
            await cloud.stop()
            try? await httpClient.shutdown()
            throw error
        }
    }

    // Swift 6.3's optimiser crashes (LLVM coroutine splitting, swifterror) on this function in release
    // builds; it only wires the demo together, so it is left unoptimised.
    @_optimize(none)
    private func run(cloud: EmulatedNEC, httpClient: HTTPClient, frames: DlibFaceAnalyzer, logger: Logger) async throws -> Summary {
        let say = options.print
        let client = NECIDClient(configuration: cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4))), httpClient: httpClient)
        // A kept state folder already has the tag.
        let tags = try await client.listTags()
        if !tags.contains("staff") {
            try await client.createTag("staff")
        }
        let registration = try await client.registerSubject(face: try options.media.bytes("obama.jpg"), tags: ["staff"])
        let enrolledID = registration.id
        let quality = registration.attributes.map { String(format: "%.2f", $0.faceQualityScore) } ?? "not given"
        say("enrolled obama.jpg as subject \(enrolledID) with tag staff (face quality \(quality))")

        // The daemon's own configuration, on built-in defaults but for where its files go.
        let state = options.stateDirectory
        var configuration = FacegateConfiguration()
        configuration.modelsDirectory = options.modelsDirectory
        configuration.door.name = "demo door"
        configuration.door.tags = ["staff"]
        configuration.journal.path = state.appendingPathComponent("journal.sqlite").path
        configuration.offlineCache.path = state.appendingPathComponent("offline-cache.sqlite").path
        let keyPath = state.appendingPathComponent("offline-cache.key").path
        if !FileManager.default.fileExists(atPath: keyPath) { try OfflineCacheKey.generate(to: keyPath) }
        configuration.offlineCache.key = .file(keyPath)
        // The demo's visitors are photos carried up to the camera, which is exactly what the liveness
        // stage refuses: it is off here, and `facegate liveness` shows it at work.
        configuration.liveness.enabled = false
        say("liveness check off: the demo's visitors are photos walked up to the camera (try: facegate liveness FILE)")
        // The demo is not the box's daemon: `facegate status` is for that one.
        configuration.control.socket = nil
        if let kiosk = options.kiosk {
            configuration.kiosk.enabled = true
            configuration.kiosk.listen = kiosk
            configuration.kiosk.displayNames = [enrolledID: "Barack"]
        }
        let policy = configuration.doorPolicy

        let obama = DemoScene.Visitor(
            name: "Barack Obama (obama2.jpg, enrolled from another photo)", portrait: try options.media.image("obama2.jpg"))
        let biden = DemoScene.Visitor(name: "Joe Biden (biden.jpg, not enrolled)", portrait: try options.media.image("biden.jpg"))
        let decided = DecisionCount()
        let scene = DemoScene(visitors: [obama, biden, obama, biden], realTime: options.realTime) { index in
            guard index == 2 else { return }
            // The first two are decided with the cloud up; then it goes away.
            await decided.wait(for: 2)
            say("the cloud goes down (the emulator stops): the door decides from its offline cache, more strictly")
            await cloud.stop()
        }
        let lines = SimulatedDoorLines(logger: logger)
        let parts = try DoorParts.open(
            configuration, overrides: .init(source: scene, search: NECFaceSearch(client: client), doorLines: lines), logger: logger)
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        if let kiosk = options.kiosk {
            let host = kiosk.host.contains(":") ? "[\(kiosk.host)]" : kiosk.host
            settings.onKioskListening = { port in
                say("kiosk: watch the door decide at http://\(host):\(port)/ (with --real-time to see it at a camera's pace)")
            }
        }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]),
            logger: logger, loadConfiguration: { [configuration] in configuration })
        let decisions = await service.pipeline.decisions()
        let events = await parts.door.events()
        let relayLog = Task {
            for await event in events {
                if case .unlocked = event { say("  door: relay energised, unlocked") }
                if case .locked = event { say("  door: relay released, locked") }
            }
        }
        say("the cloud is up: two people walk up to the door, one after the other (threshold \(Int(policy.threshold)) of 9999)")
        let running = Task { try await service.run() }
        var summary = Summary()
        summary.journalPath = configuration.journal.path
        for await outcome in decisions {
            let who = scene.visitor(atFrame: outcome.bestFrameSequence)
            summary.outcomes.append(DemoOutcome(visitor: who, outcome: outcome))
            say(Self.describe(outcome, who: who))
            await decided.add()
        }
        try await running.value
        relayLog.cancel()
        summary.statistics = await service.pipeline.statistics
        summary.relayChanges = lines.relayChanges
        let stats = summary.statistics
        say(
            """
            summary: \(stats.frames) frames, \(stats.visits) visits, \(stats.cloudCalls) cloud calls \
            (at most one per visit; none while the cloud is known to be away), \(stats.unlocks) unlocks; \
            decisions journaled in \(summary.journalPath) (see them with: facegate log --database \(summary.journalPath))
            """)
        return summary
    }

    static func describe(_ outcome: GateOutcome, who: String?) -> String {
        let d = outcome.record.decision
        var line = "visit \(outcome.visitNumber): \(who ?? "someone") -> \(d.outcome.rawValue)"
        if let subject = d.subjectId { line += ", subject \(subject)" }
        if let score = d.bestScore {
            if d.scoreUnit == .descriptorDistance {
                line += ", distance " + String(format: "%.2f", score)
                if let limit = d.threshold { line += " (limit " + String(format: "%.2f", limit) + ")" }
            } else {
                line += ", score \(Int(score.rounded()))"
                if let threshold = d.threshold { line += " (threshold \(Int(threshold)))" }
            }
        }
        line += "; \(d.reason)"
        let l = outcome.record.latencies
        func ms(_ value: Duration?) -> String {
            guard let value else { return "-" }
            return "\(Int(value.milliseconds.rounded())) ms"
        }
        line += " [quality \(ms(l.quality)), cloud \(ms(l.cloud)), relay \(ms(l.relay)), total \(ms(l.total))]"
        if !outcome.cloudCalled { line += " (no cloud call)" }
        return line
    }
}

/// Decisions seen so far, for a scene that waits for some before it goes on.
actor DecisionCount {
    private var count = 0
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

    func add() {
        count += 1
        let ready = waiters.filter { $0.0 <= count }
        waiters.removeAll { $0.0 <= count }
        for (_, waiter) in ready { waiter.resume() }
    }

    func wait(for target: Int) async {
        if count >= target { return }
        await withCheckedContinuation { waiters.append((target, $0)) }
    }
}
