import FacegateCore
import FacegateQuality
import Foundation
import FacegateTesting

/// The shared test photographs and the real local face core.
enum TestFaces {
    static var folder: URL { SharedTestData.faces }

    static func photo(_ person: String, _ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(person).appendingPathComponent(file)))
    }

    /// The first photo of each kind found in a folder, sorted by name.
    static func photos(of person: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(person).path)
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".jpeg") || $0.hasSuffix(".png") }.sorted()
    }

    /// The local face core as the emulators use it, loaded once for every test.
    static func analyzer() throws -> DlibFaceAnalyzer { try TestFaceAnalyzers.video() }
}
