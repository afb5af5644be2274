import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateOfflineCache
import Foundation
import Logging
import ServiceLifecycle

// The services a door is made of, in ``DoorControllerService/services``' start order. Each stops
// when the group shuts it down; the group does that in reverse order, one after the other.

/// Says what the door runs with when it starts and, shut down last of all, closes what the parts hold
/// (the cloud client) and reports the totals.
struct DoorPartsService: Service {
    let controller: DoorControllerService

    func run() async {
        let parts = controller.parts, logger = controller.logger, doorName = controller.configuration.door.name
        logger.notice(
            "starting",
            metadata: [
                "door": "\(doorName)", "backend": "\(parts.search.backendName)",
                "offline_cache": "\(parts.cache == nil ? "off" : "on")", "relay_pulse": "\(controller.configuration.door.pulse)",
            ])
        // What the door runs without is journaled (a `degraded` door event each) and stays in STATUS=.
        for degradation in parts.degradations {
            logger.warning("running degraded", metadata: ["door": "\(doorName)", "key": "\(degradation.key)", "detail": "\(degradation.detail)"])
            parts.journal.record(DoorEventRecord(time: Date(), door: doorName, kind: .degraded, detail: degradation.detail))
        }
        // Held until everything after it has stopped (or the group is cancelled).
        try? await gracefulShutdown()
        let pipeline = controller.pipeline
        await pipeline.closeObservers()
        await parts.close()
        // Last of all (the pipeline and the re-checks have stopped): the file alone then holds every face.
        await parts.cache?.close()
        let totals = await pipeline.statistics
        // Only a stage hung in a blocking call outlives the pipeline's grace and the group's backstop.
        let complete = controller.pipelineStopped.isSet
        logger.log(
            level: complete ? .notice : .error,
            complete ? "stopped" : "stopped with the pipeline still running (a stage hung past the stop's limit); the visit it held is not journaled",
            metadata: [
                "door": "\(doorName)", "frames": "\(totals.frames)", "frames_rejected": "\(totals.framesRejected)",
                "frames_analysed": "\(totals.framesAnalysed)", "visits": "\(totals.visits)",
                "reidentifications": "\(totals.reidentifications)", "cloud_calls": "\(totals.cloudCalls)", "unlocks": "\(totals.unlocks)",
            ])
    }
}

/// The journal's writer: shut down after the door, it writes out what is queued and closes. Its
/// retention deletes for age only on a clock the pipeline vouches for.
struct JournalWriterService: Service {
    let journal: SQLiteJournal
    let pipeline: GatePipeline

    func run() async {
        let journal = self.journal, pipeline = self.pipeline
        await cancelWhenGracefulShutdown { await journal.run(clockIsTrusted: { await pipeline.clockIsVouchedFor(reading: $0) }) }
    }
}

/// The wall clock's reading journaled while the cloud's time vouches for it (``GatePipeline/keepClockWitness(every:)``).
/// Shut down before the journal's writer, so what it hands over is written.
struct ClockWitnessService: Service {
    let pipeline: GatePipeline
    let interval: Duration

    func run() async {
        let pipeline = self.pipeline, interval = self.interval
        await cancelWhenGracefulShutdown { await pipeline.keepClockWitness(every: interval) }
    }
}

/// The door: relay, contact and exit button, with its events journaled. Shut down after the
/// pipeline, it locks and releases the relay. A door that fails (inputs lost, a relay that will not
/// lock) cannot be trusted: the watchdog stops being fed and the failure stops the group, so that the
/// process exits non-zero, the kernel frees the line and systemd restarts the service.
struct DoorService: Service {
    let controller: DoorControllerService
    let failed: SetOnceFlag

