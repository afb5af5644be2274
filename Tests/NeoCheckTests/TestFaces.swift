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

    private static let shared: Result<DlibFaceAnalyzer, any Error> = Result { try DlibFaceAnalyzer() }

    /// One analyzer for all tests: loading the models takes a while.
    static func analyzer() throws -> DlibFaceAnalyzer {
        try shared.get()
    }
}
