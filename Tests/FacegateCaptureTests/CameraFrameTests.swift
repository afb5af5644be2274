@testable import FacegateCapture
import FacegateCore
import FacegateImageCodec
import Foundation
import Testing

/// Frames as cheap USB cameras send them. An MJPEG frame libjpeg only warns about but decodes whole
/// is used; one that does not decode whole, or is not the negotiated size, is a dropped frame
/// (``CaptureError/Code/badFrame``), not a lost camera; only a run of them lasting the whole wait for
/// a frame leaves the camera without one (a stall, which is an outage).
@Suite(.timeLimit(.minutes(5)))
struct CameraFrameTests {
    static let width = 640, height = 480

    /// A 640x480 camera frame made from a test photo, as JPEG (ending FF D9).
    func jpegFrame(width: Int = Self.width, height: Int = Self.height) throws -> [UInt8] {
        let data = try #require(FileManager.default.contents(atPath: TestData.path("faces/amy_adams/01.jpg")))
        let frame = try ImageCodec.encodeJPEG(try ImageCodec.decode([UInt8](data)).fitted(width: width, height: height))
        #expect(frame.suffix(2) == [0xFF, 0xD9])
        return frame
    }

    /// The frame through the capture path's conversion, for a camera set to 640x480 MJPEG.
    func convert(_ jpeg: [UInt8], layout: PixelImage.Layout = .rgb24) -> Result<PixelImage, CaptureError> {
        jpeg.withUnsafeBytes { bytes in
            Result { () throws(CaptureError) -> PixelImage in
                try FrameConversion.convert(bytes, format: .mjpeg, width: Self.width, height: Self.height, bytesPerLine: 0, to: layout)
            }
        }
    }

    func badFrameError(_ jpeg: [UInt8]) -> CaptureError? {
        guard case .failure(let error) = convert(jpeg) else { return nil }
        return error
    }

    /// The frame with its frame header (SOF0) claiming another size.
    func withFrameHeaderSize(_ jpeg: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        var jpeg = jpeg
        var i = 2
        while i + 9 < jpeg.count, jpeg[i] == 0xFF {
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if jpeg[i + 1] == 0xC0 {
                (jpeg[i + 5], jpeg[i + 6]) = (UInt8(height >> 8), UInt8(height & 0xFF))
                (jpeg[i + 7], jpeg[i + 8]) = (UInt8(width >> 8), UInt8(width & 0xFF))
                return jpeg
            }
            i += 2 + length
        }
        Issue.record("no SOF0 in the frame")
        return jpeg
    }

    /// libjpeg warns "Corrupt JPEG data: N extraneous bytes before marker 0xd9" and "Premature end of
    /// JPEG file" about frames it decodes whole: such a frame is used, pixel for pixel as a clean one.
    @Test func aFrameLibjpegOnlyWarnsAboutIsUsedWhole() throws {
        let clean = try jpegFrame()
        let reference = try convert(clean).get()
        let body = Array(clean.dropLast(2))
        let extraneous = body + [0x12, 0x34, 0x56, 0x78] + [0xFF, 0xD9]
        let withoutEndMarker = body
        let extraneousWithoutEndMarker = body + [0x12, 0x34, 0x56, 0x78]
        let zeroPadded = clean + [UInt8](repeating: 0, count: 4096)
        for (name, frame) in [
            ("extraneous bytes", extraneous), ("no end marker", withoutEndMarker),
            ("extraneous bytes, no end marker", extraneousWithoutEndMarker), ("zero padding", zeroPadded),
        ] {
            let decoded = convert(frame)
            #expect((try? decoded.get()) == reference, "\(name): \(decoded)")
        }
        // Gray frames come the same way.
        #expect((try? convert(extraneous, layout: .gray8).get()) == reference.grayscale())
    }

