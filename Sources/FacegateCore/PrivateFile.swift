import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a secret from a file that only its owner can read: the one reader for every secret facegate
/// takes from a file (configuration secrets, the CLI's `--…-file` options).
///
/// The file is opened once, with `O_NOFOLLOW` (a symlink could point anywhere, and be swapped after a
/// check) and `O_NONBLOCK` (opening a FIFO would otherwise wait for a writer and hang start-up), and
/// every check is made on that open descriptor, which is then read: there is no window between
/// checking a path and reading it. Errors never carry the content; ``Failure/description`` names the
/// path (for a path the user typed), ``Failure/withoutPath`` does not (for one from the configuration,
/// which is named by its key instead).
public enum PrivateFile {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Reason: String, Sendable {
            case missing, symbolicLink, notRegularFile, readableByOthers, wrongOwner, unreadable, tooLarge
        }

        public let reason: Reason
        public let path: String
        /// What is wrong with the file, as a predicate: "is a symbolic link; name the file itself".
        public let detail: String

        public init(_ reason: Reason, path: String, _ detail: String) {
            self.reason = reason
            self.path = path
            self.detail = detail
        }

        public var description: String { "\(path) \(detail)" }
        /// "the file …", without the path.
        public var withoutPath: String { "the file \(detail)" }
    }

    /// The file's bytes.
    /// - Parameters:
    ///   - ownerOnly: refuse a file whose group or others have any permission, or that belongs to
    ///     neither this user nor root. Off only for a folder already private to the service (systemd's
    ///     credentials directory).
    ///   - maxBytes: secrets are small; a larger file is refused rather than read whole.
    public static func read(_ path: String, ownerOnly: Bool = true, maxBytes: Int = 64 << 10) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let error = errno
            switch error {
            case ENOENT: throw Failure(.missing, path: path, "does not exist")
            case ELOOP: throw Failure(.symbolicLink, path: path, "is a symbolic link; name the file itself")
            default: throw Failure(.unreadable, path: path, "cannot be opened: \(String(cString: strerror(error)))")
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            throw Failure(.unreadable, path: path, "cannot be examined: \(String(cString: strerror(error)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Failure(.notRegularFile, path: path, "is not a regular file")
        }
        if ownerOnly {
            let permissions = info.st_mode & 0o777
            guard permissions & 0o077 == 0 else {
                throw Failure(
                    .readableByOthers, path: path,
                    "is readable by group or others (mode \(String(permissions, radix: 8))); chmod 600 it")
            }
            guard info.st_uid == geteuid() || info.st_uid == 0 else {
                throw Failure(.wrongOwner, path: path, "belongs to user \(info.st_uid), neither this user (\(geteuid())) nor root")
            }
        }
        guard Int(info.st_size) <= maxBytes else {
            throw Failure(.tooLarge, path: path, "is larger than \(maxBytes) bytes; a secret file holds the secret only")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { readBytes(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let error = errno
                if error == EINTR { continue }
                throw Failure(.unreadable, path: path, "cannot be read: \(String(cString: strerror(error)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            // The size can grow after fstat; the cap holds whatever the file does.
            guard bytes.count <= maxBytes else {
                throw Failure(.tooLarge, path: path, "is larger than \(maxBytes) bytes; a secret file holds the secret only")
            }
        }
        return bytes
    }

    /// The file's text without trailing line breaks: a secret written with `echo` or an editor.
    /// Refuses a file that is empty or not UTF-8.
    public static func readSecret(_ path: String, ownerOnly: Bool = true) throws(Failure) -> String {
        let bytes = try read(path, ownerOnly: ownerOnly)
        guard var text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(.unreadable, path: path, "is not UTF-8 text")
        }
        while text.last == "\n" || text.last == "\r" || text.last == "\r\n" { text.removeLast() }
        guard !text.isEmpty else { throw Failure(.unreadable, path: path, "is empty") }
        return text
    }

    private static func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(fd, buffer, count)
        #else
        Darwin.read(fd, buffer, count)
        #endif
    }
}
