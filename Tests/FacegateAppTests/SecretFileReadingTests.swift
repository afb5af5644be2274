@testable import FacegateApp
import FacegateCore
import FacegateIdentify
import Foundation
import Logging
import Testing

/// Issue 9, item 18, through the configuration's secret references: `file:` and `credential:`
/// secrets are read with `PrivateFile` (no symlink, no FIFO, owner-only), and errors name the
/// reference, never the value.
@Suite(.timeLimit(.minutes(5))) struct SecretFileReadingTests {
    static let secret = "configuration-secret-never-shown"

    func withFolder(_ body: (URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secret-files-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder)
    }

    func refusal(_ reference: SecretReference, environment: [String: String] = [:]) -> String? {
        do {
            _ = try SecretFiles.resolve(reference, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    /// A start reads each of the backend's secrets once: the NEC API key names the offline cache's account
    /// and signs the client's calls, and a key file rotated between those two uses must not bind the
    /// cache to one gallery's key while the door searches with another's.
    @Test func aStartReadsEachSecretOnce() throws {
        try withFolder { folder throws in
            let path = folder.appendingPathComponent("api-key").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data("gallery-a".utf8), attributes: [.posixPermissions: 0o600]))
            let opening = BackendOpening(http: CloudHTTPPolicy(), environment: [:], logger: Logger(label: "quiet"))
            #expect(try opening.secret(.file(path), "backend.nec.api_key", backend: .nec) == "gallery-a")
            try Data("gallery-b".utf8).write(to: URL(fileURLWithPath: path))
            #expect(try opening.secret(.file(path), "backend.nec.api_key", backend: .nec) == "gallery-a", "read again mid-start")
            let nextStart = BackendOpening(http: CloudHTTPPolicy(), environment: [:], logger: Logger(label: "quiet"))
            #expect(try nextStart.secret(.file(path), "backend.nec.api_key", backend: .nec) == "gallery-b")
        }
    }

    /// The unit's placeholder for a credential whose file was missing at the start is refused by its key,
    /// in words that say so, never taken for the secret (a NEC API key of "facegate-credential-file-missing").
    @Test func theUnitsPlaceholderForAMissingCredentialFileIsRefused() throws {
        try withFolder { folder throws in
            for (name, contents) in [("nec-api-key", UnitCredential.missingFilePlaceholder), ("nec-secret-key", UnitCredential.missingFilePlaceholder + "\n")] {
                #expect(FileManager.default.createFile(
                    atPath: folder.appendingPathComponent(name).path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o400]))
                let refused = refusal(.credential(name), environment: ["CREDENTIALS_DIRECTORY": folder.path])
                #expect(refused == "the systemd credential \(UnitCredential.missingFile)", "\(name): \(refused ?? "read")")
            }
            // The offline cache's key is loaded by its own reader: refused as unreadable, the start's configuration problem.
            #expect(FileManager.default.createFile(
                atPath: folder.appendingPathComponent("offline-cache-key").path, contents: Data(UnitCredential.missingFilePlaceholder.utf8),
                attributes: [.posixPermissions: 0o400]))
            let key = #expect(throws: DaemonStartError.self) {
                try DoorParts.offlineCacheKey(.credential("offline-cache-key"), environment: ["CREDENTIALS_DIRECTORY": folder.path])
            }
            #expect(key?.key == "offline_cache.key")
            #expect(key?.message.contains(UnitCredential.missingFile) == true, "\(key?.message ?? "")")
        }
    }

    @Test func fileSecretsRefuseSymlinksFIFOsAndLooseModes() throws {
        try withFolder { folder throws in
            let path = folder.appendingPathComponent("secret").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data((Self.secret + "\n").utf8), attributes: [.posixPermissions: 0o600]))
            #expect(try SecretFiles.resolve(.file(path)) == Self.secret)

            let link = folder.appendingPathComponent("link").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
            let viaLink = try #require(refusal(.file(link)))
            #expect(!viaLink.contains(link) && viaLink.contains("symbolic link"), "\(viaLink)")

            let fifo = folder.appendingPathComponent("fifo").path
            try #require(mkfifo(fifo, 0o600) == 0)
            let started = ContinuousClock.now
            let viaFIFO = try #require(refusal(.file(fifo)))
            #expect(ContinuousClock.now - started < .seconds(1), "a FIFO must not hang start-up")
            #expect(viaFIFO.contains("not a regular file"))

            let loose = folder.appendingPathComponent("loose").path
            #expect(FileManager.default.createFile(atPath: loose, contents: Data(Self.secret.utf8), attributes: [.posixPermissions: 0o644]))
            let viaLoose = try #require(refusal(.file(loose)))
            #expect(!viaLoose.contains(loose) && viaLoose.contains("chmod 600"), "\(viaLoose)")

            for message in [viaLink, viaFIFO, viaLoose] { #expect(!message.contains(Self.secret)) }
        }
    }

    @Test func credentialSecretsRefuseSymlinksAndFIFOs() throws {
        try withFolder { folder throws in
            let environment = ["CREDENTIALS_DIRECTORY": folder.path]
            let outside = folder.appendingPathComponent("outside").path
            #expect(FileManager.default.createFile(atPath: outside, contents: Data(Self.secret.utf8), attributes: [.posixPermissions: 0o600]))
            try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("linked").path, withDestinationPath: outside)
            #expect(refusal(.credential("linked"), environment: environment)?.contains("symbolic link") == true)
            try #require(mkfifo(folder.appendingPathComponent("piped").path, 0o600) == 0)
            #expect(refusal(.credential("piped"), environment: environment)?.contains("not a regular file") == true)
            #expect(refusal(.credential("../outside"), environment: environment) != nil)
            #expect(try SecretFiles.resolve(.credential("outside"), environment: environment) == Self.secret)
        }
    }
}
