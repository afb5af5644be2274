import FacegateCore

/// Decides where the face detector looks in a frame the motion gate lets through, and at what scale.
///
/// The detector's cost grows with the pixels it scans and it finds faces of about 80 scanned pixels
/// and up. So a face already followed is searched for only around where its motion puts it, scaled so
/// that it spans about 100 pixels; the rest of the scene only where it moved, at a scale that finds
/// faces from the approach's minimum eye distance up (up to the frame's own resolution: a 1080p frame
/// is not shrunk to 640 pixels there, as the whole-frame pass shrinks it). The whole frame is still
/// scanned on the first frame, at the gate's periodic check, and at least once per
/// `wholeFrameInterval` while faces are followed, so a newcomer who stands still beside them is found.
/// A moved area too large to scan finely in one frame (a crowd, a camera that shook) is scanned a tile
/// per frame, in turn, only tiles where the scene moved; while faces are followed, not where their own
/// bodies move. Every third such tile is a coarser one, for faces too large for the fine tiles' overlap.
/// A pure state machine: frames' own timestamps are its clock.
public struct DetectionPlanner: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The whole-frame pass scales frames wider than this down to it (`QualityConfiguration.detectionWidth`).
        public var detectionWidth: Int
        /// Faces with a smaller inter-eye distance are of no interest (`ApproachConfiguration.minInterEyeDistance`).
        public var minInterEyeDistance: Double
        /// While faces are followed, the whole frame is scanned at least this often.
        public var wholeFrameInterval: Duration
        /// A followed face is searched for within this many of its widths around where it is expected.
        public var trackMargin = 0.6
        /// The width, in scanned pixels, a followed face is scaled to: over the detector's window, with
        /// room for the face to grow before the next frame.
        public var trackedFaceWidth = 100.0
        /// Moved parts of the scene are scanned with at most this many times the pixels of a whole-frame
        /// pass per frame; a larger moved area (a crowd moving everywhere) is scanned a tile per frame in
        /// turn (fine tiles, and one frame in three a coarse one), so that it costs no more and every
        /// part is looked at within a few tens of frames.
        public var motionBudget = 1.0
        /// Moved parts are scanned at most this much enlarged, whatever the minimum eye distance asks.
        public var maxMotionScale = 1.5

        public init(detectionWidth: Int = 640, minInterEyeDistance: Double = 20, wholeFrameInterval: Duration = .seconds(1)) {
            self.detectionWidth = detectionWidth
            self.minInterEyeDistance = minInterEyeDistance
            self.wholeFrameInterval = wholeFrameInterval
        }
    }

    /// A face's box is about this many inter-eye distances wide (dlib's HOG boxes on the shared photos).
    static let boxWidthPerEyeDistance = 2.6
    /// The detector's window: the smallest face box it finds, in scanned pixels.
    static let detectorWindow = 80.0
    /// One tiled frame in this many scans a coarse tile instead of a fine one. On the 1080p walkers'
    /// clip one in two gave 4 visits (the fine tiles came round too seldom for the small faces), one in
    /// four 5, one in three 6: as many as scanning every frame whole at 1.5×.
    static let coarseTileEvery = 3

    public let settings: Settings
    private var lastWholeFrame: Duration?
    /// The next fine and coarse tile of a moved area too large for one frame's budget (row-major over
    /// the frame), and how many plans have tiled one.
    private var tileCursor = 0
    private var coarseTileCursor = 0
    private var tiledPlans = 0

    public init(settings: Settings) {
        self.settings = settings
    }

    /// The plan for a frame of `width`×`height` at `time`: `followed` are the boxes where the faces
    /// already followed are expected; `motion` is what the motion gate saw move in it (nil when it
    /// could not tell, as on a first frame); `minMovingCells` how many moved cells make motion.
    public mutating func plan(
        width: Int, height: Int, at time: Duration, followed: [PixelBox], motion: MotionGate.MotionMap?, minMovingCells: Int
    ) -> DetectionPlan {
        let frame = PixelBox(left: 0, top: 0, right: Double(width), bottom: Double(height))
        let wholeScale = width > settings.detectionWidth ? Double(settings.detectionWidth) / Double(width) : 1
        let dueForWholeFrame = lastWholeFrame.map { time - $0 >= settings.wholeFrameInterval || time < $0 } ?? true
        if motion == nil || dueForWholeFrame {
            lastWholeFrame = time
            if followed.isEmpty { return .wholeFrame }
            return .regions([DetectionRegion(area: frame, scale: wholeScale)] + followed.map { region(around: $0, in: frame) })
        }
        var regions = followed.map { region(around: $0, in: frame) }
        // A followed person's own head and body (from a face height above their face down, a face width
        // either side) move with their face: not where a newcomer is looked for; the whole-frame pass
        // still covers it.
        let bodies = followed.map { face in
            PixelBox(
                left: face.left - face.width, top: face.top - face.height, right: face.right + face.width,
                bottom: max(face.bottom, Double(height)))
        }
        let excluded = regions.map(\.area) + bodies
        if let motion, let moved = motion.movedArea(excluding: excluded, minCells: minMovingCells) {
            regions.append(
                movedRegion(
                    moved.clamped(width: width, height: height), frame: frame, wholeScale: wholeScale,
                    movedCells: { motion.movedCells(in: $0, excluding: excluded) >= minMovingCells }))
        }
        if regions.isEmpty {
            lastWholeFrame = time
            return .wholeFrame
        }
        return .regions(regions)
    }

    /// The moved area at the scale that finds a face at the minimum eye distance; when that is more than
    /// one frame's budget, the next tile of the frame where the scene moved (`movedCells`: whether a
    /// tile holds enough moved cells; the moved area's bounds alone would send tiles where nothing
    /// moved between two people far apart, and a passer-by could cross between two visits of theirs).
    private mutating func movedRegion(
        _ area: PixelBox, frame: PixelBox, wholeScale: Double, movedCells: (PixelBox) -> Bool
    ) -> DetectionRegion {
        let smallestFace = max(1, settings.minInterEyeDistance * Self.boxWidthPerEyeDistance)
        let scale = max(wholeScale, min(settings.maxMotionScale, Self.detectorWindow / smallestFace))
        let budget = settings.motionBudget * frame.area * wholeScale * wholeScale
        guard area.area * scale * scale > budget else { return DetectionRegion(area: area, scale: scale) }
        // Fine tiles overlap by a small face and a half: a larger face, one the whole-frame pass still
        // misses, can be cut by every one of them. So one tiled frame in three scans a coarser tiling,
        // at the scale halfway (geometrically) between the fine one and the whole frame's.
        tiledPlans += 1
        let coarseScale = (scale * wholeScale).squareRoot()
        let wanted = { (tile: PixelBox) in (tile.intersection(area)?.area ?? 0) > 0 && movedCells(tile) }
        if tiledPlans % Self.coarseTileEvery == 0, coarseScale > wholeScale * 1.2,
            let tile = nextTile(
                of: frame, scale: coarseScale, smallestFace: Self.detectorWindow / coarseScale, budget: budget,
                cursor: &coarseTileCursor, where: wanted)
        {
            return tile
        }
        if let tile = nextTile(of: frame, scale: scale, smallestFace: smallestFace, budget: budget, cursor: &tileCursor, where: wanted) {
            return tile
        }
        return DetectionRegion(area: area, scale: (budget / max(area.area, 1)).squareRoot())
    }

    /// The next tile, from `cursor` on, of square tiles of `budget` scanned pixels at `scale` laid over
    /// `frame`, overlapping by a face and a half of `smallestFace` (so that no such face is only ever
    /// cut by a tile's edge), that `wanted` accepts.
    private func nextTile(
        of frame: PixelBox, scale: Double, smallestFace: Double, budget: Double, cursor: inout Int, where wanted: (PixelBox) -> Bool
    ) -> DetectionRegion? {
        let side = max(2 * smallestFace, budget.squareRoot() / scale)
        let step = max(side / 2, side - 1.5 * smallestFace)
        let columns = max(1, Int(((frame.width - side) / step).rounded(.up)) + 1)
        let rows = max(1, Int(((frame.height - side) / step).rounded(.up)) + 1)
        // Spread evenly, the last tile at the frame's edge: the spare room widens every overlap
        // (rather than the last two tiles nearly repeating each other).
        let columnStep = columns > 1 ? max(0, frame.width - side) / Double(columns - 1) : 0
        let rowStep = rows > 1 ? max(0, frame.height - side) / Double(rows - 1) : 0
        let count = columns * rows
        for offset in 0..<count {
            let index = (cursor + offset) % count
            let left = Double(index % columns) * columnStep
            let top = Double(index / columns) * rowStep
            let tile = PixelBox(left: left, top: top, right: left + side, bottom: top + side).clamped(
                width: Int(frame.width), height: Int(frame.height))
            guard wanted(tile) else { continue }
            cursor = index + 1
            return DetectionRegion(area: tile, scale: scale)
        }
        return nil
    }

    /// Where to look for a followed face expected at `box`, at the scale that suits its size.
    private func region(around box: PixelBox, in frame: PixelBox) -> DetectionRegion {
        let margin = box.width * settings.trackMargin
        let area = PixelBox(left: box.left - margin, top: box.top - margin, right: box.right + margin, bottom: box.bottom + margin)
        let scale = min(2, max(0.05, settings.trackedFaceWidth / max(box.width, 1)))
        return DetectionRegion(area: area.clamped(width: Int(frame.right), height: Int(frame.bottom)), scale: scale)
    }
}
