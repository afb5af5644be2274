@testable import FacegateApp
import FacegateJournal
import Foundation
import Testing

/// The journal's part of `/health`, from its status alone.
@Suite(.timeLimit(.minutes(1)))
struct JournalHealthMappingTests {
    /// Retention passes that fail (a full disk, a file locked by another writer) keep neither the age nor the
    /// size limit, while the door still decides and records: `degraded`, saying so, since the first failure.
    /// Before, only a warning at each pass, and `/health` said ok while the file grew (review).
    @Test func failingRetentionDegradesTheJournal() {
        var status = JournalStatus()
        status.health = .ok
        status.lastCommit = Date()
        #expect(DoorHealthReport.Component.journal(status, stallLimit: .seconds(5)).status == .ok)
        let since = Date(timeIntervalSince1970: 1_800_000_000)
        status.retentionFailingSince = since
        let failing = DoorHealthReport.Component.journal(status, stallLimit: .seconds(5))
        #expect(failing.status == .degraded)
        #expect(failing.since == since)
        #expect(failing.lastError?.contains("retention is failing") == true, "\(failing)")
        // Records not reaching the disk outrank it.
        status.health = .failing
        #expect(DoorHealthReport.Component.journal(status, stallLimit: .seconds(5)).status == .failed)
    }
}
