import FacegateCore
import FacegateDoor
import FacegateJournal
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `facegate run`: one door's controller as a swift-service-lifecycle `Service`.
///
/// Runs the gate pipeline, the door, the journal writer, the offline cache's re-checks and
/// revocation sync, the systemd watchdog and status line, and reloads the policy on SIGHUP.
/// On graceful shutdown (SIGTERM) it stops taking frames, lets the visit being decided finish,
/// locks the door and writes the journal out before returning.
public struct DoorControllerService: Service, CustomStringConvertible {
    public struct Settings: Sendable {
        /// A frame analysis taking longer than this means the quality core is hung.
        public var analysisLimit: Duration = .seconds(15)
        /// A decision taking longer than this means it is hung; nil: the decision deadline plus 15 s.
        public var decisionLimit: Duration?
        /// How long to wait before running the pipeline again after the camera failed for good.
        public var captureRestartDelay: Duration = .seconds(5)
        /// How often the `STATUS=` line is refreshed.
        public var statusInterval: Duration = .seconds(10)
        /// Past this after a graceful shutdown begins, what is still running is cancelled.
        public var shutdownGrace: Duration = .seconds(8)
        public var maintenance = OfflineMaintenance.Settings()
        /// Whether to reload the policy on SIGHUP (off for the demo and in-process tests).
        public var reloadsOnHangup = true

        public init() {}
    }

    public let pipeline: GatePipeline
    private let parts: DoorParts
    private let configuration: FacegateConfiguration
    private let settings: Settings
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let loadConfiguration: @Sendable () throws -> FacegateConfiguration

    /// - Parameter loadConfiguration: reads the configuration again for a reload; it throws to refuse one.
    public init(
        configuration: FacegateConfiguration, parts: DoorParts, settings: Settings = Settings(),
        notifier: SystemdNotifier = SystemdNotifier(), logger: Logger,
        loadConfiguration: @escaping @Sendable () throws -> FacegateConfiguration
    ) {
        self.configuration = configuration
        self.parts = parts
        self.settings = settings
        self.notifier = notifier
        self.logger = logger
        self.loadConfiguration = loadConfiguration
        pipeline = GatePipeline(
            source: parts.source, analyzer: parts.analyzer, search: parts.search, offline: parts.cache, door: parts.door,
            journal: parts.journal, policy: configuration.doorPolicy,
            settings: .init(
                door: configuration.door.name, approach: configuration.approach,
                decisionDeadline: configuration.backend.decisionDeadline),
            logger: logger)
    }

    /// The door's name only: the parts and configuration are not for log lines.
    public var description: String { "DoorControllerService(door: \(configuration.door.name))" }

    public func run() async throws {
        let parts = self.parts, pipeline = self.pipeline, logger = self.logger
        let doorName = configuration.door.name
        let maintenance = parts.cache.map { cache in
            OfflineMaintenance(
                search: parts.search, directory: parts.directory, cache: cache, journal: parts.journal,
                settings: settingsForMaintenance(), logger: logger)
        }
        logger.notice(
            "starting",
            metadata: [
                "door": "\(doorName)", "backend": "\(parts.search.backendName)",
                "offline_cache": "\(parts.cache == nil ? "off" : "on")", "relay_pulse": "\(configuration.door.pulse)",
            ])
        // What the door runs without is journaled (a `degraded` door event each) and stays in STATUS=.
        for degradation in parts.degradations {
            logger.warning("running degraded", metadata: ["door": "\(doorName)", "key": "\(degradation.key)", "detail": "\(degradation.detail)"])
            parts.journal.record(DoorEventRecord(time: Date(), door: doorName, kind: .degraded, detail: degradation.detail))
        }
        do {
            try await runParts(parts, maintenance: maintenance)
        } catch {
            await pipeline.closeObservers()
            await parts.close()
            throw error
        }
        await pipeline.closeObservers()
        await parts.close()
        let totals = await pipeline.statistics
        logger.notice(
            "stopped",
            metadata: [
                "door": "\(doorName)", "frames": "\(totals.frames)", "frames_rejected": "\(totals.framesRejected)",
                "visits": "\(totals.visits)", "cloud_calls": "\(totals.cloudCalls)", "unlocks": "\(totals.unlocks)",
            ])
    }

