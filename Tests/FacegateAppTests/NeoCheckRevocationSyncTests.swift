import FacegateCore
import AsyncHTTPClient
import FacegateApp
import FacegateIdentify
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
