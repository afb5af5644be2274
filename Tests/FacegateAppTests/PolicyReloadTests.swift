import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateOfflineCache
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

/// A configuration reloaded (SIGHUP) while the cloud searches a visit's face: the pipeline decides it under
/// the policy it was searched under and the door's new one, so a door that stopped searching someone
/// never lets them in, online or later from the offline cache.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PolicyReloadTests {
    static let quiet = Logger.quiet("policy-reload")

    static func policy(tags: [String], threshold: Double = 7000) -> DoorPolicy {
        DoorPolicy(door: "reload", threshold: threshold, scoreUnit: .necScore, searchTags: tags)
    }

    struct Outcome {
        var decisions: [Decision]
        var relayChanges: Int
        var cached: Set<String>
    }

    /// One visit of a contractor the cloud finds under the tag `contractors`; `reloaded` replaces the
    /// door's policy while the search is out.
    func visit(searchedUnder searched: DoorPolicy, reloaded: DoorPolicy) async throws -> Outcome {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let key = try OfflineCacheKey(bytes: [UInt8](repeating: 7, count: 32))
        let cache = try OfflineFaceCache(configuration: .init(path: folder.file("cache.sqlite")), key: key)
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "contractor-7", score: 9000, tags: ["contractors"])])
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(), search: cloud, offline: cache, door: door, journal: journal,
            policy: searched,
            settings: .init(door: "reload", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(30)),
            logger: Self.quiet)
        let run = Task { try await pipeline.run() }
        #expect(await cloud.waitUntilCalled(timeout: .seconds(30)), "the visit reached the cloud")
        await pipeline.update(policy: reloaded)
        cloud.release()
        try await run.value
        return Outcome(decisions: journal.decisions.map(\.decision), relayChanges: lines.relayChanges, cached: try await cache.cachedSubjectIds())
    }

    @Test("the door's tags changed from contractors to staff during the search: the contractor is not let in, nor cached")
    func aNarrowedSearchRefusesWhatTheOldOneFound() async throws {
        let outcome = try await visit(searchedUnder: Self.policy(tags: ["contractors"]), reloaded: Self.policy(tags: ["staff"]))
        #expect(outcome.decisions.map(\.outcome) == [.error], "\(outcome.decisions.map(\.reason))")
        #expect(outcome.decisions.first?.reason.contains("the door's search changed") == true)
        #expect(outcome.relayChanges == 0, "the door never opened")
        #expect(outcome.cached.isEmpty, "no offline grant to come")
    }

    @Test("a reload during the search that keeps the scope: a stricter threshold denies, an unchanged one grants and caches")
    func aReloadThatKeepsTheScopeIsDecidedByTheNewRule() async throws {
        let stricter = try await visit(searchedUnder: Self.policy(tags: ["contractors"]), reloaded: Self.policy(tags: ["contractors"], threshold: 9500))
        #expect(stricter.decisions.map(\.outcome) == [.deniedBelowThreshold])
        #expect(stricter.relayChanges == 0 && stricter.cached.isEmpty)

        let same = try await visit(searchedUnder: Self.policy(tags: ["contractors"]), reloaded: Self.policy(tags: ["contractors", "staff"]))
        #expect(same.decisions.map(\.outcome) == [.granted])
        #expect(same.relayChanges > 0)
        #expect(same.cached == ["contractor-7"])
    }

    /// The door's policy is in the running backend's units. A reload whose file names another backend
    /// (which takes a restart) used to put the new backend's policy in force: every online decision an
    /// error until the restart, and NeoCheck to NEC let the revocation sync run without a face list.
    @Test func aReloadToAnotherBackendIsRefusedAndThePolicyKept() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var configuration = FacegateConfiguration()
        configuration.offlineCache.enabled = false
        configuration.journal.path = folder.file("journal.sqlite")
        configuration.door.denyList = ["s-13"]
        var neoCheck = configuration
        neoCheck.backend.kind = .neocheck
        neoCheck.door.faceList = "staff"
        neoCheck.door.denyList = []
        let fileSays = neoCheck
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, logger: Self.quiet)
        let journal = SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: Self.quiet)
        let cloud = HeldCloud()
        let parts = DoorParts(
            source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(), search: cloud, directory: cloud, cache: nil, door: door,
            journal: journal, close: {})
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: Self.quiet,
            loadConfiguration: { fileSays })
        await service.reload()
        let policy = await service.pipeline.currentPolicy
        #expect(policy.scoreUnit == .necScore)
        #expect(policy.denyList == ["s-13"])

        var sameBackend = configuration
        sameBackend.door.denyList = ["s-13", "s-14"]
        // What a reload puts in force is what the next start compares the file with (`facegate run` records it).
        let recorded = Mutex<[Set<String>]>([])
        var recording = settings
        recording.acceptedConfiguration = { accepted in recorded.withLock { $0.append(accepted.door.denyList) } }
        let reloadable = DoorControllerService(
            configuration: configuration, parts: parts, settings: recording, notifier: SystemdNotifier(environment: [:]), logger: Self.quiet,
            loadConfiguration: { [sameBackend] in sameBackend })
        await reloadable.reload()
        #expect(await reloadable.pipeline.currentPolicy.denyList == ["s-13", "s-14"], "a reload on the same backend is taken")
        #expect(recorded.withLock { $0 } == [["s-13", "s-14"]])

        // A NeoCheck door reloaded without its face list could not search at all: refused, as at a start.
        var listed = neoCheck
        listed.door.denyList = ["s-13"]
        var unlisted = listed
        unlisted.door.faceList = nil
        unlisted.door.denyList = []
        let reloadedUnlisted = unlisted
        let neoCheckDoor = DoorControllerService(
            configuration: listed, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: Self.quiet,
            loadConfiguration: { reloadedUnlisted })
        await neoCheckDoor.reload()
        #expect(await neoCheckDoor.pipeline.currentPolicy.denyList == ["s-13"])
    }


    /// A reload that lands while a grant is being committed to the journal (the relay waits for the
    /// commit, up to a second) is the door's word before the relay moves: a deny-list edit made then
    /// keeps the door shut for that visit. The grant stays on record as decided, its relay `withheld`.
    @Test func aReloadDuringTheGrantsCommitIsObeyedBeforeTheRelayMoves() async throws {
        func visit(reloaded: DoorPolicy) async throws -> (journal: HeldCommitJournal, relayChanges: Int, cached: Set<String>, withheld: Int) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let key = try OfflineCacheKey(bytes: [UInt8](repeating: 7, count: 32))
            let cache = try OfflineFaceCache(configuration: .init(path: folder.file("cache.sqlite")), key: key)
            let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "contractor-7", score: 9000, tags: ["contractors"])], released: true)
            let lines = SimulatedDoorLines(logger: Self.quiet)
            let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
            let doorTask = Task { try await door.run() }
            defer { doorTask.cancel() }
            let journal = HeldCommitJournal()
            let pipeline = GatePipeline(
                source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(), search: cloud, offline: cache, door: door, journal: journal,
                policy: Self.policy(tags: ["contractors"]),
                settings: .init(
                    door: "reload", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(30),
                    grantCommitLimit: .seconds(30)),
                logger: Self.quiet)
            let run = Task { try await pipeline.run() }
            #expect(await journal.waitUntilCommitting(timeout: .seconds(30)), "the grant reached its commit")
            await pipeline.update(policy: reloaded)
            journal.release()
            try await run.value
            let withheld = await pipeline.statistics.grantsWithheld
            return (journal, lines.relayChanges, try await cache.cachedSubjectIds(), withheld)
        }

        var denied = Self.policy(tags: ["contractors"])
        denied.denyList = ["contractor-7"]
        let refused = try await visit(reloaded: denied)
        #expect(refused.journal.inner.decisions.map(\.decision.outcome) == [.granted], "the grant stays on record as decided")
        #expect(refused.journal.inner.relays.map(\.result) == [.withheld])
        #expect(refused.relayChanges == 0, "the relay never moved")
        #expect(refused.cached.isEmpty, "nor is the face cached for an offline grant to come")
        #expect(refused.withheld == 1)

        // A reload that still grants the visit opens the door as before: judged again from before the grant
        // (with the re-entry cooldown on, a judgement that counted the grant itself would withhold it).
        var stillGrants = Self.policy(tags: ["contractors"], threshold: 8000)
        stillGrants.reentryCooldown = .seconds(60)
        let kept = try await visit(reloaded: stillGrants)
        #expect(kept.journal.inner.relays.map(\.result) == [.unlocked])
        #expect(kept.relayChanges > 0)
        #expect(kept.cached == ["contractor-7"])
        #expect(kept.withheld == 0)
    }

    /// What a reload names as waiting for a restart: the offline limit and margin apply live (they are
    /// the policy's), the cache's other keys do not.
    @Test func theOfflineLimitAndMarginApplyLiveAndTheCachesOtherKeysWait() {
        let running = FacegateConfiguration()
        var reloaded = running
        reloaded.offlineCache.maxDistance = 0.3
        reloaded.offlineCache.minimumMargin = 0.1
        #expect(reloaded.sectionsNeedingRestart(comparedWith: running).isEmpty)
        #expect(reloaded.doorPolicy.offlineMaxDistance == 0.3)
        reloaded.offlineCache.maxEntries = 5
        #expect(reloaded.sectionsNeedingRestart(comparedWith: running) == ["offline_cache"])
    }

}

/// A journal whose first flush (a grant's commit) waits for the test to release it.
final class HeldCommitJournal: GateJournal {
    let inner = MemoryJournal()
    private let state = Mutex((committing: false, released: false))

    func record(_ decision: DecisionRecord) -> Bool { inner.record(decision) }
    func record(_ event: DoorEventRecord) -> Bool { inner.record(event) }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { inner.recordRecheck(recheck) }
    func recordRelay(_ relay: RelayRecord) -> Bool { inner.recordRelay(relay) }
    func newestRecordTime() async throws -> Date? { try await inner.newestRecordTime() }
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] {
        try await inner.grants(atDoor: door, within: window, of: now)
    }

    func flush() async throws {
        state.withLock { $0.committing = true }
        while !state.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(5)) }
    }

    func release() { state.withLock { $0.released = true } }

    func waitUntilCommitting(timeout: Duration) async -> Bool {
        let end = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < end {
            if state.withLock({ $0.committing }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }
}
