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
        var candidates: [String] = []
        if let named {
            candidates = [named]
        } else {
            if let fromEnvironment = ProcessInfo.processInfo.environment["FACEGATE_DEMO_MEDIA"] {
                candidates.append(fromEnvironment)
            }
            candidates += searchPath
        }
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
    /// Awaited before each visitor after the first walks up (given that visitor's index): the demo
    /// changes the world there, for instance stops the cloud.
    public let beforeVisitor: @Sendable (Int) async -> Void

    public init(
        visitors: [Visitor], approach: SyntheticApproach = SyntheticApproach(frameCount: 30), lingerFrames: Int = 30,
        emptyFrames: Int = 25, frameInterval: Duration = .milliseconds(100), realTime: Bool = false,
        beforeVisitor: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.beforeVisitor = beforeVisitor
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

    /// Frames are made as they are asked for, so a consumer slower than the scene holds it back
    /// (nothing piles up in memory); with `realTime` they are also held to the frame interval.
    public func frames() -> AsyncThrowingStream<Frame, any Error> {
        let cursor = SceneCursor(scene: self)
        return AsyncThrowingStream(unfolding: { try await cursor.next() })
    }
}

/// Where a running scene is: which visitor, which of their frames.
private actor SceneCursor {
    let scene: DemoScene
    private var visitorIndex = 0
    private var frames: [PixelImage] = []
    private var frameIndex = 0
    private var sequence: UInt64 = 0
    private let clock = ContinuousClock()
    private var start: ContinuousClock.Instant?

    init(scene: DemoScene) {
        self.scene = scene
    }

    func next() async throws -> Frame? {
        try Task.checkCancellation()
        let start = self.start ?? clock.now
        self.start = start
        while frameIndex >= frames.count {
            guard visitorIndex < scene.visitors.count else { return nil }
            if visitorIndex > 0 {
                let paused = clock.now
                await scene.beforeVisitor(visitorIndex)
                // The pause is not the scene's time: real-time pacing carries on from here.
                self.start = (self.start ?? paused) + (clock.now - paused)
            }
            let portrait = scene.visitors[visitorIndex].portrait
            var images: [PixelImage] = []
            for n in 0..<scene.approach.frameCount { images.append(try scene.approach.frame(n, of: portrait)) }
            images += Array(repeating: images[images.count - 1], count: scene.lingerFrames)
            images += Array(repeating: scene.blank, count: scene.emptyFrames)
            frames = images
            frameIndex = 0
            visitorIndex += 1
        }
        let timestamp = scene.frameInterval * Int(sequence)
        if scene.realTime, let start = self.start { try await clock.sleep(until: start + timestamp) }
        let frame = Frame(sequence: sequence, timestamp: timestamp, image: frames[frameIndex])
        frameIndex += 1
        sequence += 1
        return frame
    }
}

public struct DemoError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
