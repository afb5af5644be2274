@testable import FacegateApp
import FacegateDemo
import FacegateDoor
import FacegateIdentify
import FacegateQuality
import FacegateCore
import FacegateJournal
import FacegateOfflineCache
import FacegateTesting
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

/// The cloud's clock (its replies' `Date`) as the witness of the door's: a box whose clock is wrong is
/// caught by it even with nothing journaled yet, and then applies no schedule, lets nobody in offline
/// and caches no face; a clock put right after running ahead is vouched for by it, and the cached
/// faces the wrong clock dated are forgotten.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CloudClockWitnessTests {
    typealias Photos = DoorControllerEndToEndTests
    static let always = AccessSchedule(
        name: "always", scope: .everyone, timeZone: TimeZone(identifier: "UTC")!, windows: [.init(weekdays: Set(1...7), start: 0, end: 24 * 60)])

    /// The door run over the enrolled person walking up, and its health report once she is decided.
    static func runDoorReportingHealth(_ rig: DoorRig) async throws -> (DoorRig.Run, DoorHealthReport) {
        let service = Mutex<DoorControllerService?>(nil)
        let run = try await rig.runDoor(
            source: DemoScene(visitors: try rig.visitors([Photos.enrolledWalksUp])), started: { started in service.withLock { $0 = started } })
        let report = try #require(service.withLock { $0 })
        return (run, await report.healthReport(doorFailed: SetOnceFlag()))
    }

    @Test func aClockAheadOfTheCloudsAppliesNoScheduleAndLetsNobodyInOffline() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            // Cached while the clock was right.
            let cached = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(cached.outcomes.map(\.record.decision.outcome) == [.granted])
            let faces = try await rig.cache().list()
            #expect(faces.count == 1)

            // Now the box's clock reads two hours ahead. Nothing stored says so (it is ahead of all of it).
            rig.wallClockError = 2 * 3600
            rig.configuration.door.schedules = [Self.always]
            let (scheduled, health) = try await Self.runDoorReportingHealth(rig)
            #expect(scheduled.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            let reason = try #require(scheduled.outcomes.first?.record.decision.reason)
            #expect(reason.contains("the clock reads 2 h ahead of the cloud's"), "\(reason)")
            #expect(scheduled.relayChanges == 0)
            // `/health` and `facegate status` say so.
            #expect(health.clock.status == .degraded && health.clock.lastError == "the clock reads 2 h ahead of the cloud's")

            // Nobody's schedule: decided online as ever, but her face is not cached again on this clock.
            rig.configuration.door.schedules = []
            let unscheduled = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(unscheduled.outcomes.map(\.record.decision.outcome) == [.granted])
            #expect(try await rig.cache().list() == faces)

            // The cloud away: the time it last stated is carried forward, and the cache lets nobody in.
            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.deniedOffline])
            let offlineReason = try #require(offline.outcomes.first?.record.decision.reason)
            #expect(offlineReason.contains("offline grants refused: the clock reads 2 h ahead of the cloud's"), "\(offlineReason)")
            // The cache is there: the reason does not send an installer looking for it (review).
            #expect(!offlineReason.contains("no offline cache"), "\(offlineReason)")
            #expect(offline.relayChanges == 0)
        }
    }

    /// The daemon journals the clock's reading while the cloud's time vouches for it (the witness a
    /// restart with the cloud away checks the clock against: `ClockWitnessPipelineTests`), and none while
    /// its clock reads 2 h ahead of the cloud's.
    @Test func theDaemonJournalsTheClockWhileTheCloudVouchesForIt() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.clockWitnessInterval = .milliseconds(100)
            func witness() async throws -> Date? {
                try await DatabaseQueue(path: rig.configuration.journal.path).read { db in
                    try Date.fetchOne(db, sql: "SELECT time FROM clock_witness")
                }
            }
            rig.wallClockError = 2 * 3600
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(try await witness() == nil, "a clock the cloud disagrees with is no witness")
            rig.wallClockError = 0
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            let kept = try #require(try await witness())
            #expect(abs(kept.timeIntervalSinceNow) < 60, "\(kept)")
        }
    }

    /// Five minutes either way is a clock within what boxes disagree by: a schedule applies.
    @Test func theCloudAllowsFiveMinutes() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.door.schedules = [Self.always]
            rig.wallClockError = -4 * 60
            let within = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(within.outcomes.map(\.record.decision.outcome) == [.granted])
            #expect(try await rig.cache().list().count == 1)
            #expect(await rig.skewedClient?.client.clockOffset == 0, "within NEC ID's own five minutes: signed as it was")
            // Six minutes behind: NEC ID refuses the signature too, and the client signs again on its time.
            rig.wallClockError = -6 * 60
            let behind = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(behind.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            let reason = try #require(behind.outcomes.first?.record.decision.reason)
            #expect(reason.contains("the clock reads 6 min behind the cloud's"), "\(reason)")
            let offset = try #require(await rig.skewedClient?.client.clockOffset)
            #expect(abs(offset - 360) < 5, "the client learnt NEC ID's time from its refusal: \(offset)")
        }
    }

    /// A clock that ran a year ahead (with no cloud to check it) left a journaled decision and a cached
    /// face dated a year on. Put right, the journal alone would keep schedules and offline grants refused
    /// for that year; the cloud's time vouches for the clock instead, and the face dated ahead is forgotten
    /// (it would have opened the door offline for a year more than its life).
    @Test func aClockPutRightIsVouchedForByTheCloud() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(Photos.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            _ = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            let aYearOn = Date().addingTimeInterval(365 * 86_400)
            let journal = WritingJournal(SQLiteJournal(configuration: .init(path: rig.configuration.journal.path)))
            _ = journal.record(
                DecisionRecord(
                    time: aYearOn, door: "bench door", decision: Decision(outcome: .deniedUnknown, reason: "made while the clock ran ahead"),
                    backend: "nec"))
            try await journal.flush()
            let cache = try rig.cache()
            // Hers (a subject NEC ID no longer had would go at the revocation sync anyway).
            try await cache.remember(
                subjectId: subject, grantedUnder: ["staff"], descriptor: try FaceDescriptor([Float](repeating: 0.01, count: 128)),
                at: aYearOn)
            #expect(try await cache.list().count == 2)

            rig.configuration.door.schedules = [Self.always]
            let (online, health) = try await Self.runDoorReportingHealth(rig)
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])
            #expect(health.clock == .init(status: .ok))
            let left = try await rig.cache().list()
            #expect(!left.isEmpty && Set(left.map(\.subjectId)) == [subject], "\(left.map(\.subjectId))")
            #expect(left.allSatisfy { $0.rememberedAt < Date().addingTimeInterval(60) })

            // The cloud away: the time it stated is carried forward and still vouches for the clock.
            await rig.stopCloud()
            let offline = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(offline.outcomes.map(\.record.decision.outcome) == [.grantedOffline])
        }
    }
}

