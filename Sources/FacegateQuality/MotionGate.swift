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
    /// After a whole-frame scan found nobody, the periodic check is skipped while the frames still look
    /// like that empty scene (the detector would find nobody in them again), but not for longer than
    /// this: the backstop for a person whose arrival changed nothing the thumbnail sees. At or under
    /// `fullDetectionInterval`, every periodic check runs.
    public var unchangedSceneInterval: Duration

    public init(
        enabled: Bool = true, fullDetectionInterval: Duration = .seconds(1), cellThreshold: Double = 8, minMovingShare: Double = 0.002,
        unchangedSceneInterval: Duration = .seconds(5)
    ) {
        self.enabled = enabled
        self.fullDetectionInterval = fullDetectionInterval
        self.cellThreshold = cellThreshold
        self.minMovingShare = minMovingShare
        self.unchangedSceneInterval = unchangedSceneInterval
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
/// averages many pixels, so sensor noise does not reach the threshold. The periodic whole-frame look,
/// for a person who came without visible motion, is the one cost left with nobody there; so when the
/// caller reports that a whole-frame scan found nobody (``noteWholeFrameScan(at:thumbnail:foundFaces:)``),
/// that frame becomes the empty scene, and the periodic look is skipped while frames do not differ from
/// it (with the same measure as motion, but against that fixed picture, so a slow change adds up),
/// at most for `unchangedSceneInterval`. A pure state machine: frames' own timestamps are its clock.
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

    /// Which thumbnail cells moved in a frame: where the detector should look.
    public struct MotionMap: Sendable, Equatable {
        public let columns: Int
        public let rows: Int
        /// A cell's side, in the frame's pixels.
        public let cellSide: Double
        public let moved: [Bool]

        public var movedCells: Int { moved.count { $0 } }

        public init(columns: Int, rows: Int, cellSide: Double, moved: [Bool]) {
            precondition(moved.count == columns * rows, "a motion map has a flag per cell")
            self.columns = columns
            self.rows = rows
            self.cellSide = cellSide
            self.moved = moved
        }

        /// Whether the point (x, y) lies in one of `boxes`.
        private static func lies(_ x: Double, _ y: Double, inAnyOf boxes: [PixelBox]) -> Bool {
            boxes.contains { x >= $0.left && x <= $0.right && y >= $0.top && y <= $0.bottom }
        }

        /// How many cells moved whose centres lie in `box` and outside every box of `excluded`.
        public func movedCells(in box: PixelBox, excluding excluded: [PixelBox]) -> Int {
            let firstColumn = max(0, Int((box.left / cellSide).rounded(.down)))
            let lastColumn = min(columns - 1, Int((box.right / cellSide).rounded(.up)))
            let firstRow = max(0, Int((box.top / cellSide).rounded(.down)))
            let lastRow = min(rows - 1, Int((box.bottom / cellSide).rounded(.up)))
            guard firstColumn <= lastColumn, firstRow <= lastRow else { return 0 }
            var count = 0
            for row in firstRow...lastRow {
                let y = (Double(row) + 0.5) * cellSide
                guard y >= box.top, y <= box.bottom else { continue }
                for column in firstColumn...lastColumn where moved[row * columns + column] {
                    let x = (Double(column) + 0.5) * cellSide
                    guard x >= box.left, x <= box.right else { continue }
                    if Self.lies(x, y, inAnyOf: excluded) { continue }
                    count += 1
                }
            }
            return count
        }

        /// The bounding box, in pixels, of the moved cells outside every box of `excluded` (the faces
        /// already followed, searched on their own), grown by a cell; nil when fewer than `minCells` are left.
        public func movedArea(excluding excluded: [PixelBox], minCells: Int) -> PixelBox? {
            var count = 0
            var minColumn = Int.max, maxColumn = Int.min, minRow = Int.max, maxRow = Int.min
            for row in 0..<rows {
                for column in 0..<columns where moved[row * columns + column] {
                    let x = (Double(column) + 0.5) * cellSide, y = (Double(row) + 0.5) * cellSide
                    if Self.lies(x, y, inAnyOf: excluded) { continue }
                    count += 1
                    minColumn = min(minColumn, column)
                    maxColumn = max(maxColumn, column)
                    minRow = min(minRow, row)
                    maxRow = max(maxRow, row)
                }
            }
            guard count >= max(1, minCells) else { return nil }
            return PixelBox(
                left: Double(minColumn - 1) * cellSide, top: Double(minRow - 1) * cellSide,
                right: Double(maxColumn + 2) * cellSide, bottom: Double(maxRow + 2) * cellSide)
        }
    }

    public let configuration: MotionGateConfiguration
    private var scene: Thumbnail?
    private var lastAnalysis: Duration?
    /// The last frame a whole-frame scan found nobody in, and when: the periodic look waits while frames
    /// look like it. Nil once a scan found a face (or before any scan was reported).
    private var emptyScene: (thumbnail: Thumbnail, time: Duration)?
    /// The cells that moved in the last frame judged; nil for a first frame (all of it is new).
    public private(set) var motion: MotionMap?
    /// Moved cells a frame needs for it to count as motion.
    public var minMovingCells: Int { max(1, Int((configuration.minMovingShare * Double(scene?.cells.count ?? 1)).rounded(.up))) }

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
                verdict = looksEmptyAsLastScanned(thumbnail, at: frame.timestamp) ? .skip : .analyze(.periodic)
            } else {
                verdict = .skip
            }
        } else {
            verdict = .analyze(.firstFrame)
        }
        if verdict != .skip { lastAnalysis = frame.timestamp }
        return verdict
    }

    /// Tells the gate what a whole-frame scan of the frame at `time` (its thumbnail `thumbnail`) found.
    /// Scans of regions only say nothing about the rest of the frame and are not reported.
    public mutating func noteWholeFrameScan(at time: Duration, thumbnail: Thumbnail, foundFaces: Bool) {
        emptyScene = foundFaces ? nil : (thumbnail, time)
    }

    /// Whether a periodic look at the frame at `time` can be skipped: a scan found nobody in a frame
    /// that this one does not differ from, less than `unchangedSceneInterval` ago.
    private func looksEmptyAsLastScanned(_ thumbnail: Thumbnail, at time: Duration) -> Bool {
        guard let emptyScene, time >= emptyScene.time, time - emptyScene.time < configuration.unchangedSceneInterval else { return false }
        let reference = emptyScene.thumbnail
        guard reference.width == thumbnail.width, reference.height == thumbnail.height else { return false }
        return Self.movedCells(thumbnail.cells, against: reference.cells, threshold: Float(configuration.cellThreshold)).count < minMovingCells
    }

    /// Which cells of `frame` differ from `scene` by more than `threshold`, once the frame's overall
    /// brightness change is taken out (flicker, exposure, a light ramp), and how many.
    private static func movedCells(_ frame: [Float], against scene: [Float], threshold: Float) -> (moved: [Bool], count: Int) {
        let count = frame.count
        var frameSum: Float = 0, sceneSum: Float = 0
        for index in 0..<count {
            frameSum += frame[index]
            sceneSum += scene[index]
        }
        let brightnessShift = (frameSum - sceneSum) / Float(max(1, count))
        var moved = [Bool](repeating: false, count: count)
        var moving = 0
        for index in 0..<count where abs(frame[index] - scene[index] - brightnessShift) > threshold {
            moved[index] = true
            moving += 1
        }
        return (moved, moving)
    }

    /// Compares the thumbnail with the scene, then lets the scene follow it. True when enough cells moved.
    private mutating func observe(_ thumbnail: Thumbnail) -> Bool {
        guard var scene, scene.width == thumbnail.width, scene.height == thumbnail.height else {
            // The first frame, or the camera's size changed: this frame is the scene.
            self.scene = thumbnail
            motion = nil
            return true
        }
        let (moved, moving) = Self.movedCells(thumbnail.cells, against: scene.cells, threshold: Float(configuration.cellThreshold))
        var cells = scene.cells
        for index in cells.indices {
            cells[index] += Self.sceneFollowing * (thumbnail.cells[index] - cells[index])
        }
        motion = MotionMap(
            columns: thumbnail.columns, rows: thumbnail.rows, cellSide: Double(Self.cellSide(width: thumbnail.width)), moved: moved)
        scene = Thumbnail(width: scene.width, height: scene.height, columns: scene.columns, rows: scene.rows, cells: cells)
        self.scene = scene
        return moving >= minMovingCells
    }

    static func cellSide(width: Int) -> Int { max(4, (width + 63) / 64) }

    /// The frame's grey thumbnail: cells of at least 4x4 pixels, at most 64 across, each the mean
    /// luminance of about 4x4 pixels spread over it (every third or so of a 10-pixel cell), so that a
    /// thumbnail costs about the same whatever the frame's size.
    public static func thumbnail(of image: PixelImage) -> Thumbnail {
        let cellSide = Self.cellSide(width: image.width)
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
