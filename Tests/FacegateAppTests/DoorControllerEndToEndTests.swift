import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateIdentify
import FacegateImageCodec
import FacegateJournal
import FacegateOfflineCache
import FacegateQuality
import Foundation
import Logging
import Synchronization
import Testing
import FacegateTesting

/// The door controller end to end: `DoorControllerService` with real photos walking up to the door
/// (synthesized approaches), the NEC ID emulator over loopback, the real offline cache and journal
/// in SQLite files, and the simulated relay.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DoorControllerEndToEndTests {
    static let testdata = SharedTestData.faces

    static func photo(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: testdata.appendingPathComponent(name)))
    }

    /// The enrolled person is enrolled from one photo and walks up in another.
    static let enrolledPhoto = "leonardo_dicaprio/01.jpg"
    static let enrolledWalksUp = "leonardo_dicaprio/03.jpg"
    static let strangerWalksUp = "stock_neutral_woman/01.jpg"

    @Test func anEnrolledPersonIsGrantedAndAStrangerDenied() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Self.enrolledPhoto)
            let run = try await rig.runDoor(visitors: [Self.enrolledWalksUp, Self.strangerWalksUp])
            try #require(run.outcomes.count == 2)
            #expect(run.outcomes[0].record.decision.outcome == .granted)
            #expect(run.outcomes[0].record.decision.subjectId == subject)
            #expect(run.outcomes[1].record.decision.outcome == .deniedUnknown)
            // One cloud call per visit, whatever the number of frames.
            #expect(run.statistics.frames > 100)
            #expect(run.searches == 2)
            #expect(run.relayChanges == 2, "one pulse: energised once, released once")
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.map(\.record.decision.outcome) == [.granted, .deniedUnknown])
            #expect(journaled[0].record.backend == "nec")
            #expect(journaled[0].record.decision.bestScore ?? 0 >= 7000)
            #expect(journaled[0].record.latencies.cloud != nil && journaled[0].record.latencies.total != nil)
        }
    }

    @Test func anEnrolledPersonOutsideTheScheduleIsDenied() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Self.enrolledPhoto)
            // Open on no day at all: every visit falls outside.
            rig.configuration.door.schedules = [
                AccessSchedule(
                    name: "never", scope: .everyone, timeZone: TimeZone(identifier: "UTC")!,
                    windows: [.init(weekdays: [], start: 0, end: 24 * 60)])
            ]
            let run = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(run.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            #expect(run.relayChanges == 0)
        }
    }

    /// A schedule by tag applies only if the search says the person carries the tag: NEC ID never returns
    /// tags, so the door's search proves its one tag; offline, the tags were cached with the face.
    @Test func aScheduleByTagHoldsOnlineAndOffline() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Self.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let cached = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(cached.outcomes.map(\.record.decision.outcome) == [.granted])
            // The staff may no longer come in at all (open on no day).
            rig.configuration.door.schedules = [
                AccessSchedule(
                    name: "staff never", scope: .tag("staff"), timeZone: TimeZone(identifier: "UTC")!,
                    windows: [.init(weekdays: [], start: 0, end: 24 * 60)])
            ]
            let online = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            #expect(online.relayChanges == 0)

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            #expect(offline.outcomes.first?.record.decision.offline == true)
            #expect(offline.relayChanges == 0)
        }
    }

    @Test func anApproachBelowTheQualityGateMakesNoCloudCall() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Self.enrolledPhoto)
            // Out of focus all the way to the door: a face is found, but never a usable one.
            let run = try await rig.runDoor(visitors: [Self.enrolledWalksUp], blurRadius: 6)
            #expect(run.outcomes.map(\.record.decision.outcome) == [.deniedQuality])
            let best = try #require(run.outcomes.first?.record.quality)
            #expect(best.faceQualityScore < rig.configuration.approach.qualityGate, "best face \(best.faceQualityScore), sharpness \(best.sharpness)")
            #expect(run.searches == 0)
            #expect(run.outcomes[0].cloudCalled == false)
            #expect(run.relayChanges == 0)
        }
    }

    @Test func theCloudDownDecidesFromTheCacheAndReChecksWhenItIsBack() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Self.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            // Online first: the grant puts the face in the offline cache.
            let online = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])
            #expect(try await rig.cache().cachedSubjectIds() == [subject])

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Self.enrolledWalksUp, Self.strangerWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.grantedOffline, .deniedOffline])
            #expect(offline.outcomes[0].record.decision.subjectId == subject)
            for outcome in offline.outcomes {
                let total = try #require(outcome.record.latencies.total)
                #expect(total < .seconds(3), "decided within the 2 s deadline, give or take the policy and relay")
            }
            #expect(offline.relayChanges == 2)
            #expect(try await rig.cache().pendingRechecks().count == 2)

            // While it is away, re-check rounds leave the offline decisions waiting, however many there are.
            for _ in 0..<2 {
                let waiting = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
                #expect(waiting.cloudUnavailable && waiting.journaled.isEmpty)
            }
            #expect(try await rig.cache().pendingRechecks().count == 2)

            // The cloud is back: both offline decisions are re-checked and the answers journaled.
            try await rig.startCloud()
            let report = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
            #expect(report.cloudUnavailable == false)
            #expect(report.journaled.map(\.outcome) == [.granted, .deniedUnknown])
            #expect(try await rig.cache().pendingRechecks().isEmpty)
            let journaled = try await rig.journaledDecisions().filter(\.record.decision.offline)
            #expect(journaled.map(\.recheckStatus) == [.confirmed, .confirmed])
        }
    }

    @Test func aRevokedSubjectIsPurgedAndThenDeniedOffline() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Self.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let online = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])

            try await rig.client.unregisterSubject(id: subject)
            let revoked = try await rig.maintenance().syncRevocations(policy: rig.configuration.doorPolicy)
            #expect(revoked == [subject])
            #expect(try await rig.cache().cachedSubjectIds().isEmpty)

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.relayChanges == 0)
        }
    }

    /// NEC ID never says which tags a subject carries: a subject re-registered under another tag after its
    /// face was cached must not keep opening the door offline under the old one.
    @Test func aSubjectMovedToAnotherTagIsPurgedAndThenDeniedOffline() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Self.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let online = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])
            // Enrolled just before the face was cached, and not changed since: kept.
            #expect(try await rig.maintenance().syncRevocations(policy: rig.configuration.doorPolicy).isEmpty)
            #expect(try await rig.cache().cachedSubjectIds() == [subject])

            try await rig.client.createTag("visitors")
            _ = try await rig.client.updateSubject(id: subject, face: try Self.photo(Self.enrolledPhoto), tags: ["visitors"])
            let revoked = try await rig.maintenance().syncRevocations(policy: rig.configuration.doorPolicy)
            #expect(revoked == [subject])
            #expect(try await rig.cache().cachedSubjectIds().isEmpty)

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.relayChanges == 0)
        }
    }

    @Test func aCloudThatFailsTheSearchIsAnErrorAndTheDoorStaysLocked() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Self.enrolledPhoto)
            // A tag that does not exist: NEC refuses the search (400), which is not an outage.
            rig.configuration.door.tags = ["no-such-tag"]
            let run = try await rig.runDoor(visitors: [Self.enrolledWalksUp])
            #expect(run.outcomes.map(\.record.decision.outcome) == [.error])
            #expect(run.outcomes.first?.record.decision.reason.contains("does not exist") == true)
            #expect(run.relayChanges == 0)
        }
    }
}

