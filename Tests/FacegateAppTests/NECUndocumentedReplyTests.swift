import AsyncHTTPClient
import FacegateCore
@testable import FacegateApp
import FacegateIdentify
import FacegatePolicy
import Foundation
import FacegateTesting
import Synchronization
import Testing

/// NEC ID replies the document does not give, from a real server on loopback: a 200 without the list it
/// documents, and a subject list that never ends. Neither may read as "nobody" or "everyone gone".
@Suite(.timeLimit(.minutes(1)))
struct NECUndocumentedReplyTests {
    static let policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])
    static let probe = ProbeFace(jpeg: [0xFF, 0xD8, 0xFF, 0xD9], quality: nil)
    static let cachedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func client(_ endpoint: String) -> NECIDClient {
        NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
            httpClient: HTTPClient.shared)
    }

    static func row(_ subject: String, _ index: Int) -> String {
        #"{"id":"\#(subject)","eventId":"e\#(index)","status":"A","lastUpdated":"2020-01-01T00:00:00Z"}"#
    }

    // MARK: A registration answered as the Swagger gives it

    /// The Swagger answers an event's registration (`POST /subjects/{id}/events`) with the Event `{id,
    /// score}`: that id is the event's. The door's enrolment receipt names the subject asked for, the
    /// event as the event (before: the event's id was reported, and logged, as the subject enrolled).
    @Test func anEventsRegistrationAnsweredAsTheSwaggerGivesItNamesTheSubjectAskedFor() async throws {
        let request = EnrolmentRequest(tags: ["staff"], subject: "alice")
        let swagger = try await withFaultyCloud(.reply(status: 201, body: #"{"id":"ev9","score":9100}"#)) { endpoint in
            try await NECFaceSearch(client: Self.client(endpoint)).enrol(Self.probe, as: request, policy: Self.policy)
        }
        #expect(swagger.subjectId == "alice" && swagger.eventId == "ev9", "\(swagger)")
        let prose = try await withFaultyCloud(.reply(status: 201, body: #"{"id":"alice","eventId":"ev9"}"#)) { endpoint in
            try await NECFaceSearch(client: Self.client(endpoint)).enrol(Self.probe, as: request, policy: Self.policy)
        }
        #expect(prose.subjectId == "alice" && prose.eventId == "ev9", "\(prose)")
    }

    // MARK: A 200 without the documented list

    @Test("a search answered 200 without candidates fails: it is not \"no match\" (NEC ID's 404)", arguments: ["{}", #"{"attributes":null}"#])
    func searchWithoutCandidates(body: String) async throws {
        let error = try await withFaultyCloud(.reply(status: 200, body: body)) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint)).search(Self.probe, policy: Self.policy)
            }
        }
        #expect(error?.code == .malformedResponse)
    }

    /// NEC's `limit` counts events, and one subject enrolled with many faces can fill the answer: the
    /// second subject the margin check needs may be left out. A full answer says that anyone left out
    /// scores at most its lowest event, and the margin check sees that as the second; an answer with room
    /// to spare says nobody else is over the floor.
    @Test func aFullAnswerCountsTheSubjectsItLeftOutForTheMargin() async throws {
        let reply = #"{"candidates":[{"id":"alice","score":9500,"events":[{"id":"e1","score":9500},{"id":"e2","score":9300},{"id":"e3","score":9200}]}]}"#
        let policy = {
            var policy = Self.policy
            policy.minimumMargin = 500
            return policy
        }()
        func decide(limit: Int) async throws -> Decision {
            let candidates = try await withFaultyCloud(.reply(status: 200, body: reply)) { endpoint in
                try await NECFaceSearch(client: Self.client(endpoint), limit: limit).search(Self.probe, policy: policy)
            }
            var state = PolicyState()
            return AccessPolicy.evaluate(
                .cloud(candidates: try #require(candidates), unit: .necScore), passedQualityGate: true, policy: policy, state: &state, at: Self.cachedAt)
        }
        let full = try await decide(limit: 3)
        #expect(full.outcome == .deniedAmbiguous && full.secondScore == 9200, "\(full.reason)")
        let roomy = try await decide(limit: 50)
        #expect(roomy.outcome == .granted && roomy.subjectId == "alice" && roomy.secondScore == nil, "\(roomy.reason)")
    }

    /// A full answer whose events outscore their subject (6500 with events 9500, 9300, 9200: no real search gives
    /// it) is not granted at an event's score: the stand-in for the subjects left out is capped at the subject's
    /// own (review: it ranked first at 9200, passed the margin against 6500, and was granted and cached at 9200).
    @Test func aFullAnswerWhoseEventsOutscoreTheirSubjectIsNotGranted() async throws {
        let reply = #"{"candidates":[{"id":"alice","score":6500,"events":[{"id":"e1","score":9500},{"id":"e2","score":9300},{"id":"e3","score":9200}]}]}"#
        let policy = {
            var policy = Self.policy
            policy.minimumMargin = 500
            return policy
        }()
        let candidates = try await withFaultyCloud(.reply(status: 200, body: reply)) { endpoint in
            try await NECFaceSearch(client: Self.client(endpoint), limit: 3).search(Self.probe, policy: policy)
        }
        var state = PolicyState()
        let decision = AccessPolicy.evaluate(
            .cloud(candidates: try #require(candidates), unit: .necScore), passedQualityGate: true, policy: policy, state: &state, at: Self.cachedAt)
        #expect(decision.outcome != .granted, "\(decision.reason)")
        #expect(try #require(candidates).allSatisfy { $0.score <= 6500 }, "\(String(describing: candidates))")
    }

    @Test(
        "a subject list answered 200 without subjects or their total fails the sync: nothing cached is purged on its word",
        arguments: ["{}", #"{"total":0}"#, #"{"subjects":[]}"#])
    func listWithoutSubjects(body: String) async throws {
        let error = try await withFaultyCloud(.reply(status: 200, body: body)) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint)).revokedSubjects(among: ["alice": Self.cachedAt], policy: Self.policy)
            }
        }
        #expect(error?.code == .malformedResponse)
    }

    // MARK: A subject list that does not end

    /// A server whose subject list `page(request number, start)` answers; every request counted.
    func withListing(
        _ page: @escaping @Sendable (_ request: Int, _ start: Int) -> String,
        _ body: @Sendable (String) async throws -> Void
    ) async throws -> Int {
        let requests = Mutex(0)
        let server = try await HostileServer.start { line in
            let number = requests.withLock { count in
                count += 1
                return count
            }
            let start = line.split(separator: "start=").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
            return .reply(status: 200, body: page(number, start))
        }
        defer { server.close() }
        try await body(server.endpoint)
        return requests.withLock { $0 }
    }

    @Test("a total of a million with one subject per page: refused at the first page, not a million calls")
    func oneSubjectPerPage() async throws {
        // The server relents after 100 pages (a total the listing reaches), so that a sync that follows it ends.
        let requests = try await withListing({ request, start in
            #"{"subjects":[\#(Self.row("s\(start)", start))],"total":\#(request >= 100 ? start + 1 : 1_000_000)}"#
        }) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint)).revokedSubjects(among: ["alice": Self.cachedAt], policy: Self.policy)
            }
        }
        #expect(requests <= 2, "\(requests) requests")
    }

    @Test("a total beyond what a gallery holds is refused at the first page")
    func totalBeyondTheBound() async throws {
        // Relenting after 100 pages, as above.
        let requests = try await withListing({ request, start in
            let rows = (start..<start + 2).map { Self.row("s\($0)", $0) }.joined(separator: ",")
            return #"{"subjects":[\#(rows)],"total":\#(request >= 100 ? start + 2 : NECFaceSearch.maximumListedEvents + 1)}"#
        }) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint), listPageSize: 2).revokedSubjects(
                    among: ["alice": Self.cachedAt], policy: Self.policy)
            }
        }
        #expect(requests == 1)
    }

    @Test("full pages whose total keeps growing: stopped at the pages the first total implies, and one more")
    func totalThatKeepsGrowing() async throws {
        // The first page says 4 events (two pages of 2); each later one says there are more, until request 100.
        let requests = try await withListing({ request, start in
            let rows = (start..<start + 2).map { Self.row("s\($0)", $0) }.joined(separator: ",")
            return #"{"subjects":[\#(rows)],"total":\#(request == 1 ? 4 : request >= 100 ? start + 2 : start + 1000)}"#
        }) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint), listPageSize: 2).revokedSubjects(
                    among: ["alice": Self.cachedAt], policy: Self.policy)
            }
        }
        #expect(requests == 3)
    }

    @Test("a listing of several pages that ends as its total says is read to its end (the control for the tests above)")
    func wellFormedPages() async throws {
        // Five events, two a page: three pages; the cached subject is on the last.
        let requests = try await withListing({ _, start in
            let rows = (start..<min(start + 2, 5)).map { Self.row($0 == 4 ? "alice" : "s\($0)", $0) }.joined(separator: ",")
            return #"{"subjects":[\#(rows)],"total":5}"#
        }) { endpoint in
            let revoked = try await NECFaceSearch(client: Self.client(endpoint), listPageSize: 2).revokedSubjects(
                among: ["alice": Self.cachedAt, "bob": Self.cachedAt], policy: Self.policy)
            #expect(revoked == ["bob"])
        }
        #expect(requests == 3)
    }
}
