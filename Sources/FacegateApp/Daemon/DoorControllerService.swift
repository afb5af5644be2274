import FacegateCore
import FacegateQuality
import FacegateDoor
import FacegateJournal
import FacegateOfflineCache
import Prometheus
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `facegate run`: one door's controller, as the swift-service-lifecycle `Service`s it is made of.
///
/// ``services`` are, in start order: the parts (what the door runs with, closed last), the journal
/// writer, the door, the offline cache's re-checks and revocation sync, the systemd watchdog and
/// status line, the SIGHUP reloader and the gate pipeline. A `ServiceGroup` shuts them down in the
/// reverse order, each once the one before it has returned: on SIGTERM (or a replay that ends) the
/// pipeline stops taking frames and finishes the visit being decided, then the door is locked and
/// released, then the journal is written out, then the cloud client closed.
///
/// `facegate run` puts ``services`` in its own group with the signals; ``run()`` runs them as a group
/// of their own, for the demo and tests.
public struct DoorControllerService: Service, CustomStringConvertible {
    /// Said with every accepted reload: a rotated secret (a credential's file, a `file:` secret) needs a
    /// restart, not a reload.
    public static let secretsAtStartOnly = "secrets and credentials are read at start only: a rotated one needs a restart"

    public struct Settings: Sendable {
        /// A frame analysis taking longer than this means the quality core is hung.
        public var analysisLimit: Duration = .seconds(15)
        /// The door not answering for longer than this means it is hung (a relay write that does not
        /// return): far past one ioctl, and well inside the unit's `WatchdogSec=30`.
        public var doorAnswerLimit: Duration = .seconds(5)
        /// A decision taking longer than this means it is hung; nil: the decision deadline plus 15 s.
        public var decisionLimit: Duration?
        /// How long to wait before running the pipeline again after the camera failed for good.
        public var captureRestartDelay: Duration = .seconds(5)
        /// How often the `STATUS=` line is refreshed.
        public var statusInterval: Duration = .seconds(10)
        /// Past this after a graceful shutdown begins, the visit still being decided is abandoned: its
        /// cloud search is cancelled and it is journaled as an error (the door stays locked) while the
        /// door and journal still run, so the stop keeps its order.
        public var shutdownGrace: Duration = .seconds(8)
        /// Past the grace and this, whatever still runs (a stage hung in a blocking call) is cancelled
        /// with the rest of the door's services; systemd's `TimeoutStopSec=15` is the last resort.
        public var shutdownBackstop: Duration = .seconds(4)
        /// The longest the door's services get to stop once a graceful shutdown begins.
        public var shutdownLimit: Duration { shutdownGrace + shutdownBackstop }
        public var maintenance = OfflineMaintenance.Settings()
        /// How many connections `/metrics` and `/health`, and the kiosk, take at once, and how long one may idle.
        public var statusConnections = ServedConnectionLimits.status
        public var kioskConnections = ServedConnectionLimits.kiosk
        /// How often the kiosk's pages are sent a keep-alive (a page gone is found by its write failing).
        public var kioskKeepAliveInterval: Duration = .seconds(15)
        /// How often the kiosk asks whether the door can decide, for its pages.
        public var kioskAvailabilityInterval: Duration = .seconds(2)
        /// Whether to reload the policy on SIGHUP (off for the demo and in-process tests).
        public var reloadsOnHangup = true
        /// Told the port `/metrics` and `/health` listen on (tests listen on port 0).
        public var onStatusServerListening: (@Sendable (Int) async -> Void)?
        /// Told the port the kiosk page is served on (the demo prints it; tests listen on port 0).
        public var onKioskListening: (@Sendable (Int) async -> Void)?
        /// No frame for this long, while none is being analysed, and the camera counts as failed in `/health`.
        public var cameraSilenceLimit: Duration = .seconds(10)
        /// A record waiting longer than this for the disk (a write that hangs) makes the journal `failed` in `/health`.
        public var journalStallLimit: Duration = .seconds(10)
        /// The wall clock decisions are dated and schedules read by (tests set a wrong one).
        public var wallClock: @Sendable () -> Date = { Date() }
        /// How often the wall clock's reading is journaled while the cloud's time vouches for it: a clock
        /// set back by more than this and the tolerance is caught at the next start with the cloud away.
        /// Each is one small write, so not every few seconds (an SD card).
        public var clockWitnessInterval: Duration = .seconds(300)
        /// Told each configuration a reload puts in force (`facegate run` records it for the next start).
        public var acceptedConfiguration: (@Sendable (FacegateConfiguration) -> Void)?

