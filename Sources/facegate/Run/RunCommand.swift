import ArgumentParser
import FacegateApp
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `facegate run`: the door controller daemon (what facegate.service starts).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs the door controller: camera, quality core, cloud search, policy, relay, journal.",
        discussion: """
            Meant to be started by systemd (systemd/facegate.service, Type=notify). Refuses to start on a \
            configuration that is not valid; SIGHUP reloads the door's policy (an invalid file is refused and \
            the running configuration kept); SIGTERM stops it gracefully with the door locked.
            """
    )

    @Option(help: ArgumentHelp("The configuration file.", valueName: "path"))
    var config = "/etc/facegate/facegate.yaml"

    @Option(help: ArgumentHelp("Log level (overrides logging.level).", valueName: "level"))
    var logLevel: FacegateConfiguration.Logging.Level?

    /// How long to wait for a GPIO chip that is not there yet before exiting 1 (systemd restarts the
    /// service and it waits again). 60 s stays inside systemd's default start timeout (90 s) even
    /// where EXTEND_TIMEOUT_USEC is not understood. Hidden: for tests, not installers.
    @Option(help: .hidden)
    var deviceWaitSeconds: Double = 60

    func run() async throws {
        // Before the door's threads start: their arenas are chosen on their first allocation.
        MallocArenas.limitForDaemon(environment: ProcessInfo.processInfo.environment)
        let path = config
        let configuration: FacegateConfiguration
        do {
            configuration = try FacegateConfiguration.load(path: path)
        } catch {
            // Exit status 78 (EX_CONFIG): systemd shows it as a configuration error.
            FileHandle.standardError.write(Data("facegate run: refusing to start: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
        let level = Logger.Level(rawValue: (logLevel ?? configuration.logging.level).rawValue) ?? .info
        LoggingSystem.bootstrap { label in JournaldLogHandler(label: label, level: level) }
        let logger = Logger(label: "facegate")

        // A file cut short while the door was stopped (written as the power went) still parses, without
        // what followed the cut: refused as a reload refuses it, unless only settings that let nobody in
        // were lost (logging, the kiosk, metrics, the journal, commands): run on and said. Before the relay
        // is recorded for the rest: a
        // refused file must not replace the record of the relay the last start drove.
        let stateFolder = AcceptedConfigurationRecord.daemonFolder()
        if let stateFolder, let cut = AcceptedConfigurationRecord.read(in: stateFolder)?.cut(in: configuration, path: path) {
            let problem = cut.problem
            guard !cut.refusesTheStart else {
                FileHandle.standardError.write(Data("facegate run: refusing to start: \(problem)\n".utf8))
                logger.critical("refusing to start: configuration problem", metadata: ["key": "\(problem.path)", "error": "\(problem.message)"])
                throw ExitCode(78)
            }
            logger.warning("configuration problem", metadata: ["key": "\(problem.path)", "problem": "\(problem.message)"])
        }
        // The relay this start drives, for the unit's ExecStopPost (`facegate door rest`), before the
        // relay is requested: however this run ends, the line it held is the one rested.
        if let folder = RestingRelayRecord.folder() {
            do {
                try RestingRelayRecord.write(configuration.door.relay, in: folder)
            } catch {
                logger.warning(
                    "the relay cannot be recorded for the rest after a stop; it rests from the configuration file alone",
                    metadata: ["key": "door.relay"])
            }
        }
        // Missing devices are not fatal: the camera and a GPIO chip are waited for.
        for problem in configuration.environmentProblems() {
            logger.warning("configuration problem", metadata: ["key": "\(problem.path)", "problem": "\(problem.message)"])
        }
        configuration.logNotes(to: logger)
        // Exit status: 78 (EX_CONFIG) only for a configuration problem, which restarting cannot fix
        // (the unit's RestartPreventExitStatus=78); 1 for anything else, which systemd restarts. A GPIO
        // chip that is not there yet is waited for first (see DoorParts.openWaitingForDevices).
        let parts: DoorParts
        do {
            parts = try await DoorParts.openWaitingForDevices(
                configuration, wait: .milliseconds(Int64(max(0, deviceWaitSeconds) * 1000)), notifier: SystemdNotifier(),
                logger: logger)
        } catch {
            if error.isConfigurationProblem {
                logger.critical("refusing to start: configuration problem", metadata: ["key": "\(error.key)", "error": "\(error.message)"])
                throw ExitCode(78)
            }
            logger.critical("cannot start; exiting for systemd to restart", metadata: ["key": "\(error.key)", "error": "\(error.message)"])
            throw ExitCode.failure
        }
        // The file this start runs on is the one the next start is compared with.
        if let stateFolder { Self.record(configuration, path: path, in: stateFolder, logger: logger) }
        var settings = DoorControllerService.Settings()
        if let stateFolder {
            settings.acceptedConfiguration = { accepted in Self.record(accepted, path: path, in: stateFolder, logger: logger) }
        }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, logger: logger,
            loadConfiguration: { try FacegateConfiguration.load(path: path, refusingAnEmptyFile: true) })
        // The door's services, in one group with the signals: SIGTERM shuts them down in reverse start
        // order (frames, decisions, door, journal). A replay camera ending is a normal stop, not a failure.
        var groupConfiguration = ServiceGroupConfiguration(
            services: service.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = service.settings.shutdownLimit
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            // The door failed (its relay would not lock) or another part did: not the configuration's
            // fault, so exit 1 for systemd to restart; the cause is already logged.
            throw ExitCode.failure
        }
    }

    /// Keeps what the file holds for the next start's comparison; a failure costs that comparison only.
    static func record(_ configuration: FacegateConfiguration, path: String, in folder: String, logger: Logger) {
        do {
            try AcceptedConfigurationRecord.write(configuration, path: path, in: folder)
        } catch {
            logger.warning(
                "the configuration's keys cannot be recorded: the next start cannot tell a file cut short from an edit",
                metadata: ["error": "\(type(of: error))"])
        }
    }
}

extension FacegateConfiguration.Logging.Level: ExpressibleByArgument {}
