import FacegateCore
import FacegateImageCodec
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// Where the detector looks (issue 12): the planner as a pure state machine, then dlib scanning the
/// regions it plans on a real face.
@Suite(.timeLimit(.minutes(2)))
struct DetectionPlannerTests {
    /// A motion map of a `width`×`height` frame with the cells under `moved` (pixels) marked.
    static func motion(width: Int, height: Int, moved: [PixelBox] = []) -> MotionGate.MotionMap {
        let side = max(4, (width + 63) / 64)
        let columns = width / side, rows = height / side
        var cells = [Bool](repeating: false, count: columns * rows)
        for row in 0..<rows {
            for column in 0..<columns {
                let x = (Double(column) + 0.5) * Double(side), y = (Double(row) + 0.5) * Double(side)
                cells[row * columns + column] = moved.contains { x >= $0.left && x <= $0.right && y >= $0.top && y <= $0.bottom }
            }
        }
        return MotionGate.MotionMap(columns: columns, rows: rows, cellSide: Double(side), moved: cells)
    }

    static func regions(_ plan: DetectionPlan) -> [DetectionRegion] {
        if case .regions(let regions) = plan { return regions }
        return []
    }

    @Test func theFirstFrameAndNothingFollowedScanTheWholeFrame() {
        var planner = DetectionPlanner(settings: .init())
        #expect(planner.plan(width: 640, height: 480, at: .zero, followed: [], motion: nil, minMovingCells: 2) == .wholeFrame)
    }

