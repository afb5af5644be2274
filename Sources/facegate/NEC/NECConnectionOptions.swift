import ArgumentParser
import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateIdentify
import Foundation
import Logging

/// How `facegate nec` reaches NEC ID: flags, each with an environment fallback. Secrets are never
/// flags (a command line shows in `ps` to every user): they come from a file named by a flag, read
/// by `PrivateFile` (owner-only, no symlink), or from the environment.
struct NECConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Biometric API base URL.", discussion: "Falls back to NEC_ID_ENDPOINT."))
    var endpoint: String?

    @Option(help: ArgumentHelp("Tenant management (portal) base URL.", discussion: "Falls back to NEC_ID_PORTAL_ENDPOINT."))
    var portalEndpoint: String?

    @Option(help: ArgumentHelp("AWS region the requests are signed for.", discussion: "Falls back to NEC_ID_REGION, then ap-southeast-2."))
    var region: String?

    @Option(help: ArgumentHelp("AWS access key id (an identifier, not a secret).", discussion: "Falls back to NEC_ID_ACCESS_KEY."))
    var accessKey: String?

    @Option(
        name: .customLong("secret-key-file"),
        help: ArgumentHelp("File holding the AWS secret access key (mode 600).", discussion: "Falls back to NEC_ID_SECRET_KEY."))
    var secretKeyFile: String?

    @Option(
        name: .customLong("api-key-file"),
        help: ArgumentHelp("File holding the application's API key (x-api-key; mode 600).", discussion: "Falls back to NEC_ID_API_KEY."))
    var apiKeyFile: String?

    /// The old secret flags, kept only to refuse them with the way to do it instead.
    @Option(name: .customLong("secret-key"), help: .hidden) var refusedSecretKey: String?
    @Option(name: .customLong("api-key"), help: .hidden) var refusedAPIKey: String?

    @Option(help: "Seconds to wait for one reply.")
    var timeout: Int = 30

    @Flag(help: "Print the service's JSON on one line instead of indented.")
    var compact = false

    @OptionGroup var door: DoorAccountOptions

    func validate() throws {
        // The value is never repeated: it is already exposed, and must not reach a log too.
        if refusedSecretKey != nil {
            throw ValidationError("--secret-key is not accepted (a command line shows in ps): use --secret-key-file PATH or NEC_ID_SECRET_KEY")
        }
        if refusedAPIKey != nil {
            throw ValidationError("--api-key is not accepted (a command line shows in ps): use --api-key-file PATH or NEC_ID_API_KEY")
        }
    }

    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NECIDConfiguration {
        // A flag first, then the door's file (--config), then the environment.
        let account = try door.necAccount(environment)
        func value(_ flag: String?, _ fromTheDoor: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let fromTheDoor, !fromTheDoor.isEmpty { return fromTheDoor }
            if let fromEnvironment = environment[variable], !fromEnvironment.isEmpty { return fromEnvironment }
            return nil
        }
        func secret(_ file: String?, _ fromTheDoor: String?, _ variable: String) throws -> String? {
            if let file, !file.isEmpty { return try readSecretFile(file) }
            return value(nil, fromTheDoor, variable)
        }
        guard let endpoint = value(endpoint, account?.endpoint, "NEC_ID_ENDPOINT") else {
            throw ValidationError("no biometric endpoint: pass --endpoint or --config, or set NEC_ID_ENDPOINT")
        }
        guard let accessKey = value(accessKey, account?.accessKey, "NEC_ID_ACCESS_KEY") else {
            throw ValidationError("no access key: pass --access-key or --config, or set NEC_ID_ACCESS_KEY")
        }
        guard let secretKey = try secret(secretKeyFile, account?.secretKey, "NEC_ID_SECRET_KEY") else {
            throw ValidationError("no secret key: pass --secret-key-file or --config, or set NEC_ID_SECRET_KEY")
        }
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
        return NECIDConfiguration(
            endpoint: endpoint, portalEndpoint: value(portalEndpoint, nil, "NEC_ID_PORTAL_ENDPOINT"),
            credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey),
            apiKey: try secret(apiKeyFile, account?.apiKey, "NEC_ID_API_KEY"),
            region: value(region, account?.region, "NEC_ID_REGION") ?? "ap-southeast-2", http: CloudHTTPPolicy(requestTimeout: .seconds(timeout)))
    }

    /// Sends one call and prints the service's JSON; failures print their message and exit non-zero.
    /// An application's API key in the reply is printed masked unless `showingAPIKeys` (`--show-api-key`).
    /// `creating` names what a call that makes something makes, and how to look for it: when such a call
    /// may have been carried out without an answer to show for it, the failure says so (see `NECCreation`).
    func run<Value>(
        showingAPIKeys: Bool = false, creating creation: NECCreation? = nil, _ makeOperation: () throws(NECIDError) -> NECIDOperation<Value>
    ) async throws {
        let configuration = try configuration()
        let operation: NECIDOperation<Value>
        do {
            operation = try makeOperation()
        } catch {
            throw fail(error)
        }
        var logger = Logger(label: "facegate.nec")
        logger.logLevel = .warning
        let httpClient = NECIDClient.makeHTTPClient()
        let client = NECIDClient(configuration: configuration, httpClient: httpClient, logger: logger)
        let outcome: Result<NECIDReply<Value>, NECIDError>
        do {
            outcome = .success(try await client.perform(operation))
        } catch {
            outcome = .failure(error)
        }
        try? await httpClient.shutdown()
        switch outcome {
        case .success(let reply):
            print(Self.render(reply.body, compact: compact, showingAPIKeys: showingAPIKeys), terminator: reply.body.isEmpty ? "" : "\n")
        case .failure(let error):
            if let creation, error.mayHaveBeenCarriedOut {
                throw failPossiblyMade(error, creation, showingAPIKeys: showingAPIKeys)
            }
            if operation.deletes, error.code == .notFound, error.earlierAttemptMayHaveDoneIt {
                // Gone, as asked: the attempt that got no answer (a timeout, a gateway's 502) may have deleted it.
                noteGoneAfterRetry(operation.name)
                return
            }
            throw fail(error)
        }
    }

    private func fail(_ error: NECIDError) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ExitCode(error.code == .validation ? 2 : 1)
    }

    /// A create with no answer to show for it: a retry would make the thing twice, so the installer is told it
    /// may be there and how to look. A 2xx's reply is printed as it came (it may name what was made), and the
    /// ids it holds are said.
    private func failPossiblyMade(_ error: NECIDError, _ creation: NECCreation, showingAPIKeys: Bool) -> ExitCode {
        if !error.unreadReply.isEmpty {
            print(Self.render(error.unreadReply, compact: compact, showingAPIKeys: showingAPIKeys))
        }
        let ids = Self.ids(in: error.unreadReply)
        let named = ids.isEmpty ? "" : " The reply names \(ids.joined(separator: ", "))."
        let why: String
        switch (error.code, error.httpStatus) {
        case (.responseTooLarge, _): why = "the service's reply was too large to read"
        case (_, let status?) where (200..<300).contains(status): why = "the service answered HTTP \(status) but its reply could not be read"
        case (.timeout, _): why = "no answer came in time"
        case (.unreachable, _): why = "the connection failed, perhaps after the request had gone"
        default: why = "the service failed after it was asked, perhaps after making it"
        }
        FileHandle.standardError.write(
            Data(
                ("error: \(error)\nThe \(creation.what) may have been created all the same (\(why)).\(named) "
                    + "Check with `\(creation.howToCheck)` before trying again: running this again may make it twice.\n").utf8))
        return ExitCode(1)
    }

    /// The ids a reply's JSON object names (`id`, `eventId`, `batchId`), escaped for the terminal.
    static func ids(in body: [UInt8]) -> [String] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return [] }
        return ["id", "eventId", "batchId"].compactMap { key in
            (object[key] as? String).map { "\(key) \(TerminalText.printable($0))" }
        }
    }

    /// The reply re-indented (or put on one line), its C1 controls and bidirectional overrides escaped as
    /// `\uXXXX` (the serialiser leaves them raw); a body that is not JSON is printed with its control
    /// characters escaped (`TerminalText`): an error page or a hostile reply cannot rewrite the terminal.
    /// Every `apiKey` value is replaced by ``maskedAPIKey`` unless `showingAPIKeys`: an application's key
    /// reaches its gallery, and a terminal's scrollback, a screen share or a pasted log must not carry it.
    static func render(_ body: [UInt8], compact: Bool, showingAPIKeys: Bool = false) -> String {
        guard !body.isEmpty else { return "" }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]),
            case let object = showingAPIKeys ? parsed : maskingAPIKeys(parsed),
            let data = try? JSONSerialization.data(
                withJSONObject: object,
                options: compact ? [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return TerminalText.printable(String(decoding: body, as: UTF8.self)) }
        return TerminalText.escapingInJSON(String(decoding: data, as: UTF8.self))
    }

    static let maskedAPIKey = "(hidden: --show-api-key prints it)"

    private static func maskingAPIKeys(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var masked: [String: Any] = [:]
            for (key, item) in object {
                if key.lowercased() == "apikey", item is String {
                    masked[key] = maskedAPIKey
                } else {
                    masked[key] = maskingAPIKeys(item)
                }
            }
            return masked
        }
        if let array = value as? [Any] { return array.map(maskingAPIKeys) }
        return value
    }
}

