import FacegateCore
@testable import FacegateOfflineCache
import FacegateTesting
import Foundation
import GRDB
import Testing

/// A file the cache refuses is left as it is: a cache written with another key (by this facegate or an
/// earlier one, whose schema is older) is not migrated before its key is checked, and another program's
/// SQLite file at `offline_cache.path` is not taken for a new cache.
@Suite("Offline cache: a refused file is left as it is", .timeLimit(.minutes(2)))
struct OfflineCacheRefusalTests {
    /// The file's bytes once whatever its WAL holds has been written back into it: a refused open that
    /// wrote only to the WAL still shows.
    static func settledBytes(_ path: String) throws -> Data {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    enum Written: String, CaseIterable, Sendable {
        /// By an earlier facegate: the first schema only.
        case firstSchema
        /// By this facegate.
        case currentSchema
    }

    @Test("a cache written with another key is refused, neither migrated nor written", arguments: Written.allCases)
    func aCacheOfAnotherKeyIsLeftAsItIs(_ written: Written) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("cache.sqlite")
        let ownKey = randomKey()
        switch written {
        case .currentSchema:
            let cache = try makeCache(folder, key: ownKey)
            var generator = DescriptorGenerator(seed: 3)
            try await cache.remember(subjectId: "alice", grantedUnder: ["staff"], descriptor: generator.descriptor())
            await cache.close()
        case .firstSchema:
            // As the first facegate wrote it: a WAL-mode file at the first migration, its key check sealed.
            let pool = try DatabasePool(path: path)
            try OfflineCacheSchema.migrator.migrate(pool, upTo: "v1: face entries, pending re-checks")
            let sealed = try CacheSealing.seal(CacheSealing.keyCheckPlaintext, context: CacheSealing.keyCheckContext, key: ownKey)
            try await pool.write { db in try db.execute(sql: "INSERT INTO cache_meta (name, value) VALUES ('key_check', ?)", arguments: [sealed]) }
            try await pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
            try pool.close()
        }
        let before = try Self.settledBytes(path)

        #expect(throws: OfflineCacheError(.wrongKey, "")) { try makeCache(folder, key: randomKey()) }
        #expect(try Self.settledBytes(path) == before, "the refused open changed the file")
        // Its own key still opens it (and, for the first schema, migrates it then).
        let own = try makeCache(folder, key: ownKey)
        await own.close()
    }

    @Test("another program's SQLite file at the cache's path is refused and left as it is")
    func aForeignDatabaseIsRefusedAndLeftAsItIs() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("cache.sqlite")
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                try db.execute(sql: "INSERT INTO notes (body) VALUES ('kept as it is')")
            }
            try queue.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        #expect(throws: OfflineCacheError(.cannotOpen, "")) { try makeCache(folder, key: randomKey()) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the refused open changed the file")
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0, "nothing waits in a WAL either")
    }

    @Test("an empty file, as the door creates it, is a new cache")
    func anEmptyFileIsANewCache() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        FileManager.default.createFile(atPath: folder.file("cache.sqlite"), contents: Data())
        let cache = try makeCache(folder, key: randomKey())
        #expect(try await cache.status().faces == 0)
        await cache.close()
    }
}
