import FacegateApp
import FacegateTesting
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateEmulators
import FacegateIdentify
import FacegateQuality
import FacegateJournal
import FacegateOfflineCache
import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The decision path under faults (issue 9): the grant on disk before the relay moves, a failed
/// unlock journaled as such, an outage decided offline without waiting for the cloud each time, a
/// contradicted offline grant purged, and visits beyond the queue journaled rather than lost.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DecisionFaultTests {
    typealias Photos = DoorControllerEndToEndTests

    @Test func theGrantIsOnDiskBeforeTheRelayMoves() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            let lines = JournalCheckingLines(journalPath: rig.configuration.journal.path)
            let run = try await rig.runDoor(visitors: [Photos.enrolledWalksUp], lines: lines)
            #expect(run.outcomes.map(\.record.decision.outcome) == [.granted])
            // When the relay was energised, the granted decision was already a row in the file.
            #expect(lines.outcomesOnDiskAtUnlock == [[.granted]])
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.map(\.record.relay) == [.unlocked])
            #expect(journaled.first?.record.latencies.relay != nil)
        }
    }

    @Test func aGrantWhoseRelayCannotBeDrivenIsJournaledAsFailed() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            let lines = JournalCheckingLines(journalPath: rig.configuration.journal.path, unlockFails: true)
            let run = try await rig.runDoor(visitors: [Photos.enrolledWalksUp], lines: lines)
            #expect(run.outcomes.map(\.record.decision.outcome) == [.granted])
            #expect(run.outcomes.first?.record.relay == .failed)
            #expect(run.statistics.unlocks == 0 && run.statistics.unlockFailures == 1)
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.map(\.record.relay) == [.failed], "not a plain 'granted'")
        }
    }

    @Test func anOutageMakesOnlyTheFirstVisitWaitForTheCloud() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.requestTimeout = .milliseconds(1500)
            rig.configuration.backend.decisionDeadline = .milliseconds(1500)
            let online = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])

            // A cloud that accepts connections and never answers.
            let silent = try await HostileServer.start(.silence)
            defer { silent.close() }
            var necConfiguration = rig.cloud.configuration(http: CloudHTTPPolicy(requestTimeout: .milliseconds(1500)))
            necConfiguration.endpoint = "http://127.0.0.1:\(silent.port)"
            let silentSearch = CountingSearch(NECFaceSearch(client: NECIDClient(configuration: necConfiguration, httpClient: rig.httpClient)))
            let run = try await rig.runDoor(
                visitors: [Photos.enrolledWalksUp, Photos.strangerWalksUp, Photos.enrolledWalksUp], search: silentSearch)
            #expect(run.outcomes.map(\.record.decision.outcome) == [.grantedOffline, .deniedOffline, .grantedOffline])
            #expect(run.outcomes.map(\.record.decision.offline) == [true, true, true])
            #expect(run.outcomes[0].record.decision.subjectId == subject)
            // The first waits out the deadline; the later ones do not ask the cloud at all.
            #expect(run.outcomes.map(\.cloudCalled) == [true, false, false])
            #expect(silentSearch.count == 1)
            let first = try #require(run.outcomes[0].record.latencies.total)
            #expect(first >= .milliseconds(1400) && first < .seconds(2), "first offline decision at \(first)")
            for later in run.outcomes.dropFirst() {
                let total = try #require(later.record.latencies.total)
                #expect(total < .milliseconds(500), "a later offline decision took \(total)")
            }
        }
    }

    @Test("an offline grant the cloud contradicts is purged from the cache at once", arguments: ["nobody", "someone else"])
    func anOfflineGrantTheCloudContradictsIsPurgedFromTheCacheAtOnce(cloudFinds: String) async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(try await rig.cache().cachedSubjectIds() == [subject])

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
            #expect(try await rig.cache().pendingRechecks().first?.grantedSubject == subject)

            // Back, but that face is no longer hers: it finds nobody, or another subject of the door's tag
            // (the photo enrolled again under a new id).
            try await rig.startCloud()
            try await rig.client.unregisterSubject(id: subject)
            let other = cloudFinds == "someone else" ? try await rig.enrol(Photos.enrolledPhoto) : nil
            let report = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
            if let other {
                #expect(report.journaled.map(\.outcome) == [.granted] && report.journaled.first?.subjectId == other)
            } else {
                #expect(report.journaled.map(\.outcome) == [.deniedUnknown])
            }
            // Purged by the re-check itself, with no revocation sync run.
            #expect(try await rig.cache().cachedSubjectIds().isEmpty)
            let journaled = try await rig.journaledDecisions().filter(\.record.decision.offline)
            #expect(journaled.map(\.recheckStatus) == [.contradicted])
        }
    }

    @Test func aClockSetBackRefusesOfflineGrantsAndSaysWhy() async throws {
        try await DoorRig.with { rig in
            // No reply states the cloud's time (a proxy that drops `Date`): the stored dates are the witness.
            rig.cloudStatesTime = false
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            // The journal already holds a decision from tomorrow: today's clock reads a day behind.
            let journal = WritingJournal(SQLiteJournal(configuration: .init(path: rig.configuration.journal.path)))
            journal.record(
                DecisionRecord(
                    time: Date().addingTimeInterval(86_400), door: "bench door",
                    decision: Decision(outcome: .deniedUnknown, reason: "made before the clock was set back"), backend: "nec"))
            try await journal.flush()

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.outcomes.first?.record.decision.reason.contains("offline grants refused") == true)
            #expect(offline.relayChanges == 0)

            // The clock has caught up (the newest decision is now an hour old): offline grants resume,
            // nothing of the refusal stays behind.
            try FaultMatrixHostTests.redate(URL(fileURLWithPath: rig.configuration.journal.path), "-25 hours")
            let caughtUp = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(caughtUp.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
        }
    }

    /// At a quiet door the newest record is often a door event (an exit press, an opening), not a decision:
    /// a clock set back behind it is caught too. Before, only decisions were read, and a clock set back
    /// into the gap since the last decision was trusted, so faces that had expired in it matched again.
    @Test func aClockSetBackBehindTheNewestDoorEventRefusesOfflineGrants() async throws {
        try await DoorRig.with { rig in
            rig.cloudStatesTime = false
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            // An exit press journaled a day from now: today's clock reads a day behind it.
            let journal = WritingJournal(SQLiteJournal(configuration: .init(path: rig.configuration.journal.path)))
            journal.record(DoorEventRecord(time: Date().addingTimeInterval(86_400), door: "bench door", kind: .exitButton))
            try await journal.flush()

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.outcomes.first?.record.decision.reason.contains("newest journaled record") == true)
            #expect(offline.relayChanges == 0)
        }
    }

    /// Online too, a clock known to read early decides nobody a schedule applies to: whether their schedule
    /// admits them now is unknown. Within the 5-minute tolerance, and for people no schedule names, nothing changes.
    @Test func aClockSetBackRefusesScheduledGrantsOnline() async throws {
        try await DoorRig.with { rig in
            // No reply states the cloud's time (a proxy that drops `Date`): the stored dates are the witness.
            rig.cloudStatesTime = false
            _ = try await rig.enrol(Photos.enrolledPhoto)
            let always = AccessSchedule(
                name: "always", scope: .everyone, timeZone: TimeZone(identifier: "UTC")!, windows: [.init(weekdays: Set(1...7), start: 0, end: 24 * 60)])
            rig.configuration.door.schedules = [always]
            func journalDecision(inMinutes minutes: Double) async throws {
                let journal = WritingJournal(SQLiteJournal(configuration: .init(path: rig.configuration.journal.path)))
                journal.record(
                    DecisionRecord(
                        time: Date().addingTimeInterval(minutes * 60), door: "bench door",
                        decision: Decision(outcome: .deniedUnknown, reason: "made before the clock was set back"), backend: "nec"))
                try await journal.flush()
            }
            // A decision 4 minutes ahead: within the tolerance (clocks of a few boxes disagree that much).
            try await journalDecision(inMinutes: 4)
            let within = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(within.outcomes.map(\.record.decision.outcome) == [.granted])

            // 6 minutes ahead: the clock has been set back.
            try await journalDecision(inMinutes: 6)
            let setBack = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(setBack.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            let reason = try #require(setBack.outcomes.first?.record.decision.reason)
            #expect(reason.contains("the clock cannot be trusted") && reason.contains("schedule always"), "\(reason)")
            #expect(setBack.relayChanges == 0)

            // Nobody's schedule: the same clock decides as ever online.
            rig.configuration.door.schedules = []
            let unscheduled = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(unscheduled.outcomes.map(\.record.decision.outcome) == [.granted])

            // The clock has caught up with the journal: the schedule applies again.
            try FaultMatrixHostTests.redate(URL(fileURLWithPath: rig.configuration.journal.path), "-1 hours")
            rig.configuration.door.schedules = [always]
            let caughtUp = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(caughtUp.outcomes.map(\.record.decision.outcome) == [.granted])
        }
    }

    @Test func aCachedFaceFromTheFutureRefusesOfflineGrants() async throws {
        try await DoorRig.with { rig in
            // No reply states the cloud's time (a proxy that drops `Date`): the stored dates are the witness.
            rig.cloudStatesTime = false
            let subject = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            // A face remembered a day from now: the clock has been set back since (and that face would live a day longer).
            let cache = try rig.cache()
            let face = try #require(try await cache.list().first)
            #expect(face.subjectId == subject)
            try await cache.remember(
                subjectId: "someone-else", grantedUnder: ["staff"], descriptor: try FaceDescriptor([Float](repeating: 0.01, count: 128)),
                at: Date().addingTimeInterval(86_400))

            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.outcomes.first?.record.decision.reason.contains("remembered later than the clock") == true)
        }
    }

    /// An offline decision with nothing to re-check it by (no offline cache: its probe is kept nowhere) is
    /// not journaled `recheck pending`, which it would stay for ever (review).
    @Test func anOfflineDecisionWithoutACacheAwaitsNoRecheck() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.offlineCache.enabled = false
            rig.configuration.backend.decisionDeadline = .seconds(2)
            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(journaled.map(\.recheckStatus) == [nil], "\(journaled.map(\.recheckStatus))")
        }
    }

    @Test func aTagRemovedFromTheDoorStopsItsPeopleOffline() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            await rig.stopCloud()
            // The door now searches another tag only: the face cached under "staff" no longer opens it.
            rig.configuration.door.tags = ["visitors"]
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(offline.outcomes.first?.record.decision.reason.contains("no longer searches") == true)
            #expect(offline.relayChanges == 0)
            // Put back, the same face opens it offline again.
            rig.configuration.door.tags = ["staff", "visitors"]
            let restored = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(restored.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
        }
    }

    /// A look-alike the cloud matched just over the threshold has their face cached under that person: a
    /// threshold raised since must stop that face offline as it stops it online. The cloud's score is sealed
    /// with the face; offline it counts only while the door's threshold is at or below it.
    @Test func aThresholdRaisedAboveACachedFacesScoreStopsItOffline() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let online = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])
            let score = try #require(online.outcomes.first?.record.decision.bestScore)
            await rig.stopCloud()
            // Raised one point above the score she was cached at: she is not let in offline.
            rig.configuration.door.threshold = score + 1
            let raised = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(raised.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(
                raised.outcomes.first?.record.decision.reason.contains("under its threshold now") == true,
                "\(raised.outcomes.first?.record.decision.reason ?? "-")")
            #expect(raised.relayChanges == 0)
            // At her score exactly, the same face opens it offline.
            rig.configuration.door.threshold = score
            let equal = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(equal.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
        }
    }

    /// The same through a reload (as SIGHUP does) of one running door: the threshold raised above her cached
    /// score between two of her visits, the cloud away: let in offline, then not.
    @Test func aReloadThatRaisesTheThresholdStopsACachedFaceOfflineAtOnce() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let online = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            let score = try #require(online.outcomes.first?.record.decision.bestScore)
            await rig.stopCloud()
            var raised = rig.configuration
            raised.door.threshold = score + 1
            let running = RunningService()
            let scene = DemoScene(
                visitors: try rig.visitors([Photos.enrolledWalksUp, Photos.enrolledWalksUp]), emptyFrames: 110,
                beforeVisitor: { _ in
                    guard let service = running.service else { return }
                    while await service.pipeline.statistics.decisions.values.reduce(0, +) < 1 { try? await Task.sleep(for: .milliseconds(20)) }
                    await service.reload()
                })
            let run = try await rig.runDoor(source: scene, reloadsTo: raised, started: { running.service = $0 })
            #expect(run.outcomes.map(\.record.decision.outcome) == [.grantedOffline, .deniedOffline])
            #expect(
                run.outcomes.last?.record.decision.reason.contains("under its threshold now") == true,
                "\(run.outcomes.last?.record.decision.reason ?? "-")")
            #expect(run.relayChanges == 2, "opened once, for the first visit, and locked again")
        }
    }

    /// The cache file cannot be read with the door's key (a new key file, a box restored from another's
    /// backup): the cache is off, and while the cloud is away everyone is denied offline, her too; the
    /// file is kept, and with its own key back she is let in offline again.
    @Test func aCacheTheDoorCannotReadDeniesOfflineUntilItsKeyIsBack() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            await rig.stopCloud()
            let ownKey = rig.configuration.offlineCache.key
            let otherKey = rig.folder.appendingPathComponent("other.key").path
            try OfflineCacheKey.generate(to: otherKey)
            rig.configuration.offlineCache.key = .file(otherKey)
            let off = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(off.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(off.outcomes.first?.record.decision.reason.contains("there is no offline cache") == true, "\(off.outcomes.first?.record.decision.reason ?? "-")")
            #expect(off.relayChanges == 0)
            rig.configuration.offlineCache.key = ownKey
            let restored = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(restored.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
        }
    }

    @Test func aReloadThatRemovesATagStopsItsPeopleOfflineAtOnce() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            await rig.stopCloud()
            // One running door: she opens it offline, the file is changed to search another tag and
            // reloaded (as SIGHUP does), and she comes back after the re-identification window.
            var narrowed = rig.configuration
            narrowed.door.tags = ["visitors"]
            let running = RunningService()
            let scene = DemoScene(
                visitors: try rig.visitors([Photos.enrolledWalksUp, Photos.enrolledWalksUp]), emptyFrames: 110,
                beforeVisitor: { _ in
                    guard let service = running.service else { return }
                    while await service.pipeline.statistics.decisions.values.reduce(0, +) < 1 { try? await Task.sleep(for: .milliseconds(20)) }
                    await service.reload()
                })
            let run = try await rig.runDoor(source: scene, reloadsTo: narrowed, started: { running.service = $0 })
            #expect(run.outcomes.map(\.record.decision.outcome) == [.grantedOffline, .deniedOffline])
            #expect(run.outcomes.last?.record.decision.reason.contains("no longer searches") == true, "\(run.outcomes.last?.record.decision.reason ?? "-")")
            #expect(run.relayChanges == 2, "opened once, for the first visit, and locked again")
        }
    }

    /// The service a scene's hook reaches, once it exists.
    final class RunningService: Sendable {
        private let box = Mutex<DoorControllerService?>(nil)
        var service: DoorControllerService? {
            get { box.withLock { $0 } }
            set { box.withLock { $0 = newValue } }
        }
    }

    @Test func visitsBeyondTheQueueAreJournaledUndecidedNotLost() async throws {
        try await DoorRig.with { rig in
            let visitors = try [Photos.enrolledWalksUp, Photos.strangerWalksUp, Photos.enrolledWalksUp, Photos.strangerWalksUp].map {
                DemoScene.Visitor(name: $0, portrait: try rig.portrait($0))
            }
            let held = HeldCloud(backendName: "nec")
            let parts = try DoorParts.open(
                rig.configuration, overrides: .init(
                    source: DemoScene(visitors: visitors), search: held, doorLines: SimulatedDoorLines(),
                    faceEngine: try TestFaceAnalyzers.video().engine),
                logger: rig.logger)
            let writer = Task { await parts.journal.run() }
            let pipeline = GatePipeline(
                source: parts.source, analyzer: parts.analyzer, search: held, offline: nil, door: parts.door, journal: parts.journal,
                policy: rig.configuration.doorPolicy,
                settings: .init(door: "bench door", approach: rig.configuration.approach, decisionDeadline: .seconds(60), maxWaitingVisits: 1),
                logger: rig.logger)
            let running = Task { try await pipeline.run() }
            // The first visit's search is held: the second waits in the queue, the ones after find it full.
            while await pipeline.statistics.visitsDropped < 1 { try await Task.sleep(for: .milliseconds(100)) }
            held.release()
            try await running.value
            let statistics = await pipeline.statistics
            // Visit 1 held at the cloud, visit 2 queued, visit 3 finds the queue full; the fourth comes after the release.
            #expect(statistics.visits == 4)
            #expect(statistics.visitsDropped >= 1)
            try await parts.journal.flush()
            writer.cancel()
            await writer.value
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.count == 4, "every visit has a row")
            let dropped = journaled.filter { $0.record.decision.reason.contains("not decided") }
            #expect(dropped.count == statistics.visitsDropped && dropped.allSatisfy { $0.record.decision.outcome == .error })
            #expect(held.calls == 4 - statistics.visitsDropped, "only the decided visits reached the cloud")
            await parts.close()
        }
    }

    /// The journal cannot take the re-check (a full or failing disk): the re-check waits for the next round,
    /// but the face the cloud contradicts is purged now, not left to open the door offline meanwhile.
    @Test func aContradictedOfflineGrantIsPurgedEvenWhenTheJournalCannotWrite() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            try await rig.client.unregisterSubject(id: subject)
            let report = try await rig.maintenance(journal: DiskFullJournal()).recheckPending(policy: rig.configuration.doorPolicy)
            #expect(report.journaled.isEmpty, "not on disk, so not journaled")
            #expect(try await rig.cache().pendingRechecks().count == 1, "kept for the next round")
            #expect(try await rig.cache().cachedSubjectIds().isEmpty, "her face is gone all the same")
        }
    }

    /// The cloud says the offline grant let in the wrong face, but the cache cannot delete it (a disk that
    /// takes no deletes, the cache busy): the re-check is not done, so it is neither journaled nor dropped,
    /// and the next round purges the face.
    @Test func aReCheckTheJournalCannotTakeIsKept() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            try await rig.client.unregisterSubject(id: subject)
            let full = try await rig.maintenance(journal: RecheckRefusingJournal()).recheckPending(policy: rig.configuration.doorPolicy)
            #expect(full.journaled.isEmpty, "the journal took no answer")
            #expect(try await rig.cache().pendingRechecks().count == 1, "its probe kept for the next round")
            // The journal takes it again: the answer is journaled and only then is the probe dropped.
            let next = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
            #expect(next.journaled.map(\.outcome) == [.deniedUnknown], "unregistered since")
            #expect(try await rig.cache().pendingRechecks().isEmpty)
        }
    }

    @Test func aContradictedGrantWhoseFaceCannotBePurgedIsReCheckedAgain() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            try await rig.client.unregisterSubject(id: subject)

            let stuck = try await rig.maintenance(cache: FaultyDiskCache(rig.cache(), refusesDeletes: true)).recheckPending(policy: rig.configuration.doorPolicy)
            #expect(stuck.journaled.isEmpty, "not done while her face stays")
            #expect(try await rig.cache().pendingRechecks().count == 1, "kept for the next round")
            #expect(try await rig.journaledDecisions().filter(\.record.decision.offline).map(\.recheckStatus) == [.pending])

            let done = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
            #expect(done.journaled.map(\.outcome) == [.deniedUnknown])
            #expect(try await rig.cache().cachedSubjectIds().isEmpty)
            #expect(try await rig.journaledDecisions().filter(\.record.decision.offline).map(\.recheckStatus) == [.contradicted])
        }
    }

    /// The same on a disk that takes no deletes, and then the cloud away again: the contradicted grant's
    /// faces are still in the file, but that subject is not let in offline again (the cache withdrew them
    /// when the purge failed), nor anybody else in their place.
    @Test func aContradictedGrantWhoseFaceCannotBePurgedNoLongerOpensOffline() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            try await rig.client.unregisterSubject(id: subject)
            let cache = try rig.cache()
            let file = try DatabaseQueue(path: rig.configuration.offlineCache.path)
            try await file.write { db in
                try db.execute(sql: "CREATE TRIGGER refuse_deletes BEFORE DELETE ON face_entry BEGIN SELECT RAISE(ABORT, 'no deletes'); END")
            }
            try file.close()

            let stuck = try await rig.maintenance(cache: cache).recheckPending(policy: rig.configuration.doorPolicy)
            #expect(stuck.journaled.isEmpty, "not done while her face stays")
            #expect(try await cache.cachedSubjectIds() == [subject], "the disk kept her face")

            await rig.stopCloud()
            let away = try await rig.runDoor(visitors: [Photos.enrolledWalksUp], cache: cache)
            #expect(away.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            #expect(away.outcomes.first?.record.decision.reason.contains("no longer confirms") == true)
        }
    }

    /// The cloud refuses the re-check (here a key it does not know): no answer, so nothing is journaled as
    /// confirmed or contradicted. The round ends at the refusal (a key being rotated must not use up every
    /// re-check's tries at once): only the oldest counts a try. It is tried again each round; after the
    /// last try it is journaled `failed` and the grant's faces are purged, since the cloud never confirmed
    /// them; the next waits its turn.
    @Test func aReCheckTheCloudFailsIsTriedAgainThenGivenUpAndTheGrantPurged() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            // A second offline grant waiting behind the first.
            await rig.stopCloud()
            let again = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(again.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
            try await rig.startCloud()

            let refused = try rig.maintenance(apiKey: "not-the-applications-key", settings: .init(recheckAttempts: 3))
            for round in 1...2 {
                let report = await refused.recheckPending(policy: rig.configuration.doorPolicy)
                #expect(report.journaled.isEmpty && !report.cloudUnavailable, "round \(round)")
                #expect(try await rig.cache().pendingRechecks().map(\.attempts) == [round, 0], "round \(round): the oldest only")
                #expect(try await rig.cache().cachedSubjectIds() == [subject], "round \(round): kept while it may yet be confirmed")
            }
            let last = await refused.recheckPending(policy: rig.configuration.doorPolicy)
            #expect(last.journaled.map(\.outcome) == [.error])
            #expect(try await rig.cache().pendingRechecks().map(\.attempts) == [0], "the second waits its turn")
            #expect(try await rig.cache().cachedSubjectIds().isEmpty, "never confirmed: purged")
            #expect(try await rig.journaledDecisions().filter(\.record.decision.offline).map(\.recheckStatus) == [.failed, .pending])
        }
    }

    @Test func aConfirmedOfflineGrantKeepsItsFace() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.anOfflineGrantAwaitingItsReCheck()
            let report = try await rig.maintenance().recheckPending(policy: rig.configuration.doorPolicy)
            #expect(report.journaled.map(\.outcome) == [.granted])
            #expect(try await rig.cache().cachedSubjectIds() == [subject])
        }
    }
}

