import Foundation

/// `../shared/testdata` beside the clone (real photos, clips, the SigV4 vectors): CI lays it there.
public enum SharedTestData {
    /// Found from this file's place in the repository, so it holds whatever the working directory.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // FacegateTesting
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // the repository
        .deletingLastPathComponent()
        .appendingPathComponent("shared/testdata")

    public static func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    public static var isPresent: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("faces").path) }
}

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

    public func appending(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes a file only its owner can read, as facegate wants its secrets.
    @discardableResult
    public func writePrivate(_ name: String, _ contents: String) throws -> URL {
        let file = appending(name)
        guard FileManager.default.createFile(atPath: file.path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
        return file
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}
