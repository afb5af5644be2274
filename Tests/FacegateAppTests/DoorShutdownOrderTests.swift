import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The door's services shut down in order (issue 10): a graceful shutdown that arrives while a grant
/// is being decided lets that decision finish and open the door, then locks and releases the door,
/// then writes the journal out. Each step out of order loses something this test looks for: the
/// door stopped first refuses the unlock (the relay record says failed), the journal stopped first
/// never writes the decision or its relay record.
@Suite(.timeLimit(.minutes(1)))
struct DoorShutdownOrderTests {
    @Test("a shutdown during a grant: the grant finishes and opens the door, then the door locks, then the journal is written out")
    func aShutdownDuringAGrantFinishesItThenLocksThenFlushes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shutdown-order-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logger = Logger(label: "shutdown-order")
        logger.logLevel = .critical

        var configuration = FacegateConfiguration()
        configuration.door.name = "shutdown"
        configuration.door.tags = ["staff"]
        configuration.approach.settleFrames = 3
        configuration.offlineCache.enabled = false
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        let lines = SimulatedDoorLines(logger: logger)
        // A pulse far longer than the test: the door is locked by the shutdown, not by its timer.
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(600)), logger: logger)
        let journal = SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger)
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])])
        let parts = DoorParts(
            source: SynthesizedApproach(endless: true), analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: nil,
            door: door, journal: journal, close: {})
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })

        try await testGracefulShutdown { trigger in
            let running = Task { try await service.run() }
            #expect(await cloud.waitUntilCalled(timeout: .seconds(20)), "the grant's search reached the cloud")
            trigger.triggerGracefulShutdown()
            // Time for a shutdown out of order to stop the door or the journal before the answer.
            try await Task.sleep(for: .milliseconds(300))
            #expect(!lines.relayIsUnlocked && !lines.isReleased, "the door waits for the decision in progress")
            cloud.release()
            try await running.value
        }

        #expect(lines.relayChanges == 2, "unlocked for the grant, then locked by the shutdown")
        #expect(!lines.relayIsUnlocked && lines.isReleased, "locked and released at the end")
        var decisions: [JournaledDecision] = []
        try JournalReader(path: configuration.journal.path).forEachDecision(DecisionQuery()) { decisions.append($0) }
        #expect(decisions.map(\.record.decision.outcome) == [.granted])
        #expect(decisions.first?.record.relay == .unlocked, "the door was still running when the grant opened it, and the journal after")
        #expect(await service.pipeline.statistics.cloudCalls == 1)
    }
}
