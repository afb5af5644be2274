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

    func run() async throws {
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

        // Missing devices are not fatal: the camera is waited for, and a missing GPIO chip fails below.
        for problem in configuration.environmentProblems() {
            logger.warning("configuration problem", metadata: ["key": "\(problem.path)", "problem": "\(problem.message)"])
        }
        let parts: DoorParts
        do {
            parts = try DoorParts.open(configuration, logger: logger)
        } catch {
            logger.critical("refusing to start", metadata: ["key": "\(error.key)", "error": "\(error.message)"])
            throw ExitCode(78)
        }
        let service = DoorControllerService(
            configuration: configuration, parts: parts, logger: logger,
            loadConfiguration: { try FacegateConfiguration.load(path: path) })
        // A replay camera ends; that is a normal stop, not a failure. The name keeps the service's
        // description (its configuration) out of the group's log lines.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .cancelGroup, serviceName: "door-controller")
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension FacegateConfiguration.Logging.Level: ExpressibleByArgument {}
