import FacegateCore
import AsyncHTTPClient
import FacegateApp
import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Issue 9, item 9: a 429 or any 5xx from either cloud, whatever its body (the service's JSON, a
/// proxy's HTML page, nothing), makes the door's search throw `CloudUnavailable`, so the door decides
/// offline instead of journaling an `error`. Each status comes from a real HTTP server on loopback.
@Suite(.timeLimit(.minutes(5))) struct CloudUnavailableStatusTests {
    static let unavailableReplies: [HostileServer.Behaviour] = [
        HostileServer.Behaviour.reply(status: 429, body: #"{"message":"Too Many Requests"}"#),
        HostileServer.Behaviour.reply(status: 429, contentType: nil),
        HostileServer.Behaviour.reply(status: 500, body: #"{"message":"Internal Error"}"#),
        // NEC's JSON with a documented errorCode that alone would read as the caller's fault.
        HostileServer.Behaviour.reply(status: 500, body: #"{"errorCode":1001,"message":"Invalid request"}"#),
        HostileServer.Behaviour.reply(status: 500, contentType: "text/plain", body: "upstream exploded"),
        HostileServer.Behaviour.gatewayPage(502),
        HostileServer.Behaviour.reply(status: 503, body: #"{"message":"Service Unavailable"}"#),
        HostileServer.Behaviour.gatewayPage(503),
        HostileServer.Behaviour.gatewayPage(504),
        HostileServer.Behaviour.reply(status: 504, contentType: nil),
        HostileServer.Behaviour.reply(status: 599, contentType: nil),
    ]

    static let policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, minimumMargin: 300, faceList: "front door")
    static let probe = ProbeFace(jpeg: [0xFF, 0xD8, 0xFF, 0xD9], quality: nil)

    @Test("NEC ID: 429 and 5xx are the cloud unavailable", arguments: unavailableReplies)
    func necUnavailable(reply: HostileServer.Behaviour) async throws {
        let error = try await withFaultyCloud(reply) { endpoint in try await Self.necError(endpoint) }
        let unavailable = try #require(error as? CloudUnavailable, "\(reply): \(error)")
        #expect(unavailable.kind == (reply.status == 429 ? .rateLimited : .serverError))
    }

    @Test("NeoCheck: 429 and 5xx are the cloud unavailable", arguments: unavailableReplies)
    func neoCheckUnavailable(reply: HostileServer.Behaviour) async throws {
        let error = try await withFaultyCloud(reply) { endpoint in try await Self.neoCheckError(endpoint) }
        let unavailable = try #require(error as? CloudUnavailable, "\(reply): \(error)")
        #expect(unavailable.kind == (reply.status == 429 ? .rateLimited : .serverError))
    }

    /// The other side of the line: a refusal of the request itself is a failed search, not an outage.
    @Test("a 400 stays a failed search on both clouds")
    func badRequestIsNotAnOutage() async throws {
        let reply = HostileServer.Behaviour.reply(status: 400, body: #"{"errorCode":1001,"message":"Invalid request"}"#)
        let nec = try await withFaultyCloud(reply) { endpoint in try await Self.necError(endpoint) }
        #expect(!(nec is CloudUnavailable) && nec is NECIDError, "\(nec)")
        let neo = try await withFaultyCloud(reply) { endpoint in try await Self.neoCheckError(endpoint) }
        #expect(!(neo is CloudUnavailable) && neo is NeoCheckError, "\(neo)")
    }

    /// NeoCheck's token service behind the same proxy: a 5xx or 429 there is an outage too.
    @Test("NeoCheck: a 5xx or 429 from the token service is the cloud unavailable", arguments: [429, 500, 502, 503, 504])
    func neoCheckTokenServiceUnavailable(status: Int) async throws {
        let error = try await withFaultyCloud(.gatewayPage(status), tokenServiceToo: true) { endpoint in
            try await Self.neoCheckError(endpoint)
        }
        let unavailable = try #require(error as? CloudUnavailable, "HTTP \(status): \(error)")
        #expect(unavailable.kind == (status == 429 ? .rateLimited : .serverError))
    }

    // MARK: Helpers

    static let quiet = Logger.quiet("faulty-cloud-test")
    /// One attempt, so a retried 503 does not slow the test.
    static let httpPolicy = CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)
    static let neoCheckAccount = NeoCheckCredentials(clientID: "c", clientSecret: "s", username: "u", password: "p")

    static func necError(_ endpoint: String) async throws -> any Error {
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                http: httpPolicy),
            httpClient: HTTPClient.shared, logger: quiet)
        do {
            _ = try await NECFaceSearch(client: client).search(probe, policy: policy)
            throw NoError()
        } catch {
            return error
        }
    }

    static func neoCheckError(_ endpoint: String) async throws -> any Error {
        let client = try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: URL(string: endpoint)!, credentials: neoCheckAccount),
            http: CloudHTTP(client: HTTPClient.shared, policy: httpPolicy, logger: quiet))
        var policy = Self.policy
        policy.scoreUnit = .neoCheckConfidence
        policy.threshold = 80
        policy.minimumMargin = nil
        do {
            _ = try await NeoCheckFaceSearch(client: client).search(probe, policy: policy)
            throw NoError()
        } catch {
            return error
        }
    }
}

/// The search returned where a failure was expected.
struct NoError: Error {}
