@testable import FacegateCapture
import FacegateCore
import FacegateTesting
import Testing

/// Frame timestamps are the approach selector's only clock: they must advance however the driver
/// stamps frames, or a person gone for seconds is never gone to the selector.
@Suite(.timeLimit(.minutes(1)))
struct FrameTimestampTests {
    /// Stamps for driver timestamps `driver` of frames dequeued every 33 ms from 10 s.
    func stamps(_ driver: [Duration?]) -> [(timestamp: Duration, isDriversOwn: Bool)] {
        var timestamps = AdvancingTimestamps()
        return driver.enumerated().map { i, stamp in
            timestamps.stamp(driver: stamp, dequeued: .seconds(10) + .milliseconds(33 * i))
        }
    }

    @Test func advancingDriverTimestampsAreKept() {
        let driver: [Duration] = (0..<5).map { .seconds(10) + .milliseconds(33 * $0 - 5) }
        let result = stamps(driver)
        #expect(result.map(\.timestamp) == driver)
        #expect(result.map(\.isDriversOwn) == [true, true, true, true, true])
    }

    @Test func constantDriverTimestampsAreReplacedByTheDequeueTime() {
        let result = stamps(Array(repeating: .seconds(9), count: 5))
        #expect(result.map(\.timestamp) == [.seconds(9)] + (1..<5).map { .seconds(10) + .milliseconds(33 * $0) })
        #expect(result.map(\.isDriversOwn) == [true, false, false, false, false])
    }

    @Test func backwardDriverTimestampsAreReplacedAndLaterGoodOnesKept() {
        let driver: [Duration] = [.milliseconds(9_995), .milliseconds(9_000), .milliseconds(5_000), .milliseconds(10_095), .milliseconds(10_128)]
        let result = stamps(driver)
        #expect(result.map(\.timestamp) == [.milliseconds(9_995), .milliseconds(10_033), .milliseconds(10_066), .milliseconds(10_095), .milliseconds(10_128)])
        #expect(result.map(\.isDriversOwn) == [true, false, false, true, true])
    }

    /// A stamp from after the frame was dequeued is as wrong, and kept would hold back every frame after it.
    @Test func aDriverTimestampFromTheFutureIsReplaced() {
        let result = stamps([.milliseconds(9_995), .seconds(3_600), .milliseconds(10_062)])
        #expect(result.map(\.timestamp) == [.milliseconds(9_995), .milliseconds(10_033), .milliseconds(10_062)])
        #expect(result.map(\.isDriversOwn) == [true, false, true])
    }

    /// Without a monotonic driver clock the dequeue time is used, as before; equal dequeue times still advance.
    @Test func withoutDriverTimestampsTheDequeueTimeIsUsedAndStillAdvances() {
        var timestamps = AdvancingTimestamps()
        let first = timestamps.stamp(driver: nil, dequeued: .seconds(10))
        let second = timestamps.stamp(driver: nil, dequeued: .seconds(10))
        #expect(first.timestamp == .seconds(10) && !first.isDriversOwn)
        #expect(second.timestamp > first.timestamp)
    }

    /// Through the camera's frame path (after the device): a driver stamping every frame alike gives
    /// frames whose timestamps advance with their dequeue times, and one warning with no value in it.
    @Test func theCameraGivesAdvancingTimestampsForAStuckDriverClockAndSaysSoOnce() async throws {
        let logs = CapturedLogs()
        let device = "/dev/facegate-marker-device"
        let session = CameraSession(
            configuration: .init(device: device), logger: logs.logger(label: "facegate.camera"), onStatus: { _ in },
            onFrameTiming: nil)
        let image = try PixelImage(width: 2, height: 1, layout: .rgb24, pixels: [UInt8](repeating: 90, count: 6))
        var timestamps: [Duration] = []
        for i in 0..<10 {
            let ready = Duration.seconds(100) + .milliseconds(33 * i)
            let captured = V4L2Device.Captured(
                sequence: UInt32(i), timestamp: .seconds(99), image: image,
                timing: .init(driverTimestamp: .seconds(99), ready: ready, inHand: ready + .milliseconds(2)))
            timestamps.append(await session.frame(from: captured).timestamp)
        }
        #expect(timestamps == [.seconds(99)] + (1..<10).map { .seconds(100) + .milliseconds(33 * $0) })
        let warnings = logs.all.filter { $0.hasPrefix("warning") }
        #expect(warnings.count == 1 && warnings.first?.contains("timestamps") == true, "\(logs.text)")
        #expect(!logs.text.contains(device))
    }
}
