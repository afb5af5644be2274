import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Testing

/// Input that is not a usable image gives a clear error, never a crash.
@Suite(.timeLimit(.minutes(5)))
struct BadImageTests {
    func decodeError(_ bytes: [UInt8]) -> ImageError? {
        do {
            _ = try ImageCodec.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyInput() {
        #expect(decodeError([])?.code == .empty)
    }

    @Test func garbageInput() {
        #expect(decodeError(Array("this is not an image".utf8))?.code == .unsupportedFormat)
        #expect(decodeError([0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02])?.code == .corrupt)
    }

    @Test func truncatedJPEGAndPNG() throws {
        let jpeg = try TestData.bytes(TestData.faces.appendingPathComponent("tom_cruise/01.jpg"))
        #expect(decodeError(Array(jpeg.prefix(jpeg.count / 2)))?.code == .corrupt)
        #expect(decodeError(Array(jpeg.prefix(300)))?.code == .corrupt)
        let png = try TestData.bytes(TestData.faces.appendingPathComponent("cameraman/01.png"))
        #expect(decodeError(Array(png.prefix(png.count / 2)))?.code == .corrupt)
        #expect(decodeError(Array(png.prefix(40)))?.code == .corrupt)
    }

    @Test func absurdlyLargeDimensionsAreRefusedBeforeDecoding() throws {
        var jpeg = try TestData.bytes(TestData.faces.appendingPathComponent("tom_cruise/01.jpg"))
        // Patch the frame header (SOF0/SOF2) to claim 30000 x 30000 pixels.
        var i = 2
        while i + 9 < jpeg.count {
            guard jpeg[i] == 0xFF else { break }
            let marker = jpeg[i + 1]
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if marker == 0xC0 || marker == 0xC2 {
                for k in [5, 7] { (jpeg[i + k], jpeg[i + k + 1]) = (0x75, 0x30) }
                break
            }
            i += 2 + length
        }
        #expect(decodeError(jpeg)?.code == .tooLarge)
    }

    @Test func analyzerReportsUndecodableImages() {
        #expect(throws: ImageError.self) {
            try SharedAnalyzer.still.analyze(encoded: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3], descriptorLimit: 1)
        }
    }

    @Test func pixelImageRejectsMismatchedBuffers() {
        #expect(throws: ImageError.self) { try PixelImage(width: 10, height: 10, layout: .rgb24, pixels: [0, 1, 2]) }
        #expect(throws: ImageError.self) { try PixelImage(width: 0, height: 10, layout: .gray8, pixels: []) }
        #expect(throws: ImageError.self) {
            try PixelImage(width: Int.max / 2, height: 4, layout: .rgb24, pixels: [])
        }
    }

    @Test func jpegRoundTripKeepsTheFace() throws {
        let image = try TestData.image("tom_cruise/01.jpg")
        let encoded = try ImageCodec.encodeJPEG(image, quality: 90)
        #expect(ImageCodec.sniff(encoded) == .jpeg)
        let again = try ImageCodec.decode(encoded)
        #expect(again.width == image.width && again.height == image.height)
        #expect(try SharedAnalyzer.still.analyze(again).faces.count == 1)
    }

    @Test func missingModelFolderIsAClearError() {
        #expect(throws: FaceEngineError(.modelMissing, "")) { try FaceModels.locate("/nonexistent/models") }
    }

    @Test func aModelThatLoadsButIsNotTheShippedFileIsRefusedByItsIdentity() throws {
        let shipped = try FaceModels.locate(nil)
        try shipped.checkIdentity()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-othermodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var landmarks = try Data(contentsOf: URL(fileURLWithPath: shipped.landmarksPath))
        landmarks.append(0)
        try landmarks.write(to: folder.appendingPathComponent(FaceModels.landmarksFileName))
        try FileManager.default.copyItem(
            atPath: shipped.descriptorPath, toPath: folder.appendingPathComponent(FaceModels.descriptorFileName).path)
        let other = FaceModels(directory: folder.path)
        // dlib loads it: only the identity check tells it from the shipped file.
        _ = try FaceEngine(models: other, withDescriptor: false)
        let error = #expect(throws: FaceEngineError.self) { try other.checkIdentity() }
        #expect(error?.code == .modelNotShipped)
        #expect(error?.message == "the landmark model (\(FaceModels.landmarksFileName)) is not the shipped file (its SHA-256 differs; scripts/setup installs it)")
        #expect(error?.message.contains(folder.path) == false)
        try FileManager.default.removeItem(at: folder.appendingPathComponent(FaceModels.descriptorFileName))
        try landmarks.dropLast().write(to: folder.appendingPathComponent(FaceModels.landmarksFileName))
        #expect(throws: FaceEngineError(.modelInvalid, "")) { try other.checkIdentity() }
    }

    @Test func corruptModelFileIsAClearErrorNotACrash() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-badmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not a dlib model".utf8).write(to: folder.appendingPathComponent(FaceModels.landmarksFileName))
        #expect(throws: FaceEngineError(.modelInvalid, "")) {
            try FaceEngine(models: FaceModels(directory: folder.path), withDescriptor: false)
        }
    }
}
