import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateOfflineCache
import FacegatePolicy
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
        /// Where the demo's lines go.
        public var print: @Sendable (String) -> Void

        public init(
            media: DemoMedia, modelsDirectory: String?, stateDirectory: URL, realTime: Bool,
            print: @escaping @Sendable (String) -> Void
        ) {
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

    private func run(cloud: EmulatedNEC, httpClient: HTTPClient, frames: DlibFaceAnalyzer, logger: Logger) async throws -> Summary {
        let say = options.print
        let client = NECIDClient(configuration: cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4))), httpClient: httpClient)
        // A kept state folder already has the tag.
        if try await !client.listTags().contains("staff") {
            try await client.createTag("staff")
        }
        let enrolled = try await client.registerSubject(face: try options.media.bytes("obama.jpg"), tags: ["staff"])
        say("enrolled obama.jpg as subject \(enrolled.id) with tag staff (face quality \(String(format: "%.2f", enrolled.attributes.faceQualityScore)))")

        let journalPath = options.stateDirectory.appendingPathComponent("journal.sqlite").path
        let journal = SQLiteJournal(configuration: .init(path: journalPath), logger: logger)
        let keyPath = options.stateDirectory.appendingPathComponent("offline-cache.key").path
        let key: OfflineCacheKey
        if FileManager.default.fileExists(atPath: keyPath) {
            key = try OfflineCacheKey.load(path: keyPath)
        } else {
            key = try OfflineCacheKey.generate(to: keyPath)
        }
        let cache = try OfflineFaceCache(
            configuration: .init(path: options.stateDirectory.appendingPathComponent("offline-cache.sqlite").path), key: key,
            logger: logger)
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(3)), logger: logger)
        var demoConfiguration = FacegateConfiguration()
        demoConfiguration.door.name = "demo door"
        let policy = demoConfiguration.doorPolicy
        let obama = DemoScene.Visitor(
            name: "Barack Obama (obama2.jpg, enrolled from another photo)", portrait: try options.media.image("obama2.jpg"))
        let biden = DemoScene.Visitor(name: "Joe Biden (biden.jpg, not enrolled)", portrait: try options.media.image("biden.jpg"))
        let search = NECFaceSearch(client: client, tags: ["staff"])

        var summary = Summary()
        summary.journalPath = journalPath
        let events = await door.events()
        // The door, its event log and the journal writer run beside the two scenes.
        let background = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await journal.run() }
                group.addTask { try? await door.run() }
                group.addTask {
                    for await event in events {
                        if case .unlocked = event { say("  door: relay energised, unlocked") }
                        if case .locked = event { say("  door: relay released, locked") }
                    }
                }
                group.addTask { await journalDoorEvents(of: door, named: policy.door, into: journal) }
            }
        }
        defer { background.cancel() }

        say("the cloud is up: two people walk up to the door, one after the other (threshold \(Int(policy.threshold)) of 9999)")
        let online = try await phase(
            DemoScene(visitors: [obama, biden], realTime: options.realTime), search: search, cache: cache, door: door,
            journal: journal, policy: policy, frames: frames, logger: logger)
        say("the cloud goes down (the emulator stops): the door decides from its offline cache, more strictly")
        await cloud.stop()
        let offline = try await phase(
            DemoScene(visitors: [obama, biden], realTime: options.realTime), search: search, cache: cache, door: door,
            journal: journal, policy: policy, frames: frames, logger: logger)
        summary.outcomes = online.outcomes + offline.outcomes
        var statistics = online.statistics
        statistics.frames += offline.statistics.frames
        statistics.visits += offline.statistics.visits
        statistics.cloudCalls += offline.statistics.cloudCalls
        statistics.unlocks += offline.statistics.unlocks
        summary.statistics = statistics
        // Give the door its pulse time, then stop everything.
        let settle: Duration = options.realTime ? .milliseconds(3500) : .milliseconds(200)
        try await Task.sleep(for: settle)
        try await journal.flush()
        background.cancel()
        await background.value
        summary.relayChanges = lines.relayChanges
        let stats = summary.statistics
        say(
            """
            summary: \(stats.frames) frames, \(stats.visits) visits, \(stats.cloudCalls) cloud calls \
            (one per visit that passed the quality gate), \(stats.unlocks) unlocks; \
            decisions journaled in \(journalPath) (see them with: facegate log --database \(journalPath))
            """)
        return summary
    }

    /// One scene through a fresh pipeline; decisions are printed as they are made.
    private func phase(
        _ scene: DemoScene, search: NECFaceSearch, cache: OfflineFaceCache, door: DoorController, journal: SQLiteJournal,
        policy: DoorPolicy, frames: DlibFaceAnalyzer, logger: Logger
    ) async throws -> (outcomes: [DemoOutcome], statistics: PipelineStatistics) {
        let pipeline = GatePipeline(
            source: scene, analyzer: frames, search: search, offline: cache, door: door, journal: journal, policy: policy,
            settings: .init(door: policy.door, approach: ApproachConfiguration(), decisionDeadline: .seconds(6)),
            logger: logger)
        let decisions = await pipeline.decisions()
        let running = Task { try await pipeline.run() }
        var outcomes: [DemoOutcome] = []
        for await outcome in decisions {
            let who = scene.visitor(atFrame: outcome.bestFrameSequence)
            outcomes.append(DemoOutcome(visitor: who, outcome: outcome))
            options.print(Self.describe(outcome, who: who))
        }
        try await running.value
        return (outcomes, await pipeline.statistics)
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
            let seconds = Double(value.components.seconds)
            let fraction = Double(value.components.attoseconds) / 1e18
            let milliseconds = Int(((seconds + fraction) * 1000).rounded())
            return "\(milliseconds) ms"
        }
        line += " [quality \(ms(l.quality)), cloud \(ms(l.cloud)), relay \(ms(l.relay)), total \(ms(l.total))]"
        if !outcome.cloudCalled { line += " (no cloud call)" }
        return line
    }
}
