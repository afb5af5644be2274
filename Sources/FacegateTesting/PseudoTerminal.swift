import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A pseudo-terminal for a command's standard input: the command sees a terminal (`isatty`), as when a
/// person runs it, and the test types its answers in advance (the terminal keeps them until read).
public final class PseudoTerminal: Sendable {
    /// The terminal's side, to give a command as its standard input (`ToolProcess.run(input:)`).
    public let terminal: FileHandle
    private let controller: Int32

    // Linux's `TIOCSPTLCK` and `TIOCGPTN` (`_IOW('T', 0x31, int)`, `_IOR('T', 0x30, unsigned int)`):
    // Swift's Glibc module has neither these macros nor `posix_openpt`/`unlockpt`/`ptsname`.
    private static let unlockRequest: UInt = 0x4004_5431
    private static let numberRequest: UInt = 0x8004_5430

    public init() throws {
        let controller = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard controller >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(controller, Self.unlockRequest, &unlock) == 0, ioctl(controller, Self.numberRequest, &number) == 0 else {
            close(controller)
            throw POSIXError(.EIO)
        }
        let side = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard side >= 0 else {
            close(controller)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        self.controller = controller
        terminal = FileHandle(fileDescriptor: side, closeOnDealloc: true)
    }

    /// Types `text` at the terminal (a line is read by the command once it ends with "\n").
    public func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(controller, $0.baseAddress, $0.count) }
    }

    deinit { close(controller) }
}
