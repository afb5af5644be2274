import ArgumentParser
import FacegateEmulators
import FacegateQuality
import Foundation
import Hummingbird
import Logging

/// `facegate-emulator neocheck ...`: the NeoCheck FaceCheck stand-in on loopback.
struct NeoCheckEmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neocheck",
        abstract: "Run a NeoCheck FaceCheck emulator on 127.0.0.1, matching faces with facegate's local core.",
        discussion: """
            Serves the API under http://127.0.0.1:PORT/api (connect/token, v1/face...). Records, lists and \
            credits persist in the state folder; tokens live in memory. Confidence is \
            100 / (1 + exp(15 * (d - 0.50))) for descriptor distance d; result is ok at 50 or more, else failed.
            """)

    @Option(help: "TCP port on 127.0.0.1 (0 picks a free one and prints it).")
    var port: Int

    @Option(name: .customLong("client-id"), help: "The API client id the emulator accepts.")
    var clientID: String

    @Option(
        name: .customLong("client-secret-file"),
        help: ArgumentHelp("File holding the client secret it accepts (mode 600).", discussion: "Falls back to NEOCHECK_CLIENT_SECRET."))
    var clientSecretFile: String?

    @Option(help: "The user name it accepts.")
    var username: String

    @Option(
        name: .customLong("password-file"),
        help: ArgumentHelp("File holding the password it accepts (mode 600).", discussion: "Falls back to NEOCHECK_PASSWORD."))
    var passwordFile: String?

    /// The old secret flags, kept only to refuse them with the way to do it instead.
    @Option(name: .customLong("client-secret"), help: .hidden) var refusedClientSecret: String?
    @Option(name: .customLong("password"), help: .hidden) var refusedPassword: String?

    static let clientSecret = EmulatorSecret(flag: "client-secret", variable: "NEOCHECK_CLIENT_SECRET")
    static let password = EmulatorSecret(flag: "password", variable: "NEOCHECK_PASSWORD")

    @Option(help: "Folder for the emulator's records, lists and credits.")
    var state: String

    @Option(name: .customLong("calls-per-hour"), help: "Face API calls allowed per hour.")
    var callsPerHour: Int = 3600

    @Option(name: .customLong("token-ttl"), help: "Lifetime of access tokens, in seconds.")
    var tokenTTL: Int = 3600

    @Option(help: "Set the identifications the account can pay for (default: keep the state folder's; unlimited when new).")
    var credits: Int?

    @Option(help: "Folder with the dlib models (default: FACEGATE_MODELS, then the installed folders).")
    var models: String?

    @Option(name: .customLong("path-prefix"), help: "Path the API is served under.")
    var pathPrefix: String = "api"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be within 0...65535") }
        guard callsPerHour > 0 else { throw ValidationError("--calls-per-hour must be positive") }
        guard tokenTTL > 0 else { throw ValidationError("--token-ttl must be positive") }
        if let credits, credits < 0 { throw ValidationError("--credits cannot be negative") }
        try Self.clientSecret.refuse(refusedClientSecret)
        try Self.password.refuse(refusedPassword)
        for (flag, value) in [("client-id", clientID), ("username", username)] where value.isEmpty {
            throw ValidationError("--\(flag) cannot be empty")
        }
    }

    // Swift 6.3's optimizer crashes splitting this coroutine (swifterror around the secret reads;
    // the same crash as DoorDemo.run): it runs once at start, so unoptimized costs nothing.
    @_optimize(none)
    func run() async throws {
        let clientSecret = try Self.clientSecret.read(file: clientSecretFile)
        let password = try Self.password.read(file: passwordFile)
        var logger = Logger(label: "facegate.emulator.neocheck")
        logger.logLevel = .info
        let analyzer = try DlibFaceAnalyzer(models: try models.map { try FaceModels.locate($0) })
        let emulator = try await NeoCheckEmulator(
            configuration: NeoCheckEmulatorConfiguration(
                clientID: clientID, clientSecret: clientSecret, username: username, password: password,
                stateDirectory: URL(fileURLWithPath: state), tokenLifetime: .seconds(tokenTTL), callsPerHour: callsPerHour,
                credits: credits),
            analyzer: analyzer)
        let prefix = pathPrefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let app = emulator.application(port: port, logger: logger, pathPrefix: prefix) { boundPort in
            // Unbuffered, so a script waiting for the port sees it at once.
            FileHandle.standardOutput.write(Data("NeoCheck emulator listening on http://127.0.0.1:\(boundPort)/\(prefix)\n".utf8))
        }
        try await app.runService()
    }
}