    private func runParts(_ parts: DoorParts, maintenance: OfflineMaintenance?) async throws {
        let pipeline = self.pipeline, logger = self.logger, notifier = self.notifier
        let doorName = configuration.door.name
        let doorFailed = DoorFailedFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await parts.journal.run() }
            group.addTask {
                // Journaled beside the door's own task: when the door stops, its event stream ends, so
                // its last events (a fault) are queued for the journal before the service stops.
                async let journaled: Void = journalDoorEvents(of: parts.door, named: doorName, into: parts.journal)
                do {
                    try await parts.door.run()
                } catch {
                    // Without its inputs, or with a relay that will not lock, the door cannot be trusted:
                    // stop feeding the watchdog and stop, so that the process exits non-zero, the kernel
                    // frees the line and systemd restarts the service.
                    doorFailed.set()
                    let code = (error as? DoorError).map { "\($0.code)" } ?? "\(type(of: error))"
                    logger.critical("the door failed; stopping", metadata: ["door": "\(doorName)", "error": "\(code)"])
                    notifier.status("door \(doorName): door failed (\(code)); stopping")
                    await journaled
                    await pipeline.finish()
                    throw error
                }
                await journaled
            }
            if let maintenance {
                group.addTask { await maintenance.run(policy: { await pipeline.currentPolicy }, cloudIsDown: { await pipeline.cloudIsDown }) }
            }
            group.addTask { await self.reportHealth(unlessDoorFailed: doorFailed) }
            if settings.reloadsOnHangup {
                group.addTask { await self.reloadOnHangup() }
            }
            notifier.ready(status: "door \(doorName): watching the camera" + degradedSuffix)
            try await withGracefulShutdownHandler {
                try await self.runPipeline()
            } onGracefulShutdown: {
                notifier.stopping()
                logger.notice("stopping: no new visits; the one being decided finishes", metadata: ["door": "\(doorName)"])
                Task { await pipeline.finish() }
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    private func settingsForMaintenance() -> OfflineMaintenance.Settings {
        var maintenance = settings.maintenance
        maintenance.revocationSyncInterval = configuration.offlineCache.revocationSyncInterval
        return maintenance
    }

    /// Runs the pipeline until its source ends or shutdown; a camera that fails for good is
    /// retried after a pause (the door stays locked meanwhile).
    private func runPipeline() async throws {
        while true {
            do {
                try await pipeline.run()
                return
            } catch is CancellationError {
                return
            } catch {
                if await pipeline.isFinishing || Task.isCancelled { return }
                logger.error("the camera failed; trying again", metadata: ["error": "\(error)", "retry_in": "\(settings.captureRestartDelay)"])
                notifier.status("camera failed: \(error); retrying")
                try await Task.sleep(for: settings.captureRestartDelay)
            }
        }
    }

    /// The watchdog is fed only while the pipeline's stages answer and none is hung; `STATUS=`
    /// says how the door is doing.
    private func reportHealth(unlessDoorFailed doorFailed: DoorFailedFlag) async {
        let interval = min(notifier.watchdogInterval ?? settings.statusInterval, settings.statusInterval)
        let decisionLimit = settings.decisionLimit ?? configuration.backend.decisionDeadline + .seconds(15)
        var reportedStuck = false
        var lastStatus = ""
        while (try? await Task.sleep(for: interval)) != nil {
            // A failed door is never vouched for, whatever the service does while it stops.
            if doorFailed.isSet { continue }
            if let stuck = await pipeline.stuckStage(analysisLimit: settings.analysisLimit, decisionLimit: decisionLimit) {
                if !reportedStuck {
                    logger.critical("pipeline hung; no longer feeding the watchdog", metadata: ["stage": "\(stuck)"])
                    notifier.status("hung: \(stuck)")
                    reportedStuck = true
                }
                continue
            }
            reportedStuck = false
            if notifier.watchdogInterval != nil { notifier.watchdog() }
            let status = await statusLine()
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
        }
    }

    private func statusLine() async -> String {
        let statistics = await pipeline.statistics
        let granted = (statistics.decisions[.granted] ?? 0) + (statistics.decisions[.grantedOffline] ?? 0)
        var line = "door \(configuration.door.name): \(statistics.frames) frames, \(statistics.visits) visits, \(granted) granted"
        let offline = (statistics.decisions[.grantedOffline] ?? 0) + (statistics.decisions[.deniedOffline] ?? 0)
        if offline > 0 { line += ", \(offline) decided offline" }
        let journal = parts.journal.status
        if journal.health == .failing || journal.health == .closed {
            line += "; journal \(journal.health.rawValue)" + (journal.lastError.map { ": \($0)" } ?? "")
        }
        return line + degradedSuffix
    }

    /// What the door runs without, for the end of every STATUS= line: "; offline cache off: …".
    private var degradedSuffix: String {
        parts.degradations.map { "; \($0.detail)" }.joined()
    }

    /// SIGHUP: reads the configuration again. A valid one takes effect for the door's policy at the
    /// next decision; an invalid one is refused and the running configuration kept.
    private func reloadOnHangup() async {
        var running = configuration
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            notifier.reloading()
            do {
                let next = try loadConfiguration()
                await pipeline.update(policy: next.doorPolicy)
                let needRestart = next.sectionsNeedingRestart(comparedWith: running)
                running = next
                if needRestart.isEmpty {
                    logger.notice("configuration reloaded")
                } else {
                    logger.warning(
                        "configuration reloaded; some changes take effect at the next restart",
                        metadata: ["sections": "\(needRestart.joined(separator: ","))"])
                }
                notifier.ready(status: "door \(running.door.name): configuration reloaded" + degradedSuffix)
            } catch {
                logger.error("reload refused: the configuration is not valid; the running one is kept", metadata: ["error": "\(error)"])
                notifier.ready(status: "door \(running.door.name): reload refused (configuration not valid); running the previous one")
            }
        }
    }
}

/// Set once the door has failed; read by the watchdog loop.
private final class DoorFailedFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

extension FacegateConfiguration {
    /// What differs from `other` outside the door's policy: those parts are opened at start-up only.
    public func sectionsNeedingRestart(comparedWith other: FacegateConfiguration) -> [String] {
        var sections: [String] = []
        if camera != other.camera { sections.append("camera") }
        if quality != other.quality { sections.append("quality") }
        if approach != other.approach { sections.append("approach") }
        if backend != other.backend { sections.append("backend") }
        if offlineCache != other.offlineCache { sections.append("offline_cache") }
        if journal != other.journal { sections.append("journal") }
        if logging != other.logging { sections.append("logging") }
        if modelsDirectory != other.modelsDirectory { sections.append("models") }
        // The policy's keys apply live; the name and the wiring (relay, contact, button, timing) do not.
        var door = self.door
        door.tags = other.door.tags
        door.faceList = other.door.faceList
        door.threshold = other.door.threshold
        door.minimumMargin = other.door.minimumMargin
        door.schedules = other.door.schedules
        door.denyList = other.door.denyList
        door.reentryCooldown = other.door.reentryCooldown
        if door != other.door { sections.append("door") }
        return sections
    }
}
