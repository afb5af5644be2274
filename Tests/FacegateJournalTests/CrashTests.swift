import FacegateCore
import Dispatch
import FacegateJournal
import FacegateTesting
import Foundation
import GRDB
import Testing

@Suite("Journal durability", .timeLimit(.minutes(5)))
struct CrashTests {
    /// The test-only writer, built beside this test binary.
    static var crashWriterPath: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("facegate-journal-crash-writer").path
    }

    @Test(
        "a writer SIGKILLed in the middle of a burst leaves an intact file holding every decision it reported committed",
        .enabled(if: FileManager.default.isExecutableFile(atPath: crashWriterPath), "the crash writer is built by `swift build`")
    )
    func sigkillDuringBurst() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.crashWriterPath)
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()

        // Never wait forever on a writer that stopped reporting: killing it ends the read below.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: watchdog)
        // Read "committed N" lines until a few thousand are on disk, then kill the writer mid-burst.
        let lastCommitted = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            DispatchQueue.global().async {
                var buffer = ""
                var last = 0
                while last < 5_000 {
                    let data = output.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    buffer += String(decoding: data, as: UTF8.self)
                    while let newline = buffer.firstIndex(of: "\n") {
                        let line = buffer[..<newline]
                        buffer = String(buffer[buffer.index(after: newline)...])
                        if line.hasPrefix("committed "), let n = Int(line.dropFirst("committed ".count)) { last = n }
                    }
                }
                kill(process.processIdentifier, SIGKILL)
                continuation.resume(returning: last)
            }
        }
        process.waitUntilExit()
        // Cancelled once the writer is reaped, so its id (which may be reused) is never signalled later.
        watchdog.cancel()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGKILL)
        #expect(lastCommitted >= 5_000)

        let queue = try DatabaseQueue(path: path)
        let (integrity, committed) = try await queue.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA integrity_check"),
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(DISTINCT subject_id) FROM decision WHERE CAST(subject_id AS INTEGER) BETWEEN 1 AND ?",
                    arguments: [lastCommitted])
            )
        }
        #expect(integrity == "ok")
        #expect(committed == lastCommitted)
        // The journal opens and writes on the file the killed writer left behind.
        try await withRunningJournal(.init(path: path)) { journal in
            journal.record(DoorEventRecord(time: Date(), door: "crash", kind: .closed))
            try await journal.flush()
            #expect(try await journal.doorEvents().count == 1)
        }
    }
}

