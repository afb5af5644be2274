import FacegateCore
import Foundation
import Testing

/// Issue 9, item 18: secret files are opened once with `O_NOFOLLOW | O_NONBLOCK`, checked on the open
/// descriptor (regular file, owner-only mode, owner) and read from it.
@Suite(.timeLimit(.minutes(5))) struct PrivateFileTests {
    static let secret = "s3cret-value-never-in-an-error"

    /// A fresh folder with `secret` in an owner-only file.
    func withSecretFolder(_ body: (URL, String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("private-file-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("secret").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data((Self.secret + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        try body(folder, path)
    }

    func failure(_ path: String) -> PrivateFile.Failure? {
        do {
            _ = try PrivateFile.readSecret(path)
            return nil
        } catch {
            return error
        }
    }

    @Test func anOwnerOnlyFileIsRead() throws {
        try withSecretFolder { _, path throws in
            #expect(try PrivateFile.readSecret(path) == Self.secret)
            #expect(try PrivateFile.read(path) == Array((Self.secret + "\n").utf8))
        }
    }

    @Test func aSymlinkToTheSecretIsRefused() throws {
        try withSecretFolder { folder, path throws in
            let link = folder.appendingPathComponent("link").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
            let refused = try #require(failure(link))
            #expect(refused.reason == .symbolicLink)
            #expect(refused.description.contains(link) && !refused.description.contains(Self.secret))
        }
    }

    @Test func aFIFOIsRefusedAtOnceWithoutWaitingForAWriter() throws {
        try withSecretFolder { folder, _ throws in
            let fifo = folder.appendingPathComponent("fifo").path
            try #require(mkfifo(fifo, 0o600) == 0)
            let clock = ContinuousClock()
            let started = clock.now
            // Without O_NONBLOCK the open itself would block until something opened it for writing: forever.
            let refused = try #require(failure(fifo))
            #expect(clock.now - started < .seconds(1))
            #expect(refused.reason == .notRegularFile)
            #expect(refused.description.contains(fifo))
        }
    }

    @Test("a file open to group or others is refused", arguments: [0o644, 0o640, 0o604, 0o660, 0o602])
    func looseModesAreRefused(mode: Int) throws {
        try withSecretFolder { _, path throws in
            try #require(chmod(path, mode_t(mode)) == 0)
            let refused = try #require(failure(path))
            #expect(refused.reason == .readableByOthers)
            #expect(refused.description.contains(path) && refused.description.contains("chmod 600"))
            #expect(!refused.description.contains(Self.secret))
            // Off only for systemd's credentials folder, which is private to the service.
            #expect(try PrivateFile.readSecret(path, ownerOnly: false) == Self.secret)
        }
    }

    @Test func aFolderAMissingFileAndAnEmptyFileAreRefused() throws {
        try withSecretFolder { folder, _ throws in
            #expect(failure(folder.path)?.reason == .notRegularFile)
            #expect(failure(folder.appendingPathComponent("absent").path)?.reason == .missing)
            let empty = folder.appendingPathComponent("empty").path
            #expect(FileManager.default.createFile(atPath: empty, contents: Data("\n".utf8), attributes: [.posixPermissions: 0o600]))
            #expect(failure(empty)?.description.contains("empty") == true)
        }
    }

    @Test func aHugeFileIsRefusedNotReadWhole() throws {
        try withSecretFolder { folder, _ throws in
            let big = folder.appendingPathComponent("big").path
            #expect(FileManager.default.createFile(atPath: big, contents: Data(count: 70_000), attributes: [.posixPermissions: 0o600]))
            #expect(failure(big)?.reason == .tooLarge)
        }
    }
}
