import AsyncHTTPClient
import FacegateCapture
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateLiveness
import FacegateOfflineCache
import FacegateQuality
import Foundation
import Logging
import Synchronization

/// The I/O edges of one door, made from the configuration: camera, quality core, cloud, offline
/// cache, relay and journal. The daemon wires them into a ``GatePipeline``.
public struct DoorParts: Sendable {
    public var source: any FrameSource
    public var analyzer: any FrameAnalyzing
    /// The presentation-attack stage; nil when the door's `liveness.enabled` is false.
    public var liveness: (any PresentationAttackDetecting)?
    public var search: any FaceSearch
    /// The cloud's register, for revocation sync; nil when the backend has none.
    public var directory: (any CloudDirectory)?
    /// Enrolment into the cloud's register (`facegate enrol`); nil when the backend has none.
    public var enroller: (any FaceEnrolling)?
    /// nil when the offline cache is turned off.
    public var cache: OfflineFaceCache?
    public var door: DoorController
    public var journal: SQLiteJournal
    /// Parts that could not be opened and that the door runs without (the offline cache off, a
    /// fresh call budget): the daemon logs, journals and shows each in `STATUS=`.
    public var degradations: [StartDegradation]
    /// Releases what the parts hold (the HTTP client's connections).
    public var close: @Sendable () async -> Void
    /// The V4L2 camera's outages, for `/health`: the daemon connects its pipeline to it.
    public var cameraOutages = CameraOutages()

    /// What a caller supplies instead of the configured part: the demo and tests.
    public struct Overrides: Sendable {
        public var source: (any FrameSource)?
        public var search: (any FaceSearch & CloudDirectory)?
        /// Enrolment instead of the configured backend's (default: `search`'s own, when it enrols).
        public var enroller: (any FaceEnrolling)?
        public var doorLines: (any DoorLines)?
        /// The face core, already loaded (tests share one instead of loading the models for each door).
        public var faceEngine: FaceEngine?
        /// Opens the door's lines at each try instead of the configured GPIO (tests of the wait for a chip).
        public var openDoorLines: (@Sendable () throws(DaemonStartError) -> any DoorLines)?
        public var environment: [String: String]

        public init(
            source: (any FrameSource)? = nil, search: (any FaceSearch & CloudDirectory)? = nil, doorLines: (any DoorLines)? = nil,
            openDoorLines: (@Sendable () throws(DaemonStartError) -> any DoorLines)? = nil, faceEngine: FaceEngine? = nil,
            enroller: (any FaceEnrolling)? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
        ) {
            self.enroller = enroller ?? (search as? any FaceEnrolling)
            self.faceEngine = faceEngine
            self.openDoorLines = openDoorLines
            self.source = source
            self.search = search
            self.doorLines = doorLines
            self.environment = environment
        }
    }

    public init(
        source: any FrameSource, analyzer: any FrameAnalyzing, liveness: (any PresentationAttackDetecting)? = nil,
        search: any FaceSearch, directory: (any CloudDirectory)?, enroller: (any FaceEnrolling)? = nil, cache: OfflineFaceCache?,
        door: DoorController, journal: SQLiteJournal, degradations: [StartDegradation] = [], close: @escaping @Sendable () async -> Void
    ) {
        self.enroller = enroller
        self.liveness = liveness
        self.degradations = degradations
        self.source = source
        self.analyzer = analyzer
        self.search = search
        self.directory = directory
        self.cache = cache
        self.door = door
        self.journal = journal
        self.close = close
    }

    /// Opens every part the configuration names. Throws `DaemonStartError` naming the key of the
    /// part that cannot be opened; nothing is left open when it throws.
    ///
    /// The relay comes first, requested at its locked level, so that the door is held from the first
    /// moment whatever the rest takes; if a later part cannot be opened, the relay is released again
    /// (it rests de-energised: locked when fail-secure, unlocked when fail-safe).
    public static func open(
        _ configuration: FacegateConfiguration, overrides: Overrides = Overrides(), logger: Logger
    ) throws(DaemonStartError) -> DoorParts {
        let lines: any DoorLines
        if let override = overrides.doorLines {
            lines = override
        } else if let opener = overrides.openDoorLines {
            lines = try opener()
        } else {
            lines = try doorLines(configuration.door, logger: logger)
        }
        let door: DoorController
        do {
            // An opening reported within the contact's settle time of a relock may have begun before it.
            let contactSettle = (lines as? GPIODDoorLines)?.configuration.contactSettle ?? DoorTiming().contactSettle
            door = try DoorController(
                lines: lines,
                timing: DoorTiming(
                    unlockDuration: configuration.door.pulse, heldOpenAfter: configuration.door.heldOpenAfter,
                    contactSettle: contactSettle),
                // Read back every second: a relay board unplugged or an expander reset while the door is idle
                // is a fault then (the service restarted, /health failing), not found at the next grant.
                relayCheckInterval: .seconds(1), logger: logger)
        } catch {
            // The lines are there but cannot be read (the contact): the hardware's problem, not the file's.
            lines.release()
            let role = (error as? DoorError)?.role
            throw DaemonStartError(key: role.map(Self.key(of:)) ?? "door", (error as? DoorError)?.message ?? "\(error)", cause: .environment)
        }
        do {
            return try openAfterTheDoor(configuration, door: door, overrides: overrides, logger: logger)
        } catch {
            lines.release()
            throw error
        }
    }