/// One door on a test bench: the emulator, the daemon's configuration and files in a temporary folder.
final class DoorRig: @unchecked Sendable {
    let folder: URL
    var configuration: FacegateConfiguration
    let stills: DlibFaceAnalyzer
    let httpClient: HTTPClient
    private(set) var cloud: EmulatedNEC
    private(set) var client: NECIDClient
    private var port = 0
    /// The door's log (warnings and worse by default; a test of what the log says captures it).
    var logger: Logger
    /// Whether the door learns the cloud's time from its replies (false: as if they carried no `Date`).
    var cloudStatesTime = true
    /// How far the door's wall clock reads from the true time (its decisions' dates, its schedules and
    /// its NEC ID signatures all read it).
    var wallClockError: TimeInterval = 0
    /// How often the door journals the clock's reading while the cloud's time vouches for it.
    var clockWitnessInterval: Duration = DoorControllerService.Settings().clockWitnessInterval
    /// The client a wrong wall clock signs with, kept while the error stays the same.
    private(set) var skewedClient: (error: TimeInterval, client: NECIDClient)?

    struct Run {
        var outcomes: [GateOutcome]
        var statistics: PipelineStatistics
        var searches: Int
        var relayChanges: Int
    }

    static func with(_ body: (DoorRig) async throws -> Void) async throws {
        let rig = try await DoorRig()
        do {
            try await body(rig)
        } catch {
            await rig.close()
            throw error
        }
        await rig.close()
    }

