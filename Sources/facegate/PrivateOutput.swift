import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files and folders the CLI writes that hold a person's face or data (a record's portrait, its data file,
/// camera frames, best-face crops): readable by their owner alone, whatever the umask, since a command run
/// with sudo would otherwise leave them readable by every local user.
enum PrivateOutput {
    /// Writes `bytes` to `path` with mode 0600, whole or not at all: a temporary file beside it, synced, then
    /// renamed over it, so a full disk leaves no half portrait and an earlier file as it was.
    static func write(_ bytes: [UInt8], to path: String) throws(CommandError) {
        // Only a regular file, a link to one or a dangling link (replaced itself, never written through), or nothing
        // yet, is replaced: renamed over a device, or a link to one (`--face-out /dev/stdout` under sudo), it would
        // leave a face in its place; over a folder it fails anyway.
        var existing = stat(), target = stat()
        if lstat(path, &existing) == 0 {
            let kind = existing.st_mode & S_IFMT
            let linkedKind: mode_t? = kind == S_IFLNK && stat(path, &target) == 0 ? target.st_mode & S_IFMT : nil
            guard kind == S_IFREG || (kind == S_IFLNK && (linkedKind == nil || linkedKind == S_IFREG)) else {
                throw CommandError("cannot write \(path): it is not a regular file")
            }
        }
        let folder = (path as NSString).deletingLastPathComponent
        var template = Array(((folder.isEmpty ? "." : folder) + "/.facegate-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure(path, errno) }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var written = 0
        var error: Int32 = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                error = errno
                break
            }
            written += count
        }
        if error == 0, fsync(fd) != 0 { error = errno }
        if close(fd) != 0, error == 0 { error = errno }
        if error == 0, rename(temporary, path) != 0 { error = errno }
        guard error == 0 else {
            unlink(temporary)
            throw failure(path, error)
        }
    }

    /// Makes the folder with mode 0700 if it is not there; one that is keeps the mode its owner gave it.
    static func makeFolder(_ path: String) throws(CommandError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw CommandError("cannot write to \(path): it is not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandError("cannot make the folder \(path): \(error.localizedDescription)")
        }
    }

    private static func failure(_ path: String, _ code: Int32) -> CommandError {
        CommandError("cannot write \(path): \(String(cString: strerror(code)))")
    }
}
