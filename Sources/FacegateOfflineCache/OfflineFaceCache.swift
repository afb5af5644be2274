import Crypto
import FacegateCore
import Foundation
import GRDB
import Logging

/// The faces the cloud granted lately, kept so that the door can decide when the cloud is down.
///
/// Each descriptor (and each pending re-check's probe crop) is sealed with AES-256-GCM; the subject
/// id, tags and times stay clear so that revocation and expiry work without the key, and they are
/// authenticated with the sealed value, so a row edited in the file fails to open and never matches.
///
/// Matching reads the file each time rather than keeping faces in memory: the cache is small
/// (bounded by `maxEntries`), it is only searched while the cloud is down, and a purge made by
/// `facegate cache purge` in another process takes effect at once.
public actor OfflineFaceCache {
    public struct Configuration: Sendable {
        public var path: String
        /// At most this many faces; the oldest are evicted.
        public var maxEntries: Int
        /// At most this many faces per subject (a few looks of the same person); the oldest are replaced.
        public var maxEntriesPerSubject: Int
        /// How long a remembered face may be matched.
        public var entryLifetime: Duration
        /// At most this many probes waiting for a re-check; past it the oldest denials' go first, and a
        /// grant's that must go takes its subject's faces with it.
        public var maxPendingRechecks: Int
        /// A probe not re-checked within this long is dropped (a grant's with its subject's faces).
        public var recheckLifetime: Duration
        /// How many subjects `match` returns, closest first.
        public var maxCandidates: Int
        /// The cloud backend whose grants fill the cache (`nec`, `neocheck`), recorded in the file. Opened
        /// for another one, the faces and re-checks in it are deleted: the scope a face was granted under
        /// (tags, a face list) means nothing to the other cloud, and an NEC door with no tags searches
        /// everyone, so every face NeoCheck granted would open it offline. Nil (the CLI): not checked.
        public var backend: String?
        /// What names the cloud account and gallery within that backend (its endpoint and the API key, user
        /// or list owner that picks the tenant): recorded in the file only as a MAC under the cache's key.
        /// Opened for another account, the faces and re-checks are deleted as for another backend: an NEC
        /// tag or a NeoCheck list name is only a name, and another tenant may use the same one, so a box moved
        /// to another gallery would otherwise let the old gallery's people in offline until the first
        /// revocation sync the new cloud answers. Nil (the CLI, a test's own cloud): not checked.
        public var account: [String]?

        public init(
            path: String, maxEntries: Int = 10_000, maxEntriesPerSubject: Int = 3, entryLifetime: Duration = .seconds(7 * 86_400),
            maxPendingRechecks: Int = 1_000, recheckLifetime: Duration = .seconds(7 * 86_400), maxCandidates: Int = 5,
            backend: String? = nil, account: [String]? = nil
        ) {
            self.backend = backend
            self.account = account
            self.path = path
            self.maxEntries = maxEntries
            self.maxEntriesPerSubject = maxEntriesPerSubject
            self.entryLifetime = entryLifetime
            self.maxPendingRechecks = maxPendingRechecks
            self.recheckLifetime = recheckLifetime
            self.maxCandidates = maxCandidates
        }
    }

    /// Where the daemon keeps the cache (systemd `StateDirectory=facegate`).
    public static let defaultPath = "/var/lib/facegate/offline-cache.sqlite"

    public let configuration: Configuration
    private let key: OfflineCacheKey
    private let database: DatabasePool

    /// Writes the WAL back into the file and closes it: at a stop the file alone then holds every face
    /// (a copy or a backup of it misses nothing), and no deleted row is left in the WAL. Later calls fail
    /// with GRDB's closed-database error.
    /// - Returns: false when the WAL could not be emptied (another process was reading the file).
    @discardableResult
    public func close() -> Bool {
        closed = true
        walRetry?.cancel()
        let emptied = (try? database.writeWithoutTransaction { try $0.checkpoint(.truncate) }) != nil
        try? database.close()
        return emptied
    }
    private let logger: Logger
    private var integrityFailures: UInt64 = 0
    private var closed = false
    /// Set while rows deleted for privacy (a purge, a revocation, expiry) may still be in the WAL: the
    /// checkpoint that empties it found a reader in the way. The next such delete, the retry, or
    /// ``close()`` empties it.
    private var walHoldsDeletedRows = false
    private var walRetry: Task<Void, Never>?
    /// Subjects a purge failed for (a disk that takes no deletes): their faces are still in the file,
    /// but `match` marks them withdrawn until a purge of them succeeds. Kept in memory only (a disk that
    /// refuses deletes would likely refuse the mark too): after a restart they match again until the
    /// re-check or revocation that asked for the purge asks again, once the cloud answers.
    private var withdrawnSubjects: Set<String> = []

    /// Opens (creating when needed) the cache file and checks the key against it.
    /// - Throws: `wrongKey` when the file was written with another key.
    public init(configuration: Configuration, key: OfflineCacheKey, logger: Logger = Logger(label: "facegate.offline-cache"))
        throws(OfflineCacheError)
    {
        self.configuration = configuration
        self.key = key
        self.logger = logger
        let database = try OfflineCacheSchema.openPool(path: configuration.path, key: key)
        var walHoldsDeletedRows = false
        if let backend = configuration.backend {
            let account = configuration.account.map { Self.accountMark($0, key: key) }
            let (deleted, change) = try Self.bind(database, toBackend: backend, account: account)
            if deleted.faces + deleted.pendingRechecks > 0 {
                // The deleted faces must not stay in the WAL (nor, unchecked, in the file's old pages) while the
                // cache runs: a read in the way leaves it to the retry, as for any other delete.
                walHoldsDeletedRows = (try? database.writeWithoutTransaction(Self.truncateWAL)) == nil
                let what = change == .backend ? "another cloud backend granted were deleted (backend.kind changed)"
                    : "another cloud account granted were deleted (the backend's endpoint or account changed)"
                logger.warning(
                    "offline cache: faces \(what)",
                    metadata: ["faces": "\(deleted.faces)", "pending_rechecks": "\(deleted.pendingRechecks)"])
            }
        }
        self.walHoldsDeletedRows = walHoldsDeletedRows
        self.database = database
        if walHoldsDeletedRows {
            Task { [weak self] in await self?.emptyWAL(afterDeleting: 0) }
        }
    }

    /// What changed since the cache was last opened for a door.
    private enum OwnerChange { case none, backend, account }

    /// The account's mark in the file: a MAC under the cache's key, so the file names no endpoint, user or
    /// key, and no one without the key can tell which account it serves.
    private static func accountMark(_ account: [String], key: OfflineCacheKey) -> Data {
        var message = Data()
        for part in account {
            // Each part with its length: ["ab", "c"] and ["a", "bc"] are other accounts.
            withUnsafeBytes(of: UInt64(part.utf8.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: Array(part.utf8))
        }
        // A key of its own for the mark, derived from the cache's: the sealing key is used for nothing else.
        let markKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key.key, info: Data("facegate offline cache account".utf8), outputByteCount: 32)
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: markKey))
    }

    /// Records `backend` (and the account's mark, when given) as what fills the cache, deleting in the same
    /// transaction what another one put there. A cache written before a record existed is taken as this
    /// backend's, or this account's.
    private static func bind(
        _ database: DatabasePool, toBackend backend: String, account: Data?
    ) throws(OfflineCacheError) -> (PurgeReport, OwnerChange) {
        do {
            return try database.write { db -> (PurgeReport, OwnerChange) in
                let recorded = try Data.fetchOne(db, sql: "SELECT value FROM cache_meta WHERE name = 'backend'")
                    .map { String(decoding: $0, as: UTF8.self) }
                let recordedAccount = try Data.fetchOne(db, sql: "SELECT value FROM cache_meta WHERE name = 'account'")
                var change = OwnerChange.none
                if recorded != backend {
                    try db.execute(sql: "INSERT OR REPLACE INTO cache_meta (name, value) VALUES ('backend', ?)", arguments: [Data(backend.utf8)])
                    if recorded != nil { change = .backend }
                }
                if let account, recordedAccount != account {
                    try db.execute(sql: "INSERT OR REPLACE INTO cache_meta (name, value) VALUES ('account', ?)", arguments: [account])
                    if recordedAccount != nil, change == .none { change = .account }
                }
                guard change != .none else { return (PurgeReport(faces: 0, pendingRechecks: 0), change) }
                return (try deleteEverything(db), change)
            }
        } catch {
            throw OfflineCacheError(.storage, "cannot record the offline cache's backend: \(OfflineCacheSchema.describe(error))")
        }
    }

    /// Deletes every face and pending re-check in the caller's transaction.
    private static func deleteEverything(_ db: Database) throws -> PurgeReport {
        try db.execute(sql: "DELETE FROM face_entry")
        let faces = db.changesCount
        try db.execute(sql: "DELETE FROM pending_recheck")
        return PurgeReport(faces: faces, pendingRechecks: db.changesCount)
    }

    // MARK: - Faces

    /// Remembers the local descriptor of a face the cloud granted.
    /// - Parameters:
    ///   - scope: what the door searched when the cloud granted it (tags or face list).
    ///   - score: the cloud's score for the grant, sealed with the row: offline the door lets the face in
    ///     only while its threshold is at or below it (the daemon always gives it; nil writes a row as an
    ///     earlier facegate did, which the door no longer lets in offline).
    public func remember(
        subjectId: String, tags: Set<String> = [], grantedUnder scope: Set<String>, score: GrantScore? = nil, descriptor: FaceDescriptor,
        at time: Date = Date()
    ) async throws(OfflineCacheError) {
        guard !subjectId.isEmpty else { throw OfflineCacheError(.invalidArgument, "a cached face needs a subject id") }
        if let score, !score.value.isFinite {
            throw OfflineCacheError(.invalidArgument, "a cached face's score must be finite")
        }
        let id = UUID().uuidString
        let tagsJSON = CacheSealing.tagsJSON(tags)
        let scopeJSON = CacheSealing.tagsJSON(scope)
        let rememberedAt = time.cacheMilliseconds
        let expiresAt = rememberedAt + Int64(configuration.entryLifetime.milliseconds)
        let sealed: Data
        do {
            sealed = try CacheSealing.seal(
                CacheSealing.encode(descriptor),
                context: CacheSealing.entryContext(
                    id: id, subjectId: subjectId, tagsJSON: tagsJSON, rememberedAt: rememberedAt, expiresAt: expiresAt, scopeJSON: scopeJSON,
                    score: score),
                key: key)
        } catch {
            throw OfflineCacheError(.storage, "cannot seal a descriptor: \(error)")
        }
        let perSubject = max(1, configuration.maxEntriesPerSubject)
        let total = max(1, configuration.maxEntries)
        let evicted = try await write { db -> Int in
            try db.execute(
                sql: """
                    INSERT INTO face_entry (id, subject_id, tags, remembered_at, expires_at, sealed_descriptor, scope, score, score_unit)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, subjectId, tagsJSON, rememberedAt, expiresAt, sealed, scopeJSON, score?.value, score?.unit.rawValue])
            try db.execute(
                sql: """
                    DELETE FROM face_entry WHERE subject_id = ? AND id NOT IN
                        (SELECT id FROM face_entry WHERE subject_id = ? ORDER BY remembered_at DESC, rowid DESC LIMIT ?)
                    """, arguments: [subjectId, subjectId, perSubject])
            try db.execute(
                sql: "DELETE FROM face_entry WHERE id NOT IN (SELECT id FROM face_entry ORDER BY remembered_at DESC, rowid DESC LIMIT ?)",
                arguments: [total])
            return db.changesCount
        }
        if evicted > 0 {
            logger.debug("offline cache full; evicted the oldest faces", metadata: ["evicted": "\(evicted)"])
        }
    }

    /// The cached subjects closest to `descriptor`, closest first, with `score` the descriptor distance.
    ///
    /// Expired faces never match: past the life they were cached with, or past the cache's lifetime now
    /// (a lifetime shortened since applies to the faces cached before). A row that fails to open (edited in the file, or sealed with
    /// another key) is skipped, logged and counted in ``status()``. Each candidate's `stillSearched`
    /// says whether any of its faces was granted under a scope that `stillSearches` accepts (the door's
    /// current search) at a score `stillGrants` accepts (the door's current threshold), and its closest
    /// face at such a score (not only another of its faces); the candidate is
    /// returned either way, so that it still counts for the margin.
    public func match(
        _ descriptor: FaceDescriptor, at time: Date = Date(),
        stillSearches: @escaping @Sendable (_ grantedUnder: Set<String>?) -> Bool = { _ in true },
        stillGrants: @escaping @Sendable (_ score: GrantScore?) -> Bool = { _ in true }
    ) async throws(OfflineCacheError) -> [MatchCandidate] {
        let now = time.cacheMilliseconds
        let rememberedSince = now - Int64(configuration.entryLifetime.milliseconds)
        let key = self.key
        // Read before the file as well as after: a purge that succeeds while this read runs on its snapshot
        // (her faces still in it) takes her off the set before this resumes.
        let withdrawnBefore = withdrawnSubjects
        // `closestGrants`: whether the subject's closest face (every one at that distance) was granted at a
        // score the door's threshold still grants. Judged on the face that matched, not on any of the
        // subject's: a look-alike cached under alice's name at a score just over an old threshold stays out
        // after the threshold is raised, however high alice's own face scored.
        typealias Best = (distance: Float, tags: Set<String>, rememberedAt: Int64, searched: Bool, closestGrants: Bool)
        let (best, failed) = try await read { db -> ([String: Best], [String]) in
            var best: [String: Best] = [:]
            var failed: [String] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, subject_id, tags, remembered_at, expires_at, sealed_descriptor, scope, score, score_unit FROM face_entry
                    WHERE expires_at > ? AND remembered_at > ?
                    """,
                arguments: [now, rememberedSince])
            while let row = try rows.next() {
                guard let entry = Self.openEntry(row, key: key) else {
                    failed.append(row["id"])
                    continue
                }
                let distance = entry.descriptor.distance(to: descriptor)
                let subjectId = entry.subjectId
                let grants = stillGrants(entry.score)
                let searched = stillSearches(entry.scope) && grants
                var found = best[subjectId] ?? (distance, entry.tags, entry.rememberedAt, searched, grants)
                if distance < found.distance {
                    found.closestGrants = grants
                } else if distance == found.distance {
                    found.closestGrants = found.closestGrants && grants
                }
                found.distance = min(found.distance, distance)
                // The newest look of a subject carries its current tags, among the looks the door still
                // searches when there is one: tags proved under a search the door no longer makes (a tag
                // since taken off the door) must not decide which schedules apply to a grant under the
                // search it makes now.
                if (searched && !found.searched) || (searched == found.searched && entry.rememberedAt > found.rememberedAt) {
                    found.tags = entry.tags
                    found.rememberedAt = entry.rememberedAt
                }
                found.searched = found.searched || searched
                best[subjectId] = found
            }
            return (best, failed)
        }
        noteIntegrityFailures(failed, kind: "face")
        let withdrawn = withdrawnBefore.union(withdrawnSubjects)
        return best.map {
            MatchCandidate(
                subjectId: $0.key, score: Double($0.value.distance), tags: $0.value.tags,
                stillSearched: $0.value.searched && $0.value.closestGrants,
                withdrawn: withdrawn.contains(SubjectIdentity.key($0.key)))
        }
            .sorted { ($0.score, $0.subjectId) < ($1.score, $1.subjectId) }
            .prefix(max(0, configuration.maxCandidates))
            .map { $0 }
    }

    /// Forgets every face of these subjects (revocation, a contradicted offline grant), their ids compared
    /// as the door compares them (`SubjectIdentity`: case and surrounding spaces aside). When the file
    /// refuses the delete, the subjects are withdrawn instead until a purge of them succeeds: `match`
    /// still returns them (their faces are there, and count for the margin) marked `withdrawn`, which
    /// the door never lets in.
    /// - Returns: how many faces were deleted.
    @discardableResult
    public func purge(subjectIds: some Sequence<String>) async throws(OfflineCacheError) -> Int {
        let ids = Array(Set(subjectIds.map(SubjectIdentity.key)))
        guard !ids.isEmpty else { return 0 }
        do {
            let deleted = try await deleteFaces(ofSubjects: ids)
            withdrawnSubjects.subtract(ids)
            await emptyWAL(afterDeleting: deleted)
            return deleted
        } catch {
            withdrawnSubjects.formUnion(ids)
            throw error
        }
    }

    /// Forgets these subjects altogether, as an operator asks (`facegate cache purge --subject`): their faces,
    /// and the re-checks of their offline grants, which hold the face crop taken at the door (sealed) and
    /// the id in clear; the re-check would also send that crop to the cloud once it is back. Ids are compared
    /// as ``purge(subjectIds:)`` compares them. The journal keeps those grants `recheck pending`.
    /// (Revocation and a contradicted grant use ``purge(subjectIds:)``: their other grants are still re-checked.)
    public func forget(subjectIds: some Sequence<String>) async throws(OfflineCacheError) -> PurgeReport {
        let ids = Array(Set(subjectIds.map(SubjectIdentity.key)))
        guard !ids.isEmpty else { return PurgeReport(faces: 0, pendingRechecks: 0) }
        let faces = try await purge(subjectIds: ids)
        let wanted = Set(ids)
        let rechecks = try await write { db -> Int in
            let granted = try String.fetchAll(db, sql: "SELECT DISTINCT granted_subject FROM pending_recheck WHERE granted_subject IS NOT NULL")
            var deleted = 0
            for subject in granted where wanted.contains(SubjectIdentity.key(subject)) {
                try db.execute(sql: "DELETE FROM pending_recheck WHERE granted_subject = ?", arguments: [subject])
                deleted += db.changesCount
            }
            return deleted
        }
        await emptyWAL(afterDeleting: rechecks)
        return PurgeReport(faces: faces, pendingRechecks: rechecks)
    }

    /// Deletes the faces of the subjects whose `SubjectIdentity.key` is among `keys`.
    private func deleteFaces(ofSubjects keys: [String]) async throws(OfflineCacheError) -> Int {
        let wanted = Set(keys)
        return try await write { db -> Int in try Self.deleteFaces(ofSubjects: wanted, in: db) }
    }

    /// In a write: deletes the faces of the subjects whose `SubjectIdentity.key` is among `keys` (every spelling
    /// of their ids, as the door compares them), returning how many went.
    static func deleteFaces(ofSubjects keys: Set<String>, in db: Database) throws -> Int {
        guard !keys.isEmpty else { return 0 }
        // Matched here rather than in SQL: SQLite's lower() folds ASCII only.
        let stored = try String.fetchAll(db, sql: "SELECT DISTINCT subject_id FROM face_entry")
        let ids = stored.filter { keys.contains(SubjectIdentity.key($0)) }
        var deleted = 0
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            try db.execute(
                sql: "DELETE FROM face_entry WHERE subject_id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(chunk))
            deleted += db.changesCount
        }
        return deleted
    }

    /// Deletes the faces remembered later than `time`: a clock that ran ahead dated them, so their
    /// lifetimes run from the wrong date. Returns how many went.
    @discardableResult
    public func purge(rememberedAfter time: Date) async throws(OfflineCacheError) -> Int {
        let limit = time.cacheMilliseconds
        let deleted = try await write { db -> Int in
            try db.execute(sql: "DELETE FROM face_entry WHERE remembered_at > ?", arguments: [limit])
            return db.changesCount
        }
        await emptyWAL(afterDeleting: deleted)
        return deleted
    }

    /// Deletes expired faces (by the life they were cached with or the cache's lifetime now, whichever
    /// ends first) and expired pending re-checks.
    @discardableResult
    public func purgeExpired(at time: Date = Date()) async throws(OfflineCacheError) -> PurgeReport {
        let now = time.cacheMilliseconds
        let rememberedSince = now - Int64(configuration.entryLifetime.milliseconds)
        let report = try await write { db -> PurgeReport in
            try db.execute(sql: "DELETE FROM face_entry WHERE expires_at <= ? OR remembered_at <= ?", arguments: [now, rememberedSince])
            var faces = db.changesCount
            // An offline grant never re-checked in time was never confirmed: its subject's faces go with it.
            let unconfirmed = try String.fetchAll(
                db, sql: "SELECT DISTINCT granted_subject FROM pending_recheck WHERE expires_at <= ? AND granted_subject IS NOT NULL",
                arguments: [now])
            try db.execute(sql: "DELETE FROM pending_recheck WHERE expires_at <= ?", arguments: [now])
            let rechecks = db.changesCount
            faces += try Self.deleteFaces(ofSubjects: Set(unconfirmed.map(SubjectIdentity.key)), in: db)
            return PurgeReport(faces: faces, pendingRechecks: rechecks)
        }
        await emptyWAL(afterDeleting: report.faces + report.pendingRechecks)
        return report
    }

    /// Deletes every face and every pending re-check.
    @discardableResult
    public func purgeAll() async throws(OfflineCacheError) -> PurgeReport {
        let report = try await write { db in try Self.deleteEverything(db) }
        withdrawnSubjects = []
        await emptyWAL(afterDeleting: report.faces + report.pendingRechecks)
        return report
    }

    /// Writes the WAL back into the file and truncates it after rows were deleted for privacy.
    /// `secure_delete` zeroes a deleted row in the file's pages, but the WAL's earlier frames still hold
    /// it (subject id and tags in clear, the sealed descriptor) until they are checkpointed and the WAL is
    /// emptied, which otherwise waits for the stop. A reader in the middle of a read (a match, another
    /// process) keeps it from being emptied: the checkpoint waits for it at most `walWait`, so a purge
    /// never holds the cache's writer (a decision's own write) for long, and it is tried again later, a
    /// second after, then less and less often, up to once a minute, until it succeeds.
    private func emptyWAL(afterDeleting deleted: Int) async {
        guard deleted > 0 || walHoldsDeletedRows, !closed else { return }
        do {
            try await database.writeWithoutTransaction(Self.truncateWAL)
            walHoldsDeletedRows = false
        } catch {
            if !walHoldsDeletedRows {
                logger.notice(
                    "deleted faces are still in the offline cache's WAL (a read was in the way of emptying it); trying again shortly",
                    metadata: ["error": "\(OfflineCacheSchema.describe(error))"])
            }
            walHoldsDeletedRows = true
            retryEmptyingWAL()
        }
    }

    /// Writes the WAL back and truncates it, waiting at most `walWait` for a read in the way.
    private static func truncateWAL(_ db: Database) throws {
        let wait = try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0
        try db.execute(sql: "PRAGMA busy_timeout = \(Self.walWait.milliseconds)")
        defer { try? db.execute(sql: "PRAGMA busy_timeout = \(wait)") }
        try db.checkpoint(.truncate)
    }

    /// The longest a purge waits for a read to end before it leaves the WAL to the retry.
    static let walWait: Duration = .milliseconds(200)

    private func retryEmptyingWAL() {
        guard walRetry == nil, !closed else { return }
        walRetry = Task { [weak self] in
            var delay = Duration.seconds(1)
            while true {
                guard (try? await Task.sleep(for: delay)) != nil, let cache = self, await cache.emptyWALAgain() else { return }
                delay = min(delay * 2, .seconds(60))
            }
        }
    }

    /// The retry's try; true while deleted rows are still in the WAL (it goes on).
    private func emptyWALAgain() async -> Bool {
        await emptyWAL(afterDeleting: 0)
        guard walHoldsDeletedRows, !closed else {
            walRetry = nil
            return false
        }
        return true
    }

    /// Every cached face, oldest first, without descriptors; `intact` tells whether its row still opens.
    public func list() async throws(OfflineCacheError) -> [CachedFace] {
        let key = self.key
        let (faces, failed) = try await read { db -> ([CachedFace], [String]) in
            var faces: [CachedFace] = []
            var failed: [String] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, subject_id, tags, remembered_at, expires_at, sealed_descriptor, scope, score, score_unit FROM face_entry
                    ORDER BY remembered_at, rowid
                    """)
            while let row = try rows.next() {
                let intact = Self.openEntry(row, key: key) != nil
                if !intact { failed.append(row["id"]) }
                let tagsText: String = row["tags"]
                faces.append(
                    CachedFace(
                        id: row["id"], subjectId: row["subject_id"], tags: CacheSealing.tags(fromJSON: tagsText) ?? [],
                        rememberedAt: Date(cacheMilliseconds: row["remembered_at"]), expiresAt: Date(cacheMilliseconds: row["expires_at"]),
                        intact: intact))
            }
            return (faces, failed)
        }
        noteIntegrityFailures(failed, kind: "face")
        return faces
    }

    /// When the newest face was remembered: later than now means the clock has been set back.
    public func newestRememberedAt() async throws(OfflineCacheError) -> Date? {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT MAX(remembered_at) FROM face_entry").map { Date(cacheMilliseconds: $0) } }
    }

    /// The subjects with at least one cached face (for the revocation sync to compare with the cloud).
    public func cachedSubjectIds() async throws(OfflineCacheError) -> Set<String> {
        try await read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT subject_id FROM face_entry")) }
    }

    /// Each cached subject with when its earliest face was remembered (a change in the cloud after it
    /// may have taken that subject out of the door's search).
    public func cachedSubjectsSince() async throws(OfflineCacheError) -> [String: Date] {
        try await read { db in
            var since: [String: Date] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT subject_id, MIN(remembered_at) AS since FROM face_entry GROUP BY subject_id") {
                since[row["subject_id"]] = Date(cacheMilliseconds: row["since"])
            }
            return since
        }
    }

    public func status() async throws(OfflineCacheError) -> OfflineCacheStatus {
        let (faces, rechecks) = try await read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_entry") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending_recheck") ?? 0
            )
        }
        return OfflineCacheStatus(faces: faces, pendingRechecks: rechecks, integrityFailures: integrityFailures)
    }

    // MARK: - Pending re-checks

    /// Keeps the probe (the visit's best-face JPEG) of an offline decision until the cloud can re-check it.
    /// - Parameters:
    ///   - decisionId: the journal's `DecisionRecord.id` of the offline decision.
    ///   - grantedSubject: who the offline decision let in (nil for a denial): a re-check that names
    ///     someone else, or nobody, purges that subject's faces.
    @discardableResult
    public func addPendingRecheck(
        decisionId: UUID, door: String, grantedSubject: String? = nil, probe: [UInt8], at time: Date = Date()
    ) async throws(OfflineCacheError) -> UUID {
        let id = UUID()
        let createdAt = time.cacheMilliseconds
        let expiresAt = createdAt + Int64(configuration.recheckLifetime.milliseconds)
        let sealed: Data
        do {
            sealed = try CacheSealing.seal(
                probe,
                context: CacheSealing.recheckContext(
                    id: id.uuidString, decisionId: decisionId.uuidString, door: door, createdAt: createdAt, expiresAt: expiresAt,
                    grantedSubject: grantedSubject),
                key: key)
        } catch {
            throw OfflineCacheError(.storage, "cannot seal a probe: \(error)")
        }
        let limit = max(1, configuration.maxPendingRechecks)
        let (evicted, ungranted) = try await write { db -> (Int, Int) in
            try db.execute(
                sql: """
                    INSERT INTO pending_recheck (id, decision_id, door, created_at, expires_at, sealed_probe, granted_subject)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id.uuidString, decisionId.uuidString, door, createdAt, expiresAt, sealed, grantedSubject])
            // Kept: the grants' re-checks first (one may be all that can show a wrong face let in), then
            // the newest. A grant whose re-check must still go takes its subject's faces with it: it will
            // never be confirmed.
            let kept = """
                SELECT id FROM pending_recheck ORDER BY granted_subject IS NOT NULL DESC, created_at DESC, rowid DESC LIMIT ?
                """
            let unconfirmed = try String.fetchAll(
                db, sql: "SELECT DISTINCT granted_subject FROM pending_recheck WHERE granted_subject IS NOT NULL AND id NOT IN (\(kept))",
                arguments: [limit])
            try db.execute(sql: "DELETE FROM pending_recheck WHERE id NOT IN (\(kept))", arguments: [limit])
            let evicted = db.changesCount
            // However the grant's id was spelt: the faces it let in under any spelling go with it.
            let faces = try Self.deleteFaces(ofSubjects: Set(unconfirmed.map(SubjectIdentity.key)), in: db)
            return (evicted, faces)
        }
        if evicted > 0 {
            logger.warning(
                "too many offline decisions waiting for a re-check; the oldest were dropped (denials before grants)",
                metadata: ["dropped": "\(evicted)", "faces_of_unconfirmed_grants_purged": "\(ungranted)"])
        }
        // The unconfirmed grants' faces (and the dropped probes, face crops too) must not stay in the WAL.
        await emptyWAL(afterDeleting: evicted + ungranted)
        return id
    }

    /// Probes waiting for a re-check, oldest first (expired ones and rows that fail to open are left out).
    public func pendingRechecks(limit: Int? = nil, at time: Date = Date()) async throws(OfflineCacheError) -> [PendingRecheck] {
        let now = time.cacheMilliseconds
        let key = self.key
        let (pending, failed) = try await read { db -> ([PendingRecheck], [String]) in
            var pending: [PendingRecheck] = []
            var failed: [String] = []
            // The limit counts re-checks that open, not rows: rows that fail to (tampered, a damaged disk) are
            // passed over, so the oldest of them cannot keep every later re-check waiting until they expire (review).
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, decision_id, door, created_at, expires_at, attempts, sealed_probe, granted_subject FROM pending_recheck
                    WHERE expires_at > ? ORDER BY created_at, rowid
                    """, arguments: [now])
            while pending.count < (limit ?? Int.max), let row = try rows.next() {
                let idText: String = row["id"]
                let decisionText: String = row["decision_id"]
                let door: String = row["door"]
                let createdAt: Int64 = row["created_at"]
                let expiresAt: Int64 = row["expires_at"]
                let grantedSubject: String? = row["granted_subject"]
                let context = CacheSealing.recheckContext(
                    id: idText, decisionId: decisionText, door: door, createdAt: createdAt, expiresAt: expiresAt,
                    grantedSubject: grantedSubject)
                guard let id = UUID(uuidString: idText), let decisionId = UUID(uuidString: decisionText),
                    let probe = CacheSealing.open(row["sealed_probe"], context: context, key: key)
                else {
                    failed.append(idText)
                    continue
                }
                pending.append(
                    PendingRecheck(
                        id: id, decisionId: decisionId, door: door, createdAt: Date(cacheMilliseconds: createdAt), attempts: row["attempts"],
                        grantedSubject: grantedSubject, probe: probe))
            }
            return (pending, failed)
        }
        noteIntegrityFailures(failed, kind: "pending re-check")
        return pending
    }

    /// Drops a probe once its re-check is journaled.
    public func completeRecheck(_ id: UUID) async throws(OfflineCacheError) {
        try await write { db in try db.execute(sql: "DELETE FROM pending_recheck WHERE id = ?", arguments: [id.uuidString]) }
    }

    /// Counts a failed re-check attempt (the cloud failed again), so that the caller can give up after a few.
    public func noteRecheckAttempt(_ id: UUID) async throws(OfflineCacheError) {
        try await write { db in
            try db.execute(sql: "UPDATE pending_recheck SET attempts = attempts + 1 WHERE id = ?", arguments: [id.uuidString])
        }
    }

    // MARK: - Helpers

    private struct OpenedEntry {
        var subjectId: String
        var tags: Set<String>
        var rememberedAt: Int64
        var descriptor: FaceDescriptor
        /// nil for a face kept before the scope was recorded.
        var scope: Set<String>?
        /// The cloud's score for the grant; nil for a face kept before the score was recorded.
        var score: GrantScore?
    }

    private static func openEntry(_ row: Row, key: OfflineCacheKey) -> OpenedEntry? {
        let id: String = row["id"]
        let subjectId: String = row["subject_id"]
        let tagsJSON: String = row["tags"]
        let rememberedAt: Int64 = row["remembered_at"]
        let expiresAt: Int64 = row["expires_at"]
        let scopeJSON: String? = row["scope"]
        let scoreValue: Double? = row["score"]
        let unitText: String? = row["score_unit"]
        var score: GrantScore?
        switch (scoreValue, unitText) {
        case (nil, nil): score = nil
        case (let value?, let text?):
            guard let unit = ScoreUnit(rawValue: text) else { return nil }
            score = GrantScore(value: value, unit: unit)
        default: return nil  // half a score: an edited row
        }
        let context = CacheSealing.entryContext(
            id: id, subjectId: subjectId, tagsJSON: tagsJSON, rememberedAt: rememberedAt, expiresAt: expiresAt, scopeJSON: scopeJSON,
            score: score)
        guard let sealed = row["sealed_descriptor"] as Data?,
            let plaintext = CacheSealing.open(sealed, context: context, key: key),
            let descriptor = CacheSealing.decodeDescriptor(plaintext),
            let tags = CacheSealing.tags(fromJSON: tagsJSON)
        else { return nil }
        var scope: Set<String>?
        if let scopeJSON {
            guard let decoded = CacheSealing.tags(fromJSON: scopeJSON) else { return nil }
            scope = decoded
        }
        return OpenedEntry(subjectId: subjectId, tags: tags, rememberedAt: rememberedAt, descriptor: descriptor, scope: scope, score: score)
    }

    private func noteIntegrityFailures(_ ids: [String], kind: String) {
        guard !ids.isEmpty else { return }
        integrityFailures += UInt64(ids.count)
        logger.error(
            "offline cache rows failed authentication and were ignored (edited file or another key)",
            metadata: ["kind": "\(kind)", "rows": "\(ids.count)", "first_row_id": "\(ids[0])"])
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(OfflineCacheError) -> T {
        do {
            return try await database.read(body)
        } catch {
            throw OfflineCacheError(.storage, "offline cache read failed: \(OfflineCacheSchema.describe(error))")
        }
    }

    @discardableResult
    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(OfflineCacheError) -> T {
        do {
            return try await database.write(body)
        } catch {
            throw OfflineCacheError(.storage, "offline cache write failed: \(OfflineCacheSchema.describe(error))")
        }
    }
}

/// The cloud's score for a grant whose face is cached, in the cloud's unit (NEC ID 0...9999, NeoCheck 0...100).
public struct GrantScore: Sendable, Hashable {
    public var value: Double
    public var unit: ScoreUnit

    public init(value: Double, unit: ScoreUnit) {
        self.value = value
        self.unit = unit
    }
}

/// One cached face, without its descriptor.
public struct CachedFace: Sendable, Hashable {
    public var id: String
    public var subjectId: String
    public var tags: Set<String>
    public var rememberedAt: Date
    public var expiresAt: Date
    /// False when the row fails authentication (edited in the file, or sealed with another key).
    public var intact: Bool
}

public struct PurgeReport: Sendable, Hashable {
    public var faces: Int
    public var pendingRechecks: Int

    public init(faces: Int, pendingRechecks: Int) {
        self.faces = faces
        self.pendingRechecks = pendingRechecks
    }
}

public struct OfflineCacheStatus: Sendable, Hashable {
    public var faces: Int
    public var pendingRechecks: Int
    /// Rows that failed authentication since the cache was opened.
    public var integrityFailures: UInt64
}
