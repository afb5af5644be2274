/// A journal failure. Equality is on the code only.
public struct JournalError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The database cannot be opened or created (missing folder, permissions, not a database).
        case cannotOpen
        /// The database file is read-only (read-only mount, permissions).
        case readOnly
        /// The disk (or the file system) is full.
        case diskFull
        /// Another I/O failure while writing.
        case ioFailure
        /// The database was written by a newer facegate.
        case unknownSchema
        /// The journal's writer has stopped; nothing more will be written.
        case closed
        /// A query argument cannot be understood (a bad `--since`, an unknown outcome).
        case invalidQuery
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: JournalError, rhs: JournalError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