/// Door lines that, when the relay is driven to unlock, read the journal file to see which decisions
/// are already on disk; optionally they fail that write.
final class JournalCheckingLines: DoorLines {
    let journalPath: String
    let unlockFails: Bool
    private let seen = Mutex<[[Decision.Outcome]]>([])
    private let simulated = SimulatedDoorLines()

    init(journalPath: String, unlockFails: Bool = false) {
        self.journalPath = journalPath
        self.unlockFails = unlockFails
    }

    var outcomesOnDiskAtUnlock: [[Decision.Outcome]] { seen.withLock { $0 } }

    func driveRelay(unlocked: Bool) throws {
        if unlocked {
            var outcomes: [Decision.Outcome] = []
            try? JournalReader(path: journalPath).forEachDecision(DecisionQuery()) { outcomes.append($0.record.decision.outcome) }
            seen.withLock { $0.append(outcomes) }
            if unlockFails { throw DoorError(.ioFailed, "the relay line cannot be driven (test)") }
        }
        try simulated.driveRelay(unlocked: unlocked)
    }

    func contactIsOpen() throws -> Bool? { nil }
    func inputs() -> AsyncThrowingStream<DoorInput, any Error> { simulated.inputs() }
    func release() { simulated.release() }
}



/// A journal on a disk that takes nothing: records are accepted into its queue, never written (ENOSPC).
struct DiskFullJournal: GateJournal {
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "no space left on device" }
    }
    func record(_ decision: DecisionRecord) -> Bool { true }
    func record(_ event: DoorEventRecord) -> Bool { true }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { true }
    func recordRelay(_ relay: RelayRecord) -> Bool { true }
    func newestRecordTime() async -> Date? { nil }
    func grants(atDoor door: String, within window: Duration, of now: Date) async -> [JournaledGrant] { [] }  // nothing reaches the disk
    func flush() async throws { throw DiskFull() }
}

