import AsyncHTTPClient
import FacegateCore
import FacegateEmulators
import FacegateIdentify
import Foundation
import Logging

/// The NEC ID emulator running in this process on loopback, for the demo and end-to-end tests.
public final class EmulatedNEC: Sendable {
    public let endpoint: String
    public let portalEndpoint: String
    public let credentials: AWSCredentials
    public let apiKey: String
    public let stateDirectory: URL
    private let server: Task<Void, any Error>

    private init(endpoint: String, portalEndpoint: String, credentials: AWSCredentials, apiKey: String, stateDirectory: URL, server: Task<Void, any Error>) {
        self.endpoint = endpoint
        self.portalEndpoint = portalEndpoint
        self.credentials = credentials
        self.apiKey = apiKey
        self.stateDirectory = stateDirectory
        self.server = server
    }

    /// Starts the emulator on free loopback ports, keeping its state in `stateDirectory`.
    public static func start(
        stateDirectory: URL, analyzer: any FaceAnalyzing, credentials: AWSCredentials? = nil, apiKey: String? = nil,
        biometricPort: Int = 0, registrationReplyDelay: Duration = .zero, logger: Logger = Logger(label: "facegate.emulator.necid")
    ) async throws -> EmulatedNEC {
        let credentials = credentials ?? AWSCredentials(accessKeyID: "AKIDEMO" + Self.token(9), secretAccessKey: Self.token(40))
        let apiKey = apiKey ?? Self.token(32)
        let emulator = try NECIDEmulator(
            configuration: NECIDEmulatorConfiguration(
                accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey, apiKey: apiKey,
                stateDirectory: stateDirectory, biometricPort: biometricPort, registrationReplyDelay: registrationReplyDelay),
            analyzer: analyzer, logger: logger)
        let (ports, portsSink) = AsyncStream<NECIDEmulator.Ports>.makeStream()
        let server = Task {
            defer { portsSink.finish() }
            try await emulator.run { portsSink.yield($0) }
        }
        for await running in ports {
            return EmulatedNEC(
                endpoint: "http://127.0.0.1:\(running.biometric)", portalEndpoint: "http://127.0.0.1:\(running.portal)",
                credentials: credentials, apiKey: apiKey, stateDirectory: stateDirectory, server: server)
        }
        // The server ended before listening: its error says why.
        try await server.value
        throw DemoError("the NEC ID emulator stopped before it listened")
    }

    public func configuration(http: CloudHTTPPolicy = CloudHTTPPolicy()) -> NECIDConfiguration {
        NECIDConfiguration(
            endpoint: endpoint, portalEndpoint: portalEndpoint, credentials: credentials, apiKey: apiKey, http: http)
    }

    /// Stops serving (the cloud "goes down"); returns once the servers are closed.
    public func stop() async {
        server.cancel()
        _ = try? await server.value
    }

    private static func token(_ count: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