/// What a command that makes something makes, and the command that shows whether it was made.
struct NECCreation {
    /// "subject", "event of subject 'S'"
    var what: String
    /// A command line to run, e.g. `facegate nec subjects list --dir desc --length 5`.
    var howToCheck: String

    static let subject = NECCreation(what: "subject", howToCheck: "facegate nec subjects list --dir desc --length 5")

    static func event(of subject: String) -> NECCreation {
        NECCreation(
            what: "event of subject \(DeletionConfirmation.quoted(subject))",
            howToCheck: "facegate nec events list \(DeletionConfirmation.quoted(subject))")
    }
}

/// `--show-api-key` for the portal commands whose replies carry an application's API key.
struct NECAPIKeyDisplay: ParsableArguments {
    @Flag(help: "Print applications' API keys in clear (masked otherwise: a terminal's scrollback or a pasted log must not carry them).")
    var showApiKey = false
}

/// Reads an image file named on the command line.
func readImage(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read image file \(path)")
    }
    guard !data.isEmpty else { throw ValidationError("image file \(path) is empty") }
    return Array(data)
}

/// A secret from a file named on the command line: owner-only, not a symlink, not a FIFO (see
/// `PrivateFile`). The error names the file, never its content.
func readSecretFile(_ path: String) throws -> String {
    do {
        return try PrivateFile.readSecret(path)
    } catch {
        throw ValidationError(error.description)
    }
}
