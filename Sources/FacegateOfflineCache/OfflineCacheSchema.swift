import FacegateCore
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum OfflineCacheSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: face entries, pending re-checks") { db in
            try db.create(table: "cache_meta") { t in
                t.primaryKey("name", .text)
                t.column("value", .blob).notNull()
            }
            try db.create(table: "face_entry") { t in
                t.primaryKey("id", .text)
                t.column("subject_id", .text).notNull().indexed()
                t.column("tags", .text).notNull()
                t.column("remembered_at", .integer).notNull().indexed()
                t.column("expires_at", .integer).notNull().indexed()
                t.column("sealed_descriptor", .blob).notNull()
            }
            try db.create(table: "pending_recheck") { t in
                t.primaryKey("id", .text)
                t.column("decision_id", .text).notNull()
                t.column("door", .text).notNull()
                t.column("created_at", .integer).notNull().indexed()
                t.column("expires_at", .integer).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("sealed_probe", .blob).notNull()
            }
        }
        migrator.registerMigration("v2: grant scope of faces, granted subject of re-checks") { db in
            // The door's search (tags or face list) each face was granted under, so that a narrower
            // search later stops it matching offline; nil for faces kept before.
            try db.alter(table: "face_entry") { t in t.add(column: "scope", .text) }
            // Who an offline grant let in, so that a re-check that contradicts it purges that face.
            try db.alter(table: "pending_recheck") { t in t.add(column: "granted_subject", .text) }
        }
        migrator.registerMigration("v3: cloud score of faces") { db in
            // The cloud's score for the grant and its unit, so that a threshold raised later stops a face cached
            // under the laxer one; nil for faces kept before (they no longer open the door offline).
            try db.alter(table: "face_entry") { t in
                t.add(column: "score", .double)
                t.add(column: "score_unit", .text)
            }
        }
        return migrator
    }

    static func openPool(path: String, key: OfflineCacheKey) throws(OfflineCacheError) -> DatabasePool {
        let pool: DatabasePool
        do {
            try createPrivately(path)
            // Before anything writes to the file (the pool sets WAL mode, the migrator adds tables): a file
            // written with another key, or one that is no cache, is refused as it is.
            try inspectUntouched(path: path, key: key)
            var configuration = Configuration()
            configuration.label = "facegate.offline-cache"
            configuration.busyMode = .timeout(5)
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                // A pending re-check is a promise to the journal; keep it across a power cut.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // Deleted rows (revoked faces) are zeroed on disk, not just unlinked from the tree.
                try db.execute(sql: "PRAGMA secure_delete = ON")
            }
            let superseded = try pool.read { db in
                try db.tableExists("grdb_migrations") ? try migrator.hasBeenSuperseded(db) : false
            }
            if superseded {
                throw OfflineCacheError(.unknownSchema, "the offline cache at \(path) was written by a newer facegate")
            }
            try migrator.migrate(pool)
        } catch let error as OfflineCacheError {
            throw error
        } catch {
            throw OfflineCacheError(.cannotOpen, "cannot open the offline cache at \(path): \(describe(error))")
        }
        try checkKey(pool, key: key, path: path)
        return pool
    }

    /// What the file is, read without writing to it: nothing (a new cache), a cache this key opens, or else
    /// a refusal. A file with tables but no migration record is no cache (another program's SQLite file at
    /// `offline_cache.path`); one whose key check another key sealed is refused before it is migrated.
    private static func inspectUntouched(path: String, key: OfflineCacheKey) throws {
        var configuration = Configuration()
        configuration.readonly = true
        // As the opening it runs ahead of: a `facegate cache` command checkpointing as it closes must not
        // turn the door's cache off for its whole run as "cannot be opened".
        configuration.busyMode = .timeout(5)
        configuration.label = "facegate.offline-cache.inspect"
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        enum Finding { case fresh, cache, notACache, superseded, wrongKey }
        let finding = try queue.read { db -> Finding in
            let tables = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") ?? 0
            guard tables > 0 else { return .fresh }
            guard try db.tableExists("grdb_migrations") else { return .notACache }
            if try migrator.hasBeenSuperseded(db) { return .superseded }
            if try db.tableExists("cache_meta"),
                let sealed = try Data.fetchOne(db, sql: "SELECT value FROM cache_meta WHERE name = 'key_check'"),
                CacheSealing.open(sealed, context: CacheSealing.keyCheckContext, key: key) != CacheSealing.keyCheckPlaintext
            {
                return .wrongKey
            }
            return .cache
        }
        switch finding {
        case .fresh, .cache: return
        case .notACache: throw OfflineCacheError(.cannotOpen, "the file at \(path) is not an offline cache (another program's database)")
        case .superseded: throw OfflineCacheError(.unknownSchema, "the offline cache at \(path) was written by a newer facegate")
        case .wrongKey:
            throw OfflineCacheError(
                .wrongKey, "the offline cache at \(path) was written with a different key (delete the file to start an empty cache)")
        }
    }

    /// The first key to open a cache seals a known value; any other key fails to open it.
    private static func checkKey(_ pool: DatabasePool, key: OfflineCacheKey, path: String) throws(OfflineCacheError) {
        let matches: Bool
        do {
            matches = try pool.write { db -> Bool in
                if let sealed = try Data.fetchOne(db, sql: "SELECT value FROM cache_meta WHERE name = 'key_check'") {
                    return CacheSealing.open(sealed, context: CacheSealing.keyCheckContext, key: key) == CacheSealing.keyCheckPlaintext
                }
                let sealed = try CacheSealing.seal(CacheSealing.keyCheckPlaintext, context: CacheSealing.keyCheckContext, key: key)
                try db.execute(sql: "INSERT INTO cache_meta (name, value) VALUES ('key_check', ?)", arguments: [sealed])
                return true
            }
        } catch {
            throw OfflineCacheError(.storage, "cannot check the offline cache key: \(describe(error))")
        }
        if !matches {
            throw OfflineCacheError(
                .wrongKey, "the offline cache at \(path) was written with a different key (delete the file to start an empty cache)")
        }
    }

    /// Creates the file with mode 0600 before SQLite does (its WAL and shared-memory files take the same mode).
    private static func createPrivately(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "SQLite error \(error.extendedResultCode.rawValue)"
        }
        return String(describing: error)
    }
}
