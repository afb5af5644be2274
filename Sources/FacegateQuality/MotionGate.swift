import FacegateCore

/// Settings of the motion gate.
public struct MotionGateConfiguration: Sendable, Equatable {
    /// Off: every frame is analysed (the detector runs on each).
    public var enabled: Bool
    /// With nothing moving and nobody followed, the detector still runs this often, so that a face
    /// that came into view without the gate seeing it move (a perfectly still person) is found.
    public var fullDetectionInterval: Duration
    /// Grey levels (0...255) by which a thumbnail cell must differ from the scene, once the frame's
    /// overall brightness change is taken out, to count as moved. A cell averages many pixels, so
    /// sensor noise stays far below it.
    public var cellThreshold: Double
    /// The share of thumbnail cells that must move for the frame to be analysed.
    public var minMovingShare: Double

    public init(enabled: Bool = true, fullDetectionInterval: Duration = .seconds(1), cellThreshold: Double = 8, minMovingShare: Double = 0.002) {
        self.enabled = enabled
        self.fullDetectionInterval = fullDetectionInterval
        self.cellThreshold = cellThreshold
        self.minMovingShare = minMovingShare
    }

    /// Every frame analysed.
    public static let off = MotionGateConfiguration(enabled: false)
}

/// Decides which frames are worth the face detector: with nothing moving and nobody being followed, a
/// frame costs only its thumbnail.
///
/// Each frame is reduced to a small grey thumbnail (cells of at least 4x4 pixels, 64 across at most)
/// and compared with a running average of the scene. Taking out the frame's mean change first makes
/// flicker and exposure steps count as no motion; the average follows slow light changes; a cell
/// averages many pixels, so sensor noise does not reach the threshold. A pure state machine: frames'
/// own timestamps are its clock.
public struct MotionGate: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Run the detector on this frame, and why.
        case analyze(Reason)
        /// Nothing to look for: the frame is not analysed.
        case skip
    }

    public enum Reason: String, Sendable, Equatable {
        case firstFrame, motion, following, periodic, gateOff
    }

    /// A frame reduced to grey cell averages.
    public struct Thumbnail: Sendable, Equatable {
        /// The frame's size, in pixels.
        public let width: Int
        public let height: Int
        public let columns: Int
        public let rows: Int
        public let cells: [Float]
    }

    public let configuration: MotionGateConfiguration
    private var scene: Thumbnail?
    private var lastAnalysis: Duration?

    /// How fast the scene's average follows the frames (a share of each new frame).
    private static let sceneFollowing: Float = 0.1

    public init(configuration: MotionGateConfiguration = MotionGateConfiguration()) {
        self.configuration = configuration
    }

    /// Whether `frame` should be analysed; `following` says whether a face is being followed (then
    /// every frame is, so that its track and best face are kept). `thumbnail` is the frame's
    /// (``thumbnail(of:)``), computed by the caller where the work may block.
    public mutating func judge(_ frame: Frame, thumbnail: Thumbnail, following: Bool) -> Verdict {
        guard configuration.enabled else { return .analyze(.gateOff) }
        let moved = observe(thumbnail)
        let verdict: Verdict
        if let lastAnalysis {
            if following {
                verdict = .analyze(.following)
            } else if moved {
                verdict = .analyze(.motion)
            } else if frame.timestamp - lastAnalysis >= configuration.fullDetectionInterval || frame.timestamp < lastAnalysis {
                // (A source whose clock went back, a replay looping, is looked at afresh.)
                verdict = .analyze(.periodic)
            } else {
                verdict = .skip
            }
        } else {
            verdict = .analyze(.firstFrame)
        }
        if verdict != .skip { lastAnalysis = frame.timestamp }
        return verdict
    }

    /// Compares the thumbnail with the scene, then lets the scene follow it. True when enough cells moved.
    private mutating func observe(_ thumbnail: Thumbnail) -> Bool {
        guard var scene, scene.width == thumbnail.width, scene.height == thumbnail.height else {
            // The first frame, or the camera's size changed: this frame is the scene.
            self.scene = thumbnail
            return true
        }
        let count = thumbnail.cells.count
        var frameSum: Float = 0, sceneSum: Float = 0
        for index in 0..<count {
            frameSum += thumbnail.cells[index]
            sceneSum += scene.cells[index]
        }
        let brightnessShift = (frameSum - sceneSum) / Float(count)
        let threshold = Float(configuration.cellThreshold)
        var moving = 0
        var cells = scene.cells
        for index in 0..<count {
            let change = thumbnail.cells[index] - cells[index] - brightnessShift
            if abs(change) > threshold { moving += 1 }
            cells[index] += Self.sceneFollowing * (thumbnail.cells[index] - cells[index])
        }
        scene = Thumbnail(width: scene.width, height: scene.height, columns: scene.columns, rows: scene.rows, cells: cells)
        self.scene = scene
        let needed = max(1, Int((configuration.minMovingShare * Double(count)).rounded(.up)))
        return moving >= needed
    }

    /// The frame's grey thumbnail: cells of at least 4x4 pixels, at most 64 across, each the mean
    /// luminance of about 4x4 pixels spread over it (every third or so of a 10-pixel cell), so that a
    /// thumbnail costs about the same whatever the frame's size.
    public static func thumbnail(of image: PixelImage) -> Thumbnail {
        let cellSide = max(4, (image.width + 63) / 64)
        let columns = max(1, image.width / cellSide), rows = max(1, image.height / cellSide)
        var sums = [UInt32](repeating: 0, count: columns * rows)
        var counts = [UInt32](repeating: 0, count: columns * rows)
        let bytesPerPixel = image.layout.bytesPerPixel, bytesPerRow = image.bytesPerRow
        let step = max(1, cellSide / 3)
        // A frame smaller than one cell is one cell.
        let coveredWidth = min(columns * cellSide, image.width), coveredHeight = min(rows * cellSide, image.height)
        image.pixels.withUnsafeBufferPointer { pixels in
            var y = 0
            while y < coveredHeight {
                let rowStart = y * bytesPerRow, cellRow = (y / cellSide) * columns
                var x = 0
                while x < coveredWidth {
                    let at = rowStart + x * bytesPerPixel
                    let luma: UInt32
                    if bytesPerPixel == 3 {
                        luma = (77 * UInt32(pixels[at]) + 150 * UInt32(pixels[at + 1]) + 29 * UInt32(pixels[at + 2])) >> 8
                    } else {
                        luma = UInt32(pixels[at])
                    }
                    let cell = cellRow + x / cellSide
                    sums[cell] += luma
                    counts[cell] += 1
                    x += step
                }
                y += step
            }
        }
        let cells = (0..<sums.count).map { Float(sums[$0]) / Float(max(1, counts[$0])) }
        return Thumbnail(width: image.width, height: image.height, columns: columns, rows: rows, cells: cells)
    }
}