    @Test func aFollowedFaceIsSearchedAroundWhereItIsExpectedAtItsOwnScale() {
        var planner = DetectionPlanner(settings: .init())
        _ = planner.plan(width: 640, height: 480, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let face = PixelBox(left: 200, top: 100, right: 400, bottom: 300)
        let plan = planner.plan(
            width: 640, height: 480, at: .milliseconds(100), followed: [face], motion: Self.motion(width: 640, height: 480, moved: [face]),
            minMovingCells: 2)
        // 0.6 of its width around it, scaled so that the 200-px face spans 100 px; its own motion adds nothing.
        #expect(plan == .regions([DetectionRegion(area: PixelBox(left: 80, top: 0, right: 520, bottom: 420), scale: 0.5)]))
    }

    @Test func aFollowedPersonsOwnBodyIsNotScannedAndANewcomerElsewhereIs() {
        var planner = DetectionPlanner(settings: .init())
        _ = planner.plan(width: 640, height: 480, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let face = PixelBox(left: 250, top: 60, right: 350, bottom: 160)
        let body = PixelBox(left: 200, top: 160, right: 400, bottom: 480)
        let walking = planner.plan(
            width: 640, height: 480, at: .milliseconds(100), followed: [face], motion: Self.motion(width: 640, height: 480, moved: [face, body]),
            minMovingCells: 2)
        #expect(Self.regions(walking).count == 1, "only the face's own region: \(walking)")
        let newcomer = PixelBox(left: 0, top: 200, right: 120, bottom: 480)
        let regions = Self.regions(
            planner.plan(
                width: 640, height: 480, at: .milliseconds(200), followed: [face],
                motion: Self.motion(width: 640, height: 480, moved: [face, body, newcomer]), minMovingCells: 2))
        #expect(regions.count == 2)
        let elsewhere = try? #require(regions.last)
        #expect((elsewhere?.area.right ?? 999) <= 200, "the newcomer's side of the frame")
        #expect((elsewhere?.area.area ?? .infinity) * (elsewhere?.scale ?? 1) * (elsewhere?.scale ?? 1) <= 640 * 480 + 1)
    }

    @Test func whereTheSceneMovedIsScannedFineEnoughForTheSmallestFaceOfInterest() {
        // A 1080p frame: the whole-frame pass shrinks it to 640 px, where faces under 240 px are lost;
        // the moved part is scanned enlarged, finding faces with a 20-px eye distance (about 52 px wide).
        var planner = DetectionPlanner(settings: .init(minInterEyeDistance: 20))
        _ = planner.plan(width: 1920, height: 1080, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let walker = PixelBox(left: 600, top: 500, right: 750, bottom: 800)
        let regions = Self.regions(
            planner.plan(
                width: 1920, height: 1080, at: .milliseconds(40), followed: [], motion: Self.motion(width: 1920, height: 1080, moved: [walker]),
                minMovingCells: 2))
        #expect(regions.count == 1)
        #expect(regions.first?.scale == 1.5)
        // The moved cells' bounds, grown by a cell (30 px).
        let area = try? #require(regions.first?.area)
        #expect(area.map { $0.left <= walker.left && $0.right >= walker.right && $0.width <= walker.width + 4 * 30 } == true)
    }

    @Test func aCrowdMovingEverywhereIsScannedATilePerFrameWithinTheBudget() {
        var planner = DetectionPlanner(settings: .init())
        _ = planner.plan(width: 1920, height: 1080, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let everywhere = Self.motion(width: 1920, height: 1080, moved: [PixelBox(left: 0, top: 0, right: 1920, bottom: 1080)])
        var covered = Set<Int>()
        var frames = 0
        for n in 1..<200 where covered.count < 1920 / 40 * (1080 / 40) {
            let regions = Self.regions(
                planner.plan(width: 1920, height: 1080, at: .milliseconds(n * 40), followed: [], motion: everywhere, minMovingCells: 2))
            guard let region = regions.first(where: { $0.scale == 1.5 }) else { continue }
            frames += 1
            // Each frame scans no more pixels than a whole-frame pass (640x360) would.
            #expect(region.area.area * region.scale * region.scale <= 640 * 360 + 1)
            for y in stride(from: 20, to: 1080, by: 40) {
                for x in stride(from: 20, to: 1920, by: 40) where x >= Int(region.area.left) && x < Int(region.area.right) && y >= Int(region.area.top) && y < Int(region.area.bottom) {
                    covered.insert(y / 40 * 48 + x / 40)
                }
            }
        }
        #expect(covered.count == 48 * 27, "every part of the frame is scanned finely in turn")
        #expect(frames <= 60, "within a couple of seconds at 25 fps: \(frames) frames")
    }

    @Test func tilesGoOnlyWhereTheSceneMovedAndACoarseOneInThreeCoversLargerFaces() {
        // Two walkers at the edges of a 1080p frame, their bounds the whole width: a tile between
        // them, where nothing moved, is never scanned.
        var planner = DetectionPlanner(settings: .init())
        _ = planner.plan(width: 1920, height: 1080, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let left = PixelBox(left: 0, top: 0, right: 300, bottom: 1080), right = PixelBox(left: 1620, top: 0, right: 1920, bottom: 1080)
        let walkers = Self.motion(width: 1920, height: 1080, moved: [left, right])
        var tiles: [DetectionRegion] = []
        for n in 1..<60 {
            let regions = Self.regions(
                planner.plan(width: 1920, height: 1080, at: .milliseconds(n * 40), followed: [], motion: walkers, minMovingCells: 2))
            tiles += regions.filter { $0.area.width < 1920 }
        }
        // A tile a frame, but for the two once-a-second whole-frame passes (1 s and 2 s).
        #expect(tiles.count == 57)
        #expect(tiles.allSatisfy { $0.area.left < 300 || $0.area.right > 1620 }, "\(tiles.filter { $0.area.left >= 300 && $0.area.right <= 1620 })")

        // Moving everywhere: one tile in three is coarse; every 200-px face, under the whole-frame pass's
        // 240 px and over what the fine tiles' overlap keeps whole, lies whole in one of them.
        var crowd = DetectionPlanner(settings: .init())
        _ = crowd.plan(width: 1920, height: 1080, at: .zero, followed: [], motion: nil, minMovingCells: 2)
        let everywhere = Self.motion(width: 1920, height: 1080, moved: [PixelBox(left: 0, top: 0, right: 1920, bottom: 1080)])
        var fine = 0
        var coarse: [DetectionRegion] = []
        for n in 1..<90 {
            for region in Self.regions(
                crowd.plan(width: 1920, height: 1080, at: .milliseconds(n * 40), followed: [], motion: everywhere, minMovingCells: 2))
            where region.area.width < 1920 {
                if region.scale == 1.5 { fine += 1 } else { coarse.append(region) }
                #expect(region.area.area * region.scale * region.scale <= 640 * 360 + 1)
            }
        }
        #expect(coarse.count >= 25 && fine >= 50, "\(coarse.count) coarse, \(fine) fine")
        #expect(coarse.allSatisfy { $0.scale > 1.0 / 3 && $0.scale < 1.5 })
        for y in stride(from: 0.0, through: 880, by: 40) {
            for x in stride(from: 0.0, through: 1720, by: 40) {
                let face = PixelBox(left: x, top: y, right: x + 200, bottom: y + 200)
                #expect(
                    coarse.contains { $0.area.left <= face.left && $0.area.top <= face.top && $0.area.right >= face.right && $0.area.bottom >= face.bottom },
                    "a 200-px face at (\(x), \(y)) is whole in a coarse tile")
            }
        }
    }

    @Test func whileFacesAreFollowedTheWholeFrameIsStillScannedOnceAnInterval() {
        var planner = DetectionPlanner(settings: .init(wholeFrameInterval: .seconds(1)))
        let face = PixelBox(left: 200, top: 100, right: 300, bottom: 200)
        let still = Self.motion(width: 640, height: 480)
        var wholeFramePasses = 0, frames = 0
        for n in 0..<30 {  // 3 s at 10 fps, the first frame included
            let plan = planner.plan(
                width: 640, height: 480, at: .milliseconds(n * 100), followed: n == 0 ? [] : [face], motion: n == 0 ? nil : still,
                minMovingCells: 2)
            frames += 1
            let regions = Self.regions(plan)
            if plan == .wholeFrame || regions.contains(where: { $0.area == PixelBox(left: 0, top: 0, right: 640, bottom: 480) }) {
                wholeFramePasses += 1
            }
            if n > 0 { #expect(regions.contains { $0.scale == 1 && $0.area.width < 640 }, "the followed face is searched every frame") }
        }
        #expect(wholeFramePasses == 3, "frames 0, 10 and 20")
    }

    // MARK: dlib on the regions

    /// A 1920x1080 grey frame with a real face's head and shoulders pasted at (x, y), `side` px square.
    static func wideFrame(x: Int, y: Int, side: Int) throws -> PixelImage {
        let bytes = [UInt8](try Data(contentsOf: SharedTestData.url("faces/jeff_bezos/01.jpg")))
        let portrait = try TestPortrait.headAndShoulders(bytes, analyzer: try TestFaceAnalyzers.stills()).rgb().resized(width: side, height: side)
        var pixels = [UInt8](repeating: 100, count: 1920 * 1080 * 3)
        for row in 0..<side {
            for column in 0..<side {
                for c in 0..<3 { pixels[((y + row) * 1920 + x + column) * 3 + c] = portrait.pixels[(row * side + column) * 3 + c] }
            }
        }
        return try PixelImage(width: 1920, height: 1080, layout: .rgb24, pixels: pixels)
    }

    @Test func aSmallFaceInAWideFrameIsFoundInItsRegionAndNotByTheShrunkWholeFrame() throws {
        let frame = try Self.wideFrame(x: 1300, y: 600, side: 200)  // a face about 90 px wide
        let analyzer = try TestFaceAnalyzers.video()
        #expect(try analyzer.analyze(frame, plan: .wholeFrame, descriptorLimit: 0).faces.isEmpty, "under the window once shrunk to 640 px")
        let around = DetectionRegion(area: PixelBox(left: 1200, top: 500, right: 1600, bottom: 900), scale: 1)
        let found = try analyzer.analyze(frame, plan: .regions([around]), descriptorLimit: 0).faces
        #expect(found.count == 1)
        let box = try #require(found.first?.box)
        // In the frame's own coordinates.
        #expect(box.left > 1300 && box.right < 1500 && box.top > 600 && box.bottom < 800, "\(box)")
        // The same face seen by two overlapping regions counts once; a region elsewhere finds nothing.
        let overlapping = DetectionRegion(area: PixelBox(left: 1250, top: 550, right: 1550, bottom: 850), scale: 1.2)
        #expect(try analyzer.analyze(frame, plan: .regions([around, overlapping]), descriptorLimit: 0).faces.count == 1)
        let elsewhere = DetectionRegion(area: PixelBox(left: 100, top: 100, right: 500, bottom: 500), scale: 1)
        #expect(try analyzer.analyze(frame, plan: .regions([elsewhere]), descriptorLimit: 0).faces.isEmpty)
    }
}