    func run() async throws {
        let door = controller.parts.door, journal = controller.parts.journal, pipeline = controller.pipeline
        let doorName = controller.configuration.door.name, logger = controller.logger, notifier = controller.notifier
        let failed = self.failed
        // Subscribed before the door runs, and journaled outside what the stop cancels: the door sends its
        // last events as it stops (a `fault` from the lock a stop makes, or from a relock the stop waits
        // for), after the graceful shutdown began. The stream ends once the door has stopped, before this
        // service returns, and the journal's writer stops only after it.
        let events = await door.events()
        async let journaled: Void = journalDoorEvents(events, of: doorName, into: journal, metrics: controller.metrics)
        do {
            try await cancelWhenGracefulShutdown { try await door.run() }
        } catch {
            failed.set()
            let code = (error as? DoorError).map { "\($0.code)" } ?? "\(type(of: error))"
            logger.critical("the door failed; stopping", metadata: ["door": "\(doorName)", "error": "\(code)"])
            notifier.status("door \(doorName): door failed (\(code)); stopping")
            await journaled
            pipeline.finish()
            throw error
        }
        await journaled
    }
}

/// The offline cache's re-checks of offline decisions and its revocation sync.
struct OfflineMaintenanceService: Service {
    let maintenance: OfflineMaintenance
    let pipeline: GatePipeline

    func run() async {
        let maintenance = self.maintenance, pipeline = self.pipeline
        await cancelWhenGracefulShutdown {
            await maintenance.run(
                policy: { await pipeline.currentPolicy }, cloudIsDown: { await pipeline.cloudIsDown },
                clockIsTrusted: { await pipeline.clockIsVouchedFor() })
        }
    }
}

/// The systemd watchdog and `STATUS=` line.
struct HealthReporterService: Service {
    let controller: DoorControllerService
    let doorFailed: SetOnceFlag

    func run() async {
        let controller = self.controller, doorFailed = self.doorFailed
        await cancelWhenGracefulShutdown { await controller.reportHealth(unlessDoorFailed: doorFailed) }
    }
}

/// SIGHUP: the configuration read again, the policy replaced.
struct ReloaderService: Service {
    let controller: DoorControllerService

    func run() async {
        let controller = self.controller
        await cancelWhenGracefulShutdown { await controller.reloadOnHangup() }
    }
}

/// The gate pipeline, started last and shut down first: it stops taking frames and finishes the visit
/// being decided. Its source ending (a replay) ends the group the same way.
///
/// The stop's grace is kept here, not by the group: past it the pipeline alone is cancelled (its cloud
/// search abandoned, the visit journaled as an error), so that it still returns before the door and
/// journal stop. The group cancelling everything at once would let that last decision reach a journal
/// already closed, after `stopped`.
struct PipelineService: Service {
    let controller: DoorControllerService

    func run() async throws {
        let pipeline = controller.pipeline
        defer { controller.pipelineStopped.set() }
        // However it ends, nobody's approach is taken after it: an enrolment still waiting is answered now.
        do {
            try await runUntilStopped()
        } catch {
            await pipeline.endEnrolments()
            throw error
        }
        await pipeline.endEnrolments()
    }

    private func runUntilStopped() async throws {
        let controller = self.controller, pipeline = controller.pipeline, logger = controller.logger
        let notifier = controller.notifier, doorName = controller.configuration.door.name, grace = controller.settings.shutdownGrace
        if controller.settings.reloadsOnHangup {
            for await _ in controller.hangupsTrapped {}
        }
        notifier.ready(status: "door \(doorName): watching the camera" + controller.degradedSuffix)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await controller.runPipeline()
                } onGracefulShutdown: {
                    notifier.stopping()
                    logger.notice("stopping: no new visits; the one being decided finishes", metadata: ["door": "\(doorName)"])
                    pipeline.finish()
                }
            }
            group.addTask {
                // Returns at once when cancelled: the pipeline has ended, or the group gave up.
                guard (try? await gracefulShutdown()) != nil, (try? await Task.sleep(for: grace)) != nil else { return }
                logger.warning(
                    "stopping: the stop's grace has passed; the pipeline is cancelled (a visit being decided is journaled as an error); the door stays locked",
                    metadata: ["door": "\(doorName)", "grace": "\(grace)"])
            }
            // The pipeline returning ends the grace's timer; the timer running out cancels the pipeline.
            try await group.next()
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
