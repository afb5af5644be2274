import Foundation

/// A fresh folder under the system's temporary folder, named for the test; `remove()` deletes it.
public struct TemporaryFolder: Sendable {
    public let url: URL

    public init(_ prefix: String = "facegate-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    /// The path of `name` in the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}
