import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
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
        public var outcomes: [(visitor: String?, outcome: GateOutcome)] = []
        public var statistics = PipelineStatistics()
        public var relayChanges = 0
        public var journalPath: String = ""
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run() async throws -> Summary {
        let say = options.print
        let logger = Logger(label: "facegate.demo")
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
        do {
            try await client.createTag("staff")
        } catch where error.code == .duplicate {
            // A kept state folder already has it.
        }
        let enrolled = try await client.registerSubject(face: try options.media.bytes("obama.jpg"), tags: ["staff"])
        say("enrolled obama.jpg as subject \(enrolled.id) with tag staff (face quality \(String(format: "%.2f", enrolled.attributes.faceQualityScore)))")

        let journalPath = options.stateDirectory.appendingPathComponent("journal.sqlite").path
        let journal = SQLiteJournal(configuration: .init(path: journalPath), logger: logger)
        let lines = SimulatedDoorLines(logger: Logger(label: "facegate.door.simulated"))
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(3)), logger: logger)
        var demoConfiguration = FacegateConfiguration()
        demoConfiguration.door.name = "demo door"
        let policy = demoConfiguration.doorPolicy
        let scene = DemoScene(
            visitors: [
                .init(name: "Barack Obama (obama2.jpg, enrolled from another photo)", portrait: try options.media.image("obama2.jpg")),
                .init(name: "Joe Biden (biden.jpg, not enrolled)", portrait: try options.media.image("biden.jpg")),
            ],
            realTime: options.realTime)
        let pipeline = GatePipeline(
            source: scene, analyzer: frames, search: NECFaceSearch(client: client, tags: ["staff"]), offline: nil,
            door: door, journal: journal, policy: policy,
            settings: .init(door: policy.door, approach: ApproachConfiguration(), decisionDeadline: .seconds(6)),
            logger: logger)

        say("\(scene.visitors.count) people walk up to the door, one after the other; threshold \(Int(policy.threshold)) of 9999")
        var summary = Summary()
        summary.journalPath = journalPath
        let decisions = await pipeline.decisions()
        let events = await door.events()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            group.addTask { try await door.run() }
            group.addTask {
                for await event in events {
                    if case .unlocked = event { say("  door: relay energised, unlocked") }
                    if case .locked = event { say("  door: relay released, locked") }
                }
            }
            group.addTask { await journalDoorEvents(of: door, named: policy.door, into: journal) }
            group.addTask { try await pipeline.run() }
            for await outcome in decisions {
                let who = scene.visitor(atFrame: outcome.bestFrameSequence)
                summary.outcomes.append((who, outcome))
                say(Self.describe(outcome, who: who))
            }
            // The scene is over: give the door its pulse time, then stop everything.
            try await Task.sleep(for: .seconds(options.realTime ? 3.5 : 0.2))
            try await journal.flush()
            group.cancelAll()
        }
        summary.statistics = await pipeline.statistics
        summary.relayChanges = lines.relayChanges
        let stats = summary.statistics
        say(
            """
            summary: \(stats.frames) frames, \(stats.visits) visits, \(stats.cloudCalls) cloud calls \
            (one per visit that passed the quality gate), \(stats.unlocks) unlocks; \
            decisions journaled in \(journalPath) (`facegate log --database \(journalPath)`)
            """)
        return summary
    }

    static func describe(_ outcome: GateOutcome, who: String?) -> String {
        let d = outcome.record.decision
        var line = "visit \(outcome.visitNumber): \(who ?? "someone") -> \(d.outcome.rawValue)"
        if let subject = d.subjectId { line += ", subject \(subject)" }
        if let score = d.bestScore {
            line += ", score \(Int(score.rounded()))"
            if let threshold = d.threshold { line += " (threshold \(Int(threshold)))" }
        }
        line += "; \(d.reason)"
        let l = outcome.record.latencies
        func ms(_ value: Duration?) -> String {
            guard let value else { return "-" }
            return String(format: "%.0f ms", (Double(value.components.seconds) + Double(value.components.attoseconds) / 1e18) * 1000)
        }
        line += " [quality \(ms(l.quality)), cloud \(ms(l.cloud)), relay \(ms(l.relay)), total \(ms(l.total))]"
        if !outcome.cloudCalled { line += " (no cloud call)" }
        return line
    }
}