    /// Everything but the relay, once the relay is held.
    private static func openAfterTheDoor(
        _ configuration: FacegateConfiguration, door: DoorController, overrides: Overrides, logger: Logger
    ) throws(DaemonStartError) -> DoorParts {
        let analyzer = try faceAnalyzer(configuration, overrides: overrides)
        let liveness = try livenessStage(configuration.liveness)
        let source: any FrameSource
        let outages = CameraOutages()
        if let override = overrides.source {
            source = override
        } else {
            source = try frameSource(
                configuration.camera, needsColour: configuration.liveness.enabled, logger: logger, onStatus: { outages.note($0) })
        }
        let journal = SQLiteJournal(configuration: journalConfiguration(configuration), logger: logger)
        var degradations: [StartDegradation] = []
        let opening = BackendOpening(
            http: CloudHTTPPolicy(requestTimeout: configuration.backend.requestTimeout), environment: overrides.environment, logger: logger)
        // A search given in code (a test's own cloud) has no account of the file's to record.
        let account = overrides.search == nil && configuration.offlineCache.enabled ? try configuration.backend.chosen.offlineAccount(opening) : nil
        let cache = try offlineCache(
            configuration.offlineCache, backend: configuration.backend.kind.rawValue, account: account, environment: overrides.environment,
            logger: logger, degradations: &degradations)

        if let search = overrides.search {
            var parts = DoorParts(
                source: source, analyzer: analyzer, liveness: liveness, search: search, directory: search, enroller: overrides.enroller,
                cache: cache, door: door, journal: journal, degradations: degradations, close: {})
            parts.cameraOutages = outages
            return parts
        }
        let backend = configuration.backend
        if let problem = type(of: backend.chosen).doorSearchProblems(of: configuration.door).first {
            throw DaemonStartError(key: problem.path, problem.message)
        }
        let opened = try backend.chosen.open(opening)
        var parts = DoorParts(
            source: source, analyzer: analyzer, liveness: liveness, search: opened.search, directory: opened.search,
            enroller: opened.search, cache: cache, door: door, journal: journal, degradations: degradations + opened.degradations,
            close: opened.close)
        parts.cameraOutages = outages
        return parts
    }

    /// The quality core on the configured models (or the overrides' engine).
    static func faceAnalyzer(_ configuration: FacegateConfiguration, overrides: Overrides) throws(DaemonStartError) -> DlibFaceAnalyzer {
        do {
            let engine: FaceEngine
            if let given = overrides.faceEngine {
                engine = given
            } else {
                let models = try FaceModels.locate(configuration.modelsDirectory)
                try models.checkIdentity()
                engine = try FaceEngine(models: models)
            }
            return DlibFaceAnalyzer(engine: engine, configuration: configuration.quality)
        } catch let error as FaceEngineError {
            // A models folder without the models, or with broken ones, is the installation's to fix:
            // restarting will not. Anything else the engine says is not the configuration's fault.
            // Said without the folder: its path is the file's (`models`), or one of the default folders.
            switch error.code {
            case .modelMissing: throw DaemonStartError(key: "models", FaceModelFiles.missing(named: configuration.modelsDirectory != nil))
            case .modelInvalid:
                throw DaemonStartError(key: "models", "names a folder whose face models cannot be loaded (scripts/setup downloads them again)")
            case .modelNotShipped: throw DaemonStartError(key: "models", error.message)
            default: throw DaemonStartError(key: "models", error.description, cause: .environment)
            }
        } catch {
            throw DaemonStartError(key: "models", "\(error)", cause: .environment)
        }
    }

