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
            let budgeted = try NeoCheckClient(
                configuration: client.configuration,
                http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(requestTimeout: .seconds(20), maxAttempts: 1), logger: Logger(label: "sync-test")),
                budget: try HourlyCallBudget(callsPerHour: 4))
            let search = NeoCheckFaceSearch(client: budgeted, syncBudgetReserve: 1)
            let gone = Set((0..<6).map { String(format: "00000000-0000-0000-0000-%012d", $0) })
            let first = try await search.revokedSubjects(among: cachedNow(gone), policy: NeoCheckIdentifyResultTests.policy)
            #expect(first.count == 3, "three calls spent, one kept in reserve")
            #expect(first == Set(gone.sorted().prefix(3)))
            #expect(await budgeted.budget?.remaining == 1)
        }
    }
}
