import ArgumentParser
import FacegateApp
import Foundation

/// `--config` and `--credentials` for `facegate nec` and `facegate neocheck`: the door's own cloud account,
/// read from its configuration and credential files as the daemon reads them, for whatever no flag gives
/// (before the environment). An installer sets a door up without copying its secrets anywhere else.
struct DoorAccountOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The door's configuration file: its cloud account (endpoint, ids, secrets; NeoCheck's call budget) for what no flag gives.",
            valueName: "path"))
    var config: String?

    @Option(
        help: ArgumentHelp(
            "With --config: where credential:NAME secrets are read (default: $CREDENTIALS_DIRECTORY, else /etc/facegate/credentials).",
            valueName: "dir"))
    var credentials: String?

    func validate() throws {
        if credentials != nil, config == nil { throw ValidationError("--credentials goes with --config") }
    }

    /// The door's configuration when `--config` names one; its problems are said by key, never by value.
    func door() throws -> FacegateConfiguration? {
        guard let config else { return nil }
        do {
            return try FacegateConfiguration.load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// `environment` with the credentials folder the door's `credential:NAME` secrets are read from, as the
    /// unit gives it to the daemon (outside systemd: where the unit loads them from).
    func secretsEnvironment(_ environment: [String: String]) -> [String: String] {
        Self.secretsEnvironment(environment, credentials: credentials)
    }

    /// `environment` with CREDENTIALS_DIRECTORY set to `credentials`, else kept, else the folder the unit
    /// loads the credentials from (`enrol --device` reads them there too).
    static func secretsEnvironment(_ environment: [String: String], credentials: String?) -> [String: String] {
        var environment = environment
        if let credentials {
            environment["CREDENTIALS_DIRECTORY"] = credentials
        } else if environment["CREDENTIALS_DIRECTORY"] == nil {
            environment["CREDENTIALS_DIRECTORY"] = "/etc/facegate/credentials"
        }
        return environment
    }

    /// NEC ID's account from the door's file, when `--config` names one.
    func necAccount(_ environment: [String: String]) throws -> NECBackend.Account? {
        try account(environment) { backend, environment in try backend.nec.account(environment: environment) }
    }

    /// NeoCheck's account from the door's file, when `--config` names one.
    func neoCheckAccount(_ environment: [String: String]) throws -> NeoCheckBackend.Account? {
        try account(environment) { backend, environment in try backend.neoCheck.account(environment: environment) }
    }

    /// What `read` takes from the door's backend section, given the environment its secrets are read with, when
    /// `--config` names a file; a secret that cannot be read is said by its key.
    private func account<Account>(
        _ environment: [String: String], _ read: (FacegateConfiguration.Backend, [String: String]) throws -> Account
    ) throws -> Account? {
        guard let door = try door() else { return nil }
        do {
            return try read(door.backend, secretsEnvironment(environment))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
