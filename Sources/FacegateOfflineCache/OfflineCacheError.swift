/// An offline cache failure. Equality is on the code only. Messages never hold key material.
public struct OfflineCacheError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The key file is readable (or writable) by group or others, or owned by another user.
        case keyFileInsecure
        /// The key file cannot be read (missing, permissions, not a regular file).
        case keyFileUnreadable
        /// The key file does not hold a 256-bit key.
        case keyFileInvalid
        /// `generate(to:)` found a file already there.
        case keyFileExists
        /// The cache was written with another key.
        case wrongKey
        /// The cache file cannot be opened or created.
        case cannotOpen
        /// The cache file was written by a newer facegate.
        case unknownSchema
        /// A read or write of the cache failed (full disk, read-only, I/O).
        case storage
        /// An argument the cache cannot take (an empty subject id).
        case invalidArgument
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: OfflineCacheError, rhs: OfflineCacheError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
