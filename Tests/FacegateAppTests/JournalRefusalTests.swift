import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Testing

/// A journal that cannot even queue a grant (its backlog full after a long disk failure, or stopped):
/// the door still opens for the person the cloud granted (as with a journal that cannot commit), and
/// the log says that opening goes unrecorded, not that its record "stays queued".
@Suite(.timeLimit(.minutes(1)))
struct JournalRefusalTests {
    @Test func aGrantTheJournalCannotQueueIsLoggedAsUnrecorded() async throws {
        let logs = CapturedLogs()
        let logger = logs.logger(label: "journal-refusal", level: .info)
        let lines = SimulatedDoorLines(logger: logger)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: logger)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let policy = DoorPolicy(door: "refusal", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])
        let pipeline = GatePipeline(
            source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(),
            search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])], released: true),
            offline: nil, door: door, journal: FullJournal(), policy: policy,
            settings: .init(door: "refusal", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(30)), logger: logger)
        try await pipeline.run()
        #expect(lines.relayChanges >= 1, "the door opened for her")
        #expect(logs.all.contains { $0.contains("opening the door anyway, unrecorded") }, "\(logs.all.filter { $0.contains("journal") })")
        #expect(!logs.all.contains { $0.contains("the record stays queued") })
    }
}

/// A journal whose backlog is full: every record is refused, and there is nothing to wait for.
struct FullJournal: GateJournal {
    func record(_ decision: DecisionRecord) -> Bool { false }
    func record(_ event: DoorEventRecord) -> Bool { false }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { false }
    func recordRelay(_ relay: RelayRecord) -> Bool { false }
    func flush() async throws {}
    func newestRecordTime() async throws -> Date? { nil }
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] { [] }  // nothing was ever written
}