/// Both clouds' emulators, like the real services, state their time in every reply, and both doors'
/// searches hand it on as their witness: the probe (no search spent) is enough.
@Suite(.timeLimit(.minutes(2)))
struct CloudClockStatedTests {
    @Test func neoCheckAndNECIDStateTheirTime() async throws {
        // Plain http on loopback, given a clock: standing for the clouds over TLS.
        try await withNeoCheckEmulator { emulator in
            let search = NeoCheckFaceSearch(client: try emulator.client(cloudClock: CloudClock()))
            #expect(search.cloudTimeNow() == nil)
            try await search.checkReachable()
            let stated = try #require(search.cloudTimeNow())
            #expect(abs(stated.timeIntervalSinceNow) < 5, "\(stated)")
        }
        try await withNECEmulator { emulator in
            let search = NECFaceSearch(client: emulator.client(cloudClock: CloudClock()))
            #expect(search.cloudTimeNow() == nil)
            try await search.checkReachable()
            let stated = try #require(search.cloudTimeNow())
            #expect(abs(stated.timeIntervalSinceNow) < 5, "\(stated)")
        }
    }
}

/// The clock in the door's health: a clock that cannot be trusted degrades the door (it still decides,
/// without schedules or offline grants); a report from a daemon that did not yet report the clock reads.
@Suite(.timeLimit(.minutes(1)))
struct DoorHealthClockTests {
    static let ok = DoorHealthReport.Component(status: .ok)