    private init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "facegate.e2e")
        logger.logLevel = .warning
        self.logger = logger
        stills = try TestFaceAnalyzers.stills()
        let httpClient = NECIDClient.makeHTTPClient()
        self.httpClient = httpClient
        let quiet = Logger.quiet("facegate.e2e.emulator")
        do {
            cloud = try await EmulatedNEC.start(stateDirectory: folder.appendingPathComponent("nec"), analyzer: stills, logger: quiet)
        } catch {
            // An HTTP client dropped without its shutdown traps: close it before giving up.
            try? await httpClient.shutdown()
            throw error
        }
        // The emulator is plain http on loopback, which states no time of its own accord: it stands for
        // the cloud over TLS here.
        client = NECIDClient(
            configuration: cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4))), httpClient: httpClient,
            cloudClock: CloudClock())
        port = Int(cloud.endpoint.split(separator: ":").last!)!

        configuration = FacegateConfiguration()
        // Tests that use the control socket give it a folder of their own.
        configuration.control.socket = nil
        // The scene's visitors are photos carried up to the camera, which the liveness stage refuses
        // (its own tests turn it on); these tests are about what happens after it.
        configuration.liveness.enabled = false
        configuration.door.name = "bench door"
        configuration.door.tags = ["staff"]
        configuration.door.pulse = .milliseconds(300)
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        configuration.offlineCache.path = folder.appendingPathComponent("offline-cache.sqlite").path
        let keyPath = folder.appendingPathComponent("offline-cache.key").path
        configuration.offlineCache.key = .file(keyPath)
        do {
            try OfflineCacheKey.generate(to: keyPath)
            try await client.createTag("staff")
        } catch {
            await cloud.stop()
            try? await httpClient.shutdown()
            throw error
        }
    }

    func close() async {
        await cloud.stop()
        try? await httpClient.shutdown()
        try? FileManager.default.removeItem(at: folder)
    }

    func enrol(_ photo: String) async throws -> String {
        try await client.registerSubject(face: try DoorControllerEndToEndTests.photo(photo), tags: ["staff"]).id
    }

    func stopCloud() async { await cloud.stop() }

    /// Starts the emulator again on the same port and state: the cloud comes back (answering registrations
    /// `registrationReplyDelay` after making them).
    func startCloud(registrationReplyDelay: Duration = .zero) async throws {
        let quiet = Logger.quiet("facegate.e2e.emulator")
        cloud = try await EmulatedNEC.start(
            stateDirectory: folder.appendingPathComponent("nec"), analyzer: stills, credentials: cloud.credentials,
            apiKey: cloud.apiKey, biometricPort: port, registrationReplyDelay: registrationReplyDelay, logger: quiet)
        // The emulator is plain http on loopback, which states no time of its own accord: it stands for
        // the cloud over TLS here.
        client = NECIDClient(
            configuration: cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4))), httpClient: httpClient,
            cloudClock: CloudClock())
    }

    /// The daemon, run over a scene of these people walking up one after another, until the scene ends.
    /// - Parameters:
    ///   - search: the cloud as the door sees it (default: the emulator, counted).
    ///   - lines: the door's wiring (default: a simulated door).
    ///   - cache: the offline cache open already (one the test keeps a hand on), instead of the door opening
    ///     its own; the door closes it at its stop, as its own.
    func runDoor(
        visitors photos: [String], blurRadius: Int = 0, search: (any FaceSearch & CloudDirectory)? = nil,
        lines: (any DoorLines)? = nil, cache: OfflineFaceCache? = nil
    ) async throws -> Run {
        try await runDoor(
            source: DemoScene(visitors: try visitors(photos, blurRadius: blurRadius)), search: search, lines: lines, cache: cache)
    }

    /// The scene's people, each photo made a head-and-shoulders portrait (blurred when asked).
    func visitors(_ photos: [String], blurRadius: Int = 0) throws -> [DemoScene.Visitor] {
        try photos.map { photo in
            var portrait = try portrait(photo)
            if blurRadius > 0 {
                // Blurred at about the size it has in the frame, so the blur survives the scaling.
                portrait = try portrait.rgb().resized(width: portrait.width * 480 / portrait.height, height: 480).boxBlurred(radius: blurRadius)
            }
            return DemoScene.Visitor(name: photo, portrait: portrait)
        }
    }

    /// The daemon, run over `source` (a replayed clip, a scene) until it ends.
    /// - Parameters:
    ///   - reloadsTo: what its configuration file says when it is reloaded (default: what it started with).
    ///   - started: given the service before it runs (a scene's hook reloads it, say).
    func runDoor(
        source: any FrameSource, search: (any FaceSearch & CloudDirectory)? = nil, lines: (any DoorLines)? = nil,
        reloadsTo reloaded: FacegateConfiguration? = nil, started: (@Sendable (DoorControllerService) -> Void)? = nil,
        cache: OfflineFaceCache? = nil
    ) async throws -> Run {
        let simulated = SimulatedDoorLines(logger: logger)
        let error = wallClockError
        let wallClock: @Sendable () -> Date = { Date().addingTimeInterval(error) }
        // A wrong clock signs wrongly too: the client then learns NEC ID's time from its refusal. It is
        // kept from run to run, as the daemon keeps its own, with what the cloud's replies told it.
        if error != 0, skewedClient?.error != error {
            skewedClient = (
                error,
                NECIDClient(
                    configuration: cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4))), httpClient: httpClient,
                    now: wallClock, cloudClock: CloudClock())
            )
        }
        let client = error == 0 ? self.client : skewedClient?.client ?? self.client
        let counting = CountingSearch(NECFaceSearch(client: client), statesTime: cloudStatesTime)
        var parts = try DoorParts.open(
            configuration,
            overrides: .init(
                source: source, search: search ?? counting, doorLines: lines ?? simulated,
                faceEngine: try TestFaceAnalyzers.video().engine),
            logger: logger)
        if let cache {
            await parts.cache?.close()
            parts.cache = cache
        }
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.wallClock = wallClock
        settings.clockWitnessInterval = clockWitnessInterval
        let configuration = self.configuration, fileSays = reloaded ?? configuration
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { fileSays })
        started?(service)
        let decisions = await service.pipeline.decisions()
        let running = Task { try await service.run() }
        var outcomes: [GateOutcome] = []
        for await outcome in decisions { outcomes.append(outcome) }
        try await running.value
        return Run(
            outcomes: outcomes, statistics: await service.pipeline.statistics, searches: counting.count,
            relayChanges: simulated.relayChanges)
    }

    func portrait(_ photo: String) throws -> PixelImage {
        try TestPortrait.headAndShoulders(try DoorControllerEndToEndTests.photo(photo), analyzer: stills)
    }

    func cache() throws -> OfflineFaceCache {
        try OfflineFaceCache(
            configuration: .init(path: configuration.offlineCache.path),
            key: try OfflineCacheKey.load(path: folder.appendingPathComponent("offline-cache.key").path))
    }

    /// The door's re-checks and revocation sync; `journal` and `cache` in place of the door's own (a
    /// failing disk), `apiKey` in place of the door's (a key the cloud refuses).
    func maintenance(
        journal: (any GateJournal)? = nil, cache: (any OfflineFaceStore)? = nil, apiKey: String? = nil,
        settings: OfflineMaintenance.Settings = .init()
    ) throws -> OfflineMaintenance {
        var searchClient = client
        if let apiKey {
            var refused = cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .seconds(4)))
            refused.apiKey = apiKey
            searchClient = NECIDClient(configuration: refused, httpClient: httpClient)
        }
        let search = NECFaceSearch(client: searchClient)
        return OfflineMaintenance(
            search: search, directory: search, cache: try cache ?? self.cache(),
            journal: journal ?? WritingJournal(SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger)),
            settings: settings, logger: logger)
    }

    func journaledDecisions() async throws -> [JournaledDecision] {
        var decisions: [JournaledDecision] = []
        try JournalReader(path: configuration.journal.path).forEachDecision(DecisionQuery()) { decisions.append($0) }
        return decisions.sorted { $0.record.time < $1.record.time }
    }
}

