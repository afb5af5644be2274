import Foundation
import FacegateTesting

/// The shared test data (`SharedTestData`), as paths for the capture tests.
enum TestData {
    static var root: String { SharedTestData.root.path }

    static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// A fresh empty directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "facegate-capture-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