    @Test func aClockThatCannotBeTrustedDegradesTheDoor() {
        let wrong = DoorHealthReport.Component(status: .degraded, lastError: "the clock reads 2 h ahead of the cloud's", since: Date())
        let report = DoorHealthReport(camera: Self.ok, cloud: Self.ok, relay: Self.ok, journal: Self.ok, offlineCache: Self.ok, clock: wrong)
        #expect(report.status == .degraded && report.canDecide)
        #expect(DoorHealthReport(camera: Self.ok, cloud: Self.ok, relay: Self.ok, journal: Self.ok, offlineCache: Self.ok).status == .ok)
        let decoded = try? JSONDecoder.iso8601.decode(DoorHealthReport.self, from: report.json())
        #expect(decoded?.clock.lastError == wrong.lastError)
        // With the cloud away too, the offline cache cannot stand in: every offline grant is refused on a
        // wrong clock, so nobody can be let in, and /health says so (503) rather than "degraded" (review).
        let away = DoorHealthReport.Component(status: .failed, lastError: "cannot reach the cloud", since: Date())
        let cacheOnAWrongClock = DoorHealthReport(camera: Self.ok, cloud: away, relay: Self.ok, journal: Self.ok, offlineCache: Self.ok, clock: wrong)
        #expect(!cacheOnAWrongClock.canDecide && cacheOnAWrongClock.status == .failed)
        let cacheOnARightClock = DoorHealthReport(camera: Self.ok, cloud: away, relay: Self.ok, journal: Self.ok, offlineCache: Self.ok)
        #expect(cacheOnARightClock.canDecide && cacheOnARightClock.status == .degraded)
    }

    @Test func aReportWithoutTheClockReads() throws {
        let older = #"{"status":"ok","can_decide":true,"camera":{"status":"ok"},"cloud":{"status":"ok"},"relay":{"status":"ok"},"journal":{"status":"ok"},"offline_cache":{"status":"off"}}"#
        let report = try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(older.utf8))
        #expect(report.clock == Self.ok && report.offlineCache.status == .off)
    }
}

/// Only a service reached over TLS states the cloud's time: plain http is this machine (a forwarder, a
/// proxy), whose `Date` is this machine's own clock and would vouch for whatever it reads.
@Suite(.timeLimit(.minutes(2)))
struct CloudClockEndpointTests {
    @Test func onlyHTTPSEndpointsStateTheCloudsTime() async throws {
        #expect(CloudEndpoint.clock(for: "https://api.id.nec.com.au") != nil)
        #expect(CloudEndpoint.clock(for: "https://api.id.nec.com.au", nil) != nil)
        #expect(CloudEndpoint.clock(for: "HTTPS://example.test/api") != nil)
        #expect(CloudEndpoint.clock(for: "http://127.0.0.1:8080") == nil)
        // A TLS forwarder on this machine states this machine's time too.
        #expect(CloudEndpoint.clock(for: "https://127.0.0.1:8443") == nil)
        #expect(CloudEndpoint.clock(for: "https://localhost/api") == nil)
        #expect(CloudEndpoint.clock(for: "https://[::1]:8443") == nil)
        #expect(CloudEndpoint.clock(for: "https://api.id.nec.com.au", "http://localhost:9000") == nil)
        #expect(CloudEndpoint.clock(for: nil) == nil)
        // The daemon's own NEC ID client on the loopback emulator: no clock, so no witness.
        try await withNECEmulator { emulator in
            let search = NECFaceSearch(client: emulator.client())
            try await search.checkReachable()
            #expect(search.client.cloudClock == nil && search.cloudTimeNow() == nil)
        }
    }
}

