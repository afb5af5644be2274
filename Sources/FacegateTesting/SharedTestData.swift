import Foundation

/// The shared test data: `../shared/testdata` beside the package root, where CI lays it
/// (`FACEGATE_TESTDATA` names another folder). Tests read it in place; it is never copied into the project.
public enum SharedTestData {
    public static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["FACEGATE_TESTDATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return PackageFolder.root.deletingLastPathComponent().appendingPathComponent("shared/testdata")
    }()

    /// The face photos, one folder per person.
    public static var faces: URL { root.appendingPathComponent("faces") }

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// The package's own folder, for tests of the files it ships (`etc/`, `systemd/`).
public enum PackageFolder {
    /// Sources/FacegateTesting/SharedTestData.swift: three folders up.
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
