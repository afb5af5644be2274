import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation

/// The bundled, redistributable portraits the demo makes its visitors from (see demo/media/SOURCES.md).
public struct DemoMedia: Sendable {
    /// Searched in order when no folder is named.
    public static let searchPath = ["demo/media", "/usr/local/share/facegate/demo", "/usr/share/facegate/demo"]

    public let directory: String

    public static func locate(_ named: String?) throws -> DemoMedia {
        let candidates =
            named.map { [$0] }
            ?? ((ProcessInfo.processInfo.environment["FACEGATE_DEMO_MEDIA"].map { [$0] } ?? []) + searchPath)
        for folder in candidates where FileManager.default.fileExists(atPath: folder + "/obama.jpg") {
            return DemoMedia(directory: folder)
        }
        throw DemoError("no demo media (obama.jpg) in \(candidates.joined(separator: ", ")); pass --media DIR")
    }

    public func bytes(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            throw DemoError("cannot read \(directory)/\(name)")
        }
        return [UInt8](data)
    }

    public func image(_ name: String) throws -> PixelImage { try ImageCodec.decode(try bytes(name)) }
}

/// People walking up to the door one after another, synthesized from portraits,
/// with empty frames between them (long enough for the selector to see them leave).
public struct DemoScene: FrameSource {
    public struct Visitor: Sendable {
        public var name: String
        public var portrait: PixelImage

        public init(name: String, portrait: PixelImage) {
            self.name = name
            self.portrait = portrait
        }
    }

    public let visitors: [Visitor]
    public let approach: SyntheticApproach
    /// Frames of a person standing at the door after arriving, and of the empty scene after them.
    public let lingerFrames: Int
    public let emptyFrames: Int
    public let frameInterval: Duration
    /// Whether to deliver frames at the camera's pace rather than as fast as they are made.
    public let realTime: Bool

    public init(
        visitors: [Visitor], approach: SyntheticApproach = SyntheticApproach(frameCount: 30), lingerFrames: Int = 30,
        emptyFrames: Int = 25, frameInterval: Duration = .milliseconds(100), realTime: Bool = false
    ) {
        self.visitors = visitors
        self.approach = approach
        self.lingerFrames = lingerFrames
        self.emptyFrames = emptyFrames
        self.frameInterval = frameInterval
        self.realTime = realTime
    }

    /// Which visitor is in view at each frame (nil for an empty scene).
    public func visitor(atFrame sequence: UInt64) -> String? {
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

    public func frames() -> AsyncThrowingStream<Frame, any Error> {
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

public struct DemoError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
