import AsyncHTTPClient
import FacegateCore
import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The account every test emulator has.
enum TestAccount {
    static let clientID = "facegate-test-client"
    static let clientSecret = "s3cret-Client-Key/+="
    static let username = "door-01@example.test"
    static let password = "p@ss word&=%"

    static var credentials: NeoCheckCredentials {
        NeoCheckCredentials(clientID: clientID, clientSecret: clientSecret, username: username, password: password)
    }
}

/// A running emulator on loopback.
struct EmulatorHarness: Sendable {
    let emulator: NeoCheckEmulator
    let port: Int
    let stateDirectory: URL
    /// The clock tokens age on, shared by the emulator and its clients; nil for the real one.
    var clock: ManualClock? = nil

    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)/api")! }

    /// A client of this emulator, with a short timeout and an optional budget.
    func client(
        credentials: NeoCheckCredentials = TestAccount.credentials, budget: HourlyCallBudget? = nil,
        policy: CloudHTTPPolicy = CloudHTTPPolicy(requestTimeout: .seconds(30), maxAttempts: 2, initialBackoff: .milliseconds(50)),
        logger: Logger = Logger(label: "neocheck-test"), refreshLeeway: Duration = .seconds(60)
    ) throws(NeoCheckError) -> NeoCheckClient {
        let clock = self.clock
        return try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: endpoint, credentials: credentials, refreshLeeway: refreshLeeway),
            http: CloudHTTP(client: HTTPClient.shared, policy: policy, logger: logger), budget: budget,
            now: { clock?.monotonicNow ?? .now })
    }
}

/// A fresh, empty folder under the system's temporary folder.
func temporaryDirectory(_ name: String = "neocheck") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` against an emulator served under `/api` on 127.0.0.1 (port chosen by the system),
/// and stops the server afterwards.
func withNeoCheckEmulator<Value: Sendable>(
    tokenLifetime: Duration = .seconds(3600), callsPerHour: Int = 3600, credits: Int? = nil, stateDirectory: URL? = nil,
    clock: ManualClock? = nil, _ body: @Sendable (EmulatorHarness) async throws -> Value
) async throws -> Value {
    let directory = try stateDirectory ?? temporaryDirectory()
    let configuration = NeoCheckEmulatorConfiguration(
        clientID: TestAccount.clientID, clientSecret: TestAccount.clientSecret, username: TestAccount.username,
        password: TestAccount.password, stateDirectory: directory, tokenLifetime: tokenLifetime, callsPerHour: callsPerHour,
        credits: credits, now: { clock?.monotonicNow ?? .now })
    let emulator = try await NeoCheckEmulator(configuration: configuration, analyzer: try TestFaces.analyzer())
    var logger = Logger(label: "neocheck-emulator-test")
    logger.logLevel = .warning
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = emulator.application(port: 0, logger: logger, pathPrefix: "api") { port in portContinuation.yield(port) }
    // Stopped with a graceful shutdown, as systemd would, rather than by cancellation.
    let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self, returning: Value.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw NeoCheckEmulatorError("the emulator did not start") }
        do {
            let value = try await body(EmulatorHarness(emulator: emulator, port: port, stateDirectory: directory, clock: clock))
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return value
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}

/// Collects every log line, to check that no secret reaches one.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func logger(label: String = "captured") -> Logger {
        var logger = Logger(label: label) { _ in CapturingHandler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    private struct CapturingHandler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(event.level) \(event.message) \(merged)")
        }
    }
}
