import Crypto
import FacegateCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The AES-256 key the offline cache seals descriptors and probes with.
///
/// The key file holds 32 bytes: raw, as 64 hex digits, or as base64 (a trailing newline is fine).
/// It must be readable by its owner only (mode 0600 or 0400) and owned by the daemon's user or root;
/// a systemd credential (`LoadCredential=`) meets this.
public struct OfflineCacheKey: Sendable {
    private let storage: KeyStorage

    var key: SymmetricKey { storage.key }

    public static let byteCount = 32
    /// The key file used when neither a path nor a systemd credential is given.
    public static let defaultPath = "/etc/facegate/credentials/offline-cache-key"
    /// The systemd credential name the unit loads the key as (`LoadCredential=offline-cache-key:...`).
    public static let credentialName = "offline-cache-key"

    /// A key from its 32 bytes.
    public init(bytes: [UInt8]) throws(OfflineCacheError) {
        guard bytes.count == Self.byteCount else {
            throw OfflineCacheError(.keyFileInvalid, "an offline cache key is \(Self.byteCount) bytes, got \(bytes.count)")
        }
        storage = KeyStorage(SymmetricKey(data: bytes))
    }

    init(key: SymmetricKey) {
        storage = KeyStorage(key)
    }

    /// Loads the key from a file, refusing one that others could read. Errors say what is wrong with the
    /// file, not its path: the daemon names the key (`offline_cache.key`), `facegate cache` the path.
    public static func load(path: String) throws(OfflineCacheError) -> OfflineCacheKey {
        let contents = try readPrivateFile(path)
        return try OfflineCacheKey(bytes: decode(contents))
    }

    /// Loads the key from the systemd credential `name` (`LoadCredential=name:...` in the unit),
    /// that is `$CREDENTIALS_DIRECTORY/name`.
    public static func loadCredential(
        named name: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(OfflineCacheError) -> OfflineCacheKey {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
            throw OfflineCacheError(
                .keyFileUnreadable, "no systemd credentials: $CREDENTIALS_DIRECTORY is not set (run under the unit, whose LoadCredential= provides it, or name a file:/path)")
        }
        guard !name.isEmpty, !name.contains("/") else {
            throw OfflineCacheError(.invalidArgument, "a credential name is a plain file name")
        }
        let contents = try readPrivateFile(directory + "/" + name)
        if UnitCredential.isPlaceholder(contents) {
            throw OfflineCacheError(.keyFileUnreadable, "the key's systemd credential \(UnitCredential.missingFile)")
        }
        return try OfflineCacheKey(bytes: decode(contents))
    }

    /// Writes a new random key to `path` with mode 0600 and returns it. Never overwrites a file.
    @discardableResult
    public static func generate(to path: String) throws(OfflineCacheError) -> OfflineCacheKey {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() } + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let error = errno
            if error == EEXIST {
                throw OfflineCacheError(.keyFileExists, "\(path) already exists; a key is never overwritten (move it away first)")
            }
            throw OfflineCacheError(.keyFileUnreadable, "cannot create \(path): \(String(cString: strerror(error)))")
        }
        defer { close(fd) }
        // The umask can only take permissions away, but make sure of 0600 whatever the file system did.
        fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            let error = errno
            unlink(path)
            throw OfflineCacheError(.keyFileUnreadable, "cannot write \(path): \(String(cString: strerror(error)))")
        }
        return OfflineCacheKey(key: key)
    }

    /// Reads the key file with the one secret-file reader: opened once without following a link or
    /// blocking on a FIFO, checked on the open descriptor (regular, owner-only), read from it.
    private static func readPrivateFile(_ path: String) throws(OfflineCacheError) -> [UInt8] {
        do {
            return try PrivateFile.read(path)
        } catch {
            switch error.reason {
            case .readableByOthers, .wrongOwner:
                throw OfflineCacheError(.keyFileInsecure, "the key file \(error.detail)")
            default:
                throw OfflineCacheError(.keyFileUnreadable, "the key file \(error.detail)")
            }
        }
    }

    private static func decode(_ contents: [UInt8]) throws(OfflineCacheError) -> [UInt8] {
        // 32 characters of text are not 32 random bytes: a 128-bit key in hex, or a 31-letter passphrase
        // and its newline, was taken as a 256-bit key (review). Random bytes are all printable about once
        // in 10^13 keys.
        if contents.count == byteCount, contents.allSatisfy({ (0x20...0x7e).contains($0) || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            throw OfflineCacheError(
                .keyFileInvalid,
                "the key file holds 32 characters of text, not a 256-bit key (32 raw bytes, 64 hex digits or base64); "
                    + "an earlier facegate took these as raw bytes: the same key as 64 hex digits (xxd -p -c 64) keeps the cache")
        }
        if contents.count == byteCount { return contents }
        let text = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 2 * byteCount, let bytes = hexBytes(text) { return bytes }
        if let data = Data(base64Encoded: text), data.count == byteCount { return [UInt8](data) }
        throw OfflineCacheError(
            .keyFileInvalid, "the key file does not hold a 256-bit key (32 raw bytes, 64 hex digits or base64)")
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }
}

/// Holds the key for sharing across tasks. `SymmetricKey` is an immutable value (its bytes are never
/// changed after creation and are wiped when released) but swift-crypto does not mark it `Sendable`
/// on Linux, so the claim is made here, once.
private final class KeyStorage: @unchecked Sendable {
    let key: SymmetricKey

    init(_ key: SymmetricKey) {
        self.key = key
    }
}
