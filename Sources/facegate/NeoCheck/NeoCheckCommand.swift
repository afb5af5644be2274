import ArgumentParser
import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateIdentify
import Foundation
import Logging
import NIOCore

/// `facegate neocheck ...`: every NeoCheck FaceCheck operation, for installers.
struct NeoCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neocheck",
        abstract: "Manage NeoCheck FaceCheck face records and lists, and run identifications.",
        discussion: """
            Settings come from flags or, when a flag is absent, from the environment: \
            NEOCHECK_ENDPOINT, NEOCHECK_CLIENT_ID, NEOCHECK_CLIENT_SECRET, NEOCHECK_USERNAME, \
            NEOCHECK_PASSWORD. The client secret and the password are never flags (a command line \
            is visible to other users of the machine): give them in owner-only files with \
            --client-secret-file and --password-file, or in the environment. Replies are printed as JSON.
            """,
        subcommands: [NeoCheckTokenCommand.self, NeoCheckRecordsCommand.self, NeoCheckListsCommand.self, NeoCheckIdentifyCommand.self]
    )
}

/// Where the service is and who signs in, with environment fallbacks.
struct NeoCheckConnectionOptions: ParsableArguments {
    @Option(help: "API base address (env NEOCHECK_ENDPOINT; default https://neocheck.net/api).")
    var endpoint: String?

    @Option(name: .customLong("client-id"), help: "API client id (env NEOCHECK_CLIENT_ID).")
    var clientID: String?

    @Option(name: .customLong("client-secret-file"), help: "File holding the API client secret, mode 600 (env NEOCHECK_CLIENT_SECRET).")
    var clientSecretFile: String?

    @Option(help: "User name (env NEOCHECK_USERNAME).")
    var username: String?

    @Option(name: .customLong("password-file"), help: "File holding the password, mode 600 (env NEOCHECK_PASSWORD).")
    var passwordFile: String?

    /// The old secret flags, kept only to refuse them with the way to do it instead.
    @Option(name: .customLong("client-secret"), help: .hidden) var refusedClientSecret: String?
    @Option(name: .customLong("password"), help: .hidden) var refusedPassword: String?

    @Option(help: "Seconds to wait for each reply.")
    var timeout: Double = 15

    @Option(
        name: .customLong("budget-file"),
        help: "Keep the hourly call budget in this file, shared across runs (with --config: the door's, backend.neocheck.budget_state).")
    var budgetFile: String?

    @Option(
        name: .customLong("calls-per-hour"),
        help: "The account's hourly call limit, for --budget-file (default: the door's with --config, else 3600).")
    var callsPerHour: Int?

    @OptionGroup var door: DoorAccountOptions

    func validate() throws {
        // The value is never repeated: it is already exposed, and must not reach a log too.
        if refusedClientSecret != nil {
            throw ValidationError(
                "--client-secret is not accepted (a command line shows in ps): use --client-secret-file PATH or NEOCHECK_CLIENT_SECRET")
        }
        if refusedPassword != nil {
            throw ValidationError("--password is not accepted (a command line shows in ps): use --password-file PATH or NEOCHECK_PASSWORD")
        }
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be within 0...600 seconds") }
        if let callsPerHour, callsPerHour <= 0 { throw ValidationError("--calls-per-hour must be positive") }
    }