/// The pipeline's clock check on its ports: a held cloud whose replies state the true time, a door
/// whose wall clock the test sets.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ClockWitnessPipelineTests {
    static let quiet = Logger.quiet("clock-witness")
    static let policy = DoorPolicy(
        door: "witness", threshold: 7000, scoreUnit: .necScore, schedules: [CloudClockWitnessTests.always], searchTags: ["staff"])

    /// One visit of a member of staff the cloud finds (or, when it does not answer, that the door decides
    /// offline after a second); `duringTheSearch` runs while the search is held.
    func visit(
        wallClock: WrongWallClock, offline: (any OfflineFaceStore)? = nil, cloudAnswers: Bool = true,
        duringTheSearch: @Sendable () -> Void = {}
    ) async throws -> (decisions: [Decision], pipeline: GatePipeline, journal: MemoryJournal) {
        let statedTime = CloudClock()
        statedTime.note(stated: Date())
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])], cloudClock: statedTime)
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(), search: cloud, offline: offline, door: door, journal: journal,
            policy: Self.policy,
            settings: .init(
                door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(cloudAnswers ? 30 : 1)),
            logger: Self.quiet, now: { wallClock.now })
        let run = Task { try await pipeline.run() }
        #expect(await cloud.waitUntilCalled(timeout: .seconds(30)), "the visit reached the cloud")
        duringTheSearch()
        if cloudAnswers { cloud.release() }
        try await run.value
        return (journal.decisions.map(\.decision), pipeline, journal)
    }

    /// An offline cache holding her face (the scripted analyser's descriptor), granted under `staff`.
    static func cacheHoldingHerFace(in folder: TemporaryFolder, rememberedAt: Date = Date()) async throws -> OfflineFaceCache {
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite")), key: try OfflineCacheKey(bytes: [UInt8](repeating: 7, count: 32)))
        try await cache.remember(
            subjectId: "staff-3", grantedUnder: ["staff"], score: GrantScore(value: 9000, unit: .necScore), descriptor: try FaceDescriptor([Float](repeating: 0.05, count: 128)),
            at: rememberedAt)
        return cache
    }

    /// The decision is dated, and its schedule read, when it starts: a clock put right while the cloud
    /// searched does not make that date right. `/health` reads the clock afresh, before and after.
    @Test func aClockPutRightDuringTheSearchDoesNotPassTheDecisionMadeOnIt() async throws {
        let wallClock = WrongWallClock(ahead: 2 * 3600)
        let (decisions, pipeline, _) = try await visit(wallClock: wallClock, duringTheSearch: { wallClock.set(ahead: 0) })
        #expect(decisions.map(\.outcome) == [.deniedSchedule], "\(decisions.map { $0.reason })")
        #expect(decisions.first?.reason.contains("the clock reads 2 h ahead of the cloud's") == true)
        // Right now, and `/health` says so without waiting for another visit.
        #expect(await pipeline.healthFacts.clockProblem == nil)
        wallClock.set(ahead: -3 * 3600)
        #expect(await pipeline.healthFacts.clockProblem?.detail == "the clock reads 3 h behind the cloud's")
    }

    /// Faces dated ahead of the cloud's time that the cache cannot forget (a disk gone read-only): the
    /// clock is right, so schedules apply online, but the cache grants nothing offline, since those faces
    /// would open the door past their life; `/health` names the cache. A cache that can forget them
    /// grants offline again.
    @Test func facesDatedAheadThatCannotBeForgottenGrantNothingOffline() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Her face, cached while the clock ran a year ahead.
        let cache = try await Self.cacheHoldingHerFace(in: folder, rememberedAt: Date().addingTimeInterval(365 * 86_400))
        let stuck = FaultyDiskCache(cache, refusesDeletes: true)
        let online = try await visit(wallClock: WrongWallClock(ahead: 0), offline: stuck)
        #expect(online.decisions.map(\.outcome) == [.granted], "\(online.decisions.map { $0.reason })")
        #expect(try await cache.list().count == 2, "the face dated ahead kept, hers of today added")

        let away = try await visit(wallClock: WrongWallClock(ahead: 0), offline: stuck, cloudAnswers: false)
        #expect(away.decisions.map(\.outcome) == [.deniedOffline], "\(away.decisions.map { $0.reason })")
        #expect(
            away.decisions.first?.reason.contains("offline grants refused: the offline cache holds faces dated ahead of the cloud's time") == true)
        #expect(await away.pipeline.healthFacts.offlineCacheProblem?.detail.contains("could not be forgotten") == true)

        let forgetting = try await visit(wallClock: WrongWallClock(ahead: 0), offline: cache, cloudAnswers: false)
        #expect(forgetting.decisions.map(\.outcome) == [.grantedOffline], "\(forgetting.decisions.map { $0.reason })")
        #expect(try await cache.list().allSatisfy { $0.rememberedAt < Date().addingTimeInterval(60) })
        #expect(await forgetting.pipeline.healthFacts.offlineCacheProblem == nil)
    }

    /// The re-check is what catches a look-alike let in offline: an offline grant whose re-check cannot be
    /// kept (the cache's disk full at that moment) takes that subject's faces out of the cache, so the
    /// same face is not let in again, unchecked, for the rest of the outage.
    @Test func anOfflineGrantThatCannotBeReCheckedDoesNotStandAgain() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try await Self.cacheHoldingHerFace(in: folder)
        let full = FaultyDiskCache(cache, refusesRechecks: true)
        let first = try await visit(wallClock: WrongWallClock(ahead: 0), offline: full, cloudAnswers: false)
        #expect(first.decisions.map(\.outcome) == [.grantedOffline], "\(first.decisions.map { $0.reason })")
        #expect(try await cache.pendingRechecks().isEmpty)
        #expect(try await cache.list().isEmpty, "her faces were taken out of the cache")
        // Never to be re-checked, and journaled so (a failed re-check), not left `recheck pending` for ever.
        let grant = try #require(first.journal.decisions.first)
        #expect(first.journal.rechecks.map(\.decisionId) == [grant.id])
        #expect(first.journal.rechecks.map(\.outcome) == [.error])
        let second = try await visit(wallClock: WrongWallClock(ahead: 0), offline: full, cloudAnswers: false)
        #expect(second.decisions.map(\.outcome) == [.deniedOffline], "\(second.decisions.map { $0.reason })")
    }

    /// Without the cloud's time the journal's newest decision is a witness of the clock. A journal that
    /// cannot be read at the first decision (busy, say) is read again at the next, not taken for an empty
    /// one for the rest of the run: here it then shows a decision dated a day ahead (the clock has been
    /// set back), and the second offline grant is refused. (Until it reads, the cache's newest face and
    /// this run's decisions are the witnesses: a broken journal alone does not keep the door shut.)
    @Test func aJournalThatCouldNotBeReadIsReadAgainAtTheNextDecision() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try await Self.cacheHoldingHerFace(in: folder)
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let pipeline = GatePipeline(
            source: TwoApproaches(), analyzer: ScriptedAnalyzer(),
            search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])]), offline: cache, door: door,
            journal: FlakyJournal(journal, unreadable: 1, newest: Date().addingTimeInterval(86_400)), policy: Self.policy,
            settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(1)),
            logger: Self.quiet)
        try await pipeline.run()
        let decisions = journal.decisions.map(\.decision)
        #expect(decisions.map(\.outcome) == [.grantedOffline, .deniedOffline], "\(decisions.map(\.reason))")
        #expect(decisions.last?.reason.contains("newest journaled record") == true)
    }

    /// After a restart with the cloud away, a quiet door's newest record may be hours old, and a clock set
    /// back into that gap passed the stored dates (review of 2026-12-07). The reading the cloud's time
    /// last vouched for, journaled as the daemon ran, catches it: an hour set back is `denied-offline`
    /// where, before the witness was kept, the same visit was `granted-offline`. A wall clock the cloud
    /// disagrees with (10 minutes ahead) keeps no reading.
    @Test func aClockSetBackIntoAQuietGapIsCaughtByTheCloudsLastWord() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let threeHoursAgo = Date().addingTimeInterval(-3 * 3600)
        // The door's last record: a decision three hours ago (a quiet night).
        let earlier = SQLiteJournal(configuration: .init(path: path))
        let earlierWriter = Task { await earlier.run() }
        earlier.record(DecisionRecord(time: threeHoursAgo, door: "witness", decision: Decision(outcome: .granted, reason: "cloud match"), backend: "held"))
        try await earlier.flush()
        earlierWriter.cancel()
        await earlierWriter.value
        let cache = try await Self.cacheHoldingHerFace(in: folder, rememberedAt: threeHoursAgo)

        /// A run of the daemon with the cloud away and the clock set back an hour: its one decision.
        func visitAfterARestart() async throws -> Decision? {
            let journal = SQLiteJournal(configuration: .init(path: path))
            let writer = Task { await journal.run() }
            defer { writer.cancel() }
            let lines = SimulatedDoorLines(logger: Self.quiet)
            let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
            let doorTask = Task { try await door.run() }
            defer { doorTask.cancel() }
            let setBack = WrongWallClock(ahead: -3600)
            let pipeline = GatePipeline(
                source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(),
                search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])]), offline: cache,
                door: door, journal: journal, policy: Self.policy,
                settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(1)),
                logger: Self.quiet, now: { setBack.now })
            let outcomes = await pipeline.decisions()
            try await pipeline.run()
            try await journal.flush()
            var decisions: [Decision] = []
            for await outcome in outcomes { decisions.append(outcome.record.decision) }
            #expect(decisions.count == 1)
            return decisions.first
        }

        /// A run of the daemon while the cloud answers, its wall clock `ahead` of the cloud's time, for
        /// long enough to keep the clock's witness.
        func runWithTheCloud(wallClockAhead ahead: TimeInterval) async throws {
            let journal = SQLiteJournal(configuration: .init(path: path))
            let writer = Task { await journal.run() }
            let stated = CloudClock()
            stated.note(stated: Date())
            let wall = WrongWallClock(ahead: ahead)
            let pipeline = GatePipeline(
                source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(), search: HeldCloud(cloudClock: stated), offline: nil,
                door: try DoorController(lines: SimulatedDoorLines(logger: Self.quiet), logger: Self.quiet), journal: journal, policy: Self.policy, settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(1)), logger: Self.quiet,
                now: { wall.now })
            let keeping = Task { await pipeline.keepClockWitness(every: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(300))
            keeping.cancel()
            await keeping.value
            try await journal.flush()
            writer.cancel()
            await writer.value
        }

        // Nothing vouched for the clock since the last record: the hour set back passes the stored dates.
        #expect(try await visitAfterARestart()?.outcome == .grantedOffline)

        // A run whose clock the cloud found 10 minutes ahead keeps nothing: the journal's newest record is
        // still the offline grant made on the clock set back an hour.
        try await runWithTheCloud(wallClockAhead: 600)
        let check = SQLiteJournal(configuration: .init(path: path))
        let newest = try #require(try await check.newestRecordTime())
        #expect(abs(newest.timeIntervalSinceNow + 3600) < 120, "\(newest)")

        // A run whose clock the cloud vouched for keeps its reading; the next start, set back an hour with
        // the cloud away, is caught.
        try await runWithTheCloud(wallClockAhead: 0)
        let caught = try #require(try await visitAfterARestart())
        #expect(caught.outcome == .deniedOffline, "\(caught.reason)")
        #expect(caught.reason.contains("newest journaled record"), "\(caught.reason)")
    }

    /// A door event journaled during the run (an exit press; the pipeline never sees it) moves the clock's
    /// witness on as a decision does: a clock set back behind it is caught at the next decision, not only
    /// after a restart (review: only this run's decisions counted, and a clock set back into the gap since
    /// the last one was trusted, letting expired faces in offline and schedules read at the wrong hour).
    @Test func aDoorEventJournaledDuringTheRunWitnessesTheClock() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try await Self.cacheHoldingHerFace(in: folder)
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let sqlite = SQLiteJournal(configuration: .init(path: folder.file("journal.sqlite")))
        let writer = Task { await sqlite.run() }
        defer { writer.cancel() }
        let journal = ExitPressAfterTheFirstDecision(sqlite)
        let pipeline = GatePipeline(
            source: TwoApproaches(), analyzer: ScriptedAnalyzer(),
            search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])]), offline: cache, door: door,
            journal: journal, policy: Self.policy,
            settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(1)),
            logger: Self.quiet)
        let outcomes = await pipeline.decisions()
        try await pipeline.run()
        var decisions: [Decision] = []
        for await outcome in outcomes { decisions.append(outcome.record.decision) }
        #expect(decisions.map(\.outcome) == [.grantedOffline, .deniedOffline], "\(decisions.map(\.reason))")
        #expect(decisions.last?.reason.contains("newest journaled record") == true)
    }

    /// A box without a real-time clock that booted reading 1970, with no cloud time (a plain-http forwarder)
    /// and nothing stored to compare with (a new box: an empty journal, no cache): nobody a schedule applies
    /// to is let in on that clock. Before, the schedule was read at 1 January 1970 and trusted.
    @Test func aClockReading1970IsNotTrustedWithNothingStored() async throws {
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        let reset = WrongWallClock(ahead: -Date().timeIntervalSince1970 + 3600)
        let pipeline = GatePipeline(
            source: SynthesizedApproach(), analyzer: ScriptedAnalyzer(),
            search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])], released: true),
            offline: nil, door: door, journal: journal, policy: Self.policy,
            settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(30)),
            logger: Self.quiet, now: { reset.now })
        try await pipeline.run()
        let decisions = journal.decisions.map(\.decision)
        #expect(decisions.map(\.outcome) == [.deniedSchedule], "\(decisions.map(\.reason))")
        #expect(decisions.first?.reason.contains("earlier than this facegate was released") == true, "\(decisions.map(\.reason))")
        #expect(lines.relayChanges == 0)
        #expect(await pipeline.healthFacts.clockProblem != nil, "/health says so")
    }

    /// The wall clock steps an hour forward between one person's two visits (a spoofed NTP server, and
    /// no cloud time to catch it): the re-entry cooldown is measured on the pipeline's steady clock, so
    /// the second visit, moments after the first, is still within it.
    @Test func aClockSteppedForwardDoesNotEndTheReentryCooldown() async throws {
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(50)), logger: Self.quiet)
        let doorTask = Task { try await door.run() }
        defer { doorTask.cancel() }
        let journal = MemoryJournal()
        var policy = Self.policy
        policy.reentryCooldown = .seconds(30)
        let pipeline = GatePipeline(
            source: TwoApproaches(), analyzer: ScriptedAnalyzer(),
            search: HeldCloud(candidates: [MatchCandidate(subjectId: "staff-3", score: 9000, tags: ["staff"])], released: true),
            offline: nil, door: door, journal: journal, policy: policy,
            settings: .init(door: "witness", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(5)),
            logger: Self.quiet, now: { Date().addingTimeInterval(journal.decisions.isEmpty ? 0 : 3600) })
        try await pipeline.run()
        let decisions = journal.decisions
        #expect(decisions.map(\.decision.outcome) == [.granted, .deniedReentry], "\(decisions.map(\.decision.reason))")
        #expect(decisions.count == 2 && decisions[1].time.timeIntervalSince(decisions[0].time) > 3000, "the wall clock did step")
    }
}

