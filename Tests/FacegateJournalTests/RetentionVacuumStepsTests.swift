import FacegateCore
import Foundation
import GRDB
import Testing

@testable import FacegateJournal

/// The pages a retention pass frees are given back to the file system in chunks of 256, and the records
/// handed over meanwhile are written before and between them: the vacuum (megabytes of WAL after a large
/// pass, seconds on an SD card) holds up a grant's commit by one chunk, not in one piece.
@Suite(.timeLimit(.minutes(2)))
struct RetentionVacuumStepsTests {
    @Test func theVacuumGivesWaitingRecordsTheirTurnBetweenItsChunks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vacuum-steps-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
        let queue = try DatabaseQueue(path: folder.appendingPathComponent("journal.sqlite").path, configuration: configuration)
        try JournalSchema.migrator.migrate(queue)
        // 2,000 door events a year old, each with a long note: about a thousand pages to give back.
        let old = Date().addingTimeInterval(-365 * 86_400)
        let note = String(repeating: "x", count: 1_800)
        try queue.write { db in
            for _ in 0..<2_000 {
                try db.execute(sql: "INSERT INTO door_event (time, door, kind, detail) VALUES (?, 'front', 'forced', ?)", arguments: [old, note])
            }
            // One of today's: age never empties the journal.
            try db.execute(sql: "INSERT INTO door_event (time, door, kind) VALUES (?, 'front', 'closed')", arguments: [Date()])
        }
        var turns = 0
        let report = try queue.writeWithoutTransaction { db in
            try JournalRetentionRunner.apply(
                JournalRetention(maxAge: .seconds(90 * 86_400), minimumAgeDeletionsPerPass: 2_000), to: db, now: Date(), clockIsTrusted: true,
                betweenSteps: { _ in turns += 1 })
        }
        #expect(report.deletedDoorEvents == 2_000)
        // Four delete steps of 500 rows give four turns; the vacuum, one before it and one after each of
        // its chunks of 256 pages (about a thousand pages freed).
        #expect(turns >= 4 + 1 + 3, "\(turns) turns")
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA freelist_count") } == 0, "every freed page given back")
    }
}
