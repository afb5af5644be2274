import AsyncHTTPClient
import FacegateCapture
import FacegateCore
import FacegateDoor
import FacegateIdentify
import FacegateJournal
import FacegateOfflineCache
import FacegateQuality
import Foundation
import Logging

/// The I/O edges of one door, made from the configuration: camera, quality core, cloud, offline
/// cache, relay and journal. The daemon wires them into a ``GatePipeline``.
public struct DoorParts: Sendable {
    public var source: any FrameSource
    public var analyzer: DlibFaceAnalyzer
    public var search: any FaceSearch
    /// The cloud's register, for revocation sync; nil when the backend has none.
    public var directory: (any CloudDirectory)?
    /// nil when the offline cache is turned off.
    public var cache: OfflineFaceCache?
    public var door: DoorController
    public var journal: SQLiteJournal
    /// Releases what the parts hold (the HTTP client's connections).
    public var close: @Sendable () async -> Void

    /// What a caller supplies instead of the configured part: the demo and tests.
    public struct Overrides: Sendable {
        public var source: (any FrameSource)?
        public var search: (any FaceSearch & CloudDirectory)?
        public var doorLines: (any DoorLines)?
        public var environment: [String: String]

        public init(
            source: (any FrameSource)? = nil, search: (any FaceSearch & CloudDirectory)? = nil, doorLines: (any DoorLines)? = nil,
            environment: [String: String] = ProcessInfo.processInfo.environment
        ) {
            self.source = source
            self.search = search
            self.doorLines = doorLines
            self.environment = environment
        }
    }