/// The held-cloud scene twice, a minute apart: one person's two visits.
struct TwoApproaches: FrameSource {
    func frames() -> AsyncThrowingStream<Frame, any Error> {
        let scene = SynthesizedApproach()
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var last: Frame?
                    for try await frame in scene.frames() {
                        continuation.yield(frame)
                        last = frame
                    }
                    let offset = (last?.sequence ?? 0) + 1
                    for try await var frame in scene.frames() {
                        frame.sequence += offset
                        frame.timestamp += .seconds(60)
                        continuation.yield(frame)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// The door's journal, with an exit press journaled after the first decision dated a day ahead of the
/// clock: as if the clock were set back a day after the press.
final class ExitPressAfterTheFirstDecision: GateJournal {
    let inner: SQLiteJournal
    private let pressed = Mutex(false)
    init(_ inner: SQLiteJournal) { self.inner = inner }
    func record(_ decision: DecisionRecord) -> Bool {
        let recorded = inner.record(decision)
        if pressed.withLock({ pressed in defer { pressed = true }; return !pressed }) {
            inner.record(DoorEventRecord(time: decision.time.addingTimeInterval(86_400), door: decision.door, kind: .exitButton))
        }
        return recorded
    }
    func record(_ event: DoorEventRecord) -> Bool { inner.record(event) }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { inner.recordRecheck(recheck) }
    func recordRelay(_ relay: RelayRecord) -> Bool { inner.recordRelay(relay) }
    func flush() async throws { try await inner.flush() }
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] { try await inner.grants(atDoor: door, within: window, of: now) }
    func newestRecordTime() async throws -> Date? { try await inner.newestRecordTime() }
    var newestHandedTime: Date? { inner.newestHandedTime }
}

/// A journal whose first reads fail (a file another process holds locked), then read `newest`.
final class FlakyJournal: GateJournal {
    struct Unreadable: Error, CustomStringConvertible {
        var description: String { "database is locked" }
    }
    let inner: MemoryJournal
    let newest: Date
    private let unreadable: Mutex<Int>
    init(_ inner: MemoryJournal, unreadable: Int, newest: Date) {
        self.inner = inner
        self.newest = newest
        self.unreadable = Mutex(unreadable)
    }
    func record(_ decision: DecisionRecord) -> Bool { inner.record(decision) }
    func record(_ event: DoorEventRecord) -> Bool { inner.record(event) }
    func recordRecheck(_ recheck: RecheckRecord) -> Bool { inner.recordRecheck(recheck) }
    func recordRelay(_ relay: RelayRecord) -> Bool { inner.recordRelay(relay) }
    func flush() async throws { try await inner.flush() }
    func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] { try await inner.grants(atDoor: door, within: window, of: now) }
    func newestRecordTime() async throws -> Date? {
        let fails = unreadable.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        if fails { throw Unreadable() }
        return newest
    }
}

/// The door's offline cache on a failing disk: it takes no deletes, or no re-checks; everything else as
/// the real one.
final class FaultyDiskCache: OfflineFaceStore {
    let cache: OfflineFaceCache
    let refusesDeletes: Bool
    let refusesRechecks: Bool
    init(_ cache: OfflineFaceCache, refusesDeletes: Bool = false, refusesRechecks: Bool = false) {
        self.cache = cache
        self.refusesDeletes = refusesDeletes
        self.refusesRechecks = refusesRechecks
    }
    static let readOnly = OfflineCacheError(.storage, "attempt to write a readonly database")