    /// The presentation-attack stage the door's `liveness` section asks for. Its models missing or
    /// unreadable is the installation's to fix, and the door does not start without the stage it
    /// was told to have (turning it off is the configuration's choice, never a fallback).
    static func livenessStage(_ liveness: FacegateConfiguration.Liveness) throws(DaemonStartError) -> (any PresentationAttackDetecting)? {
        guard liveness.enabled else { return nil }
        // The file's reader checks the threshold; a configuration built in code is checked here too.
        var settings: PresentationAttackDetector.Settings
        do {
            settings = try .init(threshold: liveness.threshold)
        } catch {
            throw DaemonStartError(key: "liveness.threshold", "must be above 0 and at most 1 (to turn the stage off write enabled: false)")
        }
        settings.requireMovement = liveness.requireMovement
        do {
            return try PresentationAttackDetector(models: liveness.modelsDirectory, settings: settings)
        } catch {
            // Said without the folder: its path is the file's, or one of the default folders.
            if error.code == .modelMissing { throw DaemonStartError(key: "liveness.models", PADModels.missing) }
            if error.code == .modelNotShipped {
                throw DaemonStartError(key: "liveness.models", "names presentation-attack models that are not the shipped files, each under its own name (scripts/setup installs them)")
            }
            if error.code == .inferenceFailed {
                throw DaemonStartError(key: "liveness.models", "names presentation-attack models that do not answer as the liveness stage needs (class probabilities on an 80x80 face)")
            }
            throw DaemonStartError(key: "liveness.models", "names presentation-attack models that cannot be loaded (scripts/setup installs them)")
        }
    }

    /// - Parameter needsColour: liveness is on: `format: auto` never captures grey (see `V4L2Camera.Configuration.needsColour`).
    ///   - onStatus: told of the V4L2 camera's outages and recoveries.
    static func frameSource(
        _ camera: FacegateConfiguration.Camera, needsColour: Bool, logger: Logger,
        onStatus: @escaping @Sendable (V4L2Camera.Status) -> Void = { _ in }
    ) throws(DaemonStartError) -> any FrameSource {
        switch camera.source {
        case .v4l2:
            let format: FourCC? =
                switch camera.pixelFormat {
                case .auto: nil
                case .yuyv: .yuyv
                case .mjpeg: .mjpeg
                case .grey: .grey
                }
            do {
                return try V4L2Camera(
                    configuration: .init(
                        device: camera.device, pixelFormat: format, width: camera.width, height: camera.height,
                        framesPerSecond: Double(camera.framesPerSecond), stallTimeout: camera.stallTimeout, needsColour: needsColour),
                    logger: logger, onStatus: onStatus)
            } catch {
                // (The capture layer's messages say "the camera", never the device's path.)
                throw DaemonStartError(key: "camera", error.description)
            }
        case .replay:
            guard let path = camera.replayPath else { throw DaemonStartError(key: "camera.replay_path", "is required with source: replay") }
            do {
                return try ReplayFrameSource(
                    path: path,
                    configuration: .init(pacing: .realTime, imagesPerSecond: Double(camera.framesPerSecond), loops: camera.replayLoops))
            } catch {
                // Said without the path, which is the file's.
                if error.code == .notFound { throw DaemonStartError(key: "camera.replay_path", "names nothing that exists") }
                throw DaemonStartError(key: "camera.fps", "is not a rate a replay can play (more than 0, at most 1000)")
            }
        }
    }

    /// The configuration key of the door's line in `role`.
    static func key(of role: DoorLineRole) -> String {
        switch role {
        case .relay: "door.relay"
        case .contact: "door.contact"
        case .exitButton: "door.exit_button"
        }
    }

    static func doorLines(_ door: FacegateConfiguration.Door, logger: Logger) throws(DaemonStartError) -> any DoorLines {
        guard let relay = door.relay else {
            logger.warning("no relay configured: the door is simulated and only logged", metadata: ["door": "\(door.name)"])
            return SimulatedDoorLines(logger: logger)
        }
        do {
            return try GPIODDoorLines(
                configuration: .init(
                    relay: relay.address, failMode: door.failSafe ? .safe : .secure, contact: door.contact?.address,
                    exitButton: door.exitButton?.address))
        } catch {
            // Said by the line's key and its role, never the chip or line the file names.
            let key = error.role.map(Self.key(of:)) ?? "door.relay"
            switch error.code {
            case .chipNotFound:
                // Its driver may not have loaded yet: waited for (see `openWaitingForDevices`).
                throw DaemonStartError(key: key, error.message, cause: .deviceMissing("the GPIO chip of \(key)"))
            case .lineNotFound, .badConfiguration:
                // The chip is there without the named line: the file names the wrong one.
                throw DaemonStartError(key: key, error.message)
            default:
                // Busy (another process holds a line) or an I/O failure: a restart may find it free.
                throw DaemonStartError(key: key, error.message, cause: .environment)
            }
        }
    }

