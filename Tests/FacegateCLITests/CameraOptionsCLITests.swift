import FacegateTesting
import Foundation
import Testing

/// `facegate camera capture` and `probe` refuse options they cannot use before any camera is opened.
@Suite(.serialized, .timeLimit(.minutes(2))) struct CameraOptionsCLITests {
    /// A stall timeout out of 0.1...600 s (`1e300` or `inf` trapped turning into a Duration) is a usage error,
    /// not a crash; one in range gets as far as the device.
    @Test func aStallTimeoutOutOfRangeIsAUsageError() throws {
        let out = FileManager.default.temporaryDirectory.path
        for (command, more) in [("capture", ["--out", out]), ("probe", [])] {
            for value in ["1e300", "inf", "nan", "0", "0.05", "601"] {
                let run = try ToolProcess.runBlocking(
                    CLITests.executable, ["camera", command, "--device", "/dev/facegate-no-such-camera", "--stall-timeout", value] + more)
                #expect(run.status == 64, "\(command) \(value): \(run.status) \(run.errors)")
                #expect(run.errors.contains("--stall-timeout must be 0.1 to 600 seconds"), "\(command) \(value): \(run.errors)")
            }
            let inRange = try ToolProcess.runBlocking(
                CLITests.executable, ["camera", command, "--device", "/dev/facegate-no-such-camera", "--stall-timeout", "2"] + more)
            #expect(inRange.status != 64 && !inRange.errors.contains("--stall-timeout"), "\(command): \(inRange.status) \(inRange.errors)")
            // Shorter than two frame intervals at the rate asked for (review): the camera would be reopened for ever.
            let tooShort = try ToolProcess.runBlocking(
                CLITests.executable, ["camera", command, "--device", "/dev/facegate-no-such-camera", "--fps", "1", "--stall-timeout", "1.5"] + more)
            #expect(tooShort.status == 64 && tooShort.errors.contains("at least two frame intervals"), "\(command): \(tooShort.errors)")
            let twoIntervals = try ToolProcess.runBlocking(
                CLITests.executable, ["camera", command, "--device", "/dev/facegate-no-such-camera", "--fps", "1", "--stall-timeout", "2"] + more)
            #expect(twoIntervals.status != 64, "\(command): \(twoIntervals.errors)")
            let underASecond = try ToolProcess.runBlocking(
                CLITests.executable, ["camera", command, "--device", "/dev/facegate-no-such-camera", "--fps", "30", "--stall-timeout", "0.5"] + more)
            #expect(underASecond.status == 64, "\(command): \(underASecond.errors)")
        }
    }
}
