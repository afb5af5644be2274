import FacegateCore
import FacegateImageCodec
import FacegateLiveness
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// The texture cue takes only class probabilities from its models. A model file swapped for one that
/// gives scores (no softmax at its end: a retrained or hand-converted model) would pass any threshold
/// on every face, a printed one included; such outputs are an inference failure, which leaves the visit
/// `uncertain`. The models here are real ONNX files, written by the test and run by OpenCV.
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

/// Just enough of the ONNX protobuf (onnx.proto, ir_version 7, opset 11) to write a chain of operators
/// without attributes or weights.
enum OnnxModel {
    struct Message {
        var encoded: [UInt8] = []

        mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                encoded.append(UInt8(value & 0x7f) | 0x80)
                value >>= 7
            }
            encoded.append(UInt8(value))
        }

        mutating func int(_ field: UInt64, _ value: Int) {
            varint(field << 3)
            varint(UInt64(value))
        }

        mutating func bytes(_ field: UInt64, _ bytes: [UInt8]) {
            varint(field << 3 | 2)
            varint(UInt64(bytes.count))
            encoded += bytes
        }

        mutating func string(_ field: UInt64, _ text: String) { bytes(field, Array(text.utf8)) }

        mutating func message(_ field: UInt64, _ build: (inout Message) -> Void) {
            var inner = Message()
            build(&inner)
            bytes(field, inner.encoded)
        }
    }

    static func chain(_ operators: [String]) -> [UInt8] {
        var model = Message()
        model.int(1, 7)  // ir_version
        model.message(8) { $0.int(2, 11) }  // opset_import: the default domain, version 11
        model.message(7) { graph in
            for (index, op) in operators.enumerated() {
                graph.message(1) { node in
                    node.string(1, index == 0 ? "input" : "t\(index - 1)")
                    node.string(2, index == operators.count - 1 ? "output" : "t\(index)")
                    node.string(3, "node\(index)")
                    node.string(4, op)
                }
            }
            graph.string(2, "chain")
            graph.message(11) { valueInfo(&$0, name: "input", dimensions: [1, 3, 80, 80]) }
            graph.message(12) { valueInfo(&$0, name: "output", dimensions: [1, 3]) }
        }
        return model.encoded
    }

    /// A float tensor's name and shape (ValueInfoProto).
    static func valueInfo(_ info: inout Message, name: String, dimensions: [Int]) {
        info.string(1, name)
        info.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, 1)  // FLOAT
                tensor.message(2) { shape in
                    for dimension in dimensions { shape.message(1) { $0.int(1, dimension) } }
                }
            }
        }
    }
}