    /// The client's settings: a flag first, then the door's `account` (from `--config`), then the environment.
    func configuration(account: NeoCheckBackend.Account?, environment: [String: String]) throws -> NeoCheckConfiguration {
        func setting(_ flag: String?, _ fromTheDoor: String?, _ name: String, _ variable: String) throws -> String {
            if let flag, !flag.isEmpty { return flag }
            if let fromTheDoor, !fromTheDoor.isEmpty { return fromTheDoor }
            if let value = environment[variable], !value.isEmpty { return value }
            throw ValidationError("missing --\(name) (or --config, or \(variable) in the environment)")
        }
        let endpointText = endpoint ?? account?.endpoint ?? environment["NEOCHECK_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
        let endpointURL: URL
        if let endpointText {
            guard let url = URL(string: endpointText) else { throw ValidationError("--endpoint is not a URL") }
            endpointURL = url
        } else {
            endpointURL = NeoCheckConfiguration.production
        }
        func secret(_ file: String?, _ fromTheDoor: String?, _ name: String, _ variable: String) throws -> String {
            if let file, !file.isEmpty { return try readSecretFile(file) }
            return try setting(nil, fromTheDoor, name, variable)
        }
        let credentials = NeoCheckCredentials(
            clientID: try setting(clientID, account?.clientId, "client-id", "NEOCHECK_CLIENT_ID"),
            clientSecret: try secret(clientSecretFile, account?.clientSecret, "client-secret-file", "NEOCHECK_CLIENT_SECRET"),
            username: try setting(username, account?.username, "username", "NEOCHECK_USERNAME"),
            password: try secret(passwordFile, account?.password, "password-file", "NEOCHECK_PASSWORD"))
        return NeoCheckConfiguration(endpoint: endpointURL, credentials: credentials)
    }

    /// Runs `body` with a client whose HTTP connections are closed afterwards, whatever happens.
    func withClient<Value: Sendable>(_ body: (NeoCheckClient) async throws -> Value) async throws -> Value {
        let environment = ProcessInfo.processInfo.environment
        // The door's file read once: its account, and with it its budget.
        let account = try door.neoCheckAccount(environment)
        let configuration = try configuration(account: account, environment: environment)
        var budget: HourlyCallBudget?
        // With --config the door's own budget: the installer's calls count against the hour the door searches in.
        if let budgetFile = budgetFile ?? account?.budgetStatePath {
            budget = try HourlyCallBudget(
                callsPerHour: callsPerHour ?? account?.callsPerHour ?? 3600, stateFile: URL(fileURLWithPath: budgetFile))
        }
        var logger = Logger(label: "facegate.neocheck")
        logger.logLevel = .warning
        // No redirects, as for the door (before, this client followed them, and a 307 sent the password form
        // and faces on to wherever it pointed); the read timeout also bounds a reply whose body stalls.
        let httpClient = CloudHTTP.makeClient(connectTimeout: .seconds(10), readTimeout: .milliseconds(Int64(timeout * 1000)))
        do {
            let policy = CloudHTTPPolicy(requestTimeout: .milliseconds(Int64(timeout * 1000)))
            let client = try NeoCheckClient(
                configuration: configuration, http: CloudHTTP(client: httpClient, policy: policy, logger: logger), budget: budget)
            let value = try await body(client)
            try await httpClient.shutdown()
            return value
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }
}

/// A delete's answer, or true when its retry found nothing after an attempt that got no answer
/// (``noteGoneAfterRetry(_:)``).
func deletedOrGoneAfterRetry(_ what: String, _ delete: () async throws -> Bool) async throws -> Bool {
    do {
        return try await delete()
    } catch let error as NeoCheckError where error.code == .notFound && error.earlierAttemptMayHaveDoneIt {
        noteGoneAfterRetry(what)
        return true
    }
}

/// A create that got no answer to show for it: a retry would make the thing twice, so the installer is
/// told it may be there and how to look (`howToCheck`, a sentence) before trying again.
func possiblyCreated(_ error: NeoCheckError, what: String, howToCheck: String) -> CommandError {
    let why =
        switch error.code {
        case .timeout, .cancelled: "no answer came in time"
        case .unreachable: "the connection failed, perhaps after the request had gone"
        case .serverError: "the service failed after it was asked, perhaps after making it"
        default: "the service answered but its reply could not be read"
        }
    return CommandError(
        "\(error)\nThe \(what) may have been created all the same (\(why)). \(howToCheck) before trying again: running this again may make it twice.")
}

/// Prints a value as indented JSON with sorted keys; the service's text in it cannot reach the terminal
/// as C1 controls or bidirectional overrides (escaped as `\uXXXX`, still the same JSON).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(TerminalText.escapingInJSON(String(decoding: try encoder.encode(value), as: UTF8.self)))
}

/// A delete or add that NeoCheck answered with its boolean: `false` is the service declining it (§3.3,
/// §4.3, §4.5), a failure whatever the 200 said. `declined` says which operation, with no value from the
/// settings or the record.
func requireDone(_ result: Bool, _ declined: String) throws {
    guard result else { throw CommandError(declined) }
}

/// Reads a file the user named, with a size cap and a clear error.
func readInputFile(_ path: String, what: String, limit: Int = 32 << 20) throws -> [UInt8] {
    let url = URL(fileURLWithPath: path)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    guard let size else { throw ValidationError("cannot read the \(what) \(path)") }
    guard size <= limit else { throw ValidationError("the \(what) \(path) is larger than \(limit >> 20) MiB") }
    guard let data = try? Data(contentsOf: url), !data.isEmpty else {
        throw ValidationError("cannot read the \(what) \(path), or it is empty")
    }
    return [UInt8](data)
}


struct NeoCheckTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Obtain an access token and print its expiry (the token itself only with --show).")

    @OptionGroup var connection: NeoCheckConnectionOptions

    @Flag(help: "Also print the access token. It grants access to the account until it expires.")
    var show = false

    struct Output: Encodable {
        var tokenType: String
        var expiresIn: Double
        var expiresAt: Date
        var refreshable: Bool
        var accessToken: String?
    }

    func run() async throws {
        let show = self.show
        let output = try await connection.withClient { client in
            let token = try await client.tokens.token()
            return Output(
                tokenType: token.tokenType, expiresIn: Double(token.lifetime.components.seconds), expiresAt: token.expiresAt,
                refreshable: token.refreshToken != nil, accessToken: show ? token.accessToken : nil)
        }
        try printJSON(output)
    }
}