        public init() {}
    }

    public let pipeline: GatePipeline
    let parts: DoorParts
    let configuration: FacegateConfiguration
    public let settings: Settings
    let notifier: SystemdNotifier
    let logger: Logger
    /// Where the door's metrics are kept and rendered from (`/metrics`), when served.
    let metricsRegistry: PrometheusCollectorRegistry?
    let metrics: DoorMetrics
    /// What the kiosk pages are shown; nil without a kiosk.
    let kioskFeed: KioskFeed?
    private let loadConfiguration: @Sendable () throws -> FacegateConfiguration
    /// Set when the pipeline's service has returned: the parts say whether the stop was complete.
    let pipelineStopped = SetOnceFlag()
    /// A graceful shutdown has begun (SIGTERM, or the pipeline has ended): no new visits, no manual unlock.
    var isStopping: Bool { pipeline.isFinishing || pipelineStopped.isSet }
    /// Asks the door with a time limit: the health loop, `/health` and `facegate status` say a hung door
    /// instead of hanging with it.
    let doorAnswers: DoorAnswers
    /// Ends once SIGHUP is trapped (or its service has stopped): READY=1 waits for it. `systemctl start`
    /// returns at READY, and a reload sent right after it would otherwise meet SIGHUP's default action
    /// and kill the daemon.
    let hangupsTrapped: AsyncStream<Void>
    private let hangupsTrappedContinuation: AsyncStream<Void>.Continuation
    /// The configuration running now: the one started with, then each reload's.
    private let running: RunningConfiguration
    /// When this service was made: since when a part the start could not bring up has been missing.
    private let startedAt: Date

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
        self.running = RunningConfiguration(configuration)
        startedAt = settings.wallClock()
        doorAnswers = DoorAnswers(door: parts.door, limit: settings.doorAnswerLimit)
        (hangupsTrapped, hangupsTrappedContinuation) = AsyncStream.makeStream(of: Void.self)
        // The kiosk's address serves /metrics too.
        if configuration.metrics.listen != nil || configuration.kiosk.enabled {
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // Door stages take milliseconds (policy, relay) to seconds (a cloud deadline).
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(1500), .seconds(3), .seconds(5), .seconds(10),
            ]
            metricsRegistry = registry
            metrics = DoorMetrics(factory: factory)
            metrics.declareCounters(backend: parts.search.backendName)
        } else {
            metricsRegistry = nil
            metrics = .disabled
        }
        var pipelineSettings = GatePipelineSettings(
            door: configuration.door.name, approach: configuration.approach, motion: configuration.motion,
            decisionDeadline: configuration.backend.decisionDeadline)
        pipelineSettings.uncertainLiveness = configuration.liveness.uncertain
        pipelineSettings.metrics = metrics
        // An enrolment's two calls each get the decision's deadline and a margin: an installer waits.
        pipelineSettings.enrolmentCloudTimeout = Self.enrolmentCloudTimeout(decisionDeadline: configuration.backend.decisionDeadline)
        if configuration.kiosk.enabled {
            let feed = KioskFeed()
            kioskFeed = feed
            pipelineSettings.frameObserver = { image, faces in feed.observe(image, faces: faces) }
        } else {
            kioskFeed = nil
        }
        pipelineSettings.detection = DetectionPlanner.Settings(
            detectionWidth: configuration.quality.detectionWidth, minInterEyeDistance: configuration.approach.minInterEyeDistance,
            wholeFrameInterval: configuration.motion.fullDetectionInterval)
        let enrolment = parts.enroller.map { enroller in
            DoorEnrolment(
                gate: configuration.enrolment, liveness: parts.liveness, search: parts.search, enroller: enroller, analyzer: parts.analyzer,
                logger: logger)
        }
        pipeline = GatePipeline(
            source: parts.source, analyzer: parts.analyzer, liveness: parts.liveness, search: parts.search, offline: parts.cache,
            door: parts.door, journal: parts.journal, enrolment: enrolment, policy: configuration.doorPolicy, settings: pipelineSettings,
            logger: logger, now: settings.wallClock)
        parts.cameraOutages.connect(pipeline)
    }

    /// The door's name only: the parts and configuration are not for log lines.
    public var description: String { "DoorControllerService(door: \(configuration.door.name))" }

    /// The door's services in start order; a group shuts them down in reverse (see the type's note).
    /// Any of them ending, or failing, shuts the rest down in that order; a failure is then the group's.
    public var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        let doorFailed = SetOnceFlag()
        var services: [any Service] = [
            DoorPartsService(controller: self), JournalWriterService(journal: parts.journal, pipeline: pipeline),
            ClockWitnessService(pipeline: pipeline, interval: settings.clockWitnessInterval),
        ]
        services.append(DoorService(controller: self, failed: doorFailed))
        if let cache = parts.cache {
            services.append(
                OfflineMaintenanceService(
                    maintenance: OfflineMaintenance(
                        search: parts.search, directory: parts.directory, cache: cache, journal: parts.journal,
                        settings: settingsForMaintenance(), logger: logger, now: settings.wallClock),
                    pipeline: pipeline))
        }
        services.append(HealthReporterService(controller: self, doorFailed: doorFailed))
        if let listen = configuration.metrics.listen {
            // Started after the door and before the pipeline: it answers while the door starts and
            // stops, and says so when the door cannot decide.
            services.insert(
                StatusServer(
                    host: listen.host, port: listen.port, connections: settings.statusConnections, metrics: { await self.renderMetrics() },
                    health: { await self.healthReport(doorFailed: doorFailed) },
                    onListening: { port in await self.settings.onStatusServerListening?(port) }, logger: logger),
                at: 1)
        }
        if let socket = configuration.control.socket {
            let group = getgrnam(configuration.control.adminGroup).map { $0.pointee.gr_gid }
            services.insert(
                ControlSocketService(path: socket, adminGroup: group, logger: logger) { request, peer in
                    await self.answer(request, from: peer, doorFailed: doorFailed)
                },
                at: 1)
        }
        if let feed = kioskFeed {
            let kiosk = configuration.kiosk
            services.insert(
                KioskService(
                    settings: .init(
                        host: kiosk.listen.host, port: kiosk.listen.port, preview: kiosk.preview, displayNames: kiosk.displayNames,
                        doorName: configuration.door.name, minInterEyeDistance: configuration.approach.minInterEyeDistance,
                        maxPoseDegrees: configuration.approach.earlyMaxPoseDegrees, connections: settings.kioskConnections,
                        keepAliveInterval: settings.kioskKeepAliveInterval, availabilityInterval: settings.kioskAvailabilityInterval),
                    feed: feed, decisions: { await self.pipeline.decisions() }, enrolments: { await self.pipeline.enrolments() },
                    doorEvents: { await self.parts.door.events() },
                    metrics: { await self.renderMetrics() }, health: { await self.healthReport(doorFailed: doorFailed) },
                    onListening: { port in await self.settings.onKioskListening?(port) }, logger: logger),
                at: 1)
        }
        if settings.reloadsOnHangup { services.append(ReloaderService(controller: self)) }
        services.append(PipelineService(controller: self))
        // Named, so that the group's own log lines carry no configuration.
        return services.map { service in
            .init(
                service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: String(describing: type(of: service)))
        }
    }

    /// Runs ``services`` as a group of their own until the pipeline's source ends, a graceful shutdown
    /// (of an enclosing group) or a failure, which it throws.
    public func run() async throws {
        var group = ServiceGroupConfiguration(services: services, logger: logger)
        group.maximumGracefulShutdownDuration = settings.shutdownLimit
        try await ServiceGroup(configuration: group).run()
    }

    private func settingsForMaintenance() -> OfflineMaintenance.Settings {
        var maintenance = settings.maintenance
        maintenance.revocationSyncInterval = configuration.offlineCache.revocationSyncInterval
        return maintenance
    }

    /// Runs the pipeline until its source ends or shutdown; a camera that fails for good is
    /// retried after a pause (the door stays locked meanwhile).
    func runPipeline() async throws {
        while true {
            do {
                try await pipeline.run()
                return
            } catch is CancellationError {
                return
            } catch {
                if pipeline.isFinishing || Task.isCancelled { return }
                await pipeline.noteCameraFailure("the camera failed: \(error)")
                logger.error("the camera failed; trying again", metadata: ["error": "\(error)", "retry_in": "\(settings.captureRestartDelay)"])
                notifier.status("camera failed: \(error); retrying")
                try await Task.sleep(for: settings.captureRestartDelay)
            }
        }
    }

    /// The watchdog is fed only while the pipeline's stages answer and none is hung; `STATUS=`
    /// says how the door is doing.
    func reportHealth(unlessDoorFailed doorFailed: SetOnceFlag) async {
        let interval = min(notifier.watchdogInterval ?? settings.statusInterval, settings.statusInterval)
        var reportedStuck = false
        var lastStatus = ""
        while (try? await Task.sleep(for: interval)) != nil {
            // A failed door is never vouched for, whatever the service does while it stops.
            if doorFailed.isSet { continue }
            // Not awaited: a door held by a relay write that never returns would stop this loop without a
            // word. Its silence is judged below; its answer is read at the next turn.
            doorAnswers.ask()
            let stuckStage = await pipeline.stuckStage(analysisLimit: settings.analysisLimit, decisionLimit: hungDecisionLimit)
            if let stuck = stuckStage ?? doorAnswers.hang {
                if !reportedStuck {
                    logger.critical(
                        stuckStage == nil ? "door hung; no longer feeding the watchdog" : "pipeline hung; no longer feeding the watchdog",
                        metadata: ["stage": "\(stuck)"])
                    notifier.status("hung: \(stuck)")
                    reportedStuck = true
                    // Said again once it answers, even if nothing else changed.
                    lastStatus = ""
                }
                continue
            }
            reportedStuck = false
            if notifier.watchdogInterval != nil { notifier.watchdog() }
            let status = await statusLine(failedUnlocks: doorAnswers.failedUnlocks)
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
        }
    }

    /// A decision (or an enrolment's work on the box) busy longer than this is hung.
    var hungDecisionLimit: Duration {
        settings.decisionLimit ?? Self.decisionLimit(decisionDeadline: configuration.backend.decisionDeadline)
    }

    private func statusLine(failedUnlocks: FailedUnlocks?) async -> String {
        // Judged as /health judges them: a relay that will not unlock, a backlog dropping records or stalled on
        // the disk show here too. (A failed door is said once, by the door's service, and never refreshed.)
        let relay = DoorHealthReport.Component.relay(failedUnlocks: failedUnlocks, doorFailed: false, now: settings.wallClock())
        let journal = DoorHealthReport.Component.journal(parts.journal.status, stallLimit: settings.journalStallLimit)
        return Self.statusLine(door: configuration.door.name, statistics: await pipeline.statistics, relay: relay, journal: journal)
            + degradedSuffix
    }

    /// The `STATUS=` line before ``degradedSuffix``: the door's totals, then each part that has failed, by
    /// name and with its problem, as `/health` gives them (`systemctl status` shows it).
    static func statusLine(
        door: String, statistics: PipelineStatistics, relay: DoorHealthReport.Component, journal: DoorHealthReport.Component
    ) -> String {
        let granted = (statistics.decisions[.granted] ?? 0) + (statistics.decisions[.grantedOffline] ?? 0)
        var line = "door \(door): \(statistics.frames) frames, \(statistics.visits) visits, \(granted) granted"
        let offline = (statistics.decisions[.grantedOffline] ?? 0) + (statistics.decisions[.deniedOffline] ?? 0)
        if offline > 0 { line += ", \(offline) decided offline" }
        for (name, part) in [("relay", relay), ("journal", journal)] where part.status == .failed {
            line += "; \(name) failed" + (part.lastError.map { ": \($0)" } ?? "")
        }
        return line
    }

    /// What the door runs without, for the end of every STATUS= line: "; offline cache off: …", and the
    /// sections a reload changed that are not in force until a restart: `systemctl status` shows the door
    /// still runs without them (a liveness stage turned on in the file, say) for as long as that is so.
    var degradedSuffix: String {
        let waiting = running.waitingForRestart
        return parts.degradations.map { "; \($0.detail)" }.joined()
            + (waiting.isEmpty ? "" : "; changed in the file, waiting for a restart: \(waiting.joined(separator: ", "))")
    }

    /// SIGHUP: reads the configuration again (``reload()``).
    func reloadOnHangup() async {
        defer { hangupsTrappedContinuation.finish() }
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        hangupsTrappedContinuation.finish()
        for await _ in hangups { await reload() }
    }

    /// Reads the configuration again, as SIGHUP does. A valid one takes effect for the door's policy
    /// at the next decision; an invalid one is refused and the running configuration kept.
    public func reload() async {
        notifier.reloading()
        let previous = running.current
        do {
            let next = try loadConfiguration()
            // The door's policy is in the running backend's units (its scores, its threshold's scale); a
            // policy for another backend would make every online decision an error until the restart.
            guard next.backend.kind == configuration.backend.kind else {
                logger.error("reload refused: backend.kind changes only at a restart; the running configuration is kept")
                notifier.ready(status: "door \(previous.door.name): reload refused (backend.kind changes only at a restart); running the previous one" + degradedSuffix)
                return
            }
            // What the running backend needs to search at all (NeoCheck's face list): refused as at a start.
            if let problem = type(of: next.backend.chosen).doorSearchProblems(of: next.door).first {
                logger.error(
                    "reload refused: the door could not search; the running configuration is kept",
                    metadata: ["key": "\(problem.path)", "problem": "\(problem.message)"])
                notifier.ready(status: "door \(previous.door.name): reload refused (\(problem.path) \(problem.message)); running the previous one" + degradedSuffix)
                return
            }
            // A file cut short (written while read, a full disk) still parses, without what followed the cut:
            // the door's deny list, schedules or tags among them. A file that lacks all the last keys of the
            // running one is taken as that, not as an edit (keys removed from the middle are an edit);
            // removing the last ones takes the keys set to their defaults, or `facegate config accept` and a
            // restart (a start under the unit refuses such a file too, compared with this one).
            if let keys = previous.keysInFile.cutShort(in: next.keysInFile) {
                logger.error(
                    "reload refused: keys of the running file are gone from it, as from a file cut short; the running configuration is kept (if meant: facegate config accept, then restart)",
                    metadata: ["keys": "\(FacegateConfiguration.KeysInFile.named(keys))"])
                notifier.ready(status: "door \(previous.door.name): reload refused (\(keys.count) keys gone from the file); running the previous one" + degradedSuffix)
                return
            }
            // The same cut inside the file's last list or value: a deny list without its last names, say.
            if let key = previous.keysInFile.endsEarly(in: next.keysInFile) {
                logger.error(
                    "reload refused: the file ends inside the running file's last values, as a file cut short does; the running configuration is kept (if meant: facegate config accept, then restart)",
                    metadata: ["key": "\(key)"])
                notifier.ready(status: "door \(previous.door.name): reload refused (the file ends early, in \(key)); running the previous one" + degradedSuffix)
                return
            }
            await pipeline.update(policy: next.doorPolicy)
            settings.acceptedConfiguration?(next)
            // Against what runs, the start-up configuration: a second reload of the same file still names
            // what the first one could not apply.
            let needRestart = next.sectionsNeedingRestart(comparedWith: configuration)
            running.current = next
            // Secrets are resolved once, at the start (DoorParts.open), and systemd copies the credentials
            // once per start too: a secret rotated in place is not seen by a reload. Said each time, in words
            // only (no key, path or value).
            if needRestart.isEmpty {
                logger.notice("configuration reloaded (\(Self.secretsAtStartOnly))")
            } else {
                logger.warning(
                    "configuration reloaded; some changes take effect at the next restart (\(Self.secretsAtStartOnly))",
                    metadata: ["sections": "\(needRestart.joined(separator: ","))"])
            }
            next.logNotes(to: logger)
            running.waitingForRestart = needRestart
            notifier.ready(status: "door \(next.door.name): configuration reloaded" + degradedSuffix)
        } catch {
            logger.error("reload refused: the configuration is not valid; the running one is kept", metadata: ["error": "\(error)"])
            notifier.ready(status: "door \(previous.door.name): reload refused (configuration not valid); running the previous one" + degradedSuffix)
        }
    }
}

