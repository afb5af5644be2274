import ArgumentParser
import FacegateCore
import Foundation

@main
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facegate-emulator",
        abstract: "Runs a faithful stand-in for a cloud face-search service on loopback, for tests and demos.",
        subcommands: [NECEmulatorCommand.self, NeoCheckEmulatorCommand.self]
    )
}

/// The secrets an emulator accepts come as facegate's own do: from a file only its owner can read, or
/// from the environment. Never a flag: a command line shows in `ps` to every user of the machine.
struct EmulatorSecret {
    let flag: String
    let variable: String

    /// Refuses the secret given as a flag, without repeating it.
    func refuse(_ given: String?) throws {
        guard given != nil else { return }
        throw ValidationError("--\(flag) is not accepted (a command line shows in ps): use --\(flag)-file PATH or \(variable)")
    }

    func read(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let file, !file.isEmpty {
            do {
                return try PrivateFile.readSecret(file)
            } catch {
                throw ValidationError("--\(flag)-file: \(error.description)")
            }
        }
        if let value = environment[variable], !value.isEmpty { return value }
        throw ValidationError("no \(flag.replacingOccurrences(of: "-", with: " ")): pass --\(flag)-file PATH or set \(variable)")
    }
}
