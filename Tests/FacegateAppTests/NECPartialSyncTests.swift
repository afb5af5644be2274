import AsyncHTTPClient
import FacegateCore
@testable import FacegateApp
import FacegateIdentify
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Logging
import Testing

/// An NEC revocation sync whose listing fails partway (a later page timing out, a 5xx, a malformed page)
/// still purges what the pages read before proved: a subject deleted or re-registered after caching. Never
/// the subjects merely missing from the incomplete listing, nor those whose date could not be read, nor
/// anything on the malformed page itself. A real loopback server, a real cache file.
@Suite(.timeLimit(.minutes(1)))
struct NECPartialSyncTests {
    static let policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])
    /// When the faces were cached: an hour ago, so that the listing's later dates are in the past too.
    static let cachedAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded(.down))

    static func stamp(_ offset: TimeInterval) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: cachedAt.addingTimeInterval(offset))
    }

    static func row(_ subject: String, status: String, updated: String) -> String {
        #"{"id":"\#(subject)","eventId":"e-\#(subject)","status":"\#(status)","lastUpdated":"\#(updated)"}"#
    }

    /// A cache holding `subjects`, each cached at `cachedAt`; a server answering the subject list's pages by
    /// their `start`; the maintenance's sync with `listPageSize`.
    func sync(
        cached subjects: [String], pageSize: Int, pages: @escaping @Sendable (_ start: Int) -> HostileServer.Behaviour,
        _ check: (OfflineFaceCache, OfflineMaintenance.RevocationSyncRound, CapturedLogs) async throws -> Void
    ) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite")), key: try OfflineCacheKey(bytes: [UInt8](repeating: 7, count: 32)))
        let descriptor = try FaceDescriptor([Float](repeating: 0.05, count: 128))
        for subject in subjects {
            try await cache.remember(subjectId: subject, tags: ["staff"], grantedUnder: ["staff"], descriptor: descriptor, at: Self.cachedAt)
        }
        let server = try await HostileServer.start { line in
            let start = line.split(separator: "start=").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
            return pages(start)
        }
        defer { server.close() }
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: server.endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
            httpClient: HTTPClient.shared)
        let logs = CapturedLogs()
        let search = NECFaceSearch(client: client, listPageSize: pageSize, logger: logs.logger())
        let maintenance = OfflineMaintenance(
            search: search, directory: search, cache: cache, journal: MemoryJournal(), settings: .init(), logger: logs.logger())
        let round = await maintenance.syncRevocationsRound(policy: Self.policy, failingFor: nil)
        try await check(cache, round, logs)
    }

    @Test("a subject deleted after caching, on page 1, is purged though page 2 answers 503; one missing from the listing is kept")
    func aChangeFoundBeforeAFailingPageIsPurged() async throws {
        try await sync(cached: ["alice", "bob"], pageSize: 1) { start in
            start == 0
                ? .reply(status: 200, body: #"{"subjects":[\#(Self.row("alice", status: "D", updated: Self.stamp(60)))],"total":2}"#)
                : .reply(status: 503, body: #"{"message":"Service Unavailable"}"#)
        } _: { cache, round, logs in
            #expect(round.revoked == ["alice"] && !round.completed)
            let left = try await cache.cachedSubjectsSince().keys.sorted()
            #expect(left == ["bob"], "bob is only missing from an incomplete listing")
            #expect(logs.all.contains { $0.hasPrefix("warning revocation sync failed partway") }, "\(logs.text)")
        }
    }

    @Test("a malformed page after good ones: the good pages' readable changes purged; an unreadable date, the bad page's rows and the unlisted kept")
    func aMalformedPageRevokesOnlyWhatTheGoodPagesProved() async throws {
        // Two a page, total 6: page 1 alice re-registered (D after caching) and bob with a date nobody can read;
        // page 2 is short of the total (malformed) and lists carol deleted. dave is listed nowhere.
        try await sync(cached: ["alice", "bob", "carol", "dave"], pageSize: 2) { start in
            let rows =
                start == 0
                ? [Self.row("alice", status: "D", updated: Self.stamp(60)), Self.row("bob", status: "A", updated: "18/12/2018 00:27")]
                : [Self.row("carol", status: "D", updated: Self.stamp(60))]
            return .reply(status: 200, body: #"{"subjects":[\#(rows.joined(separator: ","))],"total":6}"#)
        } _: { cache, round, _ in
            #expect(round.revoked == ["alice"] && !round.completed)
            let left = try await cache.cachedSubjectsSince().keys.sorted()
            #expect(left == ["bob", "carol", "dave"])
        }
    }

    @Test("a listing that fails with nothing proven purges nothing, and a first failure is no warning")
    func aFailureWithNothingProvenPurgesNothing() async throws {
        try await sync(cached: ["alice"], pageSize: 1) { _ in .reply(status: 503, body: "") } _: { cache, round, logs in
            #expect(round.revoked.isEmpty && !round.completed)
            let left = try await cache.cachedSubjectsSince().keys.sorted()
            #expect(left == ["alice"])
            #expect(!logs.all.contains { $0.hasPrefix("warning") }, "a first failure is no warning: \(logs.text)")
        }
    }

    /// Rows shaped as the Swagger's Subject (no `status`, no `lastUpdated`): a row without its status is not
    /// taken for active, and one without its date is a change, in a complete listing (fail secure: the face
    /// goes, and comes back at the next online grant); in an incomplete one a row without a date proves
    /// nothing, and a row without a status but with a date after caching is proven (as a `D` would be).
    @Test("rows without status or lastUpdated: revoked in a complete listing; in a partial one only with a readable date")
    func rowsWithoutStatusOrDate() async throws {
        let noStatus = #"{"id":"alice","lastUpdated":"\#(Self.stamp(60))"}"#
        let noDate = #"{"id":"bob","status":"A"}"#
        try await sync(cached: ["alice", "bob", "carol"], pageSize: 3) { _ in
            .reply(status: 200, body: #"{"subjects":[\#(noStatus),\#(noDate),\#(Self.row("carol", status: "A", updated: Self.stamp(-600)))],"total":3}"#)
        } _: { cache, round, _ in
            #expect(round.revoked == ["alice", "bob"] && round.completed, "\(round)")
            let left = try await cache.cachedSubjectsSince().keys.sorted()
            #expect(left == ["carol"])
        }
        try await sync(cached: ["alice", "bob", "carol"], pageSize: 2) { start in
            start == 0
                ? .reply(status: 200, body: #"{"subjects":[\#(noStatus),\#(noDate)],"total":3}"#)
                : .reply(status: 503, body: "")
        } _: { cache, round, _ in
            #expect(round.revoked == ["alice"] && !round.completed, "\(round)")
            let left = try await cache.cachedSubjectsSince().keys.sorted()
            #expect(left == ["bob", "carol"])
        }
    }

    @Test("a sync that has failed for over two intervals is said at warning")
    func aLongFailingSyncIsAWarning() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try OfflineFaceCache(
            configuration: .init(path: folder.file("cache.sqlite")), key: try OfflineCacheKey(bytes: [UInt8](repeating: 7, count: 32)))
        try await cache.remember(
            subjectId: "alice", tags: ["staff"], grantedUnder: ["staff"], descriptor: try FaceDescriptor([Float](repeating: 0.05, count: 128)),
            at: Self.cachedAt)
        try await withFaultyCloud(.reply(status: 503, body: "")) { endpoint in
            let client = NECIDClient(
                configuration: NECIDConfiguration(
                    endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                    http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
                httpClient: HTTPClient.shared)
            let logs = CapturedLogs()
            let search = NECFaceSearch(client: client)
            let maintenance = OfflineMaintenance(
                search: search, directory: search, cache: cache, journal: MemoryJournal(),
                settings: .init(revocationSyncInterval: .seconds(600)), logger: logs.logger())
            _ = await maintenance.syncRevocationsRound(policy: Self.policy, failingFor: .seconds(1100))
            #expect(!logs.all.contains { $0.hasPrefix("warning") }, "within two intervals: \(logs.text)")
            _ = await maintenance.syncRevocationsRound(policy: Self.policy, failingFor: .seconds(1300))
            #expect(logs.all.contains { $0.hasPrefix("warning revocation sync has not reached the cloud for over two sync intervals") }, "\(logs.text)")
        }
    }
}
