import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation

/// The bundled, redistributable portraits the demo makes its visitors from (see demo/media/SOURCES.md).
struct DemoMedia {
    /// Searched in order when no folder is named.
    static let searchPath = ["demo/media", "/usr/local/share/facegate/demo", "/usr/share/facegate/demo"]

    let directory: String

    static func locate(_ named: String?) throws -> DemoMedia {
        let candidates =
            named.map { [$0] }
            ?? ((ProcessInfo.processInfo.environment["FACEGATE_DEMO_MEDIA"].map { [$0] } ?? []) + searchPath)
        for folder in candidates where FileManager.default.fileExists(atPath: folder + "/obama.jpg") {
            return DemoMedia(directory: folder)
        }
        throw CommandError("no demo media (obama.jpg) in \(candidates.joined(separator: ", ")); pass --media DIR")
    }

    func image(_ name: String) throws -> PixelImage {
        try ImageCodec.decode(try readImageFile(directory + "/" + name))
    }

    func bytes(_ name: String) throws -> [UInt8] { try readImageFile(directory + "/" + name) }
}

/// People walking up to the door one after another, synthesized from portraits,
/// with empty frames between them (long enough for the selector to see them leave).
struct DemoScene: FrameSource {
    struct Visitor: Sendable {
        var name: String
        var portrait: PixelImage
    }

    let visitors: [Visitor]
    let approach: SyntheticApproach
    /// Frames of a person standing at the door after arriving, and of the empty scene after them.
    let lingerFrames: Int
    let emptyFrames: Int
    let frameInterval: Duration
    /// Whether to deliver frames at the camera's pace rather than as fast as they are made.
    let realTime: Bool

    /// Which visitor is in view at each frame (nil for an empty scene).
    func visitor(atFrame sequence: UInt64) -> String? {
        let perVisitor = UInt64(approach.frameCount + lingerFrames + emptyFrames)
        let index = Int(sequence / perVisitor)
        guard index < visitors.count else { return nil }
        return sequence % perVisitor < UInt64(approach.frameCount + lingerFrames) ? visitors[index].name : nil
    }

    var blank: PixelImage {
        try! PixelImage(
            width: approach.canvasWidth, height: approach.canvasHeight, layout: .rgb24,
            pixels: [UInt8](repeating: approach.background, count: approach.canvasWidth * approach.canvasHeight * 3))
    }

    func frames() -> AsyncThrowingStream<Frame, any Error> {
        let scene = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var sequence: UInt64 = 0
                    let clock = ContinuousClock()
                    let start = clock.now
                    for visitor in scene.visitors {
                        var images: [PixelImage] = []
                        for n in 0..<scene.approach.frameCount { images.append(try scene.approach.frame(n, of: visitor.portrait)) }
                        images += Array(repeating: images[images.count - 1], count: scene.lingerFrames)
                        images += Array(repeating: scene.blank, count: scene.emptyFrames)
                        for image in images {
                            try Task.checkCancellation()
                            let timestamp = scene.frameInterval * Int(sequence)
                            if scene.realTime { try await clock.sleep(until: start + timestamp) }
                            continuation.yield(Frame(sequence: sequence, timestamp: timestamp, image: image))
                            sequence += 1
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
