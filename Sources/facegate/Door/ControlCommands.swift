import ArgumentParser
import FacegateApp
import FacegateCore
import Foundation

/// Where the running daemon listens (`control.socket`).
struct ControlSocketOption: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's control socket (its configuration's control.socket).", valueName: "path"))
    var socket = "/run/facegate/control.sock"

    func send(_ request: ControlRequest) throws -> ControlResponse {
        do {
            return try ControlClient.send(request, to: socket)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// `facegate status`: what the running daemon's `/health` says, through its control socket.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Asks the running daemon how the door is: camera, cloud, relay, journal, offline cache and clock.",
        discussion: "Exits 0 when the door can decide, 1 when it cannot, 2 when the daemon cannot be asked.")

    @OptionGroup var control: ControlSocketOption

    @Flag(help: "Print the daemon's JSON answer as it came.")
    var json = false

    func run() async throws {
        let response = try control.send(ControlRequest(command: .status))
        guard response.ok, let health = response.health else {
            FileHandle.standardError.write(Data("error: \(TerminalText.printable(response.error ?? "the daemon did not answer"))\n".utf8))
            throw ExitCode(2)
        }
        // The daemon's words carry text from outside (a camera's, a cloud's, a file system's error): escaped, as
        // `facegate log` does, so that none can move the cursor or rewrite the terminal.
        if json {
            print(TerminalText.escapingInJSON(String(decoding: health.json(), as: UTF8.self)))
        } else {
            print("door: \(health.status.rawValue), \(health.canDecide ? "can decide" : "cannot decide")")
            let parts: [(String, DoorHealthReport.Component)] = [
                ("camera", health.camera), ("decision", health.decision), ("cloud", health.cloud), ("relay", health.relay), ("journal", health.journal),
                ("offline cache", health.offlineCache), ("clock", health.clock),
            ]
            let formatter = ISO8601DateFormatter()
            for (name, part) in parts {
                var line = "  \(name): \(part.status.rawValue)"
                if let error = part.lastError { line += ": \(TerminalText.printable(error))" }
                if let since = part.since { line += " (since \(formatter.string(from: since)))" }
                print(line)
            }
        }
        if !health.canDecide { throw ExitCode(1) }
    }
}

/// `facegate door unlock --reason TEXT`: the running daemon pulses the relay, journaled as a manual decision.
struct DoorUnlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Asks the running daemon to unlock the door for one pulse, journaled as a manual decision with its reason.")

    @OptionGroup var control: ControlSocketOption

    @Option(help: ArgumentHelp("Why (journaled with the decision; one line).", valueName: "text"))
    var reason: String

    func run() async throws {
        // Under sudo, the login it acts for: journaled as stated beside the kernel's uid (root for every sudo user).
        let stated = ProcessInfo.processInfo.environment["SUDO_USER"]
        let response = try control.send(ControlRequest(command: .unlock, reason: reason, statedUser: stated))
        guard response.ok else {
            FileHandle.standardError.write(Data("error: \(TerminalText.printable(response.error ?? "refused"))\n".utf8))
            throw ExitCode(1)
        }
        print("unlocked (decision \(response.decision?.uuidString ?? "?"), relay \(TerminalText.printable(response.relay ?? "?")))")
    }
}
