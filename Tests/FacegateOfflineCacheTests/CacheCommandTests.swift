import FacegateCore
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Testing

@Suite("facegate cache", .timeLimit(.minutes(5)))
struct CacheCommandTests {
    static let facegate: String = BuiltProducts.facegate.path

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let run = try ToolProcess.runBlocking(URL(fileURLWithPath: Self.facegate), arguments)
        return (run.status, run.output, run.errors)
    }

    @Test(
        "new-key, list and purge work on the daemon's cache file, and a loose key file is refused",
        .enabled(if: FileManager.default.isExecutableFile(atPath: facegate), "facegate is built by `swift build`"))
    func listAndPurge() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let keyPath = folder.file("cache.key")
        let database = folder.file("cache.sqlite")
        let made = try run(["cache", "new-key", keyPath])
        #expect(made.status == 0)
        do {
            let cache = try OfflineFaceCache(configuration: .init(path: database), key: try OfflineCacheKey.load(path: keyPath))
            var generator = DescriptorGenerator(seed: 99)
            try await cache.remember(subjectId: "alice", tags: ["staff"], grantedUnder: [], descriptor: generator.descriptor())
            try await cache.remember(subjectId: "bob", grantedUnder: [], descriptor: generator.descriptor())
            try await cache.remember(subjectId: "carol", grantedUnder: [], descriptor: generator.descriptor(), at: Date().addingTimeInterval(-30 * 86_400))
            // An offline grant of alice's waiting for its re-check: forgotten with her, and said.
            try await cache.addPendingRecheck(decisionId: UUID(), door: "front", grantedSubject: "alice", probe: [1, 2], at: Date())
        }
        let files = ["--database", database, "--key-file", keyPath]

        let list = try run(["cache", "list", "--json"] + files)
        #expect(list.status == 0)
        let lines = list.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(Set(lines.compactMap { $0["subject_id"] as? String }) == ["alice", "bob", "carol"])
        #expect(lines.first { $0["subject_id"] as? String == "carol" }?["expired"] as? Bool == true)
        #expect(lines.allSatisfy { $0["intact"] as? Bool == true && $0["descriptor"] == nil })

        let purged = try run(["cache", "purge", "--subject", "alice"] + files).output
        #expect(purged.contains("removed 1 faces of 1 subjects and 1 pending re-checks of their offline grants"), "\(purged)")
        // Deleting by age needs a clock the kernel says is synchronised, or --yes.
        let byAge = try run(["cache", "purge", "--expired"] + files)
        if WallClockEvidence.synchronisedSystemTime() == nil {
            #expect(byAge.status == 1 && byAge.errors.contains("no time daemon keeps this machine's clock synchronised"), "\(byAge.errors)")
            #expect(try run(["cache", "purge", "--expired", "--yes"] + files).output.contains("removed 1 expired faces"))
        } else {
            #expect(byAge.output.contains("removed 1 expired faces"), "\(byAge.errors)")
        }
        let after = try run(["cache", "list"] + files)
        #expect(after.output.contains("bob"))
        #expect(!after.output.contains("alice") && !after.output.contains("carol"))
        // Every face at once asks first: where nobody can be asked (standard input not a terminal),
        // refused without --yes, nothing removed.
        let refused = try run(["cache", "purge", "--all"] + files)
        #expect(refused.status == 1, "\(refused.errors)")
        #expect(refused.errors.contains("not a terminal") && refused.errors.contains("pass --yes"), "\(refused.errors)")
        #expect(try run(["cache", "list"] + files).output.contains("bob"))
        // At a terminal it asks, saying how many faces go, and only "y" goes on.
        func purgeAll(answering answer: String) async throws -> ToolRun {
            let terminal = try PseudoTerminal()
            terminal.type(answer)
            return try await ToolProcess.run(URL(fileURLWithPath: Self.facegate), ["cache", "purge", "--all"] + files, input: terminal.terminal)
        }
        let declined = try await purgeAll(answering: "n\n")
        #expect(declined.status == 1, "\(declined.errors)")
        #expect(declined.errors.contains("This deletes all 1 faces and 0 pending re-checks in the offline cache"), "\(declined.errors)")
        #expect(try run(["cache", "list"] + files).output.contains("bob"))
        let confirmed = try await purgeAll(answering: "y\n")
        #expect(confirmed.status == 0 && confirmed.output.contains("removed 1 faces"), "\(confirmed.output)\(confirmed.errors)")
        #expect(try run(["cache", "purge", "--all", "--yes"] + files).output.contains("removed 0 faces"))

        #expect(try run(["cache", "purge"] + files).status != 0)
        #expect(try run(["cache", "new-key", keyPath]).status != 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyPath)
        let loose = try run(["cache", "list"] + files)
        #expect(loose.status != 0)
        #expect(loose.errors.contains("chmod 600"))
        #expect(loose.errors.contains(keyPath), "the command names the key file it was given: \(loose.errors)")
    }

    /// `purge --expired` deletes by the clock, for good: a clock that runs ahead would take every face. A face
    /// dated a day later than the clock reads says the clock is not to be trusted: refused without --yes,
    /// whatever the kernel says of the clock; with --yes, purged by it.
    @Test(
        "purge --expired is refused while a cached face is dated ahead of the clock, unless --yes",
        .enabled(if: FileManager.default.isExecutableFile(atPath: facegate), "facegate is built by `swift build`"))
    func purgeByAgeDoubtsAClockBehindTheCache() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let keyPath = folder.file("cache.key")
        let database = folder.file("cache.sqlite")
        #expect(try run(["cache", "new-key", keyPath]).status == 0)
        do {
            let cache = try OfflineFaceCache(configuration: .init(path: database), key: try OfflineCacheKey.load(path: keyPath))
            var generator = DescriptorGenerator(seed: 98)
            try await cache.remember(subjectId: "ahead", grantedUnder: [], descriptor: generator.descriptor(), at: Date().addingTimeInterval(86_400))
            try await cache.remember(subjectId: "old", grantedUnder: [], descriptor: generator.descriptor(), at: Date().addingTimeInterval(-30 * 86_400))
            await cache.close()
        }
        let files = ["--database", database, "--key-file", keyPath]
        let refused = try run(["cache", "purge", "--expired"] + files)
        #expect(refused.status == 1, "\(refused.output)\(refused.errors)")
        #expect(refused.errors.contains("dated 14") && refused.errors.contains("pass --yes"), "\(refused.errors)")
        let kept = try run(["cache", "list"] + files).output
        #expect(kept.contains("ahead") && kept.contains("old"), "nothing deleted: \(kept)")
        let forced = try run(["cache", "purge", "--expired", "--yes"] + files)
        #expect(forced.status == 0 && forced.output.contains("removed 1 expired faces"), "\(forced.output)\(forced.errors)")
    }

    /// The rule `purge --expired` asks, on its own: on any machine, whatever its clock's state (review:
    /// the command's test can only see the refusal on a box the kernel does not call synchronised). No
    /// word from the kernel: doubted; its word agreeing with the clock: trusted; a face dated ahead
    /// doubts the clock whatever the kernel says.
    @Test func purgingByAgeNeedsAClockTheKernelVouchesFor() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try OfflineFaceCache(configuration: .init(path: folder.file("cache.sqlite")), key: try OfflineCacheKey(bytes: [UInt8](repeating: 5, count: 32)))
        var generator = DescriptorGenerator(seed: 99)
        let now = Date()
        try await cache.remember(subjectId: "old", grantedUnder: [], descriptor: generator.descriptor(), at: now.addingTimeInterval(-30 * 86_400))
        let unsynchronised = try await OfflineFaceCache.doubtAboutPurgingByAge(cache, now: now, synchronisedSystemTime: { nil })
        #expect(unsynchronised?.contains("no time daemon keeps this machine's clock synchronised") == true, "\(String(describing: unsynchronised))")
        let synchronised = try await OfflineFaceCache.doubtAboutPurgingByAge(cache, now: now, synchronisedSystemTime: { now })
        #expect(synchronised == nil)
        try await cache.remember(subjectId: "ahead", grantedUnder: [], descriptor: generator.descriptor(), at: now.addingTimeInterval(3600))
        let ahead = try await OfflineFaceCache.doubtAboutPurgingByAge(cache, now: now, synchronisedSystemTime: { now })
        #expect(ahead?.contains("minutes later than this machine's clock reads") == true, "\(String(describing: ahead))")
        await cache.close()
    }

    /// A subject id is the cloud's word: one carrying terminal escapes (a hostile or broken service) must
    /// not erase or forge lines of the installer's listing.
    @Test(
        "the listing writes control characters in a subject id or tag as escapes",
        .enabled(if: FileManager.default.isExecutableFile(atPath: facegate), "facegate is built by `swift build`"))
    func listingEscapesControlCharacters() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let keyPath = folder.file("cache.key")
        let database = folder.file("cache.sqlite")
        #expect(try run(["cache", "new-key", keyPath]).status == 0)
        do {
            let cache = try OfflineFaceCache(configuration: .init(path: database), key: try OfflineCacheKey.load(path: keyPath))
            var generator = DescriptorGenerator(seed: 7)
            try await cache.remember(
                subjectId: "mallory\u{1B}[2K\u{1B}[1A\rforged\nline\u{9B}2K", tags: ["staff\u{202E}"], grantedUnder: [], descriptor: generator.descriptor())
        }
        let listed = try run(["cache", "list", "--database", database, "--key-file", keyPath])
        #expect(listed.status == 0)
        #expect(!listed.output.contains("\u{1B}") && !listed.output.contains("\r") && !listed.output.contains("\u{202E}"), "\(listed.output)")
        #expect(listed.output.contains(#"mallory\u{1B}[2K\u{1B}[1A\rforged\nline\u{9B}2K  tags: staff\u{202E}"#), "\(listed.output)")
        // One line for the face, one for the count: the id's line break forged none.
        #expect(listed.output.split(separator: "\n").count == 2)
        // As JSON too: the encoder escapes C0 controls itself, not C1 ones or a direction override.
        let json = try run(["cache", "list", "--json", "--database", database, "--key-file", keyPath])
        #expect(json.status == 0)
        #expect(!json.output.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E }, "\(json.output)")
        let line = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(line["subject_id"] as? String == "mallory\u{1B}[2K\u{1B}[1A\rforged\nline\u{9B}2K")
        #expect(line["tags"] as? [String] == ["staff\u{202E}"])
    }
}