    func remember(
        subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, score: Double, unit: ScoreUnit, descriptor: FaceDescriptor,
        at time: Date
    ) async throws {
        try await cache.remember(subjectId: subjectId, tags: tags, grantedUnder: policy, score: score, unit: unit, descriptor: descriptor, at: time)
    }
    func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate] {
        try await cache.match(descriptor, at: time, policy: policy)
    }
    func addPendingRecheck(decisionId: UUID, door: String, grantedSubject: String?, probe: [UInt8], at time: Date) async throws -> UUID {
        if refusesRechecks { throw OfflineCacheError(.storage, "database or disk is full") }
        return try await cache.addPendingRecheck(decisionId: decisionId, door: door, grantedSubject: grantedSubject, probe: probe, at: time)
    }
    func pendingRechecks(limit: Int?, at time: Date) async throws -> [PendingRecheck] { try await cache.pendingRechecks(limit: limit, at: time) }
    func completeRecheck(_ id: UUID) async throws { try await cache.completeRecheck(id) }
    func noteRecheckAttempt(_ id: UUID) async throws { try await cache.noteRecheckAttempt(id) }
    func cachedSubjectsSince() async throws -> [String: Date] { try await cache.cachedSubjectsSince() }
    func newestRememberedAt() async throws -> Date? { try await cache.newestRememberedAt() }
    func forget(subjects: Set<String>) async throws -> Int {
        if refusesDeletes { throw Self.readOnly }
        return try await cache.forget(subjects: subjects)
    }
    func forgetFaces(rememberedAfter time: Date) async throws -> Int {
        if refusesDeletes { throw Self.readOnly }
        return try await cache.forgetFaces(rememberedAfter: time)
    }
    func forgetExpired(at time: Date) async throws -> Int {
        if refusesDeletes { throw Self.readOnly }
        return try await cache.forgetExpired(at: time)
    }
}

/// A wall clock that reads the true time plus an error the test sets.
final class WrongWallClock: Sendable {
    private let error: Mutex<TimeInterval>
    init(ahead seconds: TimeInterval) { error = Mutex(seconds) }
    var now: Date { Date().addingTimeInterval(error.withLock { $0 }) }
    func set(ahead seconds: TimeInterval) { error.withLock { $0 = seconds } }
}
