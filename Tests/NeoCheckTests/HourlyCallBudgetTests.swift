import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Hourly call budget", .timeLimit(.minutes(5)))
struct HourlyCallBudgetTests {
    @Test("spends down to nothing, then says how long to wait")
    func spendsAndRefuses() async throws {
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 4, now: { clock.now })
        for _ in 0..<4 { try await budget.spend() }
        #expect(await budget.canAfford() == false)
        do {
            try await budget.spend()
            Issue.record("an empty budget allowed a call")
        } catch {
            #expect(error.code == .callBudgetExhausted)
            // 4 calls an hour, all made now: the next once they have left the hour (counted by 10 s slots).
            let wait = try #require(error.retryAfter)
            #expect(wait > .seconds(3600) && wait <= .seconds(3610), "\(wait)")
        }
    }

    @Test("calls come back as they leave the hour, never above the limit")
    func callsComeBackAsTheyLeaveTheHour() async throws {
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 3600, now: { clock.now })
        for _ in 0..<10 { try await budget.spend() }
        #expect(await budget.remaining == 3590)
        clock.advance(by: 1800)
        #expect(await budget.remaining == 3590, "still in the hour")
        clock.advance(by: 1811)
        #expect(await budget.remaining == 3600)
        clock.advance(by: 7200)
        #expect(await budget.remaining == 3600)
    }

    /// The service counts calls per hour: a budget that starts full and refills at the hourly rate (the
    /// token bucket it was) lets a full hour's burst through and then the refill on top, twice the limit
    /// in one hour (review). A sliding hour never does, whatever the pattern of calls.
    @Test("no hour ever holds more than the limit, after a burst or a steady stream")
    func noHourHoldsMoreThanTheLimit() async throws {
        let clock = ManualClock()
        let limit = 120
        let budget = try HourlyCallBudget(callsPerHour: limit, now: { clock.now })
        // The reviewer's case: the hour spent at once, then half an hour later more asked for.
        for _ in 0..<limit { try await budget.spend() }
        clock.advance(by: 1800)
        #expect(await budget.canAfford() == false, "a token bucket had 60 back by now")
        // Then three hours of calls asked for at uneven times: every call made is checked against the
        // calls made in the hour before it.
        var made: [Date] = Array(repeating: clock.now.addingTimeInterval(-1800), count: limit)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<4000 {
            clock.advance(by: Double.random(in: 0...5, using: &generator))
            guard (try? await budget.spend()) != nil else { continue }
            let now = clock.now
            made.append(now)
            let inTheHour = made.filter { now.timeIntervalSince($0) < 3600 }.count
            #expect(inTheHour <= limit, "\(inTheHour) calls in the hour before \(now)")
            if inTheHour > limit { break }
        }
        // And the budget is not starved either: over those hours it made about the limit each hour.
        #expect(made.count > limit * 3, "\(made.count)")
    }

    @Test("a wall clock that goes back frees nothing")
    func clockGoingBack() async throws {
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 60, now: { clock.now })
        for _ in 0..<60 { try await budget.spend() }
        clock.advance(by: -3600)
        #expect(await budget.remaining == 0)
        // Back where it was: the calls are still in the hour.
        clock.advance(by: 3600)
        #expect(await budget.remaining == 0)
        clock.advance(by: 3611)
        #expect(await budget.remaining == 60)
    }

    /// A clock that ran ahead and is put right (NTP correcting a box that booted a day ahead) must not keep the
    /// calls counted then in the hour for that day: NeoCheck refused all day, every decision offline and the
    /// revocation sync stopped (second review). They count as made when the clock went back, and leave within
    /// the hour; the same for a file written by a clock that was ahead.
    @Test("a clock put back from a day ahead frees the calls within the hour, not a day later")
    func aClockPutBackFromADayAhead() async throws {
        let file = try TemporaryFolder("budget-ahead").url.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        clock.advance(by: 86_400)
        let budget = try HourlyCallBudget(callsPerHour: 10, stateFile: file, now: { clock.now })
        for _ in 0..<10 { try await budget.spend() }
        clock.advance(by: -86_400)
        #expect(await budget.remaining == 0, "nothing freed at once")
        let restarted = try HourlyCallBudget(callsPerHour: 10, stateFile: file, now: { clock.now })
        #expect(restarted.stateProblem == nil)
        #expect(await restarted.remaining == 0)
        clock.advance(by: 3611)
        #expect(await budget.remaining == 10)
        #expect(await restarted.remaining == 10)
    }

    /// Numbers no saved budget holds (a slot at the edge of Int64) are a state problem, not a crash.
    @Test("a state file with a slot out of range is invalid, not a crash", arguments: ["-9223372036854775808", "9223372036854775807", "922337203685477580"])
    func aSlotOutOfRangeIsInvalid(slot: String) async throws {
        let file = try TemporaryFolder("budget-range").url.appendingPathComponent("neocheck-budget.json")
        let counts = Array(repeating: "1", count: 361).joined(separator: ",")
        try Data(#"{"slot":\#(slot),"counts":[\#(counts)]}"#.utf8).write(to: file)
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 3600, stateFile: file, now: { clock.now })
        #expect(budget.stateProblem == .invalidNumbers)
        #expect(await budget.remaining == 0)
        clock.advance(by: 20)
        try await budget.spend()
        #expect(await budget.waitForOneCall() >= .zero)
    }

    /// The file is the account's count for every process naming it: each spend re-reads it under its lock.
    /// Before, each budget read the file once at its start and then overwrote it with its own count, so the
    /// door and `facegate neocheck --budget-file` each spent a full hour (and undid each other's counts).
    @Test("two budgets on one state file spend one hour between them")
    func twoBudgetsShareTheHour() async throws {
        let file = try TemporaryFolder("budget-shared").url.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        let door = try HourlyCallBudget(callsPerHour: 5, stateFile: file, now: { clock.now })
        let command = try HourlyCallBudget(callsPerHour: 5, stateFile: file, now: { clock.now })
        for _ in 0..<5 { try await door.spend() }
        await #expect(throws: NeoCheckError(.callBudgetExhausted, "")) { try await command.spend() }
        #expect(await command.remaining == 0)
        #expect(await command.canAfford() == false)
        // The calls come back once they have left the hour, to whichever asks first.
        clock.advance(by: 720)
        await #expect(throws: NeoCheckError(.callBudgetExhausted, "")) { try await command.spend() }
        clock.advance(by: 2891)
        for _ in 0..<4 { try await command.spend() }
        try await door.spend()
        await #expect(throws: NeoCheckError(.callBudgetExhausted, "")) { try await door.spend() }
        // The service saying the limit is reached empties it for both.
        clock.advance(by: 3611)
        #expect(await command.remaining == 5)
        await door.exhaust()
        #expect(await command.remaining == 0)
    }

    @Test("budgets spending at once on one state file never spend more than the hour")
    func concurrentSpendersShareTheHour() async throws {
        let file = try TemporaryFolder("budget-concurrent").url.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        // A wait no loaded machine runs out of (each change fsyncs; the door's own is 2 s).
        let budgets = try (0..<4).map { _ in try HourlyCallBudget(callsPerHour: 200, stateFile: file, now: { clock.now }, lockWait: .seconds(120)) }
        let spent = await withTaskGroup(of: Int.self) { group in
            for budget in budgets {
                group.addTask {
                    var count = 0
                    for _ in 0..<100 {
                        if (try? await budget.spend()) != nil { count += 1 }
                    }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(spent == 200)
        #expect(FileManager.default.fileExists(atPath: file.path + ".lock"))
    }

    /// The door's file written by root (`sudo facegate neocheck --budget-file /var/lib/facegate/...`) stays
    /// the service's: the state file and its lock go to the owner of their folder (the service's user),
    /// the lock readable by all (a lock needs no more). Before, root's save left the state file root's,
    /// 0600 under root's umask, and the lock root's 0600: the door could open neither, so it went on
    /// unlocked from its own older count and overwrote the command's spending.
    @Test("root's save leaves the state file and its lock to the folder's owner", .enabled(if: geteuid() == 0, "needs root to give files away"))
    func rootsSaveLeavesTheFileToTheFoldersOwner() async throws {
        let folder = try TemporaryFolder("budget-owner")
        defer { folder.remove() }
        let service: uid_t = 61_234
        #expect(chown(folder.url.path, service, service) == 0)
        let file = folder.url.appendingPathComponent("neocheck-budget.json")
        // A lock file root made under a strict umask: made readable, whatever the umask.
        let made = open(file.path + ".lock", O_CREAT | O_WRONLY, 0o600)
        #expect(made >= 0 && fchmod(made, 0o600) == 0)
        close(made)
        let command = try HourlyCallBudget(callsPerHour: 10, stateFile: file)
        try await command.spend()
        for path in [file.path, file.path + ".lock"] {
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_uid == service && info.st_gid == service, "\(path): owner \(info.st_uid)")
        }
        var lock = stat()
        #expect(stat(file.path + ".lock", &lock) == 0 && lock.st_mode & 0o777 == 0o644)
    }

    /// The folder is the door service's: a process running as it could put a link where the lock file goes.
    /// Root's command must neither give away nor open up the file the link leads to (review: `chown` by path
    /// followed a symbolic link, and a hard link to a root file would have been made 0644 and given away).
    @Test("root's command gives away no file a link in the service's folder leads to", .enabled(if: geteuid() == 0, "needs root"))
    func linksInTheServicesFolderAreNotFollowed() async throws {
        let folder = try TemporaryFolder("budget-links")
        defer { folder.remove() }
        let outside = try TemporaryFolder("budget-target")
        defer { outside.remove() }
        let service: uid_t = 61_235
        #expect(chown(folder.url.path, service, service) == 0)
        let target = outside.file("root-only")
        #expect(FileManager.default.createFile(atPath: target, contents: Data("secret".utf8), attributes: [.posixPermissions: 0o600]))
        for link in ["symbolic", "hard"] {
            let file = folder.url.appendingPathComponent("budget-\(link).json")
            if link == "symbolic" {
                #expect(symlink(target, file.path + ".lock") == 0)
            } else {
                #expect(Glibc.link(target, file.path + ".lock") == 0)
            }
            let command = try HourlyCallBudget(callsPerHour: 10, stateFile: file)
            try await command.spend()
            var info = stat()
            #expect(stat(target, &info) == 0)
            #expect(info.st_uid == 0 && info.st_mode & 0o777 == 0o600, "\(link) link: owner \(info.st_uid), mode \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    /// The state file's disk stops taking writes (full, or the SD card remounted read-only) while the old
    /// file still reads: the calls made since are still counted. Before, each spend re-read the old file and
    /// added one to it, so the budget never ran out and the door called until the service refused.
    @Test("a state file that can no longer be written still counts every call", .enabled(if: geteuid() == 0, "mounts a file system"))
    func aStateFileThatCannotBeWrittenStillCounts() async throws {
        let folder = try TemporaryFolder("budget-read-only").url.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func mount(_ arguments: [String]) throws {
            let run = try ToolProcess.runBlocking(URL(fileURLWithPath: "/bin/mount"), arguments)
            try #require(run.status == 0, "mount \(arguments): \(run.errors)")
        }
        try mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder.path])
        defer { _ = try? ToolProcess.runBlocking(URL(fileURLWithPath: "/bin/umount"), ["-l", folder.path]) }
        let file = folder.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 3, stateFile: file, now: { clock.now })
        try await budget.spend()
        try mount(["-o", "remount,ro", folder.path])
        clock.advance(by: 30)
        try await budget.spend()
        try await budget.spend()
        #expect(await budget.remaining == 0)
        await #expect(throws: NeoCheckError.self) { try await budget.spend() }
        // What the file still says (one call) is taken in too, without counting that call twice.
        #expect(await budget.canAfford(1) == false)
        clock.advance(by: 3611)
        #expect(await budget.remaining == 3)
    }

    @Test("survives a restart through its state file")
    func persists() async throws {
        let folder = try TemporaryFolder("budget").url
        let file = folder.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        do {
            let budget = try HourlyCallBudget(callsPerHour: 10, stateFile: file, now: { clock.now })
            for _ in 0..<7 { try await budget.spend() }
        }
        clock.advance(by: 360)
        let restarted = try HourlyCallBudget(callsPerHour: 10, stateFile: file, now: { clock.now })
        #expect(await restarted.remaining == 3, "the seven are still in the hour")
        await restarted.exhaust()
        let again = try HourlyCallBudget(callsPerHour: 10, stateFile: file, now: { clock.now })
        #expect(await again.remaining == 0)
    }

    /// A file an earlier facegate wrote (a token bucket's count) is read as that many calls made evenly
    /// over the last hour, not refused as corrupt.
    @Test("a state file of the earlier format is read as calls made over the last hour")
    func earlierFormat() async throws {
        let folder = try TemporaryFolder("budget").url
        let file = folder.appendingPathComponent("neocheck-budget.json")
        let clock = ManualClock()
        try Data(#"{"available":1200,"updatedAt":\#(clock.now.timeIntervalSince1970)}"#.utf8).write(to: file)
        let budget = try HourlyCallBudget(callsPerHour: 3600, stateFile: file, now: { clock.now })
        #expect(budget.stateProblem == nil)
        #expect(await budget.remaining == 1200)
        // Spread over the hour: the first come back within a slot, all of them within the hour.
        clock.advance(by: 20)
        #expect(await budget.remaining > 1200)
        clock.advance(by: 3600)
        #expect(await budget.remaining == 3600)
    }

    @Test("a corrupt state file starts the budget spent, refilling at its rate, and is left as it was")
    func corruptFile() async throws {
        let folder = try TemporaryFolder("budget").url
        let file = folder.appendingPathComponent("neocheck-budget.json")
        let garbage = Data("{\"available\": \"lots\"".utf8)
        try garbage.write(to: file)
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 60, stateFile: file, now: { clock.now })
        #expect(budget.stateProblem == .corrupt)
        // The hour counts as spent evenly: nothing now, about one call a minute after, never more than the limit.
        #expect(await budget.remaining == 0)
        #expect(try Data(contentsOf: file) == garbage)
        clock.advance(by: 80)
        let back = await budget.remaining
        #expect((1...2).contains(back), "\(back)")
        try await budget.spend()
        // The first change writes a valid state over the corrupt one.
        let again = try HourlyCallBudget(callsPerHour: 60, stateFile: file, now: { clock.now })
        #expect(again.stateProblem == nil)
        #expect(await again.remaining == back - 1)
    }

    @Test("a state file that cannot be read (a folder, a FIFO) starts the budget spent without hanging")
    func unreadableFile() async throws {
        let folder = try TemporaryFolder("budget").url
        let directory = folder.appendingPathComponent("neocheck-budget.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clock = ManualClock()
        let budget = try HourlyCallBudget(callsPerHour: 3600, stateFile: directory, now: { clock.now })
        #expect(budget.stateProblem == .unreadable)
        #expect(await budget.remaining == 0)
        // At 3600 calls an hour the door can ask the cloud again within ten seconds.
        clock.advance(by: 10)
        #expect(await budget.canAfford())
        let fifo = folder.appendingPathComponent("fifo.json")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let fromFIFO = try HourlyCallBudget(callsPerHour: 3600, stateFile: fifo)
        #expect(fromFIFO.stateProblem == .unreadable)
    }

    @Test("the client refuses locally when its budget is spent; the service is not called")
    func clientKnowsBeforeCalling() async throws {
        try await withNeoCheckEmulator(callsPerHour: 3) { harness in
            let budget = try HourlyCallBudget(callsPerHour: 3)
            let client = try harness.client(budget: budget)
            let list = try await client.createList(name: "staff")
            _ = try await client.list(identifier: list)
            _ = try await client.list(identifier: list)
            #expect(await budget.canAfford() == false)
            do {
                _ = try await client.list(identifier: list)
                Issue.record("a call beyond the budget was made")
            } catch let error as NeoCheckError {
                #expect(error.code == .callBudgetExhausted)
                #expect(error.retryAfter != nil)
            }
            #expect(await harness.emulator.apiCalls == 3)
        }
    }

    @Test("the service's hourly limit is a typed error and empties the client's budget")
    func serviceLimitReached() async throws {
        try await withNeoCheckEmulator(callsPerHour: 2) { harness in
            let budget = try HourlyCallBudget(callsPerHour: 100)
            let client = try harness.client(budget: budget)
            let list = try await client.createList(name: "visitors")
            _ = try await client.list(identifier: list)
            do {
                _ = try await client.list(identifier: list)
                Issue.record("the service's limit was not reported")
            } catch let error as NeoCheckError {
                #expect(error.code == .hourlyLimitReached)
                #expect(error.status == 400)
            }
            #expect(await budget.remaining == 0)
            do {
                _ = try await client.list(identifier: list)
                Issue.record("the client called although the limit was known")
            } catch let error as NeoCheckError {
                #expect(error.code == .callBudgetExhausted)
            }
            #expect(await harness.emulator.apiCalls == 2)
        }
    }

    @Test("without a client budget the service's limit still comes back typed")
    func serviceLimitWithoutBudget() async throws {
        try await withNeoCheckEmulator(callsPerHour: 1) { harness in
            let client = try harness.client()
            _ = try await client.createList(name: "one")
            await #expect(throws: NeoCheckError(.hourlyLimitReached, "")) {
                _ = try await client.createList(name: "two")
            }
        }
    }
}