extension DoorRig {
    /// The enrolled person granted online (her face cached), then granted offline from that face while
    /// the cloud is away, and the cloud back: an offline grant waiting for its re-check. Her subject id.
    func anOfflineGrantAwaitingItsReCheck(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let subject = try await enrol(DecisionFaultTests.Photos.enrolledPhoto)
        configuration.backend.decisionDeadline = .seconds(2)
        _ = try await runDoor(visitors: [DecisionFaultTests.Photos.enrolledWalksUp])
        await stopCloud()
        let offline = try await runDoor(visitors: [DecisionFaultTests.Photos.enrolledWalksUp])
        #expect(offline.outcomes.map(\.record.decision.outcome) == [.grantedOffline], sourceLocation: sourceLocation)
        try await startCloud()
        return subject
    }
}

/// A journal whose backlog refuses re-checks (full, or closed), while what it took before is on disk.
struct RecheckRefusingJournal: GateJournal {
    func record(_ decision: DecisionRecord) -> Bool { true }
    func record(_ event: DoorEventRecord) -> Bool { true }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { false }
    func recordRelay(_ relay: RelayRecord) -> Bool { true }
    func newestRecordTime() async -> Date? { nil }
    func grants(atDoor door: String, within window: Duration, of now: Date) async -> [JournaledGrant] { [] }  // nothing reaches the disk
    func flush() async throws {}
}
