import ArgumentParser
import FacegateCore
import FacegateOfflineCache
import Foundation

/// `facegate cache`: looks after the encrypted offline face cache.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Lists or purges the offline face cache the door falls back to when the cloud is down.",
        subcommands: [CacheListCommand.self, CachePurgeCommand.self, CacheNewKeyCommand.self]
    )
}

/// The cache file and its key, shared by the `cache` subcommands.
struct CacheFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The offline cache file.", valueName: "path"))
    var database = OfflineFaceCache.defaultPath

    @Option(
        help: ArgumentHelp(
            "The key file (default: the systemd credential \(OfflineCacheKey.credentialName) when $CREDENTIALS_DIRECTORY is set, else \(OfflineCacheKey.defaultPath)).",
            valueName: "path"))
    var keyFile: String?

    func openCache() throws -> OfflineFaceCache {
        let key: OfflineCacheKey
        // The key's errors say what is wrong with the file, not which: this command names it.
        if let keyFile {
            do { key = try OfflineCacheKey.load(path: keyFile) } catch { throw CommandError("\(keyFile): \(error.message)") }
        } else if ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] != nil {
            do {
                key = try OfflineCacheKey.loadCredential(named: OfflineCacheKey.credentialName)
            } catch {
                throw CommandError("the credential \(OfflineCacheKey.credentialName): \(error.message)")
            }
        } else {
            do {
                key = try OfflineCacheKey.load(path: OfflineCacheKey.defaultPath)
            } catch {
                throw CommandError("\(OfflineCacheKey.defaultPath): \(error.message)")
            }
        }
        guard FileManager.default.fileExists(atPath: database) else {
            throw CommandError("no offline cache at \(database)")
        }
        // This command does not know the door's configured lifetime: only the life sealed with each face
        // applies here (the daemon also applies its own, which may be shorter).
        return try OfflineFaceCache(configuration: .init(path: database, entryLifetime: .seconds(36_500 * 86_400)), key: key)
    }
}

struct CacheListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Lists the cached faces (subject, tags, when remembered, when they expire; never the descriptors)."
    )

    @OptionGroup var files: CacheFileOptions

    @Flag(help: "One JSON object per line.")
    var json = false

    struct Line: Encodable {
        var id: String
        var subjectId: String
        var tags: [String]
        var rememberedAt: String
        var expiresAt: String
        var expired: Bool
        var intact: Bool
    }

    func run() async throws {
        let cache = try files.openCache()
        let faces = try await cache.list()
        let now = Date()
        for face in faces {
            let line = Line(
                id: face.id, subjectId: face.subjectId, tags: face.tags.sorted(), rememberedAt: Self.timestamp(face.rememberedAt),
                expiresAt: Self.timestamp(face.expiresAt), expired: face.expiresAt <= now, intact: face.intact)
            if json {
                // The subject id is the cloud's word: escaped where JSON itself would leave it raw.
                print(try JSONLine.encode(line, snakeCaseKeys: true))
            } else {
                // The subject id is the cloud's word and the tags the file's: neither may rewrite the terminal.
                let subject = TerminalText.printable(line.subjectId)
                let tags = line.tags.isEmpty ? "-" : TerminalText.printable(line.tags.joined(separator: ","))
                var text = "\(line.rememberedAt)  \(subject)  tags: \(tags)"
                text += "  expires \(line.expiresAt)"
                if line.expired { text += "  (expired)" }
                if !line.intact { text += "  FAILED AUTHENTICATION (edited file or another key)" }
                print(text)
            }
        }
        let status = try await cache.status()
        if !json {
            print("\(status.faces) cached faces, \(status.pendingRechecks) offline decisions waiting for a re-check")
        }
        if status.integrityFailures > 0 {
            FileHandle.standardError.write(Data("facegate cache: \(status.integrityFailures) rows failed authentication\n".utf8))
            throw ExitCode(1)
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}

struct CachePurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Removes cached faces: of some subjects (revocation), the expired ones, or all."
    )

    @OptionGroup var files: CacheFileOptions

    @Option(name: .customLong("subject"), help: ArgumentHelp("A subject id whose faces are removed (repeatable).", valueName: "id"))
    var subjects: [String] = []

    @Flag(
        help:
            "Remove expired faces and expired pending re-checks (refused, unless --yes, while the clock is not synchronised or a face is dated ahead of it).")
    var expired = false

    @Flag(help: "Remove every face and every pending re-check (asks first; --yes for scripts).")
    var all = false

    @OptionGroup var confirmation: DeletionConfirmation

    func validate() throws {
        let chosen = (subjects.isEmpty ? 0 : 1) + (expired ? 1 : 0) + (all ? 1 : 0)
        if chosen != 1 { throw ValidationError("choose exactly one of --subject ID..., --expired and --all") }
    }

    func run() async throws {
        // Refused before the cache is opened when nobody can be asked; on a terminal, the count is shown.
        if all { try confirmation.refuseUnlessAskable("every face in the offline cache") }
        let cache = try files.openCache()
        if all {
            if !confirmation.yes {
                let status = try await cache.status()
                try confirmation.confirm(
                    "all \(status.faces) faces and \(status.pendingRechecks) pending re-checks in the offline cache \(TerminalText.printable(files.database)) "
                        + "(while the cloud is away, the door recognises nobody until faces are cached again)")
            }
            let report = try await cache.purgeAll()
            print("removed \(report.faces) faces and \(report.pendingRechecks) pending re-checks")
        } else if expired {
            let now = Date()
            if !confirmation.yes, let doubt = try await OfflineFaceCache.doubtAboutPurgingByAge(cache, now: now) {
                await cache.close()
                throw CommandError(
                    "nothing deleted: \(doubt); --expired deletes by this clock, for good (a clock ahead takes every face). "
                        + "Check the clock (timedatectl), or pass --yes to purge by it anyway")
            }
            let report = try await cache.purgeExpired(at: now)
            print("removed \(report.faces) expired faces and \(report.pendingRechecks) expired pending re-checks")
        } else {
            let report = try await cache.forget(subjectIds: subjects)
            let removed = report.faces
            print(
                "removed \(removed) faces of \(Set(subjects.map(SubjectIdentity.key)).count) subjects"
                    + (report.pendingRechecks > 0 ? " and \(report.pendingRechecks) pending re-checks of their offline grants" : ""))
            if removed == 0, report.pendingRechecks == 0 {
                FileHandle.standardError.write(Data("facegate cache: no cached face has those ids (compared without regard to case)\n".utf8))
            }
        }
        // The purge empties the WAL, where the deleted rows' earlier copies are, unless the daemon was
        // reading; closing tries again, waiting for its read.
        if await !cache.close() {
            FileHandle.standardError.write(
                Data("facegate cache: the removed faces may stay in \(files.database)-wal until the daemon stops (it kept the file busy)\n".utf8))
        }
    }
}

struct CacheNewKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-key",
        abstract: "Writes a new random 256-bit cache key to a file with mode 0600 (never overwrites one)."
    )

    @Argument(help: ArgumentHelp("Where to write the key.", valueName: "path"))
    var path = OfflineCacheKey.defaultPath

    func run() throws {
        try OfflineCacheKey.generate(to: path)
        print("wrote a new offline cache key to \(path)")
    }
}