    /// A frame whose data runs out or is damaged, whose header is broken, or that is empty is a dropped
    /// frame: its own error, not the device's (`deviceLost`) nor a replay's (`decodeFailed`).
    @Test func aFrameThatDoesNotDecodeWholeIsADroppedFrame() throws {
        let clean = try jpegFrame()
        let broken: [(String, [UInt8])] = [
            ("cut in half", Array(clean.prefix(clean.count / 2))),
            ("cut in half, end marker put back", Array(clean.prefix(clean.count / 2)) + [0xFF, 0xD9]),
            ("frame header of 0x0", try withFrameHeaderSize(clean, width: 0, height: 0)),
            ("header only", Array(clean.prefix(300))),
            ("not a JPEG", [0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02]),
            ("empty", []),
        ]
        for (name, frame) in broken {
            let error = badFrameError(frame)
            #expect(error?.code == .badFrame, "\(name): \(String(describing: error))")
        }
    }

    /// The test photo's frame with a restart marker (RST0–RST7) after every row of MCUs, as many
    /// cameras send MJPEG: the same pixels, and it decodes with no warning.
    func restartFrame() throws -> [UInt8] {
        let clean = try jpegFrame()
        let restarts = try JPEGRestartMarkers.insert(into: clean, every: Self.width / 16)
        #expect(restarts.count > clean.count)
        let reference = try convert(clean).get()
        #expect((try? convert(restarts).get()) == reference)
        return restarts
    }

    /// A frame that lost a chunk inside the image (a USB packet) gets the same libjpeg warning as junk
    /// before the end marker when the decoder runs out of MCUs before the next restart marker:
    /// "N extraneous bytes before marker 0xd3", the image around the loss decoded from the wrong
    /// bits. Such a frame is dropped; only junk before the end marker (0xd9) is not.
    @Test func aFrameMissingBytesBeforeARestartMarkerIsDropped() throws {
        let frame = try restartFrame()
        let reference = try convert(frame).get()
        // 800 bytes lost a third of the way in, at 41 places across about two restart intervals:
        // where in the interval decides which warning libjpeg gives first.
        var beforeRestartMarker = 0
        for shift in stride(from: -2000, through: 2000, by: 100) {
            let start = frame.count / 3 + shift
            let cut = Array(frame[..<start] + frame[(start + 800)...])
            let error = badFrameError(cut)
            #expect(error?.code == .badFrame, "cut at \(start): \(String(describing: error))")
            let message = error?.message ?? ""
            if message.contains("extraneous bytes before marker 0xd"), !message.contains("0xd9") { beforeRestartMarker += 1 }
        }
        // The case at issue, not only warnings that were refused all along (17 of the 41 here).
        #expect(beforeRestartMarker >= 10)

        let junkBeforeEnd = Array(frame.dropLast(2)) + [0x12, 0x34, 0x56, 0x78, 0xFF, 0xD9]
        #expect((try? convert(junkBeforeEnd).get()) == reference)
    }

    /// A frame whose header says another size than the camera was set to is dropped, refused on its
    /// header before any pixels are allocated (a corrupt header must not cost ~180 MB).
    @Test func aFrameOfAnotherSizeIsDroppedOnItsHeader() throws {
        let small = try jpegFrame(width: 320, height: 240)
        let smallError = badFrameError(small)
        #expect(smallError?.code == .badFrame && smallError?.message.contains("320x240") == true, "\(String(describing: smallError))")

        let huge = try withFrameHeaderSize(try jpegFrame(), width: 7680, height: 7680)
        let hugeError = badFrameError(huge)
        #expect(hugeError?.code == .badFrame && hugeError?.message.contains("7680x7680") == true, "\(String(describing: hugeError))")
    }

