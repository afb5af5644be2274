@testable import FacegateApp
import FacegateCore
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `facegate config check` (what postinst starts the service on) and `facegate run` accept and refuse
/// the same secrets: a file the check passes is not refused by the daemon (exit 78 after postinst
/// started it), and one the daemon runs on is not held back by the check.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ConfigCheckAgreesWithTheDaemonTests {
    static let marker = "SECRET-MARKER"

    final class Folder {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-agree-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        func write(_ bytes: [UInt8], to name: String, mode: mode_t = 0o600) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
            #expect(chmod(path(name), mode) == 0)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// The check's problem with `offline_cache.key`, if any, and the daemon's refusal of the same
    /// configuration, if any (`DoorParts.offlineCache`, as `facegate run` opens the cache).
    func checkAndDaemon(_ config: FacegateConfiguration, environment: [String: String]) -> (check: ConfigProblem?, daemon: DaemonStartError?) {
        let check = config.environmentProblems(environment: environment).first { $0.path == "offline_cache.key" }
        var degradations: [StartDegradation] = []
        do {
            _ = try DoorParts.offlineCache(
                config.offlineCache, backend: "nec", environment: environment, logger: Logger(label: "agree"), degradations: &degradations)
            return (check, nil)
        } catch {
            return (check, error)
        }
    }

    func configuration(_ folder: Folder, key: String, fileIsPrivate: Bool = false) throws -> FacegateConfiguration {
        try FacegateConfiguration(
            yaml: "offline_cache: {enabled: true, key: \"\(key)\", path: \(folder.path("offline-cache.sqlite"))}\n",
            fileIsPrivate: fileIsPrivate)
    }

    /// The three keys on which they disagreed: an inline key in a private file (the check passed it, the
    /// daemon exits 78), a raw 32-byte key file as documented (the check refused it as "not UTF-8", so
    /// postinst held back a door that would run), and a 31-byte hex key (passed, then exit 78).
    @Test func theOfflineCacheKeyIsCheckedAsTheDaemonLoadsIt() throws {
        let folder = try Folder()
        let credentials = ["CREDENTIALS_DIRECTORY": folder.url.path]

        // Inline, in a file only its owner reads: the reader refuses it, and neither the check nor the daemon
        // takes a configuration that carries one all the same.
        #expect(throws: ConfigError.self) { try configuration(folder, key: String(repeating: "ab", count: 32), fileIsPrivate: true) }
        var inline = try configuration(folder, key: "file:\(folder.path("no-key"))")
        inline.offlineCache.key = .inline(String(repeating: "ab", count: 32))
        let inlineSaid = checkAndDaemon(inline, environment: [:])
        #expect(inlineSaid.daemon?.key == "offline_cache.key", "the daemon took an inline key")
        #expect(inlineSaid.check?.message.contains("never goes in the file") == true, "config check passed an inline key: \(String(describing: inlineSaid.check))")

        // 32 raw bytes, not UTF-8, as a file and as a credential: both run.
        let raw: [UInt8] = (0..<UInt8(32)).map { 0xE0 &+ $0 &* 7 }
        #expect(String(validating: raw, as: UTF8.self) == nil)
        try folder.write(raw, to: "raw-key")
        try folder.write(raw, to: OfflineCacheKey.credentialName)
        for (key, environment) in [("file:\(folder.path("raw-key"))", [String: String]()), ("credential:\(OfflineCacheKey.credentialName)", credentials)] {
            let said = checkAndDaemon(try configuration(folder, key: key), environment: environment)
            #expect(said.daemon == nil, "\(key): the daemon refused a raw key: \(String(describing: said.daemon))")
            #expect(said.check == nil, "\(key): config check refused a raw key the daemon runs on: \(String(describing: said.check))")
        }

        // 31 bytes as hex digits (a digit pair short): both refuse, and neither repeats the digits.
        let short = String(repeating: "5e", count: 31) + "\n"
        try folder.write(Array(short.utf8), to: "short-key")
        let shortSaid = checkAndDaemon(try configuration(folder, key: "file:\(folder.path("short-key"))"), environment: [:])
        #expect(shortSaid.daemon?.key == "offline_cache.key", "the daemon took a 31-byte key")
        #expect(shortSaid.check?.message.contains("256-bit") == true, "config check passed a 31-byte key: \(String(describing: shortSaid.check))")
        for said in [inlineSaid.check?.message, shortSaid.check?.message, inlineSaid.daemon?.message, shortSaid.daemon?.message] {
            #expect(said.map { !$0.contains("5e5e") && !$0.contains("abab") && !$0.contains(folder.url.path) } ?? true, "\(String(describing: said))")
        }
    }

    /// The service is given only the credentials its unit loads (`LoadCredential=`). A `credential:` name
    /// outside them was passed by a root `config check` whenever the credentials folder held it, and the
    /// service, started by postinst, exited 78 for want of it. The check names the key and lists the
    /// names the unit loads, never a secret's value.
    @Test func aCredentialTheUnitDoesNotLoadIsAProblem() throws {
        let folder = try Folder()
        for name in ["nec-access-key", "nec-secret-key", "nec-api-key", "nec-secret"] {
            try folder.write(Array("\(Self.marker)-\(name)".utf8), to: name)
        }
        // Good keys under both names: only the name is wrong.
        for name in [OfflineCacheKey.credentialName, "door-key"] {
            try folder.write(Array(String(repeating: "ab", count: 32).utf8), to: name)
        }
        let environment = ["CREDENTIALS_DIRECTORY": folder.url.path]
        func problems(secretKey: String, cacheKey: String) throws -> [ConfigProblem] {
            try FacegateConfiguration(
                yaml: """
                    backend:
                      kind: nec
                      nec:
                        endpoint: https://nec.example.invalid
                        access_key: credential:nec-access-key
                        secret_key: credential:\(secretKey)
                        api_key: credential:nec-api-key
                    offline_cache: {enabled: true, key: "credential:\(cacheKey)", path: \(folder.path("offline-cache.sqlite"))}
                    """
            ).environmentProblems(environment: environment).filter { $0.path.hasPrefix("backend.") || $0.path.hasPrefix("offline_cache.") }
        }
        #expect(try problems(secretKey: "nec-secret-key", cacheKey: OfflineCacheKey.credentialName).isEmpty)

        let unloaded = try problems(secretKey: "nec-secret", cacheKey: "door-key")
        #expect(unloaded.map(\.path) == ["backend.nec.secret_key", "offline_cache.key"], "\(unloaded)")
        for problem in unloaded {
            #expect(problem.message.contains("the unit does not load"), "\(problem)")
            #expect(SecretFiles.unitCredentialNames.allSatisfy { problem.message.contains($0) }, "\(problem)")
            #expect(!problem.message.contains(Self.marker) && !problem.message.contains(folder.url.path), "\(problem)")
        }
    }
}
