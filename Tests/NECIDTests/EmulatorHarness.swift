import AsyncHTTPClient
import FacegateCore
import FacegateEmulators
import FacegateIdentify
import FacegateQuality
import Foundation
import Logging

/// A live NEC ID emulator on loopback ports with a fresh state folder, and a
/// client signed for it.
final class EmulatorHarness: Sendable {
    static let accessKey = "AKIDNECEMULATORTEST"
    static let secretKey = "emulator-secret-key-1234567890abcdefghij"
    static let apiKey = "emulator-test-api-key-0123456789"

    /// dlib's models, loaded once for every test.
    static let analyzer: Result<DlibFaceAnalyzer, any Error> = Result { try DlibFaceAnalyzer() }

    let stateDirectory: URL
    let ports: NECIDEmulator.Ports
    let httpClient: HTTPClient
    private let server: Task<Void, any Error>

    private init(stateDirectory: URL, ports: NECIDEmulator.Ports, httpClient: HTTPClient, server: Task<Void, any Error>) {
        self.stateDirectory = stateDirectory
        self.ports = ports
        self.httpClient = httpClient
        self.server = server
    }

    static func start(stateDirectory: URL? = nil, jobPageSize: Int = 1000) async throws -> EmulatorHarness {
        let directory =
            stateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("necid-emulator-\(UUID().uuidString)")
        var logger = Logger(label: "test.necid.emulator")
        logger.logLevel = .critical
        let emulator = try NECIDEmulator(
            configuration: NECIDEmulatorConfiguration(
                accessKeyID: accessKey, secretAccessKey: secretKey, apiKey: apiKey, stateDirectory: directory,
                jobPageSize: jobPageSize),
            analyzer: try analyzer.get(), logger: logger)
        let (stream, sink) = AsyncStream<NECIDEmulator.Ports>.makeStream()
        let server = Task {
            defer { sink.finish() }
            try await emulator.run { sink.yield($0) }
        }
        for await ports in stream {
            return EmulatorHarness(stateDirectory: directory, ports: ports, httpClient: NECIDClient.makeHTTPClient(), server: server)
        }
        try await server.value
        throw NECIDError(.unreachable, "the emulator stopped before listening")
    }

    var endpoint: String { "http://127.0.0.1:\(ports.biometric)" }
    var portalEndpoint: String { "http://127.0.0.1:\(ports.portal)" }

    func client(
        accessKey: String = EmulatorHarness.accessKey, secretKey: String = EmulatorHarness.secretKey,
        apiKey: String? = EmulatorHarness.apiKey, region: String = "ap-southeast-2",
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> NECIDClient {
        NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: endpoint, portalEndpoint: portalEndpoint,
                credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey), apiKey: apiKey, region: region,
                http: CloudHTTPPolicy(requestTimeout: .seconds(60), maxAttempts: 1)),
            httpClient: httpClient, now: now)
    }

    /// Stops the servers; the state folder stays unless `removingState`.
    func stop(removingState: Bool = true) async throws {
        server.cancel()
        _ = try? await server.value
        try await httpClient.shutdown()
        if removingState { try? FileManager.default.removeItem(at: stateDirectory) }
    }
}

/// Runs `body` against a fresh emulator and always stops it.
func withEmulator(jobPageSize: Int = 1000, _ body: (EmulatorHarness) async throws -> Void) async throws {
    let harness = try await EmulatorHarness.start(jobPageSize: jobPageSize)
    do {
        try await body(harness)
    } catch {
        try? await harness.stop()
        throw error
    }
    try await harness.stop()
}

/// A face photo of the shared test data.
func face(_ relative: String) throws -> [UInt8] { try TestData.bytes("faces/" + relative) }
