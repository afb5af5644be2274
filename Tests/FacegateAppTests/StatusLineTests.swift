@testable import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

/// The `STATUS=` line (`systemctl status`) names each part `/health` finds failed, with its problem.
@Suite(.timeLimit(.minutes(1)))
struct StatusLineTests {
    /// A door whose last `count` unlock writes failed (a relay that locks but will not unlock).
    static func relay(afterFailedUnlocks count: Int) async throws -> DoorHealthReport.Component {
        let lines = SimulatedDoorLines()
        lines.failRelayWrites(unlocked: true)
        let door = try DoorController(lines: lines)
        for _ in 0..<count { _ = try? await door.unlock(because: .grant) }
        return .relay(failedUnlocks: await door.failedUnlocks, doorFailed: false, now: Date())
    }

    @Test("a relay that will not unlock is named in STATUS=, as a failed journal is; a degraded one is not")
    func aRelayThatWillNotUnlockIsNamed() async throws {
        var statistics = PipelineStatistics()
        statistics.frames = 120
        statistics.visits = 3
        statistics.decisions[.granted] = 2
        let ok = DoorHealthReport.Component(status: .ok)
        let totals = "door front: 120 frames, 3 visits, 2 granted"

        let failed = try await Self.relay(afterFailedUnlocks: 3)
        #expect(failed.status == .failed)
        let line = DoorControllerService.statusLine(door: "front", statistics: statistics, relay: failed, journal: ok)
        #expect(
            line == totals + "; relay failed: the relay did not unlock the last 3 times and has unlocked none since "
                + "(is its driver still there?): simulated relay write failed", "\(line)")

        // One failed write is one bad write: the relay is degraded, /health answers 200, the line says nothing.
        let degraded = try await Self.relay(afterFailedUnlocks: 1)
        #expect(DoorControllerService.statusLine(door: "front", statistics: statistics, relay: degraded, journal: ok) == totals)

        let journal = DoorHealthReport.Component(status: .failed, lastError: "cannot open the journal")
        let both = DoorControllerService.statusLine(door: "front", statistics: statistics, relay: failed, journal: journal)
        #expect(both.hasPrefix(totals + "; relay failed: ") && both.hasSuffix("; journal failed: cannot open the journal"), "\(both)")
    }

    @Test("the running daemon sends systemd a STATUS= naming its relay once three exit presses in a row did not unlock")
    func theDaemonSaysItsRelayFailed() async throws {
        let folder = try TemporaryFolder("status-line")
        defer { folder.remove() }
        let notify = try NotifyListener(path: folder.file("notify"))
        defer { notify.close() }
        let lines = SimulatedDoorLines()
        try await JournalHealthTests().withDoor(
            journal: SQLiteJournal.Configuration(path: folder.file("journal.sqlite")), notify: notify, lines: lines
        ) { door in
            lines.failRelayWrites(unlocked: true)
            // One press at a time, each taken before the next (a press during the relock after a failed
            // write is refused without a write, and would not count).
            for press in 1...2 {
                lines.pressExitButton()
                _ = try await askUntil { try await door.health().report.relay } until: { $0.lastError?.contains("(\(press) in a row)") == true }
            }
            lines.pressExitButton()
            let said = await notify.waitFor("; relay failed: the relay did not unlock the last 3 times", timeout: .seconds(10))
            #expect(said != nil, "\(notify.messages.map(\.text))")
        }
    }
}