/// The configuration a door runs now, replaced by each reload that is accepted.
private final class RunningConfiguration: Sendable {
    private let configuration: Mutex<FacegateConfiguration>
    private let waiting = Mutex<[String]>([])
    init(_ configuration: FacegateConfiguration) { self.configuration = Mutex(configuration) }
    var current: FacegateConfiguration {
        get { configuration.withLock { $0 } }
        set { configuration.withLock { $0 = newValue } }
    }
    /// The sections the last accepted reload changed that only a restart puts in force.
    var waitingForRestart: [String] {
        get { waiting.withLock { $0 } }
        set { waiting.withLock { $0 = newValue } }
    }
}


extension FacegateConfiguration {
    /// What differs from `other` outside the door's policy: those parts are opened at start-up only.
    public func sectionsNeedingRestart(comparedWith other: FacegateConfiguration) -> [String] {
        var sections: [String] = []
        if camera != other.camera { sections.append("camera") }
        if quality != other.quality { sections.append("quality") }
        if approach != other.approach { sections.append("approach") }
        if motion != other.motion { sections.append("motion") }
        if liveness != other.liveness { sections.append("liveness") }
        if backend != other.backend { sections.append("backend") }
        // The offline limit and margin are the policy's, applied live like the door's.
        var offlineCache = self.offlineCache
        offlineCache.maxDistance = other.offlineCache.maxDistance
        offlineCache.minimumMargin = other.offlineCache.minimumMargin
        if offlineCache != other.offlineCache { sections.append("offline_cache") }
        if journal != other.journal { sections.append("journal") }
        if logging != other.logging { sections.append("logging") }
        if metrics != other.metrics { sections.append("metrics") }
        if kiosk != other.kiosk { sections.append("kiosk") }
        if control != other.control { sections.append("control") }
        if enrolment != other.enrolment { sections.append("enrolment") }
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

extension DoorControllerService {
    /// Each of an enrolment's cloud calls (the duplicate search, the registration) may take the decision's
    /// deadline and a margin: an installer waits.
    static func enrolmentCloudTimeout(decisionDeadline: Duration) -> Duration { decisionDeadline + .seconds(5) }

    /// A decision (or an enrolment's work on the box) busy longer than this is hung, by default.
    static func decisionLimit(decisionDeadline: Duration) -> Duration { decisionDeadline + .seconds(15) }

    /// The longest the daemon takes to answer an enrolment that waits `seconds` for its approach, whatever
    /// its configuration (`facegate enrol` cannot read the file): the wait, its work on the box (past the
    /// decision limit the watchdog stops vouching and systemd ends the daemon, which closes the
    /// connection), the duplicate search and the registration each within the enrolment's cloud timeout,
    /// a NeoCheck record's delete after a failed registration, and 10 s for the rest.
    public static func longestEnrolmentAnswer(waiting seconds: Int) -> Int {
        let deadline = FacegateConfiguration.longestDecisionDeadline
        let total =
            .seconds(seconds) + decisionLimit(decisionDeadline: deadline) + enrolmentCloudTimeout(decisionDeadline: deadline) * 2
            + NeoCheckFaceSearch.withdrawalLimit + .seconds(10)
        return Int(total.components.seconds)
    }

    /// What the control socket answers.
    func answer(_ request: ControlRequest, from peer: ControlPeer, doorFailed: SetOnceFlag) async -> ControlResponse {
        switch request.command {
        case .status:
            return ControlResponse(ok: true, health: await healthReport(doorFailed: doorFailed))
        case .unlock:
            // Counted in characters and in bytes: combining marks are characters of no width, each journaled.
            guard let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty, reason.count <= 200,
                reason.utf8.count <= 800, !reason.contains(where: \.isNewline)
            else { return .refused("an unlock needs a reason: one line of at most 200 characters") }
            guard !doorFailed.isSet else { return .refused("the door has failed and is stopping") }
            // A stopping door still decides the visits it was following, but takes no new unlock: its relay
            // is about to be locked and released.
            guard !isStopping else { return .refused("the door is stopping: the unlock is refused") }
            let record = await pipeline.unlockManually(reason: reason, by: Self.asker(peer, stated: request.statedUser))
            return ControlResponse(ok: record.relay == .unlocked, error: record.relay == .unlocked ? nil : "the relay did not unlock",
                decision: record.id, relay: record.relay?.rawValue)
        case .enrol:
            guard let enrolment = request.enrolment else { return .refused("an enrolment request names who to enrol") }
            guard !doorFailed.isSet else { return .refused("the door has failed and is stopping") }
            // A stopping door takes no new visit, so the enrolment would only wait out its timeout.
            guard !isStopping else { return .refused("the door is stopping: the enrolment is refused") }
            let seconds = min(max(request.timeoutSeconds ?? 60, 1), 600)
            let outcome = await pipeline.enrolNextVisit(enrolment, within: .seconds(seconds), askedBy: Self.asker(peer, stated: request.statedUser))
            return ControlResponse(ok: outcome.enrolled, error: outcome.enrolled ? nil : outcome.reason, enrolment: outcome)
        }
    }

    /// Who asked for a manual unlock, for its journaled reason: the kernel's uid and pid, and the login the
    /// client states it acts for (sudo's), marked as stated and cut to a short printable name.
    static func asker(_ peer: ControlPeer, stated: String?) -> String {
        asker(uid: peer.uid, pid: peer.pid, stated: stated)
    }

    /// The same for a process known by its uid and pid (`facegate enrol --device`, asking itself).
    public static func asker(uid: uid_t, pid: pid_t, stated: String?) -> String {
        var who = "uid \(uid), pid \(pid)"
        if let stated {
            let name = String(stated.unicodeScalars.filter { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }.prefix(32).map(Character.init))
            if !name.isEmpty { who += ", stated user \(name)" }
        }
        return who
    }

    /// Pages showing the kiosk now (tests wait for their browser).
    public var kioskWatchers: Int { kioskFeed?.watchers ?? 0 }

    /// Writes out what the journal holds (tests compare it with what the door reported).
    public func flushJournal() async throws {
        try await parts.journal.flush()
    }

    /// The Prometheus exposition: the gauges read now, then everything the registry holds (empty when
    /// neither `/metrics` nor the kiosk is served).
    public func renderMetrics() async -> [UInt8] {
        guard let registry = metricsRegistry else { return [] }
        let journal = parts.journal.status
        metrics.gauge("journal_backlog", Double(journal.pendingRecords))
        metrics.countUp("journal_write_errors", to: journal.failedAttempts)
        metrics.countUp("journal_dropped_records", to: journal.droppedRecords)
        metrics.countUp("door_events_dropped", to: UInt64(parts.door.droppedEvents))
        if let cache = parts.cache, let status = try? await cache.status() {
            metrics.gauge("offline_cache_faces", Double(status.faces))
        }
        if let budgeted = parts.search as? any CallBudgetReporting, let left = await budgeted.callsLeft {
            metrics.gauge("cloud_calls_left", Double(left))
        }
        return registry.emitToBuffer()
    }

    /// How each part of the door is doing, from what the pipeline, the journal and the door last saw.
    func healthReport(doorFailed: SetOnceFlag) async -> DoorHealthReport {
        typealias Component = DoorHealthReport.Component
        let facts = await pipeline.healthFacts
        func component(_ problem: HealthProblem?, _ status: DoorHealthReport.Status, since: Date? = nil) -> Component {
            problem.map { Component(status: status, lastError: $0.detail, since: $0.at) } ?? Component(status: .ok, since: since)
        }

        // Ages on the pipeline's steady clock, not the wall clock: one set back would keep a silent
        // camera ok for as long, one set ahead would fail a camera that sends.
        let camera: Component
        let silence = settings.cameraSilenceLimit.timeInterval
        if let age = facts.lastFrameAge, age <= settings.cameraSilenceLimit {
            camera = Component(status: .ok, since: facts.lastFrame)
        } else if let inAnalysis = facts.frameInAnalysisFor {
            // The camera delivered; the frame is still being analysed (slow, or hung past the limit).
            let limit = settings.analysisLimit.timeInterval
            camera =
                inAnalysis <= settings.analysisLimit
                ? Component(status: .ok, since: facts.lastFrame)
                : Component(
                    status: .failed, lastError: "one frame has been in analysis for over \(Int(limit)) s: the quality core is hung",
                    since: facts.frameInAnalysisSince)
        } else if let failure = facts.cameraFailure {
            camera = Component(status: .failed, lastError: failure.detail, since: failure.at)
        } else {
            camera = Component(
                status: .failed, lastError: facts.lastFrame == nil ? "no frame yet" : "no frame for over \(Int(silence)) s",
                since: facts.lastFrame)
        }
        // A decision past the watchdog's limit holds every visit behind it: said, not only the watchdog stopped.
        let decision: Component
        if isStopping {
            // Stopping takes no new visit, and the relay is released once the door stops: no longer a door
            // that decides, whatever the rest says (review: 200 until the status server stopped last).
            decision = Component(status: .failed, lastError: "the door is stopping: it takes no new visit")
        } else if let busy = facts.decisionUnderWayFor, busy > hungDecisionLimit {
            let what = facts.decisionIsEnrolment ? "an enrolment's liveness check, crop or encoding" : "one decision"
            decision = Component(
                status: .failed, lastError: "\(what) has been under way for over \(Int(hungDecisionLimit.timeInterval)) s: a stage is hung",
                since: facts.decisionUnderWaySince)
        } else {
            decision = Component(status: .ok)
        }
        // One refused search is that request's problem (degraded); refusals in a row with none answered
        // since are the door's own credentials refused: it cannot decide. The reason is the client's
        // words, which quote no secret.
        let refusing = facts.cloudRefusalsInARow >= PipelineHealthFacts.persistentRefusal
        let cloud =
            refusing
            ? Component(
                status: .failed,
                lastError: "the cloud refused the last \(facts.cloudRefusalsInARow) searches and answered none since "
                    + "(are the door's credentials still valid?): \(facts.cloudRefusal?.detail ?? "refused")",
                since: facts.cloudRefusal?.at)
            : facts.cloudOutage.map { Component(status: .failed, lastError: $0.detail, since: $0.at) }
                ?? component(facts.cloudRefusal, .degraded)
        // Judged by the door itself, which sees every unlock: the exit button's too, not only the pipeline's.
        // A door that does not answer (a relay write that has not returned) is said, not waited for.
        let relay: Component
        switch await doorAnswers.answer() {
        case .answered(let failedUnlocks):
            relay = .relay(failedUnlocks: failedUnlocks, doorFailed: doorFailed.isSet, now: settings.wallClock())
        case .silent(let waited):
            relay =
                doorFailed.isSet
                ? .relay(failedUnlocks: nil, doorFailed: true, now: settings.wallClock())
                : Component(status: .failed, lastError: DoorAnswers.hang(silentFor: waited), since: settings.wallClock().addingTimeInterval(-waited.timeInterval))
        }
        let journal = Component.journal(parts.journal.status, stallLimit: settings.journalStallLimit)
        // A cache turned on but not usable at the start (another key, a damaged file) is failed, not `off`:
        // `off` reads as the installer's choice, and monitoring stayed green until the next outage denied
        // everyone (review).
        let offlineCache =
            if parts.cache != nil {
                component(facts.offlineCacheProblem, .failed)
            } else if let unusable = parts.degradations.first(where: { $0.key == "offline_cache.path" }) {
                Component(status: .failed, lastError: unusable.detail, since: startedAt)
            } else {
                Component(status: .off)
            }
        return DoorHealthReport(
            camera: camera, cloud: cloud, relay: relay, journal: journal, offlineCache: offlineCache, decision: decision,
            clock: component(facts.clockProblem, .degraded), cloudRefuses: refusing)
    }
}
