import Foundation

/// The shared test data: `../shared/testdata` beside the package root, where CI lays it
/// (`FACEGATE_TESTDATA` names another folder). Tests read it in place; it is never copied into the project.
public enum SharedTestData {
    public static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["FACEGATE_TESTDATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        // Sources/FacegateTesting/SharedTestData.swift: three folders up is the package root.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")
    }()

    /// The face photos, one folder per person.
    public static var faces: URL { root.appendingPathComponent("faces") }

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
