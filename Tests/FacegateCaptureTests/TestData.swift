import Foundation

/// The shared test data beside the repository (`../shared/testdata`), found from this file's path.
enum TestData {
    static let root: String = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.deletingLastPathComponent().appendingPathComponent("shared/testdata").path
            }
            directory.deleteLastPathComponent()
        }
        return "../shared/testdata"
    }()

    static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// A fresh empty directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "facegate-capture-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
