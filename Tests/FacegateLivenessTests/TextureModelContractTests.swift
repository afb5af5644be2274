import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// The texture cue takes only class probabilities from its models. A model file swapped for one that
/// gives scores (no softmax at its end: a retrained or hand-converted model) would pass any threshold
/// on every face, a printed one included; such outputs are an inference failure: the visit is decided
/// `error` and the door stays shut (RELIABILITY.md). The models here are real ONNX files, written by the
/// test and run by OpenCV.
@Suite(.timeLimit(.minutes(2)))
struct TextureModelContractTests {
    @Test("a model that gives scores, or per-class probabilities that do not sum to one, judges nothing", arguments: [
        ["GlobalAveragePool", "Flatten"], ["GlobalAveragePool", "Flatten", "Sigmoid"],
    ])
    func aModelWithoutItsSoftmaxIsRefused(operators: [String]) throws {
        let (image, face) = try Self.liveFace()
        let cue = try Self.cue(operators)
        do {
            let score = try cue.score(image, face: face)
            Issue.record("taken as a judgement: \(score)")
        } catch {
            #expect(error.code == .inferenceFailed)
            #expect(error.message.contains("not class probabilities"), "\(error)")
        }
    }

    /// The same graph with a softmax at its end is a model the cue runs: the test's models are read.
    @Test func theSameModelEndingInASoftmaxIsRun() throws {
        let (image, face) = try Self.liveFace()
        let score = try Self.cue(["GlobalAveragePool", "Flatten", "Softmax"]).score(image, face: face)
        #expect(score.perModel.count == 1)
        #expect((0...1).contains(score.realProbability))
    }

