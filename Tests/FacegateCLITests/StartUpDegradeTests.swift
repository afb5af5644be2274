import Foundation
import Testing
import FacegateTesting

#if canImport(Glibc)
    import Glibc
#endif

/// `facegate run` at start-up (issue 9, item 12): only a configuration problem exits 78. A GPIO chip
/// that is not there is waited for, then exit 1 (systemd restarts); a corrupt offline cache or call
/// budget file is run without, logged, journaled and shown in `STATUS=`.
@Suite(.serialized, .timeLimit(.minutes(5))) struct StartUpDegradeTests {
    typealias Bench = RunServiceTests.Bench
    typealias NotifySocket = RunServiceTests.NotifySocket

    /// The bench's configuration with these sections instead of its backend, door and cache.
    func write(_ bench: Bench, backend: String? = nil, door: String = "{name: test door, tags: [staff], threshold: 7000}", rest: String) throws {
        let f = bench.folder.path
        let necBackend = """
            backend:
              kind: nec
              nec:
                endpoint: http://127.0.0.1:9
                access_key: file:\(f)/access-key
                secret_key: file:\(f)/secret-key
                api_key: file:\(f)/api-key
            """
        try """
            camera: {source: replay, replay_path: \(f)/frames, fps: 5, replay_loops: true}
            \(backend ?? necBackend)
            door: \(door)
            journal: {path: \(f)/journal.sqlite}
            control: {socket: off}  # not the system's: a daemon may be running
            \(rest)
            """.write(to: bench.configuration, atomically: true, encoding: .utf8)
    }

    func start(_ bench: Bench, notify: NotifySocket?, arguments: [String] = []) throws -> (Process, URL) {
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify?.path
        environment["WATCHDOG_USEC"] = nil
        let log = bench.folder.appendingPathComponent("run.log")
        let process = try ToolProcess.start(
            CLITests.executable, ["run", "--config", bench.configuration.path] + arguments, environment: environment, log: log)
        return (process, log)
    }

    /// Waits for the process to end, at most `seconds`; kills it if it does not.
    func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        return true
    }

    func facegate(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try ToolProcess.runBlocking(CLITests.executable, arguments)
        return (run.status, run.output + run.errors)
    }

    @Test(.timeLimit(.minutes(1)))
    func aGPIOChipThatIsNotThereIsWaitedForThenExit1NotExit78() throws {
        let bench = try Bench()
        // No gpiochip97 on any machine this runs on: a driver that never loads.
        try write(bench, door: "{name: test door, tags: [staff], relay: {chip: gpiochip97, line: 3}}", rest: "offline_cache: {enabled: false}")
        let notify = try NotifySocket(path: bench.folder.appendingPathComponent("notify").path)
        let started = Date()
        let (process, log) = try start(bench, notify: notify, arguments: ["--device-wait-seconds", "2.5"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // Waiting, said in STATUS=, with more start-up time asked of systemd at each retry.
        let first = try #require(notify.waitFor("STATUS=waiting for the GPIO chip of door.relay", seconds: 20))
        #expect(first.last?.contains("EXTEND_TIMEOUT_USEC=") == true)
        #expect(process.isRunning, "a missing chip must not end the start at once")
        // Retried about every second, not in a tight loop.
        let second = try #require(notify.waitFor("STATUS=waiting for the GPIO chip of door.relay", seconds: 3), "no second try")
        #expect(!second.contains { $0.contains("READY=1") })
        #expect(second.last?.contains("EXTEND_TIMEOUT_USEC=") == true, "more start-up time asked at each look")

        #expect(waitForExit(process, seconds: 15), "still waiting past the bound")
        let waited = Date().timeIntervalSince(started)
        let text = try String(contentsOf: log, encoding: .utf8)
        // Not a configuration problem: exit 1, which systemd restarts (78 it would not).
        #expect(process.terminationStatus == 1, "\(text)")
        #expect(waited >= 2.4, "gave up after \(waited) s")
        // Logged once, not at every retry.
        #expect(text.components(separatedBy: "GPIO chip not there yet").count == 2, "\(text)")
        #expect(text.contains("cannot start; exiting for systemd to restart"), "\(text)")
        #expect(!text.contains("refusing to start"), "\(text)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aCorruptOfflineCacheAndCallBudgetAreRunWithoutJournaledAndShown() throws {
        let bench = try Bench()
        let f = bench.folder.path
        // An offline cache key, and a cache file that is not a database.
        let keyMade = try facegate(["cache", "new-key", "\(f)/cache-key"])
        #expect(keyMade.status == 0, "\(keyMade.output)")
        try Data("this is not an SQLite database, it is a text file that says so at length............".utf8)
            .write(to: URL(fileURLWithPath: "\(f)/offline-cache.sqlite"))
        // NeoCheck, with a call budget file that holds garbage.
        for name in ["client-secret", "password"] {
            #expect(FileManager.default.createFile(atPath: "\(f)/\(name)", contents: Data("not-a-real-\(name)".utf8), attributes: [.posixPermissions: 0o600]))
        }
        try Data("{\"available\": ".utf8).write(to: URL(fileURLWithPath: "\(f)/neocheck-budget.json"))
        try write(
            bench,
            backend: """
                backend:
                  kind: neocheck
                  neocheck:
                    endpoint: http://127.0.0.1:9
                    client_id: door-test
                    username: door-test
                    client_secret: file:\(f)/client-secret
                    password: file:\(f)/password
                    budget_state: \(f)/neocheck-budget.json
                """,
            door: "{name: test door, face_list: staff, threshold: 80}",
            rest: "offline_cache: {enabled: true, key: file:\(f)/cache-key, path: \(f)/offline-cache.sqlite}")
        let check = try facegate(["config", "check", bench.configuration.path])
        #expect(check.status == 0, "the bench's configuration is valid: \(check.output)")
        // Valid here (the daemon below runs on its file: secrets as this user), but the packaged unit's
        // dynamic user could read none of them: noted by key, no path (postinst holds such a door back).
        for key in ["backend.neocheck.client_secret", "backend.neocheck.password", "offline_cache.key"] {
            #expect(check.output.contains("note: \(key): is a file: secret, which the facegate unit's service cannot read"), "\(key): \(check.output)")
        }
        #expect(!check.output.contains("\(f)/client-secret") && !check.output.contains("\(f)/cache-key"), "\(check.output)")

        let notify = try NotifySocket(path: bench.folder.appendingPathComponent("notify").path)
        let (process, log) = try start(bench, notify: notify)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        // It serves, and says what it runs without.
        let ready = try #require(notify.waitFor("READY=1", seconds: 60), "no READY=1; log: \(logText())")
        let status = ready.last ?? ""
        #expect(status.contains("offline cache off: the file cannot be opened"), "\(status)")
        #expect(status.contains("call budget state corrupt: started with the hour spent"), "\(status)")
        #expect(process.isRunning)

        kill(process.processIdentifier, SIGTERM)
        #expect(waitForExit(process, seconds: 20))
        #expect(process.terminationStatus == 0, "\(logText())")

        let text = logText()
        #expect(text.contains("offline cache unusable; running without it") && text.contains("key=offline_cache.path"), "\(text)")
        #expect(text.contains("call budget state not usable") && text.contains("key=backend.neocheck.budget_state"), "\(text)")
        // Named by key, never by path, and no secret.
        #expect(!text.contains("offline-cache.sqlite") && !text.contains("neocheck-budget.json") && !text.contains("cache-key"), "\(text)")
        #expect(!text.contains("not-a-real-"), "\(text)")
        // The garbage is left for the installer to look at.
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(f)/offline-cache.sqlite")).starts(with: Data("this is not".utf8)))

        // Journaled, as door events of kind `degraded`.
        let events = try facegate(["log", "--database", "\(f)/journal.sqlite", "--door-events"])
        #expect(events.status == 0, "\(events.output)")
        #expect(events.output.contains("degraded  offline cache off: the file cannot be opened"), "\(events.output)")
        #expect(events.output.contains("degraded  call budget state corrupt"), "\(events.output)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aModelsFolderThatDoesNotExistIsAConfigurationProblemExit78() throws {
        let bench = try Bench()
        // A path in the file that does not exist is the file's mistake: restarting will not fix it.
        try write(bench, rest: "offline_cache: {enabled: false}\nmodels: \(bench.folder.path)/no-models-here")
        let (process, log) = try start(bench, notify: nil)
        #expect(waitForExit(process, seconds: 30))
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(process.terminationStatus == 78, "\(text)")
        #expect(text.contains("refusing to start: configuration problem") && text.contains("key=models"), "\(text)")
    }
}
