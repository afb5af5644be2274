import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import GRDB
import Testing

/// Readers of the journal file (`facegate log | less`, any other connection) never hold up the
/// door's writer, and a reader paused mid-listing does not keep the write-ahead log growing.
@Suite("Journal readers beside the writer", .serialized, .timeLimit(.minutes(3)))
struct ReadersBesideTheWriterTests {
    @Test("a retention pass that deletes rows while another connection holds a read transaction does not hold up a grant's commit")
    func retentionDoesNotWaitForAReader() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(
            path: path, retention: JournalRetention(maxAge: .seconds(30 * 86_400), maxBytes: nil), retentionInterval: .seconds(3600))
        // Rows past the age limit, written by an earlier run.
        try await withRunningJournal(configuration) { journal in
            for day in 0..<20 {
                let time = Date().addingTimeInterval(-Double(60 + day) * 86_400)
                journal.record(DecisionRecord(time: time, door: "front", decision: sampleDecision(subject: "old\(day)"), backend: "nec"))
            }
            try await journal.flush()
        }
        // Another connection writes a recent row (so the write-ahead log is in use) and holds a read
        // transaction open on it, as a paused reader does.
        var unsafe = GRDB.Configuration()
        unsafe.allowsUnsafeTransactions = true
        let reader = try DatabaseQueue(path: path, configuration: unsafe)
        try await reader.write { db in
            try db.execute(sql: "INSERT INTO door_event (time, door, kind) VALUES (?, 'front', 'opened')", arguments: [Date()])
        }
        let held = try await reader.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN")
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM decision") ?? 0
        }
        #expect(held == 20)

        // The journal opens with retention due (it runs first, on the writer's task) and a grant queued.
        let journal = SQLiteJournal(configuration: configuration)
        journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "granted"), backend: "nec"))
        let writer = Task { await journal.run(clockIsTrusted: { _ in true }) }
        let clock = ContinuousClock()
        let start = clock.now
        try await journal.flush()
        let elapsed = clock.now - start
        // The grant-commit limit is 1 s; waiting for the reader took the busy timeout, 2 s.
        #expect(elapsed < .milliseconds(1800), "the grant's flush took \(elapsed) (waiting for the reader: 2 s)")
        let left = try await journal.decisions().compactMap(\.record.decision.subjectId)
        #expect(left == ["granted"], "retention deleted the old rows: \(left)")

        try await reader.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
        writer.cancel()
        await writer.value
    }

    @Test("a listing paused mid-way while 1,000 commits are made leaves the write-ahead log small, and lists what was there when it began")
    func aPausedListingDoesNotGrowTheLog() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        try await withRunningJournal(SQLiteJournal.Configuration(path: path)) { journal in
            for i in 0..<600 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "listed\(i)"), backend: "nec"))
            }
            try await journal.flush()

            // `facegate log | less`: the listing stops at its first row until the pager asks for more.
            let reader = try JournalReader(path: path)
            let (paused, pause) = AsyncStream<Void>.makeStream()
            let resume = DispatchSemaphore(value: 0)
            let (finished, finish) = AsyncStream<[String]>.makeStream()
            let listing = Thread {
                var subjects: [String] = []
                do {
                    try reader.forEachDecision(DecisionQuery()) { decision in
                        if subjects.isEmpty {
                            pause.yield()
                            resume.wait()
                        }
                        subjects.append(decision.record.decision.subjectId ?? "")
                    }
                } catch {
                    subjects.append("failed: \(error)")
                }
                finish.yield(subjects)
                finish.finish()
            }
            listing.start()
            var pauses = paused.makeAsyncIterator()
            _ = await pauses.next()

            for i in 0..<1_000 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "later\(i)"), backend: "nec"))
                try await journal.flush()
            }
            let walBytes = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            // With the listing holding one snapshot throughout, the log kept every commit (about 26 MB);
            // otherwise it is reused from its start after each checkpoint (1000 pages, about 4 MB).
            #expect(walBytes < 6 << 20, "write-ahead log of \(walBytes) bytes")

            resume.signal()
            var results = finished.makeAsyncIterator()
            let subjects = try #require(await results.next())
            #expect(subjects == (0..<600).map { "listed\($0)" })
        }
    }
}