    /// The stage as the door loads it checks its models at once: a folder whose models give scores is
    /// refused when loaded (the door does not start), not at the first visitor; the shipped models pass.
    @Test func modelsThatGiveScoresAreRefusedWhenLoaded() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for name in [PADModels.wideFileName, PADModels.widestFileName] {
            try Data(OnnxModel.chain(["GlobalAveragePool", "Flatten"])).write(to: URL(fileURLWithPath: folder.file(name)))
        }
        // The door's loading refuses them first as not the shipped files; the contract check behind it
        // refuses them too (a cue built from other files, as the tests build them).
        #expect(throws: LivenessError.self) { try PresentationAttackDetector(models: folder.url.path) }
        do {
            try TextureCue(PADModels(directory: folder.url.path)).checkContract()
            Issue.record("models without their softmax were loaded")
        } catch {
            #expect(error.code == .inferenceFailed, "\(error)")
        }
        _ = try PresentationAttackDetector(models: PackageFolder.url("models/pad").path)
    }

    /// The two shipped models, each under the other's name or one of them under both, load and answer with
    /// other scores: the door refuses them when it loads them, naming the models, never the folder.
    @Test func theShippedModelsSwappedOrTwiceAreRefusedWhenLoaded() throws {
        let shipped = PADModels(directory: PackageFolder.url("models/pad").path)
        let folder = try TemporaryFolder("facegate-pad-marker-29")
        defer { folder.remove() }
        func place(wide: String, widest: String) throws {
            for name in [PADModels.wideFileName, PADModels.widestFileName] { try? FileManager.default.removeItem(atPath: folder.file(name)) }
            try FileManager.default.copyItem(atPath: wide, toPath: folder.file(PADModels.wideFileName))
            try FileManager.default.copyItem(atPath: widest, toPath: folder.file(PADModels.widestFileName))
        }
        for (wide, widest, says) in [
            (shipped.widePath, shipped.widePath, "same network"), (shipped.widestPath, shipped.widestPath, "same network"),
            (shipped.widestPath, shipped.widePath, "swapped"),
        ] {
            try place(wide: wide, widest: widest)
            let error = try #require(throws: LivenessError.self) { try PresentationAttackDetector(models: folder.path) }
            #expect(error.code == .modelNotShipped && error.message.contains(says), "\(error)")
            #expect(!error.message.contains("marker-29") && !error.message.contains("/"), "no path: \(error)")
        }
        // One of them another network (a model that loads and answers in class probabilities): named by its role.
        try place(wide: shipped.widePath, widest: shipped.widestPath)
        try Data(OnnxModel.chain(["GlobalAveragePool", "Flatten", "Softmax"])).write(to: URL(fileURLWithPath: folder.file(PADModels.widestFileName)))
        let other = try #require(throws: LivenessError.self) { try PresentationAttackDetector(models: folder.path) }
        #expect(other.code == .modelNotShipped && other.message.contains("texture_widest"), "\(other)")
        // In place, each under its own name: loaded.
        try place(wide: shipped.widePath, widest: shipped.widestPath)
        _ = try PresentationAttackDetector(models: folder.path)
    }

    /// A face box mostly outside the picture gives no crop (the sample is left out), instead of a crop shifted
    /// into the picture, which is background scored as if it were the face (review); a face at the edge, a
    /// quarter of it out of view, is still cropped.
    @Test func aFaceBoxMostlyOutsideThePictureGivesNoCrop() throws {
        for outside in [
            PixelBox(left: -200, top: 190, right: -100, bottom: 290), PixelBox(left: 580, top: 190, right: 730, bottom: 340),
            PixelBox(left: 300, top: -120, right: 400, bottom: 20),
        ] {
            let error = try #require(throws: LivenessError.self, "\(outside)") {
                try TextureCue.crop(around: outside, scale: 2.7, imageWidth: 640, imageHeight: 480)
            }
            #expect(error.code == .badInput && error.message.contains("outside the frame"), "\(error)")
        }
        let atTheEdge = try TextureCue.crop(
            around: PixelBox(left: -25, top: 190, right: 75, bottom: 290), scale: 2.7, imageWidth: 640, imageHeight: 480)
        #expect(atTheEdge.left == 0 && atTheEdge.width > 100)
    }

    /// The classifier takes exactly the number of outputs it was made for: a network with another class
    /// layout (more classes, or every input value a class) is refused, not read by its first outputs.
    @Test func aModelWithAnotherNumberOfOutputsIsRefused() throws {
        let (image, face) = try Self.liveFace()
        let crop = try TextureCue.crop(around: face, scale: 2.7, imageWidth: image.width, imageHeight: image.height)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        func classifier(_ operators: [String], outputCount: Int) throws -> TextureClassifier {
            let path = folder.file("model-\(operators.count)-\(outputCount).onnx")
            try Data(OnnxModel.chain(operators)).write(to: URL(fileURLWithPath: path))
            return try TextureClassifier(path: path, outputCount: outputCount)
        }
        // Three class probabilities, as the shipped models give: run.
        let threeClasses = ["GlobalAveragePool", "Flatten", "Softmax"]
        #expect(try classifier(threeClasses, outputCount: 3).classify(image.rgb(), crop: crop).count == 3)
        // The same three read as a two-class model, and a softmax over all 19200 input values read as
        // three classes: before, their first outputs were taken.
        for (operators, expected, given) in [(threeClasses, 2, 3), (["Flatten", "Softmax"], 3, 19200)] {
            let refusing = try classifier(operators, outputCount: expected)
            do {
                let outputs = try refusing.classify(image.rgb(), crop: crop)
                Issue.record("\(given) outputs taken as \(expected): \(outputs)")
            } catch {
                #expect(error.code == .inferenceFailed)
                #expect(error.message.contains("gave \(given) outputs, expected \(expected)"), "\(error)")
            }
        }
    }

    static func liveFace() throws -> (PixelImage, PixelBox) {
        let image = try ImageCodec.decode([UInt8](try Data(contentsOf: SharedTestData.url("pad/bonafide/doubango__genuine.jpg"))))
        let face = try #require(try TestFaceAnalyzers.video().analyze(image).faces.first)
        return (image, face.box)
    }

    /// A texture cue on one model: the 1x3x80x80 input through `operators` in a chain to a 1x3 output.
    static func cue(_ operators: [String]) throws -> TextureCue {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("model.onnx")
        try Data(OnnxModel.chain(operators)).write(to: URL(fileURLWithPath: path))
        return TextureCue(models: [.init(name: "texture_test", classifier: try TextureClassifier(path: path), cropScale: 2.7)])
    }
}
