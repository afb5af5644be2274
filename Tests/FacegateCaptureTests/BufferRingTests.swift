@testable import FacegateCapture
import Testing

/// A V4L2 frame the driver flags as an error goes back to the driver at once (issue 9, item 19).
@Suite(.timeLimit(.minutes(5)))
struct BufferRingTests {
    /// A driver with a ring of `size` buffers that fills them in order; `errors` says which frames
    /// (by count) come out flagged. It counts how many buffers the reader holds at once.
    final class Driver {
        struct Buffer { var index: Int; var frame: Int; var error: Bool }
        let size: Int
        var queued: [Int]
        var frame = 0
        var held = 0
        var mostHeld = 0
        let errors: (Int) -> Bool

        init(size: Int, errors: @escaping (Int) -> Bool) {
            self.size = size
            self.queued = Array(0..<size)
            self.errors = errors
        }

        /// Readable while the driver has a buffer to fill.
        func readable() -> Bool { !queued.isEmpty }

        func dequeue() -> Buffer? {
            guard !queued.isEmpty else { return nil }
            let index = queued.removeFirst()
            frame += 1
            held += 1
            mostHeld = max(mostHeld, held)
            return Buffer(index: index, frame: frame, error: errors(frame))
        }

        func requeue(_ buffer: inout Buffer) {
            held -= 1
            queued.append(buffer.index)
        }
    }

    func next(from driver: Driver, errorFrames: inout Int) throws -> Driver.Buffer? {
        var counted = 0
        defer { errorFrames += counted }
        return try BufferRing.nextGoodBuffer(
            waitReadable: { driver.readable() }, dequeue: { driver.dequeue() }, requeue: { driver.requeue(&$0) },
            onErrorFrame: { counted += 1 }, isError: { $0.error })
    }

    @Test func aRunOfBadFramesLongerThanTheRingStillYieldsTheNextGoodOne() throws {
        // Frames 1…10 are corrupt, with a ring of only 4 buffers.
        let driver = Driver(size: 4, errors: { $0 <= 10 })
        var errorFrames = 0
        let buffer = try #require(try next(from: driver, errorFrames: &errorFrames))
        #expect(buffer.frame == 11 && !buffer.error)
        #expect(errorFrames == 10)
        // Each bad buffer went back before the next was taken: never more than one out of the ring.
        #expect(driver.mostHeld == 1)
        #expect(driver.queued.count == 3, "only the good frame is held, until its owner requeues it")
    }

    @Test func goodFramesComeOutInOrder() throws {
        let driver = Driver(size: 4, errors: { $0 % 2 == 0 })
        var errorFrames = 0
        var frames: [Int] = []
        for _ in 0..<3 {
            var buffer = try #require(try next(from: driver, errorFrames: &errorFrames))
            frames.append(buffer.frame)
            driver.requeue(&buffer)
        }
        #expect(frames == [1, 3, 5])
        #expect(errorFrames == 2)
    }

    @Test func aReaderThatStopsWaitingGetsNothing() throws {
        let driver = Driver(size: 4, errors: { _ in true })
        var waits = 0
        let buffer: Driver.Buffer? = try BufferRing.nextGoodBuffer(
            waitReadable: {
                waits += 1
                return waits <= 5
            }, dequeue: { driver.dequeue() }, requeue: { driver.requeue(&$0) }, isError: { $0.error })
        #expect(buffer == nil)
        #expect(driver.held == 0, "every bad buffer was handed back")
    }
}
