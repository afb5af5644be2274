import CFacegateV4L2

/// Taking frames out of a V4L2 driver's buffer ring.
enum BufferRing {
    /// Waits for and dequeues the next buffer that holds a frame, or returns nil when `waitReadable`
    /// gives up (a stall, or a stop). A buffer the driver flagged as an error goes straight back to it,
    /// before the next one is taken: a run of bad frames never holds more than one buffer of the ring,
    /// so it cannot starve the driver of buffers to fill.
    static func nextGoodBuffer<Buffer>(
        waitReadable: () throws(CaptureError) -> Bool,
        dequeue: () throws(CaptureError) -> Buffer?,
        requeue: (inout Buffer) -> Void,
        onErrorFrame: () -> Void = {},
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
            return buffer
        }
        return nil
    }

    static func nextGoodBuffer(
        waitReadable: () throws(CaptureError) -> Bool,
        dequeue: () throws(CaptureError) -> v4l2_buffer?,
        requeue: (inout v4l2_buffer) -> Void,
        onErrorFrame: () -> Void = {}
    ) throws(CaptureError) -> v4l2_buffer? {
        try nextGoodBuffer(
            waitReadable: waitReadable, dequeue: dequeue, requeue: requeue, onErrorFrame: onErrorFrame,
            isError: { $0.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 })
    }
}
