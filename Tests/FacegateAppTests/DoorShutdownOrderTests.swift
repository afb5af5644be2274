@testable import FacegateApp
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
    /// A door whose cloud holds every search until released (or cancelled), and its simulated lines.
    private struct HeldDoor {
        let service: DoorControllerService
        let cloud: HeldCloud
        let lines: SimulatedDoorLines
        let journalPath: String
    }

    private static func heldDoor(
        in folder: URL, logger: Logger, decisionDeadline: Duration = .milliseconds(1500), shutdownGrace: Duration = .seconds(8),
        shutdownBackstop: Duration = .seconds(4), servesMetrics: Bool = false, analyzer: any FrameAnalyzing = ScriptedAnalyzer(),
        controlSocket: String? = nil
    ) throws -> HeldDoor {
        var configuration = FacegateConfiguration()
        configuration.door.name = "shutdown"
        // Not the system's socket: tests run side by side.
        configuration.control.socket = controlSocket
        if servesMetrics { configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0) }
        configuration.door.tags = ["staff"]
        configuration.approach.settleFrames = 3
        configuration.offlineCache.enabled = false
        configuration.backend.decisionDeadline = decisionDeadline
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        let lines = SimulatedDoorLines(logger: logger)
        // A pulse far longer than the test: the door is locked by the shutdown, not by its timer.
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .seconds(600)), logger: logger)
        let journal = SQLiteJournal(configuration: .init(path: configuration.journal.path), logger: logger)
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])])
        let parts = DoorParts(
            // An enroller that fails the test if reached: the door can enrol, so an enrolment asked of it waits
            // for a visit unless refused.
            source: SynthesizedApproach(endless: true), analyzer: analyzer, search: cloud, directory: cloud, enroller: UnreachedEnroller(),
            cache: nil,
            door: door, journal: journal, close: {})
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.shutdownGrace = shutdownGrace
        settings.shutdownBackstop = shutdownBackstop
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        return HeldDoor(service: service, cloud: cloud, lines: lines, journalPath: configuration.journal.path)
    }

    private static func journaled(_ path: String) throws -> [JournaledDecision] {
        var decisions: [JournaledDecision] = []
        try JournalReader(path: path).forEachDecision(DecisionQuery()) { decisions.append($0) }
        return decisions
    }

    @Test("a shutdown during a grant: the grant finishes and opens the door, then the door locks, then the journal is written out")
    func aShutdownDuringAGrantFinishesItThenLocksThenFlushes() async throws {
        let temporary = try TemporaryFolder("shutdown-order")
        defer { temporary.remove() }
        let folder = temporary.url
        let logger = Logger.quiet("shutdown-order")

        let held = try Self.heldDoor(in: folder, logger: logger)
        let (service, cloud, lines) = (held.service, held.cloud, held.lines)

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
        let decisions = try Self.journaled(held.journalPath)
        #expect(decisions.map(\.record.decision.outcome) == [.granted])
        #expect(decisions.first?.record.relay == .unlocked, "the door was still running when the grant opened it, and the journal after")
        #expect(await service.pipeline.statistics.cloudCalls == 1)
    }

    @Test("a manual unlock or an enrolment asked for while the door stops is refused, says so, and the relay does not move")
    func aManualUnlockWhileTheDoorStopsIsRefused() async throws {
        let temporary = try TemporaryFolder("shutdown-unlock")
        defer { temporary.remove() }
        let folder = temporary.url
        let logger = Logger.quiet("shutdown-unlock")
        let socket = folder.appendingPathComponent("control.sock").path
        // A deadline and a grace far longer than the command takes to start, on a loaded machine: the search
        // is held until the test releases it.
        let held = try Self.heldDoor(
            in: folder, logger: logger, decisionDeadline: .seconds(60), shutdownGrace: .seconds(60), controlSocket: socket)

        try await testGracefulShutdown { trigger in
            let running = Task { try await held.service.run() }
            // Whatever fails below, the held search is let go, so the run ends.
            defer { held.cloud.release() }
            #expect(await held.cloud.waitUntilCalled(timeout: .seconds(20)), "the grant's search holds the stop")
            trigger.triggerGracefulShutdown()
            let deadline = ContinuousClock.now + .seconds(10)
            while !held.service.pipeline.isFinishing, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(held.service.pipeline.isFinishing, "the stop began")
            // The door and its control socket still run: the stop waits for the decision in progress.
            let unlock = try await ToolProcess.run(
                ControlSocketTests.facegate, ["door", "unlock", "--socket", socket, "--reason", "a late delivery"])
            #expect(unlock.status == 1, "\(unlock.output)")
            #expect(unlock.errors.contains("the door is stopping"), "\(unlock.errors)")
            #expect(held.lines.relayChanges == 0 && !held.lines.relayIsUnlocked, "the relay did not move")
            // An enrolment is refused at once too: it would wait for a visit a stopping door no longer takes.
            let asked = ContinuousClock.now
            let enrol = try await ToolProcess.run(ControlSocketTests.facegate, ["enrol", "--socket", socket, "--timeout", "30", "--tag", "staff"])
            #expect(enrol.status == 2, "\(enrol.output)")
            #expect(enrol.errors.contains("the door is stopping"), "\(enrol.errors)")
            #expect(ContinuousClock.now - asked < .seconds(20), "refused at once, not after its 30 s")
            held.cloud.release()
            try await running.value
        }

        // The grant being decided still opened the door; then the stop locked it. No manual unlock.
        #expect(held.lines.relayChanges == 2)
        #expect(try Self.journaled(held.journalPath).map(\.record.decision.outcome) == [.granted])
    }

    @Test("an enrolment already waiting when the door stops is answered by the stop: not enrolled, the door stopped")
    func anEnrolmentWaitingWhenTheDoorStopsIsAnswered() async throws {
        let temporary = try TemporaryFolder("shutdown-enrolment")
        defer { temporary.remove() }
        let socket = temporary.file("control.sock")
        let held = try Self.heldDoor(
            in: temporary.url, logger: Logger.quiet("shutdown-enrolment"), decisionDeadline: .seconds(60), shutdownGrace: .seconds(60),
            controlSocket: socket)

        try await testGracefulShutdown { trigger in
            let running = Task { try await held.service.run() }
            defer { held.cloud.release() }
            // The scene's one person is being decided (the search is held); the corridor stays empty after them.
            #expect(await held.cloud.waitUntilCalled(timeout: .seconds(20)), "the grant's search holds the door")
            let enrolling = Task {
                try await ToolProcess.run(ControlSocketTests.facegate, ["enrol", "--socket", socket, "--timeout", "120", "--tag", "staff"])
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while await !held.service.pipeline.enrolmentIsWaiting, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await held.service.pipeline.enrolmentIsWaiting, "the enrolment never started waiting")
            let stopped = ContinuousClock.now
            trigger.triggerGracefulShutdown()
            held.cloud.release()
            let enrol = try await enrolling.value
            #expect(enrol.status == 1, "\(enrol.output)")
            // Before, the control socket's close ended it: "the enrolment was cancelled".
            #expect(enrol.errors.contains("not enrolled (timed-out): the door stopped before anyone approached"), "\(enrol.errors)")
            #expect(ContinuousClock.now - stopped < .seconds(20), "answered at the stop, not after its 120 s")
            try await running.value
        }
        #expect(held.lines.relayChanges == 2, "the grant being decided opened the door; the stop locked it")
        // Asked after the stop (in the moment before the control socket refuses it): answered at once, not
        // after the 120 s it would wait for an approach no stopped pipeline takes.
        let late = await held.service.pipeline.enrolNextVisit(EnrolmentRequest(tags: ["staff"]), within: .seconds(120))
        #expect(late.result == .timedOut && late.reason == "the door stopped before anyone approached", "\(late)")
    }

    @Test("a stage hung in a blocking call past the grace and the backstop: the door is locked and released all the same, the last line says so, and nothing opens when the stage returns")
    func aStageHungPastTheBackstopLeavesTheDoorLockedAndSaysSo() async throws {
        let temporary = try TemporaryFolder("shutdown-backstop")
        defer { temporary.remove() }
        let folder = temporary.url
        let logs = CapturedLogs()
        // The analysis of the person's first frame blocks its thread and ignores cancellation.
        let analyzer = HangingAnalyzer()
        defer { analyzer.release() }
        let held = try Self.heldDoor(
            in: folder, logger: logs.logger(level: .notice), shutdownGrace: .milliseconds(300), shutdownBackstop: .milliseconds(300),
            analyzer: analyzer)
        held.cloud.release()

        try await testGracefulShutdown { trigger in
            let running = Task { try await held.service.run() }
            #expect(await analyzer.waitUntilHanging(timeout: .seconds(20)))
            trigger.triggerGracefulShutdown()
            // The group gives up on the pipeline after the grace and the backstop; the rest stops without it.
            let deadline = ContinuousClock.now + .seconds(20)
            while !logs.text.contains("stopped with the pipeline still running"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let lines = logs.all
            #expect(lines.last?.hasPrefix("error stopped with the pipeline still running") == true, "\(logs.text)")
            #expect(held.lines.relayChanges == 0 && !held.lines.relayIsUnlocked && held.lines.isReleased, "locked and released without the pipeline")

            // The hung stage returns at last: its visit can no longer open anything.
            analyzer.release()
            _ = try? await running.value
            #expect(held.lines.relayChanges == 0 && !held.lines.relayIsUnlocked)
        }
    }

    /// While the door stops (the visit being decided finishes, no new one is taken, the relay is released
    /// at the end) `/health` says it cannot decide: the decision part `failed`, "the door is stopping".
    /// Before, 200 with every part `ok` until the status server stopped, last of all (review).
    @Test func aStoppingDoorSaysItCannotDecide() async throws {
        let temporary = try TemporaryFolder("shutdown-health")
        defer { temporary.remove() }
        let held = try Self.heldDoor(in: temporary.url, logger: Logger.quiet("shutdown-health"), decisionDeadline: .seconds(60))
        try await testGracefulShutdown { trigger in
            let running = Task { try await held.service.run() }
            #expect(await held.cloud.waitUntilCalled(timeout: .seconds(20)), "the visit's search reached the cloud")
            #expect(await held.service.healthReport(doorFailed: SetOnceFlag()).decision.status == .ok)
            trigger.triggerGracefulShutdown()
            for _ in 0..<200 where !held.service.isStopping { try await Task.sleep(for: .milliseconds(10)) }
            let stopping = await held.service.healthReport(doorFailed: SetOnceFlag())
            #expect(!stopping.canDecide && stopping.decision.status == .failed, "\(stopping)")
            #expect(stopping.decision.lastError?.contains("stopping") == true)
            held.cloud.release()
            try await running.value
        }
    }

    @Test("a shutdown past its grace abandons the search: the visit is journaled as an error, the door stays locked, stopped is last")
    func aShutdownPastItsGraceAbandonsTheSearchAndKeepsTheOrder() async throws {
        let temporary = try TemporaryFolder("shutdown-grace")
        defer { temporary.remove() }
        let folder = temporary.url
        let logs = CapturedLogs()
        // The cloud would be waited for a minute: the stop's grace (half a second) runs out first.
        let held = try Self.heldDoor(
            in: folder, logger: logs.logger(level: .notice), decisionDeadline: .seconds(60), shutdownGrace: .milliseconds(500),
            servesMetrics: true)
        let clock = ContinuousClock()
        var stopTook = Duration.zero

        try await testGracefulShutdown { trigger in
            let running = Task { try await held.service.run() }
            #expect(await held.cloud.waitUntilCalled(timeout: .seconds(20)), "the visit's search reached the cloud")
            let stopping = clock.now
            trigger.triggerGracefulShutdown()
            // Never released: only the grace running out ends the search.
            try await running.value
            stopTook = clock.now - stopping
        }

        // Within the grace and well before the group's backstop (4 s more) would cancel everything.
        #expect(stopTook < .seconds(3), "stopped in \(stopTook)")
        let decisions = try Self.journaled(held.journalPath)
        #expect(decisions.map(\.record.decision.outcome) == [.error], "the abandoned visit is journaled, while the journal still ran")
        #expect(decisions.first?.record.decision.reason.contains("abandoned") == true)
        #expect(held.lines.relayChanges == 0 && !held.lines.relayIsUnlocked && held.lines.isReleased, "never opened; locked and released")
        let lines = logs.all
        let stopped = lines.lastIndex { $0.hasPrefix("notice stopped ") }
        let decided = lines.lastIndex { $0.hasPrefix("notice decision ") }
        #expect(lines.contains { $0.contains("the stop's grace has passed; the pipeline is cancelled") })
        #expect(stopped != nil && decided != nil && decided! < stopped!, "the decision logged before stopped:\n\(logs.text)")
        #expect(!lines.contains { $0.contains("stopped with the pipeline still running") })
        // The stop cut the search short: /metrics must not blame the cloud for it.
        let exposition = String(decoding: await held.service.renderMetrics(), as: UTF8.self)
        let calls = exposition.split(separator: "\n").filter { $0.hasPrefix("facegate_cloud_calls_total{") }
        #expect(calls.count == 8, "every purpose and result declared:\n\(calls.joined(separator: "\n"))")
        for line in calls {
            let expected = line.contains("purpose=\"decision\"") && line.contains("result=\"abandoned\"") ? " 1" : " 0"
            #expect(line.hasSuffix(expected), "\(line)")
        }
        #expect(exposition.contains("facegate_decisions_total{outcome=\"error\"} 1"))
    }
}
