import CFacegateDlib
import FacegateCore
import Synchronization

/// dlib's detector, landmark model and descriptor network, behind the C shim.
///
/// dlib's objects keep scratch state, so each handle is used under its own lock.
/// The descriptor network has a separate handle so that computing a descriptor
/// (about 16 ms) never holds up detection on the frame path.
public final class FaceEngine: Sendable {
    private final class Handle: Sendable {
        let lock: Mutex<OpaquePointer>

        init(_ pointer: sending OpaquePointer) { lock = Mutex(pointer) }

        deinit { lock.withLock { fg_face_engine_free($0) } }
    }

    private let detection: Handle
    private let recognition: Handle?

    /// Loads the models; pass `withDescriptor: false` where descriptors are never needed.
    public init(models: FaceModels, withDescriptor: Bool = true) throws(FaceEngineError) {
        detection = Handle(try Self.load(landmarks: models.landmarksPath, descriptor: nil))
        recognition = withDescriptor
            ? Handle(try Self.load(landmarks: models.landmarksPath, descriptor: models.descriptorPath)) : nil
    }

    private static func load(landmarks: String, descriptor: String?) throws(FaceEngineError) -> OpaquePointer {
        var error = fg_error()
        let engine: OpaquePointer? =
            if let descriptor {
                fg_face_engine_new(landmarks, descriptor, &error)
            } else {
                fg_face_engine_new(landmarks, nil, &error)
            }
        guard let engine else {
            throw FaceEngineError(.modelInvalid, "cannot load face models: \(error.text)")
        }
        return engine
    }

    public var hasDescriptor: Bool { recognition != nil }

    /// Faces scoring at least `minScore` on a gray image, best first.
    public func detect(in gray: PixelImage, minScore: Double, maxFaces: Int = 32) throws(FaceEngineError)
        -> [(box: PixelBox, score: Double)]
    {
        precondition(gray.layout == .gray8)
        var found = [fg_detection](repeating: fg_detection(), count: maxFaces)
        var error = fg_error()
        let count = detection.lock.withLock { engine in
            gray.pixels.withUnsafeBufferPointer {
                fg_detect_faces(
                    engine, $0.baseAddress, Int32(gray.width), Int32(gray.height), minScore, &found, Int32(maxFaces),
                    &error)
            }
        }
        guard count >= 0 else { throw FaceEngineError(.engineFailed, "face detection failed: \(error.text)") }
        return found.prefix(Int(count)).map {
            (PixelBox(left: $0.left, top: $0.top, right: $0.right, bottom: $0.bottom), $0.score)
        }
    }

    /// The five landmarks of the face in `box`.
    public func landmarks(in gray: PixelImage, box: PixelBox) throws(FaceEngineError) -> FaceLandmarks {
        precondition(gray.layout == .gray8)
        var points = [fg_point](repeating: fg_point(), count: Int(FG_LANDMARK_COUNT))
        var error = fg_error()
        let result = detection.lock.withLock { engine in
            gray.pixels.withUnsafeBufferPointer {
                fg_face_landmarks(
                    engine, $0.baseAddress, Int32(gray.width), Int32(gray.height), box.detection, &points, &error)
            }
        }
        guard result == 0 else { throw FaceEngineError(.engineFailed, "landmarks failed: \(error.text)") }
        let p = points.map { PixelPoint(x: $0.x, y: $0.y) }
        return FaceLandmarks(rightEyeOuter: p[2], rightEyeInner: p[3], leftEyeOuter: p[0], leftEyeInner: p[1], noseBase: p[4])
    }

    /// The 128-D descriptor of a face, aligned from its landmarks on the RGB image.
    public func descriptor(in rgb: PixelImage, box: PixelBox, landmarks: FaceLandmarks) throws(FaceEngineError)
        -> FaceDescriptor
    {
        precondition(rgb.layout == .rgb24)
        guard let recognition else {
            throw FaceEngineError(.noDescriptorModel, "the engine was loaded without the descriptor model")
        }
        // Back in dlib's order.
        let points = [
            landmarks.leftEyeOuter, landmarks.leftEyeInner, landmarks.rightEyeOuter, landmarks.rightEyeInner,
            landmarks.noseBase,
        ].map { fg_point(x: $0.x, y: $0.y) }
        var values = [Float](repeating: 0, count: FaceDescriptor.dimension)
        var error = fg_error()
        let result = recognition.lock.withLock { engine in
            rgb.pixels.withUnsafeBufferPointer {
                fg_face_descriptor(
                    engine, $0.baseAddress, Int32(rgb.width), Int32(rgb.height), box.detection, points, &values, &error)
            }
        }
        guard result == 0 else { throw FaceEngineError(.engineFailed, "descriptor failed: \(error.text)") }
        do {
            return try FaceDescriptor(values)
        } catch {
            throw FaceEngineError(.engineFailed, "descriptor failed: \(error.message)")
        }
    }
}

extension PixelImage {
    /// The image scaled to the given size, bilinear.
    public func resized(width newWidth: Int, height newHeight: Int) throws(ImageError) -> PixelImage {
        if newWidth == width, newHeight == height { return self }
        let channels = layout.bytesPerPixel
        let count = newWidth * newHeight * channels
        var error = fg_error()
        var failed = false
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let result = pixels.withUnsafeBufferPointer {
                fg_resize_image(
                    $0.baseAddress, Int32(width), Int32(height), Int32(channels), buffer.baseAddress,
                    Int32(newWidth), Int32(newHeight), &error)
            }
            if result != 0 {
                failed = true
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        if failed { throw ImageError(.invalidDimensions, "resize failed: \(error.text)") }
        return try PixelImage(width: newWidth, height: newHeight, layout: layout, pixels: out)
    }
}

extension fg_error {
    var text: String {
        withUnsafeBytes(of: message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension PixelBox {
    fileprivate var detection: fg_detection {
        fg_detection(left: left, top: top, right: right, bottom: bottom, score: 0)
    }
}