    /// The offline cache; a key that cannot be loaded is the configuration's problem (thrown), a cache
    /// file that cannot be used turns the cache off (nil, with a degradation).
    static func offlineCache(
        _ settings: FacegateConfiguration.OfflineCache, backend: String, account: [String]? = nil, environment: [String: String],
        logger: Logger, degradations: inout [StartDegradation]
    ) throws(DaemonStartError) -> OfflineFaceCache? {
        guard settings.enabled else { return nil }
        let key = try offlineCacheKey(settings.key, environment: environment)
        do {
            return try OfflineFaceCache(
                configuration: .init(
                    path: settings.path, maxEntries: settings.maxEntries, entryLifetime: settings.entryLifetime, backend: backend,
                    account: account),
                key: key, logger: logger)
        } catch {
            // The cache only ever adds offline grants: without it the door still decides online, and
            // offline it denies (`denied-offline`). So a cache that cannot be used is turned off, never
            // a reason to stop the door; the file is left as it is for the installer to look at.
            let detail = "offline cache off: " + cacheProblem(error.code)
            logger.error(
                "offline cache unusable; running without it (offline decisions are denied)",
                metadata: ["key": "offline_cache.path", "cause": "\(detail)"])
            degradations.append(StartDegradation(key: "offline_cache.path", detail: detail))
            return nil
        }
    }

    /// The offline cache's key, loaded as the daemon loads it. `config check` (``FacegateConfiguration/environmentProblems(environment:)``)
    /// calls this too, so the check and the daemon accept and refuse the same keys (raw, hex or base64
    /// 32 bytes; never inline). Errors name the key, never a path or the key's bytes.
    static func offlineCacheKey(_ reference: SecretReference?, environment: [String: String]) throws(DaemonStartError) -> OfflineCacheKey {
        do {
            switch reference {
            case .credential(let name): return try OfflineCacheKey.loadCredential(named: name, environment: environment)
            case .file(let path): return try OfflineCacheKey.load(path: path)
            case .inline, nil:
                throw DaemonStartError(key: "offline_cache.key", "must be credential:NAME or file:/path (a key never goes in the file)")
            }
        } catch let error as DaemonStartError {
            throw error
        } catch {
            throw DaemonStartError(key: "offline_cache.key", "\(error)")
        }
    }

    /// A fixed description of why the cache file cannot be used: no path, no key material.
    static func cacheProblem(_ code: OfflineCacheError.Code) -> String {
        switch code {
        case .wrongKey: "written with another key"
        case .unknownSchema: "written by a newer facegate"
        case .cannotOpen: "the file cannot be opened (corrupt, not a cache, or no access)"
        case .storage: "the file cannot be read or written"
        default: "it cannot be opened (\(code.rawValue))"
        }
    }

    /// ``open(_:overrides:logger:)``, waiting for a GPIO chip that is not there yet.
    ///
    /// A chip whose driver loads after facegate starts is looked for again every `retryInterval`, for
    /// up to `wait`; meanwhile the relay is not requested, so the door rests as its wiring does
    /// (locked for a fail-secure strike), and `STATUS=` says what is awaited. Each retry asks systemd
    /// for more start-up time (`EXTEND_TIMEOUT_USEC`), so the wait holds whatever `TimeoutStartSec` is.
    /// Past `wait` the `deviceMissing` error is thrown: `facegate run` exits 1 and systemd starts it
    /// again, so a chip that never comes shows in the unit's restarts rather than as a start that hangs.
    public static func openWaitingForDevices(
        _ configuration: FacegateConfiguration, overrides: Overrides = Overrides(), wait: Duration, retryInterval: Duration = .seconds(1),
        notifier: SystemdNotifier, logger: Logger
    ) async throws(DaemonStartError) -> DoorParts {
        let clock = ContinuousClock()
        let started = clock.now
        var announced: String?
        while true {
            do {
                let parts = try open(configuration, overrides: overrides, logger: logger)
                if let announced { logger.notice("GPIO chip found; starting", metadata: ["chip": "\(announced)"]) }
                return parts
            } catch {
                guard case .deviceMissing(let chip) = error.cause, clock.now - started < wait else { throw error }
                if announced != chip {
                    // Logged once per chip, not at every retry.
                    logger.warning(
                        "GPIO chip not there yet; waiting for it with the relay not requested (the door rests locked if fail-secure)",
                        metadata: ["key": "\(error.key)", "chip": "\(chip)", "retry_every": "\(retryInterval)", "give_up_after": "\(wait)"])
                    announced = chip
                }
                let extend = (retryInterval + .seconds(5)).components
                notifier.send("STATUS=waiting for \(chip)\nEXTEND_TIMEOUT_USEC=\(extend.seconds * 1_000_000 + extend.attoseconds / 1_000_000_000_000)")
                guard (try? await Task.sleep(for: retryInterval)) != nil else {
                    throw DaemonStartError(key: error.key, "start-up cancelled while waiting for \(chip)", cause: .environment)
                }
            }
        }
    }
}

