@testable import FacegateCapture
import FacegateCore
import Foundation
import Logging
import FacegateTesting
import Testing

/// The V4L2 camera's session, on a path that cannot be opened (no device needed).
@Suite(.timeLimit(.minutes(1)))
struct CameraSessionTests {
    static let quiet = Logger.quiet("camera-session")

    /// A stop while the camera is away, waiting out a reopen backoff: the frames end (nil), as the door's
    /// stop during a silence needs (the pipeline then judges the visits it followed), not an error, and at
    /// once, not after the backoff.
    @Test func aStopDuringAReopenBackoffEndsTheFramesWithoutAnError() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("camera-session-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: file)
        // Under a regular file: stat fails with ENOTDIR, an I/O failure (not "no such camera", which ends a
        // first open), so the session starts an outage and waits out its backoff before reopening.
        let statuses = AsyncStream<V4L2Camera.Status>.makeStream()
        let session = CameraSession(
            configuration: .init(
                device: file.appendingPathComponent("video0").path, initialBackoff: .seconds(30), maximumBackoff: .seconds(30)),
            logger: Self.quiet, onStatus: { statuses.continuation.yield($0) }, onFrameTiming: nil)
        let next = Task { try await session.next() }
        var told = statuses.stream.makeAsyncIterator()
        let first = await told.next()
        guard case .lost(let error) = first else {
            Issue.record("not lost: \(String(describing: first))")
            next.cancel()
            return
        }
        #expect(error.code == .ioFailed && !error.message.contains(folder.path), "\(error)")
        // Into the backoff (the status is told just before it), then stopped.
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let stopped = clock.now
        next.cancel()
        let frame = try await next.value
        #expect(frame == nil)
        #expect(clock.now - stopped < .seconds(5), "ended after the backoff, not at the stop")
    }
}
