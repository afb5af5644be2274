import ArgumentParser
import FacegateEmulators
import FacegateQuality
import Foundation
import Logging

/// `facegate-emulator nec ...`: the NEC ID stand-in (biometric and portal hosts) on loopback.
struct NECEmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nec",
        abstract: "Run an NEC ID emulator on 127.0.0.1, matching faces with facegate's local core.",
        discussion: """
            Serves the biometric API (/v1.1/...) on --port and tenant management (/api/...) on --portal-port, \
            checking AWS SigV4 (region and service as given, 5-minute clock window) and x-api-key. Galleries, \
            applications, subjects, events, tags and bulk jobs persist in --state. On a fresh state folder a \
            gallery and an application with the API key are created. Bulk registration reads files from --bucket. \
            Scores are round(9999 / (1 + exp(15 * (d - 0.55)))) for dlib descriptor distance d.
            """)

    @Option(help: "Biometric API port on 127.0.0.1 (0 picks a free one and prints it).")
    var port: Int

    @Option(name: .customLong("portal-port"), help: "Portal (tenant management) port on 127.0.0.1 (0 picks a free one).")
    var portalPort: Int

    @Option(name: .customLong("access-key"), help: "The AWS access key id the emulator accepts.")
    var accessKey: String

    @Option(
        name: .customLong("secret-key-file"),
        help: ArgumentHelp("File holding the AWS secret access key it signs with (mode 600).", discussion: "Falls back to NEC_ID_SECRET_KEY."))
    var secretKeyFile: String?

    @Option(
        name: .customLong("api-key-file"),
        help: ArgumentHelp(
            "File holding the API key of the application created on a fresh state folder (mode 600).", discussion: "Falls back to NEC_ID_API_KEY."))
    var apiKeyFile: String?

    /// The old secret flags, kept only to refuse them with the way to do it instead.
    @Option(name: .customLong("secret-key"), help: .hidden) var refusedSecretKey: String?
    @Option(name: .customLong("api-key"), help: .hidden) var refusedAPIKey: String?

    static let secretKey = EmulatorSecret(flag: "secret-key", variable: "NEC_ID_SECRET_KEY")
    static let apiKey = EmulatorSecret(flag: "api-key", variable: "NEC_ID_API_KEY")

    @Option(help: "Folder for the emulator's state.")
    var state: String

    @Option(help: "Folder standing in for the tenant's S3 bucket (default: <state>/bucket).")
    var bucket: String?

    @Option(help: "AWS region requests must be signed for.")
    var region: String = "ap-southeast-2"

    @Option(name: .customLong("minimum-quality"), help: "faceMinimumQualityScore of the application created on a fresh state folder.")
    var minimumQuality: Double = 0.45

    @Option(name: .customLong("page-size"), help: "Records per page of bulk-registration progress.")
    var pageSize: Int = 1000

    @Option(help: "Folder with the dlib models (default: FACEGATE_MODELS, then the installed folders).")
    var models: String?

    func validate() throws {
        for (flag, value) in [("port", port), ("portal-port", portalPort)] where !(0...65535).contains(value) {
            throw ValidationError("--\(flag) must be within 0...65535")
        }
        if port != 0, port == portalPort { throw ValidationError("--port and --portal-port must differ") }
        try Self.secretKey.refuse(refusedSecretKey)
        try Self.apiKey.refuse(refusedAPIKey)
        for (flag, value) in [("access-key", accessKey), ("state", state)] where value.isEmpty {
            throw ValidationError("--\(flag) cannot be empty")
        }
        guard (0.45...1).contains(minimumQuality) else { throw ValidationError("--minimum-quality must be within 0.45...1") }
        guard pageSize >= 1 else { throw ValidationError("--page-size must be positive") }
    }

    // Swift 6.3's optimizer crashes splitting this coroutine (swifterror around the secret reads;
    // the same crash as DoorDemo.run): it runs once at start, so unoptimized costs nothing.
    @_optimize(none)
    func run() async throws {
        let secretKey = try Self.secretKey.read(file: secretKeyFile)
        let apiKey = try Self.apiKey.read(file: apiKeyFile)
        var logger = Logger(label: "facegate.emulator.necid")
        logger.logLevel = .info
        let analyzer = try DlibFaceAnalyzer(models: try models.map { try FaceModels.locate($0) })
        let stateDirectory = URL(fileURLWithPath: state)
        let emulator = try NECIDEmulator(
            configuration: NECIDEmulatorConfiguration(
                accessKeyID: accessKey, secretAccessKey: secretKey, apiKey: apiKey, stateDirectory: stateDirectory,
                bucketDirectory: bucket.map { URL(fileURLWithPath: $0) }, region: region, biometricPort: port, portalPort: portalPort,
                defaultMinimumQuality: minimumQuality, jobPageSize: pageSize),
            analyzer: analyzer, logger: logger)
        try await emulator.run { ports in
            // Unbuffered, so a script waiting for the ports sees them at once.
            FileHandle.standardOutput.write(
                Data(
                    "NEC ID emulator listening on http://127.0.0.1:\(ports.biometric) (biometric) and http://127.0.0.1:\(ports.portal) (portal)\n"
                        .utf8))
        }
    }
}