    /// A YUYV frame of odd width: the last pixel of each row, which has no pair, is converted like the
    /// rest (it was left as whatever the allocation held).
    @Test func anOddWidthYUYVFrameHasEveryPixelSet() throws {
        let width = 641, height = 480
        // One colour throughout: Y U Y V = 150 90 150 170, the row padded to an even pair count.
        let row: [UInt8] = (0..<(width + 1) / 2).flatMap { _ -> [UInt8] in [150, 90, 150, 170] }
        let stride = row.count
        let yuyv: [UInt8] = (0..<height).flatMap { _ in row }
        let image = try yuyv.withUnsafeBytes { bytes in
            try Result { () throws(CaptureError) -> PixelImage in
                try FrameConversion.convert(bytes, format: .yuyv, width: width, height: height, bytesPerLine: stride, to: .rgb24)
            }.get()
        }
        let first = Array(image.pixels.prefix(3))
        #expect(first != [0, 0, 0])
        for y in 0..<height {
            let last = (y * width + width - 1) * 3
            guard Array(image.pixels[last..<(last + 3)]) == first else {
                Issue.record("row \(y): last pixel \(Array(image.pixels[last..<(last + 3)])), not \(first)")
                return
            }
        }
        // A row one pixel wide has no colour to borrow: gray.
        let narrow = try [UInt8]([235, 60, 235, 60]).withUnsafeBytes { bytes in
            try Result { () throws(CaptureError) -> PixelImage in
                try FrameConversion.convert(bytes, format: .yuyv, width: 1, height: 2, bytesPerLine: 2, to: .rgb24)
            }.get()
        }
        #expect(narrow.pixels == [255, 255, 255, 255, 255, 255])
    }

