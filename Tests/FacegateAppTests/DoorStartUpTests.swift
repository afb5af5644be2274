import FacegateApp
import FacegateCore
import FacegateDoor
import Foundation
import Logging
import Synchronization
import FacegateTesting
import Testing

/// The relay is held before anything else is opened, and let go again when start-up fails.
@Suite(.timeLimit(.minutes(5)))
struct DoorStartUpTests {
    /// Door lines that record what is done with them.
    final class RecordingDoorLines: DoorLines {
        let calls = Mutex<[String]>([])

        func driveRelay(unlocked: Bool) throws { calls.withLock { $0.append(unlocked ? "unlock" : "lock") } }
        func contactIsOpen() throws -> Bool? {
            calls.withLock { $0.append("read contact") }
            return false
        }
        func inputs() -> AsyncThrowingStream<DoorInput, any Error> { AsyncThrowingStream { $0.finish() } }
        func release() { calls.withLock { $0.append("release") } }
    }

    @Test func theRelayIsRequestedBeforeTheModelsAndReleasedWhenTheyAreMissing() throws {
        var configuration = FacegateConfiguration()
        configuration.modelsDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("facegate-no-models-\(UUID().uuidString)").path
        let lines = RecordingDoorLines()
        let logger = Logger.quiet("test")

        let error = #expect(throws: DaemonStartError.self) {
            _ = try DoorParts.open(configuration, overrides: .init(doorLines: lines, environment: [:]), logger: logger)
        }
        #expect(error?.key == "models")
        // The door was set up on the lines (its contact read) before the models failed, and the
        // relay was released, never unlocked.
        #expect(lines.calls.withLock { $0 } == ["read contact", "release"])
    }
}