@Suite("Journal on a failing disk", .serialized, .timeLimit(.minutes(5)))
struct FailingDiskTests {
    @Test("a journal on a read-only file system is reported, the caller is never held up, and the backlog lands once it is writable")
    func readOnlyThenWritable() async throws {
        guard ScratchMount.isPossible, let mount = try? ScratchMount(sizeKiB: 8_192) else {
            try Test.cancel("needs root and mount(8) to make a tmpfs that can be remounted read-only")
        }
        defer { mount.unmount() }
        let path = mount.folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(path: path, retryDelay: .milliseconds(50), maxRetryDelay: .milliseconds(200))
        try await withRunningJournal(configuration) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "before"), backend: "nec"))
            try await journal.flush()
        }
        // The kernel refuses to remount a file system read-only while a file on it is open for writing,
        // so the journal is reopened on the read-only mount (as after a reboot onto a read-only disk).
        try mount.remount(readOnly: true)
        try await withRunningJournal(configuration) { journal in
            for i in 0..<20 {
                #expect(journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "ro\(i)"), backend: "nec")))
            }
            await #expect(throws: JournalError.self) { try await journal.flush() }
            let failing = journal.status
            #expect(failing.health == .failing)
            #expect(failing.lastError?.code == .readOnly)
            #expect(failing.pendingRecords == 20)
            #expect(failing.droppedRecords == 0)

            try mount.remount(readOnly: false)
            try await flushEventually(journal)
            #expect(journal.status.health == .ok)
            #expect(journal.status.pendingRecords == 0)
            let subjects = try await journal.decisions().compactMap(\.record.decision.subjectId)
            #expect(subjects == ["before"] + (0..<20).map { "ro\($0)" })
        }
        let queue = try DatabaseQueue(path: path)
        let integrity = try await queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }

    @Test("a full disk is reported and the backlog is written once space is freed")
    func fullDisk() async throws {
        guard ScratchMount.isPossible, let mount = try? ScratchMount(sizeKiB: 2_048) else {
            try Test.cancel("needs root and mount(8) to make a small tmpfs")
        }
        defer { mount.unmount() }
        let path = mount.folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(path: path, retryDelay: .milliseconds(50), maxRetryDelay: .milliseconds(200))
        try await withRunningJournal(configuration) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "before"), backend: "nec"))
            try await journal.flush()

            // Fill what is left of the file system.
            let filler = try mount.fill()

            let reason = String(repeating: "x", count: 1_000)
            for i in 0..<200 {
                journal.record(DecisionRecord(time: Date(), door: "front", decision: Decision(outcome: .deniedUnknown, reason: reason, subjectId: "full\(i)"), backend: "nec"))
            }
            await #expect(throws: JournalError.self) { try await journal.flush() }
            #expect(journal.status.health == .failing)
            #expect([.diskFull, .ioFailure].contains(journal.status.lastError?.code))
            #expect(journal.status.pendingRecords == 200)

            try FileManager.default.removeItem(atPath: filler)
            try await flushEventually(journal)
            #expect(journal.status.health == .ok)
            #expect(try await journal.decisions().count == 201)
        }
        let queue = try DatabaseQueue(path: path)
        let integrity = try await queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }

    /// At the stop on a nearly full disk, what fits of the queue is written: the batches are halved after a
    /// full-disk failure, as the running writer's are. Before, the first batch of 512 did not fit and
    /// every queued record was lost.
    @Test("at the stop on a nearly full disk, as much of the queue as fits is kept")
    func fullDiskAtTheStop() async throws {
        guard ScratchMount.isPossible, let mount = try? ScratchMount(sizeKiB: 2_048) else {
            try Test.cancel("needs root and mount(8) to make a small tmpfs")
        }
        defer { mount.unmount() }
        let path = mount.folder.file("journal.sqlite")
        try await withRunningJournal(.init(path: path)) { journal in
            journal.record(DecisionRecord(time: Date(), door: "front", decision: sampleDecision(subject: "before"), backend: "nec"))
            try await journal.flush()
        }
        // Fill the file system, then free about 200 KiB.
        let filler = try mount.fill(leaving: 200 * 1024)

        // 600 records of about 1 KiB queued, then the writer stopped before it writes any of them.
        let journal = SQLiteJournal(configuration: .init(path: path))
        let reason = String(repeating: "x", count: 1_000)
        for i in 0..<600 {
            journal.record(DecisionRecord(time: Date(), door: "front", decision: Decision(outcome: .deniedUnknown, reason: reason, subjectId: "q\(i)"), backend: "nec"))
        }
        let writer = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await journal.run()
        }
        await writer.value
        try FileManager.default.removeItem(atPath: filler)
        let reader = SQLiteJournal(configuration: .init(path: path))
        let kept = try await reader.decisions().compactMap(\.record.decision.subjectId)
        #expect(kept.count > 20 && kept.count < 601, "\(kept.count) kept")
        #expect(Array(kept.prefix(3)) == ["before", "q0", "q1"], "the oldest first")
    }

    @Test("a journal whose folder cannot be written is reported as failing and keeps taking records")
    func cannotOpen() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let configuration = SQLiteJournal.Configuration(
            path: folder.file("missing-folder/journal.sqlite"), retryDelay: .milliseconds(20), maxRetryDelay: .milliseconds(50))
        try await withRunningJournal(configuration) { journal in
            #expect(journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened)))
            await #expect(throws: JournalError(.cannotOpen, "")) { try await journal.flush() }
            #expect(journal.status.health == .failing)
            #expect(journal.status.pendingRecords == 1)
        }
    }

    /// A batch with a record that can never be written is retried one record at a time; when a later
    /// record in it then meets a full disk, the records already written are not written again.
    @Test("records written one by one before a full disk are not written twice by the retry")
    func oneByOneThenAFullDiskWritesNothingTwice() async throws {
        guard ScratchMount.isPossible, let mount = try? ScratchMount(sizeKiB: 2_048) else {
            try Test.cancel("needs root and mount(8) to make a small tmpfs")
        }
        defer { mount.unmount() }
        let path = mount.folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(path: path, retryDelay: .milliseconds(50), maxRetryDelay: .milliseconds(100))
        try await withRunningJournal(configuration) { journal in
            journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened, detail: "before"))
            try await journal.flush()
        }
        // The faults, in the file itself (no seam in the writer): a record SQLite refuses for good (a
        // constraint), and one whose insert fills the disk while a switch is on.
        var faults = GRDB.Configuration()
        faults.busyMode = .timeout(5)
        let setUp = try DatabaseQueue(path: path, configuration: faults)
        try await setUp.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE fault_switch (on_ INTEGER);
                    INSERT INTO fault_switch VALUES (1);
                    CREATE TABLE fault_filler (bytes BLOB);
                    CREATE TRIGGER refused BEFORE INSERT ON door_event WHEN NEW.detail = 'refused'
                        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
                    CREATE TRIGGER fills_the_disk BEFORE INSERT ON door_event
                        WHEN NEW.detail = 'fills the disk' AND EXISTS (SELECT 1 FROM fault_switch)
                        BEGIN INSERT INTO fault_filler VALUES (randomblob(8 << 20)); END;
                    """)
        }

        // One batch (queued before the writer starts): written, refused, then the full disk.
        let journal = SQLiteJournal(configuration: configuration)
        for detail in ["written", "refused", "fills the disk"] {
            journal.record(DoorEventRecord(time: Date(), door: "front", kind: .forced, detail: detail))
        }
        let writer = Task { await journal.run() }
        // Retried a few times on the full disk.
        let deadline = ContinuousClock.now + .seconds(20)
        while journal.status.failedAttempts < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(journal.status.failedAttempts >= 3)
        try await setUp.write { db in try db.execute(sql: "DELETE FROM fault_switch") }
        try await flushEventually(journal)
        let details = try await journal.doorEvents().compactMap(\.detail)
        #expect(details == ["before", "written", "fills the disk"])
        #expect(journal.status.droppedRecords == 1)
        writer.cancel()
        await writer.value
    }

    /// At the stop, what is still queued is written as the running writer writes it: a record SQLite refuses
    /// for good is dropped alone (its batch written one record at a time), and every other record is kept,
    /// the stop's own last ones (the door's `locked`, a fault from the stop's lock) among them. Before, the
    /// stop gave up at the first refusal and dropped everything still queued.
    @Test("a record refused at the stop drops only itself")
    func aRecordRefusedAtTheStopDropsOnlyItself() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let configuration = SQLiteJournal.Configuration(path: path, maxBatchSize: 2)
        try await withRunningJournal(configuration) { journal in
            journal.record(DoorEventRecord(time: Date(), door: "front", kind: .opened, detail: "before"))
            try await journal.flush()
        }
        let setUp = try DatabaseQueue(path: path)
        try await setUp.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER refused BEFORE INSERT ON door_event WHEN NEW.detail = 'refused'
                        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
                    """)
        }

        let journal = SQLiteJournal(configuration: configuration)
        for detail in ["written", "refused", "kept", "kept too", "locked"] {
            journal.record(DoorEventRecord(time: Date(), door: "front", kind: .forced, detail: detail))
        }
        // A writer stopped before it wrote anything: all five are left to the stop, in batches of two.
        let writer = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await journal.run()
        }
        await writer.value
        let details = try await setUp.read { db in try String.fetchAll(db, sql: "SELECT detail FROM door_event ORDER BY id") }
        #expect(details == ["before", "written", "kept", "kept too", "locked"])
        #expect(journal.status.droppedRecords == 1)
        #expect(journal.status.writtenRecords == 4)
    }

    /// Flushes until a retry has gone through (a flush fails while a failed attempt is still being reported).
    private func flushEventually(_ journal: SQLiteJournal) async throws {
        for _ in 0..<200 {
            do {
                try await journal.flush()
                return
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await journal.flush()
    }
}
