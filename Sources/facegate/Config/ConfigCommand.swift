import ArgumentParser
import FacegateApp
import Foundation

/// `facegate config`: the configuration file.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Checks the configuration file.",
        subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validates a configuration (types, ranges, unknown keys, devices, files, secrets) and lists every problem."
        )

        @Argument(help: "The configuration file.")
        var path = "/etc/facegate/facegate.yaml"

        @Flag(help: "Check the file only, not the devices, files and secrets it names.")
        var syntaxOnly = false

        func run() throws {
            let config: FacegateConfiguration
            do {
                config = try FacegateConfiguration.load(path: path)
            } catch {
                print(error.description)
                throw ExitCode(1)
            }
            let problems = syntaxOnly ? [] : config.environmentProblems()
            // What the packaged unit's service could never read (a file: secret, a file only root reads): a
            // note, as outside the unit it is read (the demo, `facegate run` as oneself), said beside problems
            // too (a missing camera) so that postinst, which finds it by serviceCannotRead, holds the door back.
            let unreadable = syntaxOnly ? [] : config.serviceReadNotes(configurationPath: path)
            guard problems.isEmpty else {
                print("\(path): \(problems.count) problem\(problems.count == 1 ? "" : "s")")
                for problem in problems { print("  \(problem)") }
                for note in unreadable { print("  note: \(note)") }
                throw ExitCode(1)
            }
            print("\(path): ok (backend \(config.backend.kind.rawValue), door \(config.door.name), camera \(config.camera.source.rawValue))")
            // Accepted, so still ok (exit 0), but said where an installer reads it.
            for note in config.notes + (syntaxOnly ? [] : config.serviceSandboxNotes()) + unreadable { print("  note: \(note)") }
        }
    }
}
