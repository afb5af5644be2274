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
        do {
            _ = try PresentationAttackDetector(models: folder.url.path)
            Issue.record("models without their softmax were loaded")
        } catch {
            #expect(error.code == .inferenceFailed, "\(error)")
        }
        _ = try PresentationAttackDetector(models: PackageFolder.url("models/pad").path)
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
