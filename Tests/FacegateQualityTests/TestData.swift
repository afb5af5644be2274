import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import FacegateTesting

/// The shared test photos: `../shared/testdata` beside the package root (CI lays it there).
enum TestData {
    static var root: URL { SharedTestData.root }

    static var faces: URL { root.appendingPathComponent("faces") }

    static func files(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Every photo of a single identity, as (identity, file).
    static func singlePersonPhotos() -> [(identity: String, url: URL)] {
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: faces.path)) ?? [])
            .filter { !$0.hasPrefix("_") && !$0.contains(".") }.sorted()
        return folders.flatMap { identity in files(in: faces.appendingPathComponent(identity)).map { (identity, $0) } }
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    static func image(_ relativePath: String) throws -> PixelImage {
        try ImageCodec.decode(try bytes(faces.appendingPathComponent(relativePath)))
    }
}

/// One analyzer for the whole test run: loading the models takes about half a second.
enum SharedAnalyzer {
    static let still: DlibFaceAnalyzer = {
        do {
            return try DlibFaceAnalyzer(configuration: .stillImage)
        } catch {
            fatalError("the face models are needed for these tests (run scripts/setup): \(error)")
        }
    }()

    static let frames = DlibFaceAnalyzer(engine: still.engine, configuration: QualityConfiguration())
}
