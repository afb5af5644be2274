import ArgumentParser
import FacegateApp
import Foundation

/// `facegate config`: the configuration file.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Checks the configuration file.",
        subcommands: [Check.self, Accept.self]
    )

    /// The file, read as the daemon reads it; its problems printed and exit 1 when it is not valid.
    static func load(_ path: String) throws -> FacegateConfiguration {
        do {
            return try FacegateConfiguration.load(path: path)
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validates a configuration (types, ranges, unknown keys, devices, files, secrets) and lists every problem."
        )

        @Argument(help: "The configuration file.")
        var path = "/etc/facegate/facegate.yaml"

        @Flag(help: "Check the file only, not the devices, files and secrets it names.")
        var syntaxOnly = false

        func run() throws {
            let config = try ConfigCommand.load(path)
            var problems = syntaxOnly ? [] : config.environmentProblems()
            // As the next start will: the door's file read as the one it last ran on cut short (refused,
            // or noted when it lost only settings that let nobody in).
            var cutNotes: [ConfigProblem] = []
            if !syntaxOnly, let folder = AcceptedConfigurationRecord.installerFolder(),
                let cut = AcceptedConfigurationRecord.read(in: folder)?.cut(in: config, path: path)
            {
                if cut.refusesTheStart { problems.append(cut.problem) } else { cutNotes.append(cut.problem) }
            }
            // What the packaged unit's service could never read (a file: secret, a file only root reads): a
            // note, as outside the unit it is read (the demo, `facegate run` as oneself), said beside problems
            // too (a missing camera) so that postinst, which finds it by serviceCannotRead, holds the door back.
            let unreadable = syntaxOnly ? [] : config.serviceReadNotes(configurationPath: path)
            guard problems.isEmpty else {
                print("\(path): \(problems.count) problem\(problems.count == 1 ? "" : "s")")
                for problem in problems { print("  \(problem)") }
                for note in unreadable + cutNotes { print("  note: \(note)") }
                throw ExitCode(1)
            }
            print("\(path): ok (backend \(config.backend.kind.rawValue), door \(config.door.name), camera \(config.camera.source.rawValue))")
            // Accepted, so still ok (exit 0), but said where an installer reads it.
            for note in config.notes + (syntaxOnly ? [] : config.serviceSandboxNotes()) + unreadable + cutNotes { print("  note: \(note)") }
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Takes the file as meant where it reads as the one the door last ran on cut short.",
            discussion: """
                The daemon refuses to start on a file that lacks the last keys or values of the file it last \
                ran on, as a file cut short by a power cut or a full disk does. After an edit that removes them \
                on purpose, run this (as root), then start the door. The file must be valid.
                """
        )

        @Argument(help: "The configuration file.")
        var path = "/etc/facegate/facegate.yaml"

        func run() throws {
            let config = try ConfigCommand.load(path)
            guard let folder = AcceptedConfigurationRecord.installerFolder() else {
                print("\(path): nothing to accept: no state folder of the door's here (\(AcceptedConfigurationRecord.packagedStateFolder))")
                throw ExitCode(1)
            }
            do {
                try AcceptedConfigurationRecord.write(config, path: path, in: folder)
            } catch {
                print("\(path): cannot be recorded as accepted: \(error.localizedDescription)")
                throw ExitCode(1)
            }
            print("\(path): accepted; the door starts on it as it is")
        }
    }
}
