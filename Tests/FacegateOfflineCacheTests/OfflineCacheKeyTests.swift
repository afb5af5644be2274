import FacegateOfflineCache
import FacegateTesting
import Foundation
import Testing

@Suite("Offline cache key", .timeLimit(.minutes(5)))
struct OfflineCacheKeyTests {
    @Test("a generated key file is mode 0600, loads, and is never overwritten")
    func generateAndLoad() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("cache.key")
        try OfflineCacheKey.generate(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.count == 65)
        _ = try OfflineCacheKey.load(path: path)
        #expect(throws: OfflineCacheError(.keyFileExists, "")) { try OfflineCacheKey.generate(to: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }

    @Test("a key file readable by group or others is refused with a clear error", arguments: [0o640, 0o604, 0o644, 0o660, 0o602])
    func insecureModes(mode: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("cache.key")
        try OfflineCacheKey.generate(to: path)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        do {
            _ = try OfflineCacheKey.load(path: path)
            Issue.record("a key file with mode \(String(mode, radix: 8)) was accepted")
        } catch {
            #expect(error.code == .keyFileInsecure)
            #expect(error.message.contains("chmod 600"))
            // The path is the configuration's (`offline_cache.key`): the caller names the key.
            #expect(!error.message.contains(path))
        }
    }

    @Test("raw, hex and base64 keys load; anything else is refused without echoing it")
    func formats() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let bytes: [UInt8] = (0..<32).map { UInt8($0 * 7 % 256) }
        let forms: [String: Data] = [
            "raw": Data(bytes),
            "hex": Data((bytes.map { String(format: "%02X", $0) }.joined() + "\n").utf8),
            "base64": Data((Data(bytes).base64EncodedString() + "\n").utf8),
        ]
        for (name, contents) in forms {
            let path = folder.file(name)
            #expect(FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o400]))
            _ = try OfflineCacheKey.load(path: path)
        }
        let secretLooking = "not-a-key-but-a-secret-password"
        let bad = folder.file("bad")
        #expect(FileManager.default.createFile(atPath: bad, contents: Data(secretLooking.utf8), attributes: [.posixPermissions: 0o600]))
        do {
            _ = try OfflineCacheKey.load(path: bad)
            Issue.record("a file without a key was accepted")
        } catch {
            #expect(error.code == .keyFileInvalid)
            #expect(!error.message.contains(secretLooking))
        }
        // 32 characters of text are not a raw key (review: both were taken as 256-bit keys): a 128-bit key in
        // hex, and a 31-letter passphrase with its newline.
        for (name, text) in [("hex128", "0123456789abcdef0123456789abcdef"), ("passphrase", "correct horse battery staple 42\n")] {
            #expect(text.utf8.count == 32)
            let path = folder.file(name)
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            let refused = #expect(throws: OfflineCacheError.self, "\(name)") { try OfflineCacheKey.load(path: path) }
            #expect(refused?.code == .keyFileInvalid)
            #expect(refused.map { !$0.message.contains(text.trimmingCharacters(in: .newlines)) } ?? false)
        }
        #expect(throws: OfflineCacheError(.keyFileUnreadable, "")) { try OfflineCacheKey.load(path: folder.file("missing")) }
        #expect(throws: OfflineCacheError(.keyFileUnreadable, "")) { try OfflineCacheKey.load(path: folder.path) }
    }

    @Test("a systemd credential is read from $CREDENTIALS_DIRECTORY")
    func credential() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try OfflineCacheKey.generate(to: folder.file("facegate-cache-key"))
        _ = try OfflineCacheKey.loadCredential(named: "facegate-cache-key", environment: ["CREDENTIALS_DIRECTORY": folder.path])
        #expect(throws: OfflineCacheError(.keyFileUnreadable, "")) {
            try OfflineCacheKey.loadCredential(named: "facegate-cache-key", environment: [:])
        }
        #expect(throws: OfflineCacheError(.invalidArgument, "")) {
            try OfflineCacheKey.loadCredential(named: "../etc/shadow", environment: ["CREDENTIALS_DIRECTORY": folder.path])
        }
    }
}

/// The key file is read by the one secret-file reader (issue 9, item 18): no link followed, no
/// hang on a FIFO, checked on the open descriptor.
@Suite("Offline cache key file: links and FIFOs", .timeLimit(.minutes(5)))
struct OfflineCacheKeyFileTests {
    @Test("a symbolic link to a good key file is refused")
    func symlinkRefused() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let real = folder.file("real.key")
        try OfflineCacheKey.generate(to: real)
        let link = folder.file("link.key")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        #expect(throws: OfflineCacheError.self) { try OfflineCacheKey.load(path: link) }
        #expect(throws: Never.self) { try OfflineCacheKey.load(path: real) }
    }

    @Test("a FIFO in the key's place is refused at once, not waited on", .timeLimit(.minutes(1)))
    func fifoRefusedPromptly() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let fifo = folder.file("fifo.key")
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = ContinuousClock.now
        #expect(throws: OfflineCacheError.self) { try OfflineCacheKey.load(path: fifo) }
        #expect(ContinuousClock.now - started < .seconds(1))
    }
}