    /// A raw frame (YUYV, grey, RGB) whose buffer is shorter than its rows need: the bounds check before the
    /// conversion is the only guard (the buffer's reads are unchecked in a release build), and the frame is a
    /// dropped one, not a read past the driver's mapping.
    func convertRaw(_ bytes: [UInt8], format: FourCC, width: Int = Self.width, height: Int = Self.height, bytesPerLine: Int = 0)
        -> Result<PixelImage, CaptureError>
    {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(CaptureError) -> PixelImage in
                try FrameConversion.convert(buffer, format: format, width: width, height: height, bytesPerLine: bytesPerLine, to: .rgb24)
            }
        }
    }

    @Test func aShortRawFrameIsADroppedFrame() throws {
        let (width, height) = (Self.width, Self.height)
        let short: [(FourCC, [UInt8])] = [
            (.yuyv, [UInt8](repeating: 128, count: width * height * 2 - 1)),
            (.grey, []),
            (.rgb24, [UInt8](repeating: 128, count: width * 3 * (height - 1))),
            (.yuyv, []),
            (.rgb24, [UInt8](repeating: 128, count: width * height * 3 - 1)),
        ]
        for (format, bytes) in short {
            guard case .failure(let error) = convertRaw(bytes, format: format) else {
                Issue.record("a \(format) frame of \(bytes.count) bytes was converted")
                continue
            }
            #expect(error.code == .badFrame, "\(format) \(bytes.count): \(error)")
        }
        // A padded stride: the last row needs only its pixels, not the padding after them.
        let stride = width * 2 + 64
        let lastRowUnpadded = [UInt8](repeating: 128, count: stride * (height - 1) + width * 2)
        #expect((try? convertRaw(lastRowUnpadded, format: .yuyv, bytesPerLine: stride).get())?.width == width)
        #expect(throws: CaptureError(.badFrame, "")) { try convertRaw(Array(lastRowUnpadded.dropLast()), format: .yuyv, bytesPerLine: stride).get() }
        // Whole buffers of each format convert.
        for (format, size) in [(FourCC.yuyv, 2), (.grey, 1), (.rgb24, 3)] {
            #expect((try? convertRaw([UInt8](repeating: 128, count: width * height * size), format: format).get())?.height == height, "\(format)")
        }
    }

    /// A short raw frame among whole ones, out of the driver's ring: dropped and counted, the next one taken,
    /// every buffer back with the driver.
    @Test func aShortRawFrameAmongWholeOnesIsDropped() throws {
        let whole = [UInt8](repeating: 128, count: Self.width * Self.height * 2)
        let frames = [whole, Array(whole.dropLast()), whole, [], whole]
        let driver = BufferRingTests.Driver(size: 4, errors: { _ in false })
        var dropped: [CaptureError] = []
        var taken: [Int] = []
        while let frame = try BufferRing.nextUsableFrame(
            waitReadable: { (driver.frame < frames.count || !driver.filled.isEmpty) && driver.readable() }, dequeue: { driver.dequeue() },
            requeue: { driver.requeue(&$0) }, isError: { $0.error },
            convert: { buffer throws(CaptureError) -> PixelImage in try convertRaw(frames[buffer.frame - 1], format: .yuyv).get() },
            onBadFrame: { dropped.append($0) })
        {
            taken.append(frame.buffer.frame)
            #expect(driver.held == 0)
        }
        #expect(taken == [1, 3, 5])
        #expect(dropped.map(\.code) == [.badFrame, .badFrame])
        #expect(driver.held == 0 && driver.mostHeld == 1)
    }

    /// Dropped frames are logged at the first, then at most once a minute with the count since the
    /// last line: a camera sending a bad frame every frame does not flood the log.
    @Test func droppedFramesAreLoggedAtMostOnceAnInterval() {
        var tally = DroppedFrameTally(interval: .seconds(60))
        let start = ContinuousClock.now
        var lines: [Int] = []
        // One bad frame every second for three minutes.
        for second in 0..<180 {
            if let dropped = tally.note(1, at: start + .seconds(second)) { lines.append(dropped) }
        }
        #expect(lines == [1, 60, 60])
        #expect(tally.total == 180)
    }

    // MARK: From the driver's ring

    /// A driver (``BufferRingTests/Driver``) whose frames are these JPEG bytes, frame 1 first.
    func next(
        from driver: BufferRingTests.Driver, frames: [[UInt8]], badFrames: inout [CaptureError]
    ) throws -> (buffer: BufferRingTests.Driver.Buffer, image: PixelImage)? {
        try next(from: driver, frames: frames, badFrames: &badFrames, waitingFor: frames.count)
    }

    /// The same, the wait giving up once the driver has filled `frameLimit` buffers.
    func next(
        from driver: BufferRingTests.Driver, frames: [[UInt8]], badFrames: inout [CaptureError], waitingFor frameLimit: Int
    ) throws -> (buffer: BufferRingTests.Driver.Buffer, image: PixelImage)? {
        var dropped: [CaptureError] = []
        defer { badFrames += dropped }
        return try BufferRing.nextUsableFrame(
            // Readable while frames are still to come (the wait gives up after the last) or one is ready.
            waitReadable: { (driver.frame < frameLimit || !driver.filled.isEmpty) && driver.readable() }, dequeue: { driver.dequeue() },
            requeue: { driver.requeue(&$0) }, isError: { $0.error },
            convert: { buffer throws(CaptureError) -> PixelImage in
                try frames[buffer.frame - 1].withUnsafeBytes { bytes in
                    Result { () throws(CaptureError) -> PixelImage in
                        try FrameConversion.convert(bytes, format: .mjpeg, width: Self.width, height: Self.height, bytesPerLine: 0, to: .rgb24)
                    }
                }.get()
            },
            onBadFrame: { dropped.append($0) })
    }

    /// A corrupt frame among good ones is dropped and counted, and the good ones come on: no error
    /// reaches the camera session, which closes and reopens the device on any error it is given.
    @Test func aCorruptFrameAmongGoodOnesIsDroppedNotAnOutage() throws {
        let good = try jpegFrame()
        let cut = Array(good.prefix(good.count / 2))
        let wrongSize = try jpegFrame(width: 320, height: 240)
        let warned = Array(good.dropLast(2)) + [0x12, 0x34, 0xFF, 0xD9]
        let frames = [good, good, cut, good, wrongSize, warned, good]
        let driver = BufferRingTests.Driver(size: 4, errors: { _ in false })
        var badFrames: [CaptureError] = []
        var taken: [Int] = []
        while let frame = try next(from: driver, frames: frames, badFrames: &badFrames) {
            taken.append(frame.buffer.frame)
            #expect(frame.image.width == Self.width && frame.image.height == Self.height)
            // Every buffer, the dropped frames' too, went back to the driver.
            #expect(driver.held == 0)
        }
        #expect(taken == [1, 2, 4, 6, 7])
        #expect(badFrames.map(\.code) == [.badFrame, .badFrame])
    }

    /// Frames the driver flags as errors (a marginal cable, a USB bus dropping packets) are dropped frames too,
    /// each told with why: a wait that sees only those ends with the camera's owner able to say they came
    /// (`no usable frame ...: N dropped, the last because the driver flagged it`), not that no frame came,
    /// as for a camera unplugged. Before, they were counted where nothing read the count.
    @Test func framesTheDriverFlagsAreDroppedFramesAndSaySo() throws {
        let good = try jpegFrame()
        let driver = BufferRingTests.Driver(size: 4, errors: { $0 != 3 })
        var badFrames: [CaptureError] = []
        let frame = try next(from: driver, frames: Array(repeating: good, count: 5), badFrames: &badFrames)
        #expect(frame?.buffer.frame == 3)
        #expect(badFrames.count == 2)
        #expect(badFrames.allSatisfy { $0.code == .badFrame && $0.message.contains("flagged") })
        // Only flagged frames for the whole wait: no frame, each told.
        let failing = BufferRingTests.Driver(size: 4, errors: { _ in true })
        var flagged: [CaptureError] = []
        #expect(try next(from: failing, frames: Array(repeating: good, count: 9), badFrames: &flagged, waitingFor: 9) == nil)
        #expect(flagged.count == 9 && failing.held == 0)
        // And the camera's wait that ends so says it, with the count and why the last was dropped; a wait
        // in which nothing came, or that a stop ended, is no frame and no error.
        let said = #expect(throws: CaptureError.self) {
            try V4L2Device.endOfWaitWithoutAFrame(badFrames: flagged.count, lastBadFrame: flagged.last, stopped: false)
        }
        #expect(said?.code == .stalled)
        // Not the configured timeout: no configuration value in an error.
        #expect(said?.message.contains("no usable frame from the camera within the stall timeout") == true, "\(String(describing: said))")
        #expect(said?.message.contains("3") == false, "\(String(describing: said))")
        #expect(said?.message.contains("9 dropped, the last because the driver flagged it as damaged") == true, "\(String(describing: said))")
        #expect(throws: Never.self) {
            try V4L2Device.endOfWaitWithoutAFrame(badFrames: 0, lastBadFrame: nil, stopped: false)
        }
        #expect(throws: Never.self) {
            try V4L2Device.endOfWaitWithoutAFrame(badFrames: flagged.count, lastBadFrame: flagged.last, stopped: true)
        }
    }

    /// Nothing but corrupt frames until the wait for a frame ends: no frame, each one counted; the
    /// camera's owner then has a stall, the outage a camera that sends only garbage is.
    @Test func aRunOfCorruptFramesForTheWholeWaitGivesNoFrame() throws {
        let good = try jpegFrame()
        let cut = Array(good.prefix(good.count / 3))
        let driver = BufferRingTests.Driver(size: 4, errors: { _ in false })
        var badFrames: [CaptureError] = []
        let frame = try next(from: driver, frames: Array(repeating: cut, count: 12), badFrames: &badFrames)
        #expect(frame == nil)
        #expect(badFrames.count == 12)
        #expect(driver.held == 0 && driver.mostHeld == 1)
    }
}
