@testable import FacegateApp
import FacegateDemo
import FacegateCore
import FacegateJournal
import FacegateOfflineCache
import FacegateTesting
import Foundation
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
            #expect(offline.relayChanges == 0)
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
            // Six minutes behind: NEC ID refuses the signature too, and the client signs again on its time.
            rig.wallClockError = -6 * 60
            let behind = try await rig.runDoor(visitors: [Photos.enrolledWalksUp])
            #expect(behind.outcomes.map(\.record.decision.outcome) == [.deniedSchedule])
            let reason = try #require(behind.outcomes.first?.record.decision.reason)
            #expect(reason.contains("the clock reads 6 min behind the cloud's"), "\(reason)")
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
        try await withNeoCheckEmulator { emulator in
            let search = NeoCheckFaceSearch(client: try emulator.client())
            #expect(search.cloudTimeNow() == nil)
            try await search.checkReachable()
            let stated = try #require(search.cloudTimeNow())
            #expect(abs(stated.timeIntervalSinceNow) < 5, "\(stated)")
        }
        try await withNECEmulator { emulator in
            let search = NECFaceSearch(client: emulator.client())
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
    }

    @Test func aReportWithoutTheClockReads() throws {
        let older = #"{"status":"ok","can_decide":true,"camera":{"status":"ok"},"cloud":{"status":"ok"},"relay":{"status":"ok"},"journal":{"status":"ok"},"offline_cache":{"status":"off"}}"#
        let report = try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(older.utf8))
        #expect(report.clock == Self.ok && report.offlineCache.status == .off)
    }
}
