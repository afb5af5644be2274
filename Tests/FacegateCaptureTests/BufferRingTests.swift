@testable import FacegateCapture
import Testing

/// A V4L2 frame the driver flags as an error goes back to the driver at once (issue 9, item 19).
@Suite(.timeLimit(.minutes(5)))
struct BufferRingTests {
    /// A driver with a ring of `size` buffers that fills them in order as frames arrive; `errors` says
    /// which frames (by count) come out flagged. A frame arrives during a wait that finds none ready
    /// (time passing), or when the test says so (`arrive`: frames that came while the reader was busy).
    /// It counts how many buffers the reader holds at once.
    final class Driver {
        struct Buffer { var index: Int; var frame: Int; var error: Bool }
        let size: Int
        /// Buffers handed to the driver to fill, and those filled, oldest first (dequeued in that order).
        var queued: [Int]
        var filled: [Buffer] = []
        var frame = 0
        var held = 0
        var mostHeld = 0
        let errors: (Int) -> Bool

        init(size: Int, errors: @escaping (Int) -> Bool) {
            self.size = size
            self.queued = Array(0..<size)
            self.errors = errors
        }

        /// `count` frames arrive, each into the next queued buffer; with none queued, the frame is lost.
        func arrive(_ count: Int = 1) {
            for _ in 0..<count {
                frame += 1
                guard !queued.isEmpty else { continue }
                filled.append(Buffer(index: queued.removeFirst(), frame: frame, error: errors(frame)))
            }
        }

        /// A wait: readable once a frame is ready, one arriving meanwhile if the driver has a buffer to fill.
        func readable() -> Bool {
            if filled.isEmpty { arrive() }
            return !filled.isEmpty
        }

        /// Never blocks: nil (EAGAIN) when nothing is ready.
        func dequeue() -> Buffer? {
            guard !filled.isEmpty else { return nil }
            held += 1
            mostHeld = max(mostHeld, held)
            return filled.removeFirst()
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

    /// Frames that filled the ring while the reader was busy analysing are passed over for the newest:
    /// the door sees the person where they are now, not where they were a ring of frames ago.
    @Test func theNewestReadyFrameIsTakenAndTheOlderGoBack() throws {
        let driver = Driver(size: 4, errors: { _ in false })
        var errorFrames = 0
        var first = try #require(try next(from: driver, errorFrames: &errorFrames))
        #expect(first.frame == 1)
        // While frame 1 is analysed, frames 2…6 come: three fill the free buffers, the rest are lost.
        driver.arrive(5)
        driver.requeue(&first)
        var stale = 0
        var newest = try #require(
            try BufferRing.nextGoodBuffer(
                waitReadable: { driver.readable() }, dequeue: { driver.dequeue() }, requeue: { driver.requeue(&$0) },
                onStaleFrame: { stale += 1 }, isError: { $0.error }))
        #expect(newest.frame == 4, "frames 2 and 3 were older than the newest ready")
        #expect(stale == 2)
        #expect(driver.held == 1 && driver.queued.count == 3, "the older buffers went back to the driver")
        #expect(driver.mostHeld <= 2, "one buffer passed over at a time")
        driver.requeue(&newest)
        // Nothing came meanwhile: the next is the next frame to arrive.
        let after = try #require(try next(from: driver, errorFrames: &errorFrames))
        #expect(after.frame == 7)
        #expect(errorFrames == 0)
    }

    /// A flagged frame among those passed over goes back and is told; one that is newest is not taken.
    @Test func aFlaggedNewerFrameIsNotTakenOverAGoodOne() throws {
        let driver = Driver(size: 4, errors: { $0 == 3 })
        driver.arrive(3)
        var errorFrames = 0
        let buffer = try #require(try next(from: driver, errorFrames: &errorFrames))
        #expect(buffer.frame == 2)
        #expect(errorFrames == 1)
        #expect(driver.held == 1)
    }

    /// A driver that refills a buffer as soon as it is handed back cannot hold the reader: it passes over
    /// at most `drainLimit` frames and takes the one in hand.
    @Test func passingOverIsBounded() throws {
        let driver = Driver(size: 4, errors: { _ in false })
        var stale = 0
        let buffer = try #require(
            try BufferRing.nextGoodBuffer(
                waitReadable: { driver.readable() },
                dequeue: { () -> Driver.Buffer? in
                    if driver.filled.isEmpty { driver.arrive() }
                    return driver.dequeue()
                },
                requeue: { driver.requeue(&$0) }, onStaleFrame: { stale += 1 }, drainLimit: 5, isError: { $0.error }))
        #expect(stale == 5)
        #expect(buffer.frame == 6)
        #expect(driver.held == 1)
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
