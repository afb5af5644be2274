import FacegateCore
import AsyncHTTPClient
import FacegateApp
import FacegateEmulators
import FacegateIdentify
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Issue 9, item 7: only NeoCheck's `ok` (0) puts a candidate before the door's policy; `notExecuted`
/// (1), `warning` (2) and `failed` (3) never do, whoever the reply names; and a disabled record never
/// matches online, whether the identify reply or a lookup of the record says so.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct NeoCheckIdentifyResultTests {
    static let account = NeoCheckTestAccount.credentials
    static let policy = DoorPolicy(
        door: "front", threshold: 50, scoreUnit: .neoCheckConfidence, faceList: "front door")

    // MARK: Through the emulator

    @Test("ok names the member; the member disabled, or a probe with several faces (warning), names nobody")
    func emulatorResults() async throws {
        try await withDoorEmulator { client, _ in
            let list = try await client.createList(name: "front door")
            let member = try await client.createRecord(
                NeoCheckNewFaceRecord(
                    faceImage: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), name: "Leo",
                    surname1: "Member", faceListId: list))
            let search = NeoCheckFaceSearch(client: client)
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledWalksUp), quality: nil)
            let found = try await search.search(probe, policy: Self.policy)
            #expect(found.map(\.subjectId) == [member])
            // The door's face list is the "tag" its schedules by tag see (and the offline cache keeps).
            #expect(found.first?.tags == ["front door"])

            // A group photo: the service matches its largest face but answers warning(2).
            let group = try DoorControllerEndToEndTests.photo("_multi/01.jpg")
            let grouped = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: group, name: "Largest", surname1: "Face", faceListId: list))
            let doubted = try await client.identify(probe: group, againstList: .name("front door"))
            #expect(doubted.result == .warning && doubted.person?.identifier == grouped)
            #expect(try await search.search(ProbeFace(jpeg: group, quality: nil), policy: Self.policy).isEmpty)

            // The member disabled: the emulator skips the record, and the answer names nobody.
            let record = try await client.record(.identifier(member))
            var update = NeoCheckFaceRecordUpdate(keeping: record)
            update.enabled = false
            try await client.updateRecord(update)
            #expect(try await search.search(probe, policy: Self.policy).isEmpty)
        }
    }

    @Test("a service that identifies disabled records too: the record lookup keeps the door shut")
    func disabledRecordIdentifiedAnyway() async throws {
        try await withDoorEmulator(identifiesDisabledRecords: true) { client, emulator in
            let list = try await client.createList(name: "front door")
            let member = try await client.createRecord(
                NeoCheckNewFaceRecord(
                    faceImage: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), name: "Leo",
                    surname1: "Member", faceListId: list, enabled: false))
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledWalksUp), quality: nil)
            // The service itself names the disabled member with ok(0)...
            let answer = try await client.identify(probe: probe.jpeg, againstList: .name("front door"))
            #expect(answer.result == .ok && answer.person?.identifier == member)
            // ...and the door, reading the record, refuses it; without the lookup it would not.
            let callsBefore = await emulator.apiCalls
            #expect(try await NeoCheckFaceSearch(client: client).search(probe, policy: Self.policy).isEmpty)
            #expect(await emulator.apiCalls == callsBefore + 2)
            let trusting = NeoCheckFaceSearch(client: client, confirmsRecordEnabled: false)
            #expect(try await trusting.search(probe, policy: Self.policy).map(\.subjectId) == [member])
        }
    }

    // MARK: Replies the emulator does not send: a real server on loopback

    @Test(
        "notExecuted, warning and failed name nobody, even with a person and a high confidence",
        arguments: ["1", "2", "3", "\"notExecuted\"", "\"warning\"", "\"failed\""])
    func notOkNamesNobody(result: String) async throws {
        let body = #"{"identifier":"2b1d6c1e-0000-4000-8000-000000000001","name":"Leo","confidence":99.5,"result":\#(result),"resultDescription":"x"}"#
        let candidates = try await withFaultyCloud(HostileServer.Behaviour.reply(status: 200, body: body)) { endpoint in
            try await NeoCheckFaceSearch(client: Self.client(endpoint), confirmsRecordEnabled: false).search(Self.anyProbe, policy: Self.policy)
        }
        #expect(candidates.isEmpty, "result \(result)")
    }

    @Test("ok with the same reply names the person (the control for the test above)")
    func okNamesThePerson() async throws {
        let body = #"{"identifier":"2b1d6c1e-0000-4000-8000-000000000001","name":"Leo","confidence":99.5,"result":0}"#
        let candidates = try await withFaultyCloud(HostileServer.Behaviour.reply(status: 200, body: body)) { endpoint in
            try await NeoCheckFaceSearch(client: Self.client(endpoint), confirmsRecordEnabled: false).search(Self.anyProbe, policy: Self.policy)
        }
        #expect(candidates.map(\.subjectId) == ["2b1d6c1e-0000-4000-8000-000000000001"])
    }

    @Test("an identify reply that says the record is disabled names nobody")
    func replySaysDisabled() async throws {
        let body = #"{"identifier":"2b1d6c1e-0000-4000-8000-000000000001","confidence":99.5,"result":0,"enabled":false}"#
        let candidates = try await withFaultyCloud(HostileServer.Behaviour.reply(status: 200, body: body)) { endpoint in
            try await NeoCheckFaceSearch(client: Self.client(endpoint), confirmsRecordEnabled: false).search(Self.anyProbe, policy: Self.policy)
        }
        #expect(candidates.isEmpty)
    }

    @Test(
        "a person named by the identification whose record is gone by the lookup names nobody; a lookup that cannot reach the service leaves the cloud unavailable",
        arguments: ["deleted", "unreachable"])
    func recordGoneOrUnreachableAtTheLookup(lookup: String) async throws {
        let person = "2b1d6c1e-0000-4000-8000-000000000001"
        let identified = HostileServer.Behaviour.reply(
            status: 200, body: #"{"identifier":"\#(person)","name":"Leo","confidence":99.5,"result":0}"#)
        let token = HostileServer.Behaviour.reply(
            status: 200, body: #"{"token_type":"Bearer","access_token":"lookup-token","expires_in":3600}"#)
        let answer: HostileServer.Behaviour =
            lookup == "deleted"
            ? .reply(status: 404, body: #"{"title":"Not Found","status":404}"#)
            : .reply(status: 503, body: #"{"title":"Service Unavailable","status":503}"#)
        let server = try await HostileServer.start { line in
            let target = line.split(separator: " ").dropFirst().first ?? ""
            if target.hasSuffix("connect/token") { return token }
            if target.hasSuffix("v1/face/list/identify") { return identified }
            return target.hasSuffix("v1/face/\(person)") ? answer : .reply(status: 400)
        }
        defer { server.close() }
        let search = NeoCheckFaceSearch(client: try Self.client("http://127.0.0.1:\(server.port)"))
        if lookup == "deleted" {
            // Deleted between the identification and the lookup: nobody to let in.
            #expect(try await search.search(Self.anyProbe, policy: Self.policy).isEmpty)
        } else {
            // Not known to be enabled, so not a match, and not "nobody" either: the offline path decides.
            await #expect(throws: CloudUnavailable.self) { try await search.search(Self.anyProbe, policy: Self.policy) }
        }
    }

    @Test(
        "a match stands only when the record read back is the one named and is in the door's face list",
        arguments: [
            // (the record read back, the door's list: its name or its identifier, what the search must end with)
            (RecordReadBack.inList(Self.doorList), "front door", LookupVerdict.grant),
            (.inList(Self.doorList), Self.doorList, .grant),
            (.inList(Self.otherList), "front door", .nobody),
            (.inList(Self.otherList), Self.doorList, .nobody),
            (.inNoList, "front door", .nobody),
            (.anotherRecord, "front door", .malformed),
            // A serialiser that skips default values leaves out exactly `enabled: false`: not a grant.
            (.enabledUnsaid(""), "front door", .nobody),
            (.enabledUnsaid(#","enabled":null"#), "front door", .nobody),
        ])
    func recordReadBackMustBeTheMemberOfTheDoorsList(readBack: RecordReadBack, doorList: String, verdict: LookupVerdict) async throws {
        let person = "2b1d6c1e-0000-4000-8000-000000000001"
        let identified = HostileServer.Behaviour.reply(
            status: 200, body: #"{"identifier":"\#(person)","name":"Leo","confidence":99.5,"result":0}"#)
        let token = HostileServer.Behaviour.reply(
            status: 200, body: #"{"token_type":"Bearer","access_token":"lookup-token","expires_in":3600}"#)
        let record: String =
            switch readBack {
            case .inList(let list): #"{"identifier":"\#(person)","name":"Leo","surname1":"M","enabled":true,"faceListId":"\#(list)"}"#
            case .inNoList: #"{"identifier":"\#(person)","name":"Leo","surname1":"M","enabled":true,"faceListId":null}"#
            case .anotherRecord:
                #"{"identifier":"9f000000-0000-4000-8000-00000000beef","name":"Eve","surname1":"O","enabled":true,"faceListId":"\#(Self.doorList)"}"#
            case .enabledUnsaid(let field):
                #"{"identifier":"\#(person)","name":"Leo","surname1":"M"\#(field),"faceListId":"\#(Self.doorList)"}"#
            }
        let server = try await HostileServer.start { line in
            let target = line.split(separator: " ").dropFirst().first ?? ""
            if target.hasSuffix("connect/token") { return token }
            if target.hasSuffix("v1/face/list/identify") { return identified }
            if target.hasSuffix("v1/face/list/\(Self.doorList)") {
                return .reply(status: 200, body: #"{"identifier":"\#(Self.doorList)","name":"front door"}"#)
            }
            if target.hasSuffix("v1/face/list/\(Self.otherList)") {
                return .reply(status: 200, body: #"{"identifier":"\#(Self.otherList)","name":"back door"}"#)
            }
            return target.hasSuffix("v1/face/\(person)") ? .reply(status: 200, body: record) : .reply(status: 400)
        }
        defer { server.close() }
        let search = NeoCheckFaceSearch(client: try Self.client("http://127.0.0.1:\(server.port)"))
        var policy = Self.policy
        policy.faceList = doorList
        switch verdict {
        case .grant:
            let found = try await search.search(Self.anyProbe, policy: policy)
            #expect(found.map(\.subjectId) == [person] && found.first?.tags == [doorList])
        case .nobody:
            // The service's own record says this person is not in the door's list (or does not say they are
            // enabled): nobody, and the sync revokes them from the offline cache the same way.
            #expect(try await search.search(Self.anyProbe, policy: policy).isEmpty)
            let revoked = try await search.revokedSubjects(among: [person: Date()], policy: policy)
            #expect(revoked == [person], "the sync keeps a face the door would not let in online")
        case .malformed:
            // Not a grant, not "nobody", not the cloud's absence (the offline cache must not decide against an
            // answering cloud): the search fails and the visit is journaled as an error.
            let error = await #expect(throws: NeoCheckError.self) { try await search.search(Self.anyProbe, policy: policy) }
            #expect(error?.code == .malformedResponse)
        }
    }

    @Test("a silent token service does not hold a search past the decision deadline")
    func silentTokenServiceAndTheDeadline() async throws {
        let server = try await HostileServer.start { line in
            line.split(separator: " ").dropFirst().first?.hasSuffix("connect/token") == true ? .silence : .reply(status: 400)
        }
        defer { server.close() }
        // The token request's own timeout is 20 s (`client`); the decision's deadline 1.5 s.
        let search = NeoCheckFaceSearch(client: try Self.client(server.endpoint))
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(started.advanced(by: .milliseconds(1500))) {
                try await search.search(Self.anyProbe, policy: Self.policy)
            }
        }
        let took = started.duration(to: clock.now)
        // Ended by the deadline while the token service still held the request, not by the request's own timeout.
        #expect(server.requestLines.count == 1 && server.openConnectionCount == 1, "\(server.requestLines), \(server.openConnectionCount) open")
        #expect(took < .seconds(15), "\(took)")
    }

    static let doorList = "6a000000-0000-4000-8000-00000000d001"
    static let otherList = "6a000000-0000-4000-8000-00000000d002"

    enum RecordReadBack: Sendable, CustomStringConvertible {
        case inList(String)
        case inNoList
        case anotherRecord
        /// In the door's list, its reply saying nothing of `enabled` (left out, or null).
        case enabledUnsaid(String)

        var description: String {
            switch self {
            case .inList(let list): "in list \(list.suffix(4))"
            case .inNoList: "in no list"
            case .anotherRecord: "another record"
            case .enabledUnsaid(let field): "enabled unsaid (\(field.isEmpty ? "left out" : field))"
            }
        }
    }

    enum LookupVerdict: Sendable { case grant, nobody, malformed }

    // MARK: Helpers

    static let anyProbe = ProbeFace(jpeg: [0xFF, 0xD8, 0xFF, 0xD9], quality: nil)

    static func client(_ endpoint: String) throws -> NeoCheckClient {
        let quiet = Logger.quiet("neocheck-result-test")
        return try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: URL(string: endpoint)!, credentials: account),
            http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(requestTimeout: .seconds(20), maxAttempts: 1), logger: quiet))
    }

    /// Runs `body` with a client of a NeoCheck emulator on loopback that looks at photos as stills.
    func withDoorEmulator(
        identifiesDisabledRecords: Bool = false, _ body: @Sendable (NeoCheckClient, NeoCheckEmulator) async throws -> Void
    ) async throws {
        try await withNeoCheckEmulator(identifiesDisabledRecords: identifiesDisabledRecords, analyzer: try TestFaceAnalyzers.stills()) {
            harness in
            try await body(try Self.client(harness.endpoint.absoluteString), harness.emulator)
        }
    }
}
