import AsyncHTTPClient
import FacegateCore
import FacegateEmulators
import FacegateIdentify
import FacegateQuality
import Foundation
import Logging
import ServiceLifecycle

/// The account every NeoCheck test emulator has (its password needs URL-encoding in a form).
public enum NeoCheckTestAccount {
    public static let clientID = "facegate-test-client"
    public static let clientSecret = "s3cret-Client-Key/+="
    public static let username = "door-01@example.test"
    public static let password = "p@ss word&=%"

    public static var credentials: NeoCheckCredentials {
        NeoCheckCredentials(clientID: clientID, clientSecret: clientSecret, username: username, password: password)
    }
}

/// A NeoCheck emulator serving under `/api` on 127.0.0.1.
public struct NeoCheckEmulatorHarness: Sendable {
    public let emulator: NeoCheckEmulator
    public let port: Int
    public let stateDirectory: URL
    /// The clock tokens age on, shared by the emulator and its clients; nil for the real one.
    public var clock: ManualClock?

    public var endpoint: URL { URL(string: "http://127.0.0.1:\(port)/api")! }

    /// A client of this emulator, with a short timeout and an optional budget.
    public func client(
        credentials: NeoCheckCredentials = NeoCheckTestAccount.credentials, budget: HourlyCallBudget? = nil,
        policy: CloudHTTPPolicy = CloudHTTPPolicy(requestTimeout: .seconds(30), maxAttempts: 2, initialBackoff: .milliseconds(50)),
        logger: Logger = Logger(label: "neocheck-test"), refreshLeeway: Duration = .seconds(60), cloudClock: CloudClock? = nil
    ) throws(NeoCheckError) -> NeoCheckClient {
        let clock = self.clock
        return try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: endpoint, credentials: credentials, refreshLeeway: refreshLeeway),
            http: CloudHTTP(client: HTTPClient.shared, policy: policy, logger: logger, cloudClock: cloudClock), budget: budget,
            now: { clock?.monotonicNow ?? .now })
    }
}

/// Runs `body` against a NeoCheck emulator with ``NeoCheckTestAccount`` (port chosen by the system),
/// then stops it with a graceful shutdown, as systemd would. Its state folder is a fresh one, removed
/// afterwards, unless `stateDirectory` names one (then it is kept, for a later emulator to reopen).
public func withNeoCheckEmulator<Value: Sendable>(
    tokenLifetime: Duration = .seconds(3600), callsPerHour: Int = 3600, credits: Int? = nil, stateDirectory: URL? = nil,
    identifiesDisabledRecords: Bool = false, analyzer: DlibFaceAnalyzer? = nil, clock: ManualClock? = nil,
    _ body: @Sendable (NeoCheckEmulatorHarness) async throws -> Value
) async throws -> Value {
    let folder = try stateDirectory ?? TemporaryFolder("neocheck-emulator").url
    defer { if stateDirectory == nil { try? FileManager.default.removeItem(at: folder) } }
    let configuration = NeoCheckEmulatorConfiguration(
        clientID: NeoCheckTestAccount.clientID, clientSecret: NeoCheckTestAccount.clientSecret, username: NeoCheckTestAccount.username,
        password: NeoCheckTestAccount.password, stateDirectory: folder, tokenLifetime: tokenLifetime, callsPerHour: callsPerHour,
        credits: credits, identifiesDisabledRecords: identifiesDisabledRecords, now: { clock?.monotonicNow ?? .now })
    let emulator = try await NeoCheckEmulator(configuration: configuration, analyzer: try analyzer ?? TestFaceAnalyzers.video())
    var logger = Logger(label: "neocheck-emulator-test")
    logger.logLevel = .warning
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = emulator.application(port: 0, logger: logger, pathPrefix: "api") { port in portContinuation.yield(port) }
    let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self, returning: Value.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw NeoCheckEmulatorError("the emulator did not start") }
        do {
            let value = try await body(NeoCheckEmulatorHarness(emulator: emulator, port: port, stateDirectory: folder, clock: clock))
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return value
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}
