#if canImport(Glibc)
import Glibc
#endif

/// Root writing a file in the service's own folder (`sudo facegate …` on the door's budget or journal) gives
/// what it made to the owner of that folder, the service's user: made by root, mode 0600 under root's umask,
/// the file would be root's, and the door could no longer read or write it.
public enum ServiceFolderOwner {
    /// Gives the open file to the owner of `folder` when root runs this, root owns the file (the one it just
    /// wrote or made), and the folder is not root's. Only a regular file with no other name (a hard link to
    /// another file put in the folder), by its open descriptor (`fchown`, never a path, which a symbolic link
    /// could redirect).
    public static func giveToTheFoldersOwner(_ fd: Int32, in folder: String) {
        guard geteuid() == 0 else { return }
        var owner = stat(), file = stat()
        guard stat(folder, &owner) == 0, owner.st_uid != 0, fstat(fd, &file) == 0, isOwnRegularFile(file), file.st_uid == 0 else { return }
        _ = fchown(fd, owner.st_uid, owner.st_gid)
    }

    /// The same for the file at `path`, opened without following a link; nothing when it is not there.
    public static func giveToTheFoldersOwner(path: String, in folder: String) {
        guard geteuid() == 0 else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        giveToTheFoldersOwner(fd, in: folder)
    }

    /// A regular file with one name: not another file reached through a hard link someone put in the folder.
    public static func isOwnRegularFile(_ file: stat) -> Bool { file.st_mode & S_IFMT == S_IFREG && file.st_nlink == 1 }
}
