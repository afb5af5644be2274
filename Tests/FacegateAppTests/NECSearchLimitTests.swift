import AsyncHTTPClient
import FacegateCore
@testable import FacegateApp
import FacegateIdentify
import FacegatePolicy
import Foundation
import FacegateTesting
import Testing

/// Issue 9, item 8: NEC's search `limit` counts events, so a subject enrolled with several faces
/// must not push a second, similar subject out of the door's search and so defeat the margin check.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct NECSearchLimitTests {
    @Test func aSubjectWithManyEventsDoesNotHideTheSecondSubject() async throws {
        try await DoorRig.with { rig in
            // The same person enrolled twice: once with six faces (one photo, six events), once with another photo.
            let many = try await rig.enrol("angelina_jolie/01.jpg")
            for _ in 0..<5 {
                _ = try await rig.client.registerEvent(
                    subjectID: many, face: try DoorControllerEndToEndTests.photo("angelina_jolie/01.jpg"), tags: ["staff"])
            }
            let again = try await rig.enrol("angelina_jolie/02.jpg")
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo("angelina_jolie/01.jpg"), quality: nil)
            let policy = DoorPolicy(
                door: "front", threshold: 7000, scoreUnit: .necScore, minimumMargin: 3000, searchTags: ["staff"])

            // What a small limit does: six events of the first subject fill five places.
            let small = try await NECFaceSearch(client: rig.client, limit: 5).search(probe, policy: policy)
            try #require(Set(small.map(\.subjectId)) == [many], "the scenario needs the first subject's events to outrank the second")
            // A full answer counts whoever it left out as scoring up to its lowest event: no grant on it either.
            var smallState = PolicyState()
            let fromSmall = AccessPolicy.evaluate(
                .cloud(candidates: small, unit: .necScore), passedQualityGate: true, policy: policy, state: &smallState, at: Date())
            #expect(fromSmall.outcome == .deniedAmbiguous, "\(fromSmall.reason)")

            // The door's search: both subjects, one candidate each, best first.
            let candidates = try await NECFaceSearch(client: rig.client).search(probe, policy: policy)
            #expect(candidates.map(\.subjectId) == [many, again])
            var state = PolicyState()
            let decision = AccessPolicy.evaluate(
                .cloud(candidates: candidates, unit: .necScore), passedQualityGate: true, policy: policy, state: &state, at: Date())
            #expect(decision.outcome == .deniedAmbiguous, "\(decision.reason)")
        }
    }
}

/// NEC ID's `lastUpdated` as its document prints it and as the emulator writes it: a date a sync cannot read
/// would count as a change and purge that subject's faces at every sync.
@Suite(.timeLimit(.minutes(1)))
struct NECUpdateTimeTests {
    @Test(arguments: [
        ("2018-12-18T00:27:56.427+00:00", 1_545_092_876.427), ("2019-02-28T18:11:49Z", 1_551_377_509),
        ("2019-02-28T20:11:49.157+02:00", 1_551_377_509.157),
    ])
    func documentedDatesAreRead(text: String, seconds: Double) throws {
        let date = try #require(NECFaceSearch.updateTime(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.001)
    }

    @Test func somethingElseIsNoDate() {
        #expect(NECFaceSearch.updateTime("yesterday") == nil)
        #expect(NECFaceSearch.updateTime("") == nil)
    }
}

/// The revocation sync's reading of NEC ID's subject list, row by row, against a server that lists exactly
/// what each case needs: which dates count as a change after a face was cached.
@Suite(.timeLimit(.minutes(1)))
struct NECRevocationDatesTests {
    static let cachedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func stamp(_ offset: TimeInterval) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: cachedAt.addingTimeInterval(offset))
    }

    /// The sync of one subject cached at `cachedAt`, NEC listing `rows` (status, lastUpdated) for it.
    func sync(
        _ rows: [(status: String, updated: String)], status: Int = 200, notFoundBody: String = #"{"message":"Subjects not found"}"#
    ) async throws -> (revoked: Bool, unreadable: Int) {
        let entries = rows.enumerated().map { index, row in
            #"{"id":"alice","eventId":"e\#(index)","status":"\#(row.status)","lastUpdated":"\#(row.updated)"}"#
        }
        let body = status == 200 ? #"{"subjects":[\#(entries.joined(separator: ","))],"total":\#(rows.count)}"# : notFoundBody
        return try await withFaultyCloud(.reply(status: status, body: body)) { endpoint in
            let client = NECIDClient(
                configuration: NECIDConfiguration(
                    endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                    http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
                httpClient: HTTPClient.shared)
            let sync = try await NECFaceSearch(client: client).revokedSubjects(among: ["alice": Self.cachedAt])
            return (sync.revoked == ["alice"], sync.unreadableDates)
        }
    }

    @Test("enrolled before caching and unchanged since: kept; the enrolment just before caching is no change")
    func unchangedIsKept() async throws {
        #expect(try await sync([("A", Self.stamp(-86_400))]).revoked == false)
        #expect(try await sync([("A", Self.stamp(-2))]).revoked == false)
        #expect(try await sync([("A", Self.stamp(200))]).revoked == false, "within the clocks' allowance after")
    }

    @Test("a face retired after caching, or within the allowance before it, is a change; long before is not")
    func retiredFaces() async throws {
        #expect(try await sync([("D", Self.stamp(60)), ("A", Self.stamp(60))]).revoked)
        #expect(try await sync([("D", Self.stamp(-200)), ("A", Self.stamp(-200))]).revoked, "the clocks may disagree by that much")
        #expect(try await sync([("D", Self.stamp(-3600)), ("A", Self.stamp(-3600))]).revoked == false, "changed an hour before caching")
    }

    @Test("a face registered well after caching is a change (its retired row may be recycled already)")
    func registeredWellAfter() async throws {
        #expect(try await sync([("A", Self.stamp(400))]).revoked)
    }

    @Test("only retired rows, an empty gallery's 404, or a date that cannot be read: revoked, the unreadable ones counted")
    func goneOrUnreadable() async throws {
        #expect(try await sync([("D", Self.stamp(-86_400))]).revoked, "deleted long ago")
        #expect(try await sync([], status: 404).revoked, "NEC ID's answer for a gallery with no subjects")
        let unreadable = try await sync([("A", "18/12/2018 00:27")])
        #expect(unreadable.revoked && unreadable.unreadable == 1)
        // A web server's 404 page is no word from NEC ID: the sync fails and nothing is purged.
        await #expect(throws: (any Error).self) { _ = try await self.sync([], status: 404, notFoundBody: "<html><h1>404 Not Found</h1></html>") }
        // Nor is an API gateway's own JSON for a route it does not have (a wrong stage or path): before, read
        // as an empty gallery, it revoked every cached face.
        for body in [#"{"message":"Not Found"}"#, "{}", #"{"message":"No static resource v1.1/subjects."}"#] {
            await #expect(throws: (any Error).self, "\(body)") { _ = try await self.sync([], status: 404, notFoundBody: body) }
        }
    }
}