extension DoorParts {
    /// The journal as the configuration sets it up: the daemon's, and `facegate enrol --device`'s.
    static func journalConfiguration(_ configuration: FacegateConfiguration) -> SQLiteJournal.Configuration {
        SQLiteJournal.Configuration(
            path: configuration.journal.path, storeProbeCrops: configuration.journal.storeProbeCrops,
            retention: JournalRetention(
                maxAge: .seconds(configuration.journal.retentionDays * 86_400),
                maxBytes: configuration.journal.maxSizeMegabytes << 20,
                probeCropMaxAge: .seconds(configuration.journal.probeCropRetentionDays * 86_400)))
    }
}

/// A part the door runs without: `key` is its path in facegate.yaml, `detail` a fixed description of why
/// (no path, value or key material), as journaled in a `degraded` door event.
public struct StartDegradation: Sendable, Hashable {
    public var key: String
    public var detail: String

    public init(key: String, detail: String) {
        self.key = key
        self.detail = detail
    }
}

/// A part of the configuration that cannot be brought up; `key` is its path in facegate.yaml.
///
/// `cause` decides how `facegate run` ends: only a configuration problem (something in the file, or
/// a file it names, that an installer must fix: restarting will not) exits 78, which systemd does not
/// restart (`RestartPreventExitStatus=78`); anything else exits 1 and is restarted.
public struct DaemonStartError: Error, Sendable, CustomStringConvertible {
    public enum Cause: Sendable, Hashable {
        /// The file, or a file or path it names, is wrong: an invalid value, a secret or key that is
        /// missing or readable by others, a models folder without the models, a replay path that does
        /// not exist, a GPIO line the chip does not have.
        case configuration
        /// The machine, not the file: a GPIO line held by another process, a line that cannot be read,
        /// the face engine failing. A restart may succeed.
        case environment
        /// A device named in the file that is not there (yet), by name: waited for, then exit 1.
        case deviceMissing(String)
    }

    public var key: String
    public var message: String
    public var cause: Cause

    /// Whether this is the configuration's problem (exit 78) rather than the machine's (exit 1).
    public var isConfigurationProblem: Bool { cause == .configuration }

    public init(key: String, _ message: String, cause: Cause = .configuration) {
        self.key = key
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(key): \(message)" }
}

extension FacegateConfiguration.GPIOLine {
    /// The line as libgpiod is asked for it.
    public var address: GPIOLineAddress {
        GPIOLineAddress(chip: chip, line: line, activeLow: activeLow, bias: bias.address)
    }
}

extension FacegateConfiguration.GPIOLine.Bias {
    /// The pull as libgpiod is asked for it.
    public var address: GPIOLineAddress.Bias {
        switch self {
        case .asIs: .asIs
        case .pullUp: .pullUp
        case .pullDown: .pullDown
        case .disabled: .disabled
        }
    }
}

/// Passes a V4L2 camera's outages to the pipeline, so `/health` says why the frames stopped (a lost camera,
/// a reopen that fails, and why) rather than an older failure or only that they did. The camera is made
/// before the pipeline: outages before it is connected are not kept (the first frame would clear them).
/// The capture layer's messages say "the camera", never its path or card.
public final class CameraOutages: Sendable {
    private let pipeline = Mutex<GatePipeline?>(nil)

    public init() {}

    func connect(_ pipeline: GatePipeline) { self.pipeline.withLock { $0 = pipeline } }

    /// Told by the camera's session; the next frame clears what it notes. Every outage status is followed by
    /// a reopen backoff before the next open, so the note reaches the pipeline before a frame can.
    func note(_ status: V4L2Camera.Status) {
        let detail: String
        switch status {
        case .lost(let error): detail = "the camera was lost: \(error.message)"
        case .reopenFailed(_, let error): detail = "the camera was lost and cannot be reopened: \(error.message)"
        case .streaming, .recovered: return
        }
        guard let pipeline = pipeline.withLock({ $0 }) else { return }
        Task { await pipeline.noteCameraFailure(detail) }
    }
}
