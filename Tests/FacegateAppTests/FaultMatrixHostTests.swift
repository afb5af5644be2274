import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fault matrix, continued: faults of the machine rather than the cloud (the journal's disk, the
/// clock, SIGKILL). The cloud is refused in every case (nothing listens), so the door decides offline.
/// The journal cases mount a file system and need root (CI runs the tests as root).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FaultMatrixHostTests {
    /// Held for the whole run: nothing else takes the port.
    static let refusedPort = try? RefusedPort()
    static let refused = refusedPort?.endpoint ?? "http://127.0.0.1:9"

    /// A folder with a mount on it, unmounted (and removed) however the test ends.
    final class Mount {
        let point: URL
        init(_ point: URL, _ arguments: [String]) throws {
            self.point = point
            try #require(getuid() == 0, "the journal's disk cases mount a file system: run the tests as root")
            try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
            try mustRun("/bin/mount", arguments + [point.path])
        }
        func remount(_ options: String) throws { try mustRun("/bin/mount", ["-o", options, point.path]) }
        deinit { _ = try? FaultMatrix.run(URL(fileURLWithPath: "/bin/umount"), ["-l", point.path]) }
    }

    /// The journal's disk is gone (full, read-only): the door still decides and opens for her, the
    /// records wait in memory, and the loss is logged at stop. The door is not kept shut by the disk.
    static func expectDecidedWithoutAJournal(_ run: DaemonRun, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0 && run.killedBySignal == nil, "\(run.summary)", sourceLocation: sourceLocation)
        let logged = run.loggedDecisions
        #expect(logged.map(\.outcome) == ["granted-offline", "denied-offline"], "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.relayUnlocks == 1 && run.relayLocks == 1, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.log.contains("journal cannot write"), sourceLocation: sourceLocation)
        #expect(run.log.contains("grant not yet on disk; opening the door anyway"), sourceLocation: sourceLocation)
        #expect(run.log.contains("journal stopped with records unwritten"), "the loss is said at stop", sourceLocation: sourceLocation)
        if logged.count == 2 {
            #expect(logged[0].milliseconds < 4000, "\(logged[0].milliseconds) ms", sourceLocation: sourceLocation)
            #expect(logged[1].milliseconds < 1000, "\(logged[1].milliseconds) ms", sourceLocation: sourceLocation)
        }
        #expect(!run.leaksASecret, sourceLocation: sourceLocation)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))", sourceLocation: sourceLocation)
    }

    @Test("journal disk full")
    func journalDiskFull() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "disk-full", seed: seed)
        let mount = try Mount(bench.folder.appendingPathComponent("journal"), ["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        bench.journalFolder = mount.point
        // Last night's journal, then the disk fills up.
        try FileManager.default.copyItem(at: seed.journal, to: bench.journal)
        _ = try? FaultMatrix.run(URL(fileURLWithPath: "/bin/dd"), ["if=/dev/zero", "of=\(mount.point.path)/filler", "bs=4k"])
        let run = try await bench.run(endpoint: Self.refused)
        reportLogged("journal disk full", run)
        Self.expectDecidedWithoutAJournal(run)
        // Room again: the journal is intact, last night's rows readable (tonight's were lost, as logged).
        try FileManager.default.removeItem(at: mount.point.appendingPathComponent("filler"))
        #expect(try bench.readDecisions().count == seed.control.decisions.count)
    }

    @Test("journal read-only")
    func journalReadOnly() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "read-only", seed: seed)
        let source = bench.folder.appendingPathComponent("journal-source")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: seed.journal, to: source.appendingPathComponent("journal.sqlite"))
        let mount = try Mount(bench.folder.appendingPathComponent("journal"), ["--bind", source.path])
        try mount.remount("remount,bind,ro")
        bench.journalFolder = mount.point
        let run = try await bench.run(endpoint: Self.refused)
        reportLogged("journal read-only", run)
        Self.expectDecidedWithoutAJournal(run)
        #expect(run.log.contains("mounted read-only"))
        #expect(try bench.readDecisions(at: source.appendingPathComponent("journal.sqlite")).count == seed.control.decisions.count)
    }

    /// Shifts every journaled decision's time by an SQLite modifier ("+1 day", "-1 year").
    static func redate(_ journal: URL, _ modifier: String) throws {
        try mustRun(
            "/usr/bin/sqlite3",
            [journal.path, "UPDATE decision SET time = strftime('%Y-%m-%d %H:%M:%f', time, '\(modifier)');"])
    }

    /// The clock reads a day earlier than the newest journaled decision. (Made by dating the journal a
    /// day ahead: the daemon can only see a step against the times it has stored, and the cache's
    /// times are sealed. libfaketime was tried and hangs the daemon after its first decision.)
    @Test("clock stepped back a day")
    func clockSteppedBackADay() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "clock-back", seed: seed)
        try FileManager.default.copyItem(at: seed.journal, to: bench.journal)
        try Self.redate(bench.journal, "+1 day")
        let run = try await bench.run(endpoint: Self.refused)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))")
        let new = Array(run.decisions.filter { $0.record.time < Date().addingTimeInterval(3600) })
        reportLogged("clock stepped back a day", run)
        #expect(run.status == 0, "\(run.summary)")
        #expect(new.map(\.record.decision.outcome) == [.deniedOffline, .deniedOffline], "\(run.summary)")
        #expect(new.first?.record.decision.reason.contains("offline grants refused") == true, "\(run.summary)")
        #expect(new.first?.record.decision.reason.contains("no offline cache") == false, "\(run.summary)")
        #expect(run.relayUnlocks == 0 && new.allSatisfy { $0.record.relay == nil }, "\(run.summary)")
        #expect(run.log.contains("offline grants refused until the clock is right"))
        let times = new.map { $0.record.latencies.total.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 } ?? .nan }
        #expect(times.allSatisfy { $0 < 2500 }, "\(times)")
    }

    /// The clock jumps a year forward: every journaled row is past the 90-day retention. (Made by
    /// dating the journal a year back.) Retention must not empty the journal in one pass.
    @Test("clock stepped forward a year")
    func clockSteppedForwardAYear() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "clock-forward", seed: seed)
        try FileManager.default.copyItem(at: seed.journal, to: bench.journal)
        try Self.redate(bench.journal, "-1 year")
        let run = try await bench.run(endpoint: Self.refused)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))")
        reportLogged("clock stepped forward a year", run)
        #expect(run.status == 0, "\(run.summary)")
        let old = run.decisions.filter { $0.record.time < Date().addingTimeInterval(-300 * 86_400) }
        #expect(old.count == seed.control.decisions.count, "last year's rows kept: \(run.summary)")
        #expect(run.log.contains("journal retention held back"), "\(run.summary)")
        let new = run.decisions.filter { $0.record.time > Date().addingTimeInterval(-3600) }
        #expect(new.map(\.record.decision.outcome) == [.grantedOffline, .deniedOffline], "\(run.summary)")
        #expect(run.relayUnlocks == 1)
    }

    /// SIGKILL while the relay is energised for her: the grant was on disk before the relay moved,
    /// and the journal opens clean afterwards. (What the relay line does when the process dies is the
    /// kernel's: hil/tests/06-relay-sigkill.sh on gpio-sim.)
    @Test("SIGKILL during a pulse")
    func sigkillDuringAPulse() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "sigkill", seed: seed)
        let run = try await bench.run(endpoint: Self.refused, killWhen: "simulated relay driven: door unlocked")
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))")
        report("SIGKILL during a pulse", run)
        #expect(run.killedBySignal == SIGKILL, "\(run.summary)")
        #expect(run.relayUnlocks == 1 && run.relayLocks == 0, "killed while unlocked: \(run.summary)")
        #expect(run.outcomes == [.grantedOffline], "the grant is on disk: \(run.summary)")
        #expect(run.decisions.first?.record.decision.subjectId == seed.subject)
        let integrity = try mustRun("/usr/bin/sqlite3", [bench.journal.path, "PRAGMA integrity_check;"])
        #expect(integrity.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }
}

func reportLogged(_ name: String, _ run: DaemonRun) {
    let times = run.loggedDecisions.map { "\($0.outcome) \(String(format: "%.0f", $0.milliseconds)) ms" }.joined(separator: ", ")
    print("fault-matrix | \(name) | \(times) | run \(run.wallTime)")
}