    public init(
        source: any FrameSource, analyzer: DlibFaceAnalyzer, search: any FaceSearch, directory: (any CloudDirectory)?,
        cache: OfflineFaceCache?, door: DoorController, journal: SQLiteJournal, close: @escaping @Sendable () async -> Void
    ) {
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
        if let override = overrides.doorLines { lines = override } else { lines = try doorLines(configuration.door, logger: logger) }
        let door: DoorController
        do {
            // An opening reported within the contact's settle time of a relock may have begun before it.
            let contactSettle = (lines as? GPIODDoorLines)?.configuration.contactSettle ?? DoorTiming().contactSettle
            door = try DoorController(
                lines: lines,
                timing: DoorTiming(
                    unlockDuration: configuration.door.pulse, heldOpenAfter: configuration.door.heldOpenAfter,
                    contactSettle: contactSettle),
                logger: logger)
        } catch {
            lines.release()
            throw DaemonStartError(key: "door", "\(error)")
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
        let analyzer: DlibFaceAnalyzer
        do {
            let models = try FaceModels.locate(configuration.modelsDirectory)
            analyzer = DlibFaceAnalyzer(engine: try FaceEngine(models: models), configuration: configuration.quality)
        } catch {
            throw DaemonStartError(key: "models", "\(error)")
        }
        let source: any FrameSource
        if let override = overrides.source { source = override } else { source = try frameSource(configuration.camera, logger: logger) }
        let journalConfiguration = SQLiteJournal.Configuration(
            path: configuration.journal.path, storeProbeCrops: configuration.journal.storeProbeCrops,
            retention: JournalRetention(
                maxAge: .seconds(configuration.journal.retentionDays * 86_400),
                maxBytes: configuration.journal.maxSizeMegabytes << 20,
                probeCropMaxAge: .seconds(configuration.journal.probeCropRetentionDays * 86_400)))
        let journal = SQLiteJournal(configuration: journalConfiguration, logger: logger)
        let cache = try offlineCache(configuration.offlineCache, environment: overrides.environment, logger: logger)

        if let search = overrides.search {
            return DoorParts(
                source: source, analyzer: analyzer, search: search, directory: search, cache: cache, door: door, journal: journal,
                close: {})
        }
        let backend = configuration.backend
        let http = CloudHTTPPolicy(requestTimeout: backend.requestTimeout)
        func secret(_ reference: SecretReference?, _ key: String) throws(DaemonStartError) -> String {
            guard let reference else { throw DaemonStartError(key: key, "is required for backend \(backend.kind.rawValue)") }
            do {
                return try SecretFiles.resolve(reference, environment: overrides.environment)
            } catch {
                throw DaemonStartError(key: key, error.description)
            }
        }
        switch backend.kind {
        case .nec:
            let necConfiguration = NECIDConfiguration(
                endpoint: backend.nec.endpoint,
                credentials: AWSCredentials(
                    accessKeyID: try secret(backend.nec.accessKey, "backend.nec.access_key"),
                    secretAccessKey: try secret(backend.nec.secretKey, "backend.nec.secret_key")),
                apiKey: try secret(backend.nec.apiKey, "backend.nec.api_key"), region: backend.nec.region, http: http)
            let httpClient = CloudHTTP.makeClient()
            let search = NECFaceSearch(client: NECIDClient(configuration: necConfiguration, httpClient: httpClient, logger: logger))
            return DoorParts(
                source: source, analyzer: analyzer, search: search, directory: search, cache: cache, door: door, journal: journal,
                close: { try? await httpClient.shutdown() })
        case .neocheck:
            guard let endpoint = URL(string: backend.neoCheck.endpoint) else {
                throw DaemonStartError(key: "backend.neocheck.endpoint", "is not a URL")
            }
            guard let clientId = backend.neoCheck.clientId, let username = backend.neoCheck.username else {
                throw DaemonStartError(key: "backend.neocheck", "client_id and username are required")
            }
            let credentials = NeoCheckCredentials(
                clientID: clientId, clientSecret: try secret(backend.neoCheck.clientSecret, "backend.neocheck.client_secret"),
                username: username, password: try secret(backend.neoCheck.password, "backend.neocheck.password"))
            let httpClient = CloudHTTP.makeClient()
            do {
                let budget = try HourlyCallBudget(
                    callsPerHour: backend.neoCheck.callsPerHour, stateFile: URL(fileURLWithPath: backend.neoCheck.budgetStatePath))
                let client = try NeoCheckClient(
                    configuration: NeoCheckConfiguration(endpoint: endpoint, credentials: credentials),
                    http: CloudHTTP(client: httpClient, policy: http, logger: logger), budget: budget)
                let search = NeoCheckFaceSearch(client: client)
                return DoorParts(
                    source: source, analyzer: analyzer, search: search, directory: search, cache: cache, door: door,
                    journal: journal, close: { try? await httpClient.shutdown() })
            } catch {
                try? httpClient.syncShutdown()
                throw DaemonStartError(key: "backend.neocheck", error.description)
            }
        }
    }

    static func frameSource(_ camera: FacegateConfiguration.Camera, logger: Logger) throws(DaemonStartError) -> any FrameSource {
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
                        framesPerSecond: Double(camera.framesPerSecond), stallTimeout: camera.stallTimeout),
                    logger: logger)
            } catch {
                throw DaemonStartError(key: "camera", error.description)
            }
        case .replay:
            guard let path = camera.replayPath else { throw DaemonStartError(key: "camera.replay_path", "is required with source: replay") }
            do {
                return try ReplayFrameSource(
                    path: path,
                    configuration: .init(pacing: .realTime, imagesPerSecond: Double(camera.framesPerSecond), loops: camera.replayLoops))
            } catch {
                throw DaemonStartError(key: "camera.replay_path", error.description)
            }
        }
    }

    static func doorLines(_ door: FacegateConfiguration.Door, logger: Logger) throws(DaemonStartError) -> any DoorLines {
        guard let relay = door.relay else {
            logger.warning("no relay configured: the door is simulated and only logged", metadata: ["door": "\(door.name)"])
            return SimulatedDoorLines(logger: logger)
        }
        func address(_ line: FacegateConfiguration.GPIOLine) -> GPIOLineAddress {
            GPIOLineAddress(chip: line.chip, line: line.line, activeLow: line.activeLow)
        }
        do {
            return try GPIODDoorLines(
                configuration: .init(
                    relay: address(relay), failMode: door.failSafe ? .safe : .secure, contact: door.contact.map(address),
                    exitButton: door.exitButton.map(address)))
        } catch {
            throw DaemonStartError(key: "door.relay", error.description)
        }
    }

    static func offlineCache(
        _ settings: FacegateConfiguration.OfflineCache, environment: [String: String], logger: Logger
    ) throws(DaemonStartError) -> OfflineFaceCache? {
        guard settings.enabled else { return nil }
        let key: OfflineCacheKey
        do {
            switch settings.key {
            case .credential(let name): key = try OfflineCacheKey.loadCredential(named: name, environment: environment)
            case .file(let path): key = try OfflineCacheKey.load(path: path)
            case .inline, nil:
                throw DaemonStartError(key: "offline_cache.key", "must be credential:NAME or file:/path (a key never goes in the file)")
            }
        } catch let error as DaemonStartError {
            throw error
        } catch {
            throw DaemonStartError(key: "offline_cache.key", "\(error)")
        }
        do {
            return try OfflineFaceCache(
                configuration: .init(path: settings.path, maxEntries: settings.maxEntries, entryLifetime: settings.entryLifetime),
                key: key, logger: logger)
        } catch {
            throw DaemonStartError(key: "offline_cache.path", error.description)
        }
    }
}

/// A part of the configuration that cannot be brought up; `key` is its path in facegate.yaml.
public struct DaemonStartError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
