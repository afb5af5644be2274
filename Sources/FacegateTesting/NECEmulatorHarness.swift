import AsyncHTTPClient
import FacegateCore
import FacegateEmulators
import FacegateIdentify
import FacegateQuality
import Foundation
import Logging

/// A live NEC ID emulator (biometric and portal APIs) on loopback ports with a fresh state folder,
/// and clients signed for it.
public final class NECEmulatorHarness: Sendable {
    public static let accessKey = "AKIDNECEMULATORTEST"
    public static let secretKey = "emulator-secret-key-1234567890abcdefghij"
    public static let apiKey = "emulator-test-api-key-0123456789"

    public let stateDirectory: URL
    public let ports: NECIDEmulator.Ports
    public let httpClient: HTTPClient
    private let server: Task<Void, any Error>

    private init(stateDirectory: URL, ports: NECIDEmulator.Ports, httpClient: HTTPClient, server: Task<Void, any Error>) {
        self.stateDirectory = stateDirectory
        self.ports = ports
        self.httpClient = httpClient
        self.server = server
    }

    /// Starts an emulator on a fresh folder (or `stateDirectory`, to see what an earlier one kept).
    public static func start(stateDirectory: URL? = nil, jobPageSize: Int = 1000) async throws -> NECEmulatorHarness {
        let directory =
            stateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("necid-emulator-\(UUID().uuidString)")
        var logger = Logger(label: "test.necid.emulator")
        logger.logLevel = .critical
        let emulator = try NECIDEmulator(
            configuration: NECIDEmulatorConfiguration(
                accessKeyID: accessKey, secretAccessKey: secretKey, apiKey: apiKey, stateDirectory: directory,
                jobPageSize: jobPageSize),
            analyzer: try TestFaceAnalyzers.video(), logger: logger)
        let (stream, sink) = AsyncStream<NECIDEmulator.Ports>.makeStream()
        // Owned by the harness and ended by stop(): a harness outlives the call that starts it.
        let server = Task {
            defer { sink.finish() }
            try await emulator.run { sink.yield($0) }
        }
        for await ports in stream {
            return NECEmulatorHarness(stateDirectory: directory, ports: ports, httpClient: NECIDClient.makeHTTPClient(), server: server)
        }
        try await server.value
        throw NECIDError(.unreachable, "the emulator stopped before listening")
    }

    public var endpoint: String { "http://127.0.0.1:\(ports.biometric)" }
    public var portalEndpoint: String { "http://127.0.0.1:\(ports.portal)" }

    /// A client of this emulator, signed with its keys unless told otherwise; one attempt per call.
    public func client(
        accessKey: String = NECEmulatorHarness.accessKey, secretKey: String = NECEmulatorHarness.secretKey,
        apiKey: String? = NECEmulatorHarness.apiKey, region: String = "ap-southeast-2",
        now: @escaping @Sendable () -> Date = { Date() }, cloudClock: CloudClock? = nil
    ) -> NECIDClient {
        NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: endpoint, portalEndpoint: portalEndpoint,
                credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey), apiKey: apiKey, region: region,
                http: CloudHTTPPolicy(requestTimeout: .seconds(60), maxAttempts: 1)),
            httpClient: httpClient, now: now, cloudClock: cloudClock)
    }

    /// Stops the servers; the state folder stays unless `removingState`.
    public func stop(removingState: Bool = true) async throws {
        server.cancel()
        _ = try? await server.value
        try await httpClient.shutdown()
        if removingState { try? FileManager.default.removeItem(at: stateDirectory) }
    }
}

/// Runs `body` against a fresh NEC ID emulator and always stops it.
public func withNECEmulator(jobPageSize: Int = 1000, _ body: (NECEmulatorHarness) async throws -> Void) async throws {
    let harness = try await NECEmulatorHarness.start(jobPageSize: jobPageSize)
    do {
        try await body(harness)
    } catch {
        try? await harness.stop()
        throw error
    }
    try await harness.stop()
}
