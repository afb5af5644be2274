import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateEmulators
import FacegateIdentify
import FacegateImageCodec
import FacegateJournal
import FacegateOfflineCache
import FacegateQuality
import FacegateTesting
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Testing

/// The door on NeoCheck FaceCheck: `facegate run`'s service against the NeoCheck emulator over
/// loopback, with the OAuth2 account from owner-only files and the client-side hourly budget.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct NeoCheckDoorTests {
    @Test func aListMemberIsGrantedAndVisitsBeyondTheHourlyBudgetDecideOffline() async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-door")
        defer { scratch.remove() }
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(analyzer: stills) { harness in
            try await Self.grantThenBudget(harness: harness, folder: scratch.url, stills: stills)
        }
    }

    static func grantThenBudget(harness: NeoCheckEmulatorHarness, folder: URL, stills: DlibFaceAnalyzer) async throws {
        // The installer's side: a face list with one person on it.
        let quiet = Logger.quiet("neocheck-door-test")
        let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
        let list = try await admin.createList(name: "front door")
        let member = try await admin.createRecord(
            NeoCheckNewFaceRecord(
                faceImage: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), name: "Leo",
                surname1: "Member", faceListId: list))

        var configuration = try NeoCheckDoor.configuration(harness: harness, folder: folder)
        // One granted visit an hour (its identification, the lookup confirming the record is enabled,
        // and the read of the name of the list it is in): the second visit finds the budget spent.
        configuration.backend.neoCheck.callsPerHour = 3
        configuration.offlineCache.enabled = true
        configuration.offlineCache.path = folder.appendingPathComponent("cache.sqlite").path
        let keyPath = folder.appendingPathComponent("cache.key").path
        try OfflineCacheKey.generate(to: keyPath)
        configuration.offlineCache.key = .file(keyPath)

        var logger = Logger(label: "neocheck-door")
        logger.logLevel = .warning
        let portrait = try TestPortrait.headAndShoulders(
            DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledWalksUp), analyzer: stills)
        let scene = DemoScene(visitors: [.init(name: "member", portrait: portrait), .init(name: "member again", portrait: portrait)])
        let lines = SimulatedDoorLines(logger: logger)
        let parts = try DoorParts.open(configuration, overrides: .init(source: scene, doorLines: lines, faceEngine: try TestFaceAnalyzers.video().engine), logger: logger)
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        let decisions = await service.pipeline.decisions()
        let running = Task { try await service.run() }
        var outcomes: [GateOutcome] = []
        for await outcome in decisions { outcomes.append(outcome) }
        try await running.value

        try #require(outcomes.count == 2)
        let online = outcomes[0].record.decision
        #expect(online.outcome == .granted)
        #expect(online.subjectId == member)
        #expect(online.scoreUnit == .neoCheckConfidence && (online.bestScore ?? 0) >= 80)
        #expect(outcomes[0].record.backend == "neocheck")
        let beyondBudget = outcomes[1].record.decision
        #expect(beyondBudget.outcome == .grantedOffline, "\(beyondBudget.reason)")
        #expect(beyondBudget.reason.contains("budget"))
        #expect(lines.relayChanges == 4)
    }
}
