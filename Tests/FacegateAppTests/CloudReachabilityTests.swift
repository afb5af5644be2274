import FacegateCore
import AsyncHTTPClient
import FacegateApp
import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
import Testing

/// The probes that tell the door the cloud is back (issue 9, fast offline decisions): no search,
/// no face, no NeoCheck budget; a 5xx or 429 or a refused connection is still "away".
@Suite(.timeLimit(.minutes(5))) struct CloudReachabilityTests {
    typealias Status = CloudUnavailableStatusTests

    /// The daemon's own client recipe: its 1 s connect timeout is what makes a refused port quick.
    static let http = CloudHTTP.makeClient()

    static func nec(_ endpoint: String, http: HTTPClient = http) -> NECFaceSearch {
        NECFaceSearch(
            client: NECIDClient(
                configuration: NECIDConfiguration(
                    endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                    http: Status.httpPolicy),
                httpClient: http, logger: Status.quiet))
    }

    static func neoCheck(_ endpoint: String) throws -> NeoCheckFaceSearch {
        NeoCheckFaceSearch(
            client: try NeoCheckClient(
                configuration: NeoCheckConfiguration(endpoint: URL(string: endpoint)!, credentials: Status.neoCheckAccount),
                http: CloudHTTP(client: http, policy: Status.httpPolicy, logger: Status.quiet),
                budget: try HourlyCallBudget(callsPerHour: 1, stateFile: nil)))
    }


    @Test("a service that answers at all is reachable; NeoCheck's probe spends no budget")
    func answeringIsReachable() async throws {
        try await withFaultyCloud(HostileServer.Behaviour.reply(status: 404, body: #"{"message":"Not Found"}"#)) { endpoint in
            let search = try Self.neoCheck(endpoint)
            try await search.checkReachable()
            try await search.checkReachable()
            #expect(await search.client.budget?.remaining == 1, "the probe is not a Face API call")
        }
    }

    @Test("5xx and 429 are still away, on both clouds", arguments: [429, 502, 503])
    func serverErrorsAreAway(status: Int) async throws {
        try await withFaultyCloud(.gatewayPage(status), tokenServiceToo: true) { endpoint in
            await #expect(throws: CloudUnavailable.self) { try await Self.nec(endpoint).checkReachable() }
            await #expect(throws: CloudUnavailable.self) { try await Self.neoCheck(endpoint).checkReachable() }
        }
    }

    @Test("a refused connection is away, on both clouds, within the 1 s connect timeout", .timeLimit(.minutes(1)))
    func refusedIsAway() async throws {
        let refused = try RefusedPort()
        defer { refused.release() }  // held, and so refused, to the end
        let endpoint = refused.endpoint + "/api"
        let started = ContinuousClock.now
        defer { #expect(ContinuousClock.now - started < .seconds(5)) }
        await #expect(throws: CloudUnavailable.self) { try await Self.nec(endpoint).checkReachable() }
        await #expect(throws: CloudUnavailable.self) { try await Self.neoCheck(endpoint).checkReachable() }
    }

    @Test(
        "a refused connection fails the call at once, and after a long outage the cloud's return is seen by the very next probe: the client keeps no connection backoff",
        .timeLimit(.minutes(1)))
    func returnAfterALongOutageIsSeenAtOnce() async throws {
        let refused = try RefusedPort()
        defer { refused.release() }  // held, and so refused, to the end
        let endpoint = refused.endpoint + "/api", port = refused.port
        // A client of its own: what its connection pool learnt during the outage is the point.
        let http = CloudHTTP.makeClient()
        let search = Self.nec(endpoint, http: http)
        // Refused for a while, as in an outage of some minutes (a probe every 5 s): AsyncHTTPClient's
        // default would by now wait over 20 s before it tried to connect again.
        // AsyncHTTPClient's default would also hold each refused call until the connect timeout.
        var refusals: [Duration] = []
        for _ in 0..<8 {
            let started = ContinuousClock.now
            await #expect(throws: CloudUnavailable.self) { try await search.checkReachable() }
            refusals.append(ContinuousClock.now - started)
        }
        // The median, so that a busy machine's odd slow call does not decide: the old client took over
        // a second (the connect timeout) on every one of them.
        let median = refusals.sorted()[refusals.count / 2]
        #expect(median < .milliseconds(500), "a refused connection is an answer at once: \(refusals)")
        refused.release()
        try await withFaultyCloud(HostileServer.Behaviour.reply(status: 200, body: #"{"status":"ok"}"#), port: port) { _ in
            let started = ContinuousClock.now
            try await search.checkReachable()
            #expect(ContinuousClock.now - started < .seconds(1))
        }
        try await http.shutdown()
    }
}
