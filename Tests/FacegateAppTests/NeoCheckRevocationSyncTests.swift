import FacegateCore
import AsyncHTTPClient
import FacegateApp
import FacegateIdentify
import FacegateTesting
import Foundation
import Logging
import Testing

/// Issue 9, item 4: the NeoCheck revocation sync covers every cached person in one sync (no fixed
/// page), and a record no longer in the door's face list is revoked like a disabled or deleted one.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct NeoCheckRevocationSyncTests {
    typealias Photos = DoorControllerEndToEndTests

    /// Subjects as the cache hands them to a sync: each with when it was cached (here, just now).
    func cachedNow(_ subjects: Set<String>) -> [String: Date] { Dictionary(uniqueKeysWithValues: subjects.map { ($0, Date()) }) }

    /// `client`'s service and account, through a client with an hourly budget of its own.
    static func budgeted(_ client: NeoCheckClient, callsPerHour: Int) throws -> NeoCheckClient {
        try NeoCheckClient(
            configuration: client.configuration,
            http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(requestTimeout: .seconds(20), maxAttempts: 1), logger: Logger(label: "sync-test")),
            budget: try HourlyCallBudget(callsPerHour: callsPerHour))
    }

    @Test("one sync reads every cached record: seventy gone from the cloud are all revoked at once")
    func everyCachedPersonInOneSync() async throws {
        try await NeoCheckIdentifyResultTests().withDoorEmulator { client, _ in
            let gone = Set((0..<70).map { _ in UUID().uuidString.lowercased() })
            let revoked = try await NeoCheckFaceSearch(client: client).revokedSubjects(
                among: cachedNow(gone), policy: NeoCheckIdentifyResultTests.policy)
            #expect(revoked == gone)
        }
    }

    @Test("a record moved to another list, by the door's list name or identifier, is revoked; a member is not")
    func listMembership() async throws {
        try await NeoCheckIdentifyResultTests().withDoorEmulator { client, _ in
            let door = try await client.createList(name: "front door")
            let other = try await client.createList(name: "back door")
            let member = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try Photos.photo(Photos.enrolledPhoto), name: "Leo", surname1: "Member", faceListId: door))
            let moved = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try Photos.photo(Photos.strangerWalksUp), name: "Ann", surname1: "Moved", faceListId: other))
            let search = NeoCheckFaceSearch(client: client)
            var byName = NeoCheckIdentifyResultTests.policy
            byName.faceList = "front door"
            #expect(try await search.revokedSubjects(among: cachedNow([member, moved]), policy: byName) == [moved])
            var byIdentifier = byName
            byIdentifier.faceList = door
            #expect(try await search.revokedSubjects(among: cachedNow([member, moved]), policy: byIdentifier) == [moved])
        }
    }

    @Test("a sync stops short of the budget's reserve and the next one goes on from there")
    func budgetReserveAndCursor() async throws {
        try await NeoCheckIdentifyResultTests().withDoorEmulator { client, _ in
            let budgeted = try Self.budgeted(client, callsPerHour: 4)
            let search = NeoCheckFaceSearch(client: budgeted, syncBudgetReserve: 1)
            let gone = Set((0..<6).map { String(format: "00000000-0000-0000-0000-%012d", $0) })
            let first = try await search.revokedSubjects(among: cachedNow(gone), policy: NeoCheckIdentifyResultTests.policy)
            #expect(first.count == 3, "three calls spent, one kept in reserve")
            #expect(first == Set(gone.sorted().prefix(3)))
            #expect(await budgeted.budget?.remaining == 1)
        }
    }

    @Test("identifications leave the sync its slice: with the budget run down, a member disabled since is still revoked")
    func identificationsLeaveTheSyncItsSlice() async throws {
        try await NeoCheckIdentifyResultTests().withDoorEmulator { client, _ in
            let list = try await client.createList(name: "front door")
            let member = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try Photos.photo(Photos.enrolledPhoto), name: "Leo", surname1: "Member", faceListId: list))
            let budgeted = try Self.budgeted(client, callsPerHour: 10)
            let search = NeoCheckFaceSearch(client: budgeted, syncBudgetReserve: 6, syncSlice: 2)
            // Strangers at the door (one identify call each) until the door is sent offline.
            let stranger = ProbeFace(jpeg: try Photos.photo(Photos.strangerWalksUp), quality: nil)
            var identified = 0
            var refusal: CloudUnavailable?
            for _ in 0..<12 {
                do {
                    _ = try await search.search(stranger, policy: NeoCheckIdentifyResultTests.policy)
                    identified += 1
                } catch let error as CloudUnavailable {
                    refusal = error
                    break
                }
            }
            #expect(identified == 8 && refusal?.kind == .budgetExhausted, "\(identified) identified, then \(String(describing: refusal))")
            #expect(await budgeted.budget?.remaining == 2, "the slice is left for the sync")

            // Disabled in NeoCheck meanwhile: the sync, under its reserve, still reads her record from its slice.
            var update = NeoCheckFaceRecordUpdate(keeping: try await client.record(.identifier(member)))
            update.enabled = false
            try await client.updateRecord(update)
            #expect(try await search.revokedSubjects(among: cachedNow([member]), policy: NeoCheckIdentifyResultTests.policy) == [member])
            // Her record and the name of the list it is in.
            #expect(await budgeted.budget?.remaining == 0)
        }
    }

    @Test("a budget that runs out within a sync keeps what the sync found so far")
    func aBudgetSpentWithinASyncKeepsItsFindings() async throws {
        try await NeoCheckIdentifyResultTests().withDoorEmulator { client, _ in
            let other = try await client.createList(name: "back door")
            let moved = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try Photos.photo(Photos.strangerWalksUp), name: "Ann", surname1: "Moved", faceListId: other))
            let budgeted = try Self.budgeted(client, callsPerHour: 2)
            let search = NeoCheckFaceSearch(client: budgeted, syncBudgetReserve: 0, syncSlice: 0)
            // Read first (ids sort), deleted: revoked with the first call. Then her record takes the last call,
            // and the name of the list it is in cannot be read.
            let gone = "00000000-0000-0000-0000-000000000000"
            let revoked = try await search.revokedSubjects(among: cachedNow([gone, moved]), policy: NeoCheckIdentifyResultTests.policy)
            #expect(revoked == [gone])
            #expect(await budgeted.budget?.remaining == 0)
        }
    }

    /// A token service and record reads answered per record, from a loopback server: `replies` by identifier.
    static func withRecordServer(
        _ replies: [String: HostileServer.Behaviour], _ body: (NeoCheckFaceSearch, HostileServer) async throws -> Void
    ) async throws {
        let token = HostileServer.Behaviour.reply(
            status: 200, body: #"{"token_type":"Bearer","access_token":"sync-token","expires_in":3600}"#)
        let server = try await HostileServer.start { line in
            let target = line.split(separator: " ").dropFirst().first ?? ""
            if target.hasSuffix("connect/token") { return token }
            for (identifier, reply) in replies where target.hasSuffix("v1/face/\(identifier)") { return reply }
            return .reply(status: 404)
        }
        defer { server.close() }
        try await body(NeoCheckFaceSearch(client: try NeoCheckIdentifyResultTests.client(server.endpoint)), server)
    }

    static let syncList = "5e000000-0000-4000-8000-00000000d00a"
    static func record(_ identifier: String, enabled: Bool) -> HostileServer.Behaviour {
        .reply(status: 200, body: #"{"identifier":"\#(identifier)","name":"P","surname1":"Q","enabled":\#(enabled),"faceListId":"\#(syncList)"}"#)
    }
    static func person(_ number: Int) -> String { String(format: "00000000-0000-4000-8000-%012d", number) }

    @Test("a record that cannot be read holds up nobody behind it, and is revoked after three rounds that read others")
    func anUnreadableRecordHoldsUpNoOther() async throws {
        var policy = NeoCheckIdentifyResultTests.policy
        policy.faceList = Self.syncList
        // Read in order: an HTML page, a 400 without the service's error list, a 400 with it (the service's word
        // on this record), a disabled record, a member.
        let (garbled, odd, refused, disabled, member) = (Self.person(1), Self.person(2), Self.person(3), Self.person(4), Self.person(5))
        try await Self.withRecordServer([
            garbled: .reply(status: 200, contentType: "text/html", body: "<html>maintenance</html>"),
            odd: .reply(status: 400, body: #"{"error":"something odd"}"#),
            refused: .reply(status: 400, body: #"{"errors":[{"code":"InvalidRecord","description":"no such record"}]}"#),
            disabled: Self.record(disabled, enabled: false), member: Self.record(member, enabled: true),
        ]) { search, _ in
            let cached = cachedNow([garbled, odd, refused, disabled, member])
            // Before: the first failure threw, nothing was purged, and every later round stopped at it.
            var rounds: [Set<String>] = []
            for _ in 0..<3 { rounds.append(try await search.revokedSubjects(among: cached, policy: policy)) }
            // A 200 that cannot be read, in three rounds that read the others: revoked. The plain 400, which a proxy
            // gives as readily as the service, never counts against the record.
            #expect(rounds == [[refused, disabled], [refused, disabled], [garbled, refused, disabled]])
        }
    }

    /// A captive portal, a proxy asking for its login, a token service answering oddly: every record reads the
    /// same, and none of that is the service's word on a record. Nobody is revoked, however many rounds (before
    /// this was judged, a round revoked every record: the whole site's offline faces gone), and three in a row
    /// end a round.
    @Test("a failure every record reads alike revokes nobody, and three in a row end the round")
    func aFailureOfEveryCallRevokesNobody() async throws {
        var policy = NeoCheckIdentifyResultTests.policy
        policy.faceList = Self.syncList
        let people = (1...6).map(Self.person)
        for reply in [
            HostileServer.Behaviour.reply(status: 200, contentType: "text/html", body: "<html>Welcome to the guest network</html>"),
            .reply(status: 407, contentType: "text/html", body: "<html>proxy authentication required</html>"),
            .reply(status: 403, body: "{}"),
            // A gateway's own 404 page, for a path it does not know: not the service's bare 404.
            .reply(status: 404, contentType: "text/html", body: "<html><body>404 Not Found</body></html>"),
        ] {
            try await Self.withRecordServer(Dictionary(uniqueKeysWithValues: people.map { ($0, reply) })) { search, server in
                // Six rounds: each record is tried three times, enough to be revoked were these records' own failures.
                for _ in 0..<6 {
                    await #expect(throws: NeoCheckError.self, "\(reply)") {
                        try await search.revokedSubjects(among: self.cachedNow(Set(people)), policy: policy)
                    }
                }
                let reads = server.requestLines.filter { $0.contains("v1/face/") }
                #expect(reads.count == 18, "three reads a round, six rounds: \(reads.count) for \(reply)")
            }
        }
    }

    /// The hourly limit said in the service's error list rather than its message (the shape its record calls give
    /// a 400) is the budget's, not the records': nobody is revoked (before: read as the service refusing each
    /// record, and the round revoked every record it read: the cache drained while the limit lasted).
    @Test("an hourly limit in the error list revokes nobody")
    func anHourlyLimitInTheErrorListRevokesNobody() async throws {
        var policy = NeoCheckIdentifyResultTests.policy
        policy.faceList = Self.syncList
        let people = (1...3).map(Self.person)
        let limit = HostileServer.Behaviour.reply(
            status: 400, body: #"{"identifier":null,"errors":[{"code":"CallLimit","description":"The maximum number of calls per hour has been reached"}]}"#)
        try await Self.withRecordServer(Dictionary(uniqueKeysWithValues: people.map { ($0, limit) })) { search, _ in
            await #expect(throws: CloudUnavailable.self) {
                let revoked = try await search.revokedSubjects(among: self.cachedNow(Set(people)), policy: policy)
                Issue.record("revoked \(revoked.count) on the service's hourly limit")
            }
        }
    }

    @Test("a cloud that fails partway keeps what the sync found, and the record it failed on is read first next time")
    func aCloudFailingPartwayKeepsTheFindings() async throws {
        var policy = NeoCheckIdentifyResultTests.policy
        policy.faceList = Self.syncList
        let (disabled, failing, later) = (Self.person(1), Self.person(2), Self.person(3))
        try await Self.withRecordServer([
            disabled: Self.record(disabled, enabled: false), failing: .reply(status: 503, body: "{}"), later: Self.record(later, enabled: false),
        ]) { search, server in
            // Before: the 503 threw away the disabled record found first, and the cursor had passed it.
            let first = try await search.revokedSubjects(among: cachedNow([disabled, failing, later]), policy: policy)
            #expect(first == [disabled])
            #expect(!server.requestLines.contains { $0.contains(later) }, "the round ended at the failing record")
            // Nothing found before the failure: the cloud's absence is thrown, for the caller to wait for it.
            let before = server.requestCount
            await #expect(throws: CloudUnavailable.self) {
                try await search.revokedSubjects(among: self.cachedNow([disabled, failing, later]), policy: policy)
            }
            let next = server.requestLines.dropFirst(before).filter { $0.contains("v1/face/") }
            #expect(next.first?.contains(failing) == true, "the next round starts at the record it failed on: \(next)")
        }
    }

    @Test("the reserve and the slice follow the hourly limit")
    func reserveAndSliceFollowTheLimit() throws {
        func search(callsPerHour: Int) throws -> NeoCheckFaceSearch {
            NeoCheckFaceSearch(
                client: try NeoCheckClient(
                    configuration: NeoCheckConfiguration(
                        endpoint: URL(string: "http://127.0.0.1:9")!, credentials: NeoCheckIdentifyResultTests.account),
                    http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(), logger: Logger(label: "sync-test")),
                    budget: try HourlyCallBudget(callsPerHour: callsPerHour)))
        }
        let standard = try search(callsPerHour: 3600)
        #expect(standard.syncBudgetReserve == 600 && standard.syncSlice == 60)
        // A lower limit: a reserve over the whole hour would stop every sync for good.
        let low = try search(callsPerHour: 300)
        #expect(low.syncBudgetReserve == 50 && low.syncSlice == 5)
        // Under 60 an hour the sync still keeps one call: with none, identifications could spend them all.
        let scarce = try search(callsPerHour: 30)
        #expect(scarce.syncBudgetReserve == 5 && scarce.syncSlice == 1)
        // At one call an hour a slice would take the only call: identifications keep it.
        #expect(try search(callsPerHour: 1).syncSlice == 0)
    }
}
