import CFacegatePAD
import FacegateCore
import Synchronization

/// One ONNX texture model, run by OpenCV's dnn module on a crop of a frame.
/// OpenCV's network keeps scratch state, so the handle is used under its own lock.
public final class TextureClassifier: Sendable {
    private final class Handle: Sendable {
        let lock: Mutex<OpaquePointer>

        init(_ pointer: sending OpaquePointer) { lock = Mutex(pointer) }

        deinit { lock.withLock { fg_pad_net_free($0) } }
    }

    private let handle: Handle
    /// The side of the square input the network takes.
    public let inputSize: Int
    public let outputCount: Int

    public init(path: String, inputSize: Int = 80, outputCount: Int = 3) throws(LivenessError) {
        var error = fg_pad_error()
        guard let pointer = fg_pad_net_new(path, Int32(inputSize), &error) else {
            throw LivenessError(.modelInvalid, Self.message(error))
        }
        handle = Handle(pointer)
        self.inputSize = inputSize
        self.outputCount = outputCount
    }

    /// The network's outputs for the pixels `crop` (inclusive bounds, inside `image`) of an RGB image.
    public func classify(_ image: PixelImage, crop: CropRectangle) throws(LivenessError) -> [Float] {
        guard image.layout == .rgb24 else { throw LivenessError(.badInput, "the texture models take an RGB image") }
        guard crop.left >= 0, crop.top >= 0, crop.right < image.width, crop.bottom < image.height, crop.left <= crop.right,
            crop.top <= crop.bottom
        else { throw LivenessError(.badInput, "the face crop is not inside the frame") }
        var outputs = [Float](repeating: 0, count: outputCount)
        var error = fg_pad_error()
        let count = Int32(outputCount)
        let status = handle.lock.withLock { net in
            image.pixels.withUnsafeBufferPointer { pixels in
                fg_pad_net_classify(
                    net, pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(crop.left), Int32(crop.top),
                    Int32(crop.right), Int32(crop.bottom), &outputs, count, &error)
            }
        }
        guard status == 0 else { throw LivenessError(.inferenceFailed, Self.message(error)) }
        guard outputs.allSatisfy(\.isFinite) else { throw LivenessError(.inferenceFailed, "the texture model gave a non-finite output") }
        return outputs
    }

    private static func message(_ error: fg_pad_error) -> String {
        withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

/// A rectangle of whole pixels, bounds included.
public struct CropRectangle: Sendable, Hashable {
    public var left: Int
    public var top: Int
    public var right: Int
    public var bottom: Int

    public init(left: Int, top: Int, right: Int, bottom: Int) {
        self.left = left
        self.top = top
        self.right = right
        self.bottom = bottom
    }

    public var width: Int { right - left + 1 }
    public var height: Int { bottom - top + 1 }
}
