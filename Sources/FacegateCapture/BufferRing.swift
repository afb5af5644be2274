/// Taking frames out of a V4L2 driver's buffer ring.
enum BufferRing {
    /// Waits for and dequeues the newest buffer that holds a frame, or returns nil when `waitReadable`
    /// gives up (a stall, or a stop). A buffer the driver flagged as an error goes straight back to it,
    /// before the next one is taken: a run of bad frames never holds more than one buffer of the ring,
    /// so it cannot starve the driver of buffers to fill.
    ///
    /// Frames that filled while the reader was busy are passed over for the newest one, each older
    /// buffer going back to the driver as the next is taken: the ring hands frames out oldest first,
    /// so on a box slower than its camera the frame analysed would otherwise be a whole ring behind the
    /// door (four buffers at 15 fps: a quarter of a second). `dequeue` must not block (nil: EAGAIN). At
    /// most `drainLimit` frames are passed over, so a driver that refills a buffer as fast as it is
    /// handed back cannot keep the reader here.
    static func nextGoodBuffer<Buffer>(
        waitReadable: () throws(CaptureError) -> Bool,
        dequeue: () throws(CaptureError) -> Buffer?,
        requeue: (inout Buffer) -> Void,
        onErrorFrame: () -> Void = {},
        onStaleFrame: () -> Void = {},
        drainLimit: Int = 32,
        isError: (Buffer) -> Bool
    ) throws(CaptureError) -> Buffer? {
        while try waitReadable() {
            // nil: nothing after all (EAGAIN), wait again.
            guard var buffer = try dequeue() else { continue }
            if isError(buffer) {
                requeue(&buffer)
                onErrorFrame()
                continue
            }
            var passedOver = 0
            while passedOver < drainLimit {
                // A failure here is the device's, and shows on the next wait: the frame in hand is used.
                guard var newer = try? dequeue() else { break }
                passedOver += 1
                if isError(newer) {
                    requeue(&newer)
                    onErrorFrame()
                    continue
                }
                requeue(&buffer)
                onStaleFrame()
                buffer = newer
            }
            return buffer
        }
        return nil
    }

    /// The next buffer that holds a usable frame, with the frame `convert` made of it, or nil when
    /// `waitReadable` gives up. Every buffer goes back to the driver once converted. A frame that
    /// converts to ``CaptureError/Code/badFrame`` (a corrupt JPEG), or that the driver flagged as an
    /// error, is dropped, told to `onBadFrame`, and the next one taken: one bad frame is not a lost
    /// camera, though a run of them that lasts until `waitReadable` gives up leaves the caller with no
    /// frame, as a stall does, and the caller can say why (a marginal cable's flagged frames are not
    /// an unplugged camera's silence).
    static func nextUsableFrame<Buffer, Image>(
        waitReadable: () throws(CaptureError) -> Bool,
        dequeue: () throws(CaptureError) -> Buffer?,
        requeue: (inout Buffer) -> Void,
        onErrorFrame: () -> Void = {},
        isError: (Buffer) -> Bool,
        convert: (Buffer) throws(CaptureError) -> Image,
        onBadFrame: (CaptureError) -> Void
    ) throws(CaptureError) -> (buffer: Buffer, image: Image)? {
        let flagged = { () -> Void in
            onErrorFrame()
            onBadFrame(CaptureError(.badFrame, "the driver flagged it as damaged (V4L2_BUF_FLAG_ERROR)"))
        }
        while var buffer = try nextGoodBuffer(
            waitReadable: waitReadable, dequeue: dequeue, requeue: requeue, onErrorFrame: flagged, isError: isError)
        {
            defer { requeue(&buffer) }
            do throws(CaptureError) {
                return (buffer, try convert(buffer))
            } catch {
                guard error.code == .badFrame else { throw error }
                onBadFrame(error)
            }
        }
        return nil
    }
}