/// The real search, counted: how many cloud calls the door made.
final class CountingSearch: FaceSearch, CloudDirectory {
    let inner: NECFaceSearch
    let statesTime: Bool
    private let calls = Mutex(0)

    init(_ inner: NECFaceSearch, statesTime: Bool = true) {
        self.inner = inner
        self.statesTime = statesTime
    }

    var count: Int { calls.withLock { $0 } }
    var backendName: String { inner.backendName }
    var scoreUnit: ScoreUnit { inner.scoreUnit }

    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        calls.withLock { $0 += 1 }
        return try await inner.search(probe, policy: policy)
    }

    func revokedSubjects(among subjects: [String: Date], policy: DoorPolicy) async throws -> Set<String> {
        try await inner.revokedSubjects(among: subjects, policy: policy)
    }
}

extension CountingSearch: CloudReachability {
    /// The probe is not a search, so it is not counted.
    func checkReachable() async throws { try await inner.checkReachable() }
}

extension CountingSearch: CloudClockWitness {
    func cloudTime(at instant: RawMonotonicInstant) -> Date? { statesTime ? inner.cloudTime(at: instant) : nil }
}

/// A journal whose writer runs for as long as it is used (outside a service).
struct WritingJournal: GateJournal {
    let journal: SQLiteJournal
    private let writer: Task<Void, Never>

    init(_ journal: SQLiteJournal) {
        self.journal = journal
        writer = Task { await journal.run() }
    }

    func record(_ decision: DecisionRecord) -> Bool { journal.record(decision) }
    func record(_ event: DoorEventRecord) -> Bool { journal.record(event) }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { journal.recordRecheck(recheck) }
    func recordRelay(_ relay: RelayRecord) -> Bool { journal.recordRelay(relay) }
    func newestRecordTime() async throws -> Date? { try await journal.newestRecordTime() }
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] { try await journal.grants(atDoor: door, within: window, of: now) }
    func flush() async throws { try await journal.flush() }
}
