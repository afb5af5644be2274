import FacegateCore
import FacegateQuality
import Testing

/// The motion gate as a pure state machine, on synthesized scenes: which frames it sends to the
/// detector is counted, never timed.
@Suite(.timeLimit(.minutes(1)))
struct MotionGateTests {
    /// A deterministic generator, so that a scene's noise is the same on every run.
    struct Noise {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        /// Uniform in -amplitude...amplitude.
        mutating func level(_ amplitude: Int) -> Int { Int(next() % UInt64(2 * amplitude + 1)) - amplitude }
    }

    static let width = 320, height = 240

    /// Sensor noise fields of ±6 levels, one per frame in turn (made once: the tests are debug builds).
    static let noiseFields: [[Int8]] = {
        var generator = Noise(state: 42)
        return (0..<8).map { _ in (0..<(width * height)).map { _ in Int8(generator.level(6)) } }
    }()

    /// An empty corridor, 320x240 grey: a gradient wall, sensor noise (field `n` of ``noiseFields``,
    /// none when `noisy` is false), `brightness` added (a light ramp or flicker), and a dark square
    /// where `square` says, `squareDepth` levels darker (cells of this size are 5x5 pixels).
    static func scene(
        _ n: Int = 0, brightness: Double = 0, noisy: Bool = true, square: (x: Int, y: Int, side: Int)? = nil, squareDepth: Int = 50
    ) -> PixelImage {
        let noise = noiseFields[n % noiseFields.count], light = Int(brightness)
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            let inSquareRows = square.map { (($0.y)..<($0.y + $0.side)).contains(y) } ?? false
            for x in 0..<width {
                var level = 60 + (x + y) / 5 + light + (noisy ? Int(noise[y * width + x]) : 0)
                if inSquareRows, let square, (square.x..<(square.x + square.side)).contains(x) { level -= squareDepth }
                pixels[y * width + x] = UInt8(clamping: level)
            }
        }
        return try! PixelImage(width: width, height: height, layout: .gray8, pixels: pixels)
    }

    /// Runs the gate over `count` frames at `fps`; returns each frame's verdict. With `scanFinds`, each
    /// frame analysed is reported to the gate as scanned whole, having found a face when it says so (as
    /// the pipeline reports its whole-frame scans); without, nothing is reported.
    static func verdicts(
        count: Int, fps: Int, following: (Int) -> Bool = { _ in false }, configuration: MotionGateConfiguration = MotionGateConfiguration(),
        scanFinds: ((Int) -> Bool)? = nil, image: (Int) -> PixelImage
    ) -> [MotionGate.Verdict] {
        var gate = MotionGate(configuration: configuration)
        return (0..<count).map { n in
            let frame = Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 1000 / fps), image: image(n))
            let thumbnail = MotionGate.thumbnail(of: frame.image)
            let verdict = gate.judge(frame, thumbnail: thumbnail, following: following(n))
            if verdict != .skip, let scanFinds { gate.noteWholeFrameScan(at: frame.timestamp, thumbnail: thumbnail, foundFaces: scanFinds(n)) }
            return verdict
        }
    }

    /// The indices of the frames analysed.
    static func analysed(_ verdicts: [MotionGate.Verdict]) -> [Int] { verdicts.indices.filter { verdicts[$0] != .skip } }

    /// 10 s at 15 fps of an empty corridor whose light rises 40 levels and flickers (every third frame
    /// 6 levels brighter: mains flicker beating with the frame rate).
    static func brighteningCorridor(_ n: Int) -> PixelImage { scene(n, brightness: Double(n) * 40 / 150 + (n % 3 == 0 ? 6 : 0)) }

    @Test("an empty scene with sensor noise, a slow light ramp and flicker runs the detector only once a second")
    func aStillNoisySceneIsAnalysedAtThePeriodicRateOnly() {
        // Nothing reported about the scans: the gate cannot know the scene was found empty.
        let verdicts = Self.verdicts(count: 150, fps: 15, image: Self.brighteningCorridor)
        let analysed = verdicts.filter { $0 != .skip }
        #expect(verdicts.first == .analyze(.firstFrame))
        #expect(analysed.dropFirst().allSatisfy { $0 == .analyze(.periodic) }, "\(analysed)")
        // The first frame, then one a second: 10 over 10 s (a frame at 15 fps falls on each second).
        #expect(analysed.count == 10, "\(analysed.count) frames analysed")
    }

    @Test("once a scan found the scene empty, the same noisy, flickering, brightening scene is looked at only every 5 s")
    func anUnchangedEmptySceneIsLookedAtOnlyAtTheBackstop() {
        let verdicts = Self.verdicts(count: 150, fps: 15, scanFinds: { _ in false }, image: Self.brighteningCorridor)
        // The first frame, then the unchanged-scene interval (5 s, frame 75): 2 looks in 10 s, not 10.
        #expect(Self.analysed(verdicts) == [0, 75], "\(Self.analysed(verdicts))")
        #expect(verdicts[75] == .analyze(.periodic))

        // A scan that found a face: the periodic look keeps its pace, whatever the picture.
        let found = Self.verdicts(count: 150, fps: 15, scanFinds: { _ in true }, image: Self.brighteningCorridor)
        #expect(Self.analysed(found).count == 10, "\(Self.analysed(found))")
        // The backstop at zero: every periodic look runs.
        var everyLook = MotionGateConfiguration()
        everyLook.unchangedSceneInterval = .zero
        let unskipped = Self.verdicts(count: 150, fps: 15, configuration: everyLook, scanFinds: { _ in false }, image: Self.brighteningCorridor)
        #expect(Self.analysed(unskipped).count == 10, "\(Self.analysed(unskipped))")
    }

    @Test("a change too slow to be motion is looked at once it adds up to a difference from the scene last found empty")
    func aSlowChangeIsLookedAtOnceItAddsUp() {
        // From frame 30 (2 s) a 30-pixel square darkens by half a level a frame: the running scene
        // follows it, so no frame moves, but 8 levels from the empty scene are reached at about frame 47.
        let verdicts = Self.verdicts(count: 150, fps: 15, scanFinds: { _ in false }) { n in
            Self.scene(n, square: (x: 100, y: 100, side: 30), squareDepth: max(0, n - 30) / 2)
        }
        #expect(!verdicts.contains(.analyze(.motion)), "\(verdicts)")
        let analysed = Self.analysed(verdicts)
        #expect(analysed.count > 1 && (40...55).contains(analysed[1]), "\(analysed)")
        // Then, each found empty again, a look each time the square has darkened by as much again
        // (at least the periodic second apart), never the 5 s the unchanged scene waits.
        let gaps = zip(analysed.dropFirst(), analysed).map { $0 - $1 }
        #expect(gaps.dropFirst().allSatisfy { (15...25).contains($0) }, "\(analysed)")
    }

    @Test("something moving through the scene is analysed on every frame it moves")
    func movementIsAnalysed() {
        // A 30-pixel dark square crossing the scene, 4 pixels a frame, from frame 10 to frame 69.
        let verdicts = Self.verdicts(count: 120, fps: 15) { n in
            let square = (10..<70).contains(n) ? (x: 20 + (n - 10) * 4, y: 100, side: 30) : nil
            return Self.scene(n, square: square)
        }
        #expect(verdicts[11..<70].allSatisfy { $0 != .skip }, "\(verdicts)")
        #expect(verdicts[11..<70].filter { $0 == .analyze(.motion) }.count >= 55)
        // Gone, and the scene settled again (the average has forgotten the square): skipped but for
        // the periodic check, twice in 30 frames at 15 fps.
        #expect(verdicts[90...].filter { $0 == .skip }.count >= 28, "\(verdicts[90...])")
    }

    @Test("while a face is followed every frame is analysed, moving or not")
    func aFollowedFaceIsAnalysedEveryFrame() {
        let verdicts = Self.verdicts(count: 60, fps: 15, following: { (20..<40).contains($0) }) { n in Self.scene(n) }
        #expect(verdicts[20..<40].allSatisfy { $0 == .analyze(.following) })
        #expect(verdicts[41..<50].allSatisfy { $0 == .skip })
    }

    @Test("a perfectly still scene is still looked at within the interval, whenever a face may have come")
    func aStillSceneIsLookedAtWithinTheInterval() {
        // The same frame over and over: nothing the gate can see moves.
        let still = Self.scene(noisy: false)
        let verdicts = Self.verdicts(count: 90, fps: 30) { _ in still }
        let analysed = verdicts.indices.filter { verdicts[$0] != .skip }
        // Never more than the interval (30 frames at 30 fps) between two looks.
        let gaps = zip(analysed.dropFirst(), analysed).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 <= 30 }, "\(gaps)")
        #expect(analysed.count == 3)
    }

    @Test("a changed frame size, a source whose clock went back, or the gate turned off: analysed")
    func edgesAreAnalysed() {
        var gate = MotionGate()
        let big = Self.scene(noisy: false)
        let small = try! PixelImage(width: 160, height: 120, layout: .gray8, pixels: [UInt8](repeating: 90, count: 160 * 120))
        func judge(_ image: PixelImage, at milliseconds: Int) -> MotionGate.Verdict {
            gate.judge(
                Frame(sequence: 0, timestamp: .milliseconds(milliseconds), image: image), thumbnail: MotionGate.thumbnail(of: image),
                following: false)
        }
        #expect(judge(big, at: 0) == .analyze(.firstFrame))
        #expect(judge(big, at: 100) == .skip)
        #expect(judge(small, at: 200) == .analyze(.motion), "a new size is a new scene: looked at, then the scene")
        #expect(judge(small, at: 300) == .skip)
        #expect(judge(small, at: 50) == .analyze(.periodic), "a replay that loops starts again at its beginning")
        var off = MotionGate(configuration: .off)
        #expect(off.judge(Frame(sequence: 0, timestamp: .zero, image: small), thumbnail: MotionGate.thumbnail(of: small), following: false) == .analyze(.gateOff))
    }

    @Test("the thumbnail averages cells of colour frames as luminance, and of tiny frames too")
    func thumbnailOfColourAndTinyFrames() {
        let red = try! PixelImage(width: 640, height: 480, layout: .rgb24, pixels: [UInt8]((0..<(640 * 480)).flatMap { _ in [200, 0, 0] as [UInt8] }))
        let thumbnail = MotionGate.thumbnail(of: red)
        #expect(thumbnail.columns == 64 && thumbnail.rows == 48)
        #expect(thumbnail.cells.allSatisfy { abs($0 - Float((77 * 200) >> 8)) < 0.5 })
        let tiny = try! PixelImage(width: 3, height: 2, layout: .gray8, pixels: [10, 20, 30, 40, 50, 60])
        let one = MotionGate.thumbnail(of: tiny)
        #expect(one.columns == 1 && one.rows == 1 && one.cells.count == 1)
    }
}
