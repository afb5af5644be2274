import FacegateTesting
import Foundation
import Testing

/// `facegate door watch` refuses times it cannot use before any GPIO line is taken.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DoorWatchOptionsCLITests {
    /// Times out of the file's own ranges (`door.pulse_seconds` 0.05...60, `door.held_open_seconds` 1...3600)
    /// are usage errors, said before the chip is opened: `inf` and `1e300` trapped converting to a Duration
    /// once the relay's line was taken (review), and 0.001 s or a day were taken as given.
    @Test func timesOutOfTheFilesRangesAreUsageErrors() throws {
        let lines = ["door", "watch", "--chip", "gpiochip-facegate-none", "--contact", "3"]
        for (option, value) in [
            ("--unlock-seconds", "inf"), ("--unlock-seconds", "1e300"), ("--unlock-seconds", "nan"), ("--unlock-seconds", "0.001"),
            ("--unlock-seconds", "61"), ("--held-open-seconds", "inf"), ("--held-open-seconds", "0"), ("--held-open-seconds", "86400"),
        ] {
            let run = try ToolProcess.runBlocking(CLITests.executable, lines + [option, value])
            #expect(run.status == 64, "\(option) \(value): \(run.status) \(run.errors)")
            #expect(run.errors.contains("\(option) must be within"), "\(option) \(value): \(run.errors)")
            #expect(!run.errors.contains("gpiochip"), "said before the chip: \(run.errors)")
        }
        // In range: as far as the chip, which is not there.
        let inRange = try ToolProcess.runBlocking(CLITests.executable, lines + ["--unlock-seconds", "0.05", "--held-open-seconds", "3600"])
        #expect(inRange.status != 64 && inRange.status != 0, "\(inRange.status) \(inRange.errors)")
    }
}
