import FacegateApp
import FacegateTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `facegate run` as systemd runs it: sd_notify messages on `$NOTIFY_SOCKET`, the watchdog, SIGHUP
/// reloads (an invalid file refused), SIGTERM, and refusal to start on an invalid configuration.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RunServiceTests {
    /// A folder with a configuration that needs no camera, GPIO or cloud: replayed frames without a
    /// face, a simulated door, an unreachable backend (never called: nobody walks up).
    final class Bench {
        let folder: URL
        var configuration: URL { folder.appendingPathComponent("facegate.yaml") }

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-run-\(UUID().uuidString.prefix(8))")
            let frames = folder.appendingPathComponent("frames")
            try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
            let empty = CLITests.testData.appendingPathComponent("faces/_noface")
            for name in try FileManager.default.contentsOfDirectory(atPath: empty.path).sorted().prefix(3) {
                try FileManager.default.copyItem(at: empty.appendingPathComponent(name), to: frames.appendingPathComponent(name))
            }
            for name in ["access-key", "secret-key", "api-key"] {
                let path = folder.appendingPathComponent(name).path
                #expect(FileManager.default.createFile(atPath: path, contents: Data("not-a-real-\(name)".utf8), attributes: [.posixPermissions: 0o600]))
            }
            try write(threshold: 7000)
        }

        func write(threshold: Int, extra: String = "", loops: Bool = true) throws {
            let f = folder.path
            try """
                camera: {source: replay, replay_path: \(f)/frames, fps: 5, replay_loops: \(loops)}
                backend:
                  kind: nec
                  nec:
                    endpoint: http://127.0.0.1:9
                    access_key: file:\(f)/access-key
                    secret_key: file:\(f)/secret-key
                    api_key: file:\(f)/api-key
                door: {name: test door, tags: [staff], threshold: \(threshold)}
                offline_cache: {enabled: false}
                journal: {path: \(f)/journal.sqlite}
                \(extra.contains("control:") ? "" : "control: {socket: off}  # not the system's: a daemon may be running")
                \(extra)
                """.write(to: configuration, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    /// A bound `AF_UNIX` datagram socket standing in for systemd's notify socket.
    final class NotifySocket {
        let path: String
        private let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8) + [0]) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(fd >= 0 && bound == 0)
        }

        /// Messages until one contains `text`, or nil after `seconds`.
        func waitFor(_ text: String, seconds: Double = 30) -> [String]? {
            var seen: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { continue }
                let message = String(decoding: buffer[0..<count], as: UTF8.self)
                seen.append(message)
                if message.contains(text) { return seen }
            }
            return nil
        }

        deinit {
            close(fd)
            unlink(path)
        }
    }

    func start(_ bench: Bench, notify: NotifySocket?, watchdogMicroseconds: Int? = nil) throws -> (Process, URL) {
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify?.path
        environment["WATCHDOG_USEC"] = watchdogMicroseconds.map(String.init)
        let log = bench.folder.appendingPathComponent("run.log")
        let process = try ToolProcess.start(
            CLITests.executable, ["run", "--config", bench.configuration.path], environment: environment, log: log)
        return (process, log)
    }

    /// Under the unit (`$STATE_DIRECTORY` set), the daemon records the relay it starts with before it
    /// requests it, for the unit's ExecStopPost (`facegate door rest`): after a stop the line it drove is
    /// rested even if the file no longer parses. (Here the relay's chip never appears: it is waited for.)
    @Test func theRelayIsRecordedForTheRestAfterAStop() throws {
        let bench = try Bench()
        try bench.write(threshold: 7000)
        let text = try String(contentsOf: bench.configuration, encoding: .utf8).replacingOccurrences(
            of: "door: {name: test door, tags: [staff], threshold: 7000}",
            with: "door: {name: test door, tags: [staff], threshold: 7000, relay: {chip: gpiochip-missing-43, line: relay, active_low: true}}")
        #expect(text.contains("gpiochip-missing-43"))
        try text.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let state = bench.folder.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["STATE_DIRECTORY"] = state.path
        let process = try ToolProcess.start(
            CLITests.executable, ["run", "--config", bench.configuration.path, "--device-wait-seconds", "30"], environment: environment,
            log: bench.folder.appendingPathComponent("run.log"))
        defer { if process.isRunning { process.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while RestingRelayRecord.read(in: state.path) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(RestingRelayRecord.read(in: state.path) == .init(chip: "gpiochip-missing-43", line: "relay", activeLow: true))
        process.terminate()
        process.waitUntilExit()
    }

    /// A schedule without its `time_zone` is read in the host's zone, as before, but said at the start
    /// and at each reload, by its key and the zone taken: an appliance image in UTC would otherwise keep
    /// office hours hours away from the ones meant, silently.
    @Test func aScheduleWithoutItsTimeZoneIsSaidAtStartAndReload() throws {
        let bench = try Bench()
        let text = try String(contentsOf: bench.configuration, encoding: .utf8).replacingOccurrences(
            of: "door: {name: test door, tags: [staff], threshold: 7000}",
            with: "door: {name: test door, tags: [staff], threshold: 7000, schedules: [{name: office, windows: [{days: [mon], from: \"08:00\", to: \"18:00\"}]}]}")
        #expect(text.contains("schedules"))
        try text.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let notify = try NotifySocket(path: bench.folder.appendingPathComponent("notify").path)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["TZ"] = "America/Denver"
        let log = bench.folder.appendingPathComponent("run.log")
        let process = try ToolProcess.start(CLITests.executable, ["run", "--config", bench.configuration.path], environment: environment, log: log)
        defer { if process.isRunning { process.terminate() } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        try #require(notify.waitFor("READY=1") != nil, "no READY=1; log: \(logText())")
        kill(process.processIdentifier, SIGHUP)
        let reloaded = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to the reload: \(logText())")
        #expect(reloaded.last?.contains("configuration reloaded") == true, "\(reloaded)")
        process.terminate()
        process.waitUntilExit()
        // The same file reloaded: nothing waits for a restart, a notice, which says a rotated secret does.
        let notice = logText().split(separator: "\n").filter { $0.contains("configuration reloaded") }
        #expect(
            notice.count == 1 && notice[0].hasPrefix("<5>configuration reloaded (secrets and credentials are read at start only: a rotated one needs a restart)"),
            "\(notice)")
        let allNotes = logText().split(separator: "\n").filter { $0.contains("configuration note") }
        // The bench's door has no relay: that is noted too, at the start and at the reload.
        let simulated = allNotes.filter { $0.contains("door.relay") }
        #expect(simulated.count == 2 && simulated.allSatisfy { $0.hasPrefix("<4>") && $0.contains("simulated") }, "\(logText())")
        // So is a still face judged on texture alone (`liveness.require_movement` off, the default).
        let movement = allNotes.filter { $0.contains("liveness.require_movement") }
        #expect(movement.count == 2 && movement.allSatisfy { $0.hasPrefix("<4>") && $0.contains("texture alone") }, "\(logText())")
        let notes = allNotes.filter { !$0.contains("door.relay") && !$0.contains("liveness.require_movement") }
        #expect(notes.count == 2, "at the start and at the reload: \(logText())")
        for note in notes {
            #expect(note.hasPrefix("<4>") && note.contains("door.schedules[0].time_zone") && note.contains("America/Denver"), "\(note)")
            #expect(!note.contains("office") && !note.contains("08:00"), "no value from the file: \(note)")
        }
    }

    @Test func readyWatchdogReloadAndGracefulStop() throws {
        let bench = try Bench()
        let notify = try NotifySocket(path: bench.folder.appendingPathComponent("notify").path)
        let (process, log) = try start(bench, notify: notify, watchdogMicroseconds: 2_000_000)
        defer { if process.isRunning { process.terminate() } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        let started = try #require(notify.waitFor("READY=1"), "no READY=1; log: \(logText())")
        #expect(started.last?.contains("STATUS=door test door") == true)
        // WATCHDOG_USEC of 2 s: pings come at least every second.
        #expect(notify.waitFor("WATCHDOG=1", seconds: 5) != nil)

        // An invalid file on SIGHUP: refused, the running configuration kept, still serving.
        try "door: {threshold: twelve}\n".write(to: bench.configuration, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        let refused = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to an invalid reload")
        #expect(refused.contains { $0.contains("RELOADING=1") })
        #expect(refused.last?.contains("reload refused") == true)
        #expect(process.isRunning)
        #expect(notify.waitFor("WATCHDOG=1", seconds: 5) != nil, "still fed after a refused reload")

        // A file emptied (truncated mid-write, or by mistake): refused too, not read as the defaults,
        // which would drop the door's deny list, schedules and tags at once.
        try "# nothing left\n".write(to: bench.configuration, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        let emptied = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to an emptied file's reload")
        #expect(emptied.last?.contains("reload refused") == true, "\(emptied)")

        // A file cut short at a line break parses without what followed the cut (after the door's line
        // here: the journal, the offline cache; in a real file the deny list and schedules can be among
        // them): the keys the running file had are gone, so it is refused, not run on defaults for them.
        // Before, it was taken. Keys removed from the middle of the file are an edit, and taken.
        try bench.write(threshold: 9000)
        let whole = try String(contentsOf: bench.configuration, encoding: .utf8)
        let fileLines = whole.split(separator: "\n", omittingEmptySubsequences: false)
        let doorLine = try #require(fileLines.firstIndex { $0.hasPrefix("door:") })
        try (fileLines[...doorLine].joined(separator: "\n") + "\n").write(to: bench.configuration, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        let cut = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to a cut file's reload")
        #expect(cut.last?.contains("reload refused") == true && cut.last?.contains("keys gone") == true, "\(cut)")
        try (fileLines.filter { !$0.hasPrefix("offline_cache:") }.joined(separator: "\n")).write(
            to: bench.configuration, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        let edited = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to an edit's reload")
        #expect(edited.last?.contains("configuration reloaded") == true, "a key removed from the middle is an edit: \(edited)")

        // Cut inside the file's last list or mapping (at a line break after the first of the kiosk's names;
        // in a real file, a deny list's): every key is still there, only the values say so. Refused, the
        // key named; before, taken, the names (or the deny list's last people) gone.
        try bench.write(threshold: 9000, extra: "kiosk:\n  names:\n    s-1: Ann\n    s-2: Bob\n")
        kill(process.processIdentifier, SIGHUP)
        let named = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to the names' reload")
        #expect(named.last?.contains("reload refused") == false, "\(named)")
        try bench.write(threshold: 9000, extra: "kiosk:\n  names:\n    s-1: Ann\n")
        kill(process.processIdentifier, SIGHUP)
        let endsEarly = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to a file cut in its last mapping")
        #expect(endsEarly.last?.contains("reload refused (the file ends early, in kiosk.names)") == true, "\(endsEarly)")

        // A valid one: taken, and what needs a restart is named. (The names stay: without them the running
        // file's last keys would be gone.)
        try bench.write(threshold: 8000, extra: "approach: {settle_frames: 7}\nkiosk:\n  names:\n    s-1: Ann\n    s-2: Bob\n")
        kill(process.processIdentifier, SIGHUP)
        let reloaded = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to a valid reload")
        #expect(reloaded.last?.contains("configuration reloaded") == true)
        // The STATUS= line says what is not in force (systemctl status shows it), not only the one log line.
        #expect(reloaded.last?.contains("waiting for a restart: approach") == true, "\(reloaded)")
        // The same file again: what waits for a restart is named again (it still is not in force).
        kill(process.processIdentifier, SIGHUP)
        #expect(notify.waitFor("READY=1", seconds: 15) != nil, "no answer to the second reload")
        // A reload refused after it still says what waits (the running configuration is the one reloaded).
        try "# nothing left\n".write(to: bench.configuration, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        let refusedLater = try #require(notify.waitFor("READY=1", seconds: 15), "no answer to the refused reload")
        #expect(refusedLater.last?.contains("reload refused") == true && refusedLater.last?.contains("waiting for a restart: approach") == true, "\(refusedLater)")

        kill(process.processIdentifier, SIGTERM)
        #expect(notify.waitFor("STOPPING=1", seconds: 15) != nil)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = logText()
        #expect(text.contains("reload refused"))
        let goneLine = text.split(separator: "\n").first { $0.contains("keys of the running file are gone") }
        #expect(goneLine?.contains("journal.path") == true && goneLine?.contains("offline_cache") == true, "\(goneLine ?? "none")")
        #expect(goneLine?.contains(bench.folder.path) == false, "a key is named, never its value")
        #expect(text.contains("take effect at the next restart") && text.contains("sections=approach"))
        #expect(text.components(separatedBy: "sections=approach").count == 3, "named at both reloads: \(text)")
        #expect(text.contains("<5>stopped"))
        // In order: the pipeline stops first, the parts (the cloud client) close last.
        let lines = text.split(separator: "\n")
        let stopping = lines.firstIndex { $0.contains("stopping: no new visits") }
        #expect(stopping != nil && lines.last?.contains("<5>stopped") == true, "\(text)")
        // A reload reads no secret again (they are resolved at the start, and systemd copies credentials once
        // per start): each accepted reload says a rotated one needs a restart (here the warnings; the notice
        // in aScheduleWithoutItsTimeZoneIsSaidAtStartAndReload).
        let reloadedLines = lines.filter { $0.contains("configuration reloaded") }
        #expect(reloadedLines.count == 4, "\(reloadedLines)")
        #expect(
            reloadedLines.allSatisfy { $0.contains("secrets and credentials are read at start only: a rotated one needs a restart") },
            "\(reloadedLines)")
        // journald-friendly lines: every one starts with a syslog priority, and no secret is in them.
        for line in lines { #expect(line.hasPrefix("<"), "\(line)") }
        #expect(!text.contains("not-a-real-secret-key") && !text.contains("not-a-real-api-key"))
    }

    @Test func aReplayThatEndsStopsTheServiceCleanly() throws {
        let bench = try Bench()
        try bench.write(threshold: 7000, loops: false)
        let (process, log) = try start(bench, notify: nil)
        process.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("<5>stopped"))
        // The service's name in the group's lines is short: no configuration in the log.
        #expect(!text.contains("DoorParts") && !text.contains("file:"), "\(text)")
    }

    /// A file cut short while the door was stopped (a power cut as an editor wrote it in place) still parses
    /// without what followed the cut: here the deny list's last name. Under the unit, the start compares the
    /// file with the one the door last ran on, as a reload does, and refuses it (78, by key, no value), as
    /// does `config check`; `config accept` takes it as meant. An edit in the middle is taken. Before, the
    /// start ran on it: the name cut off was let in.
    @Test func aFileCutShortWhileTheDoorWasStoppedIsRefusedAtTheStart() async throws {
        let bench = try Bench()
        try bench.write(threshold: 7000, loops: false)
        let full = try String(contentsOf: bench.configuration, encoding: .utf8).replacingOccurrences(
            of: "door: {name: test door, tags: [staff], threshold: 7000}\n", with: "")
            + "door:\n  name: test door\n  tags: [staff]\n  threshold: 7000\n  deny_list:\n    - alice-7\n    - mallory-9\n"
        try full.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let state = bench.folder.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["STATE_DIRECTORY"] = state.path
        func run(_ arguments: [String]) async throws -> ToolRun {
            try await ToolProcess.run(CLITests.executable, arguments, environment: environment)
        }
        let start = ["run", "--config", bench.configuration.path]

        let first = try await run(start)
        #expect(first.status == 0, "\(first.errors)")
        let record = state.appendingPathComponent(AcceptedConfigurationRecord.fileName)
        let kept = try String(contentsOf: record, encoding: .utf8)
        #expect(kept.contains("mallory-9") && !kept.contains("file:") && kept.contains("sha256:"), "a secret's value as a digest only: \(kept)")
        #expect((try FileManager.default.attributesOfItem(atPath: record.path)[.posixPermissions] as? Int) == 0o600)

        // Cut at the line break before the last name.
        try full.replacingOccurrences(of: "    - mallory-9\n", with: "").write(to: bench.configuration, atomically: true, encoding: .utf8)
        // The relay the last start drove, as recorded for the unit's `door rest`: a refused start leaves it.
        try RestingRelayRecord.write(.init(chip: "gpiochip-last-run", line: "relay", activeLow: false), in: state.path)
        let refused = try await run(start)
        #expect(refused.status == 78)
        #expect(RestingRelayRecord.read(in: state.path)?.chip == "gpiochip-last-run", "a refused start replaced the relay's record")
        #expect(refused.errors.contains("door.deny_list") && refused.errors.contains("facegate config accept"), "\(refused.errors)")
        #expect(!refused.errors.contains("alice") && !refused.errors.contains("mallory"), "\(refused.errors)")
        let check = try await run(["config", "check", bench.configuration.path])
        #expect(check.status == 1 && check.output.contains("door.deny_list"), "\(check.output)")

        let accepted = try await run(["config", "accept", bench.configuration.path])
        #expect(accepted.status == 0, "\(accepted.output)")
        let checkedAgain = try await run(["config", "check", bench.configuration.path])
        #expect(!checkedAgain.output.contains("door.deny_list"), "\(checkedAgain.output)")
        #expect(try await run(start).status == 0)

        // An edit in the middle (the threshold) is no cut.
        let edit = full.replacingOccurrences(of: "    - mallory-9\n", with: "").replacingOccurrences(of: "threshold: 7000", with: "threshold: 7500")
        try edit.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let edited = try await run(start)
        #expect(edited.status == 0, "\(edited.errors)")

        // A cut that loses only settings that let nobody in (how the door logs) is run on, said by its key.
        try (edit + "logging:\n  level: info\n").write(to: bench.configuration, atomically: true, encoding: .utf8)
        #expect(try await run(start).status == 0)
        try edit.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let noted = try await run(["config", "check", bench.configuration.path])
        #expect(noted.output.contains("note: logging: the file lacks the last keys"), "\(noted.output)")
        let cutHarmlessly = try await run(start)
        #expect(cutHarmlessly.status == 0, "\(cutHarmlessly.errors)")
        #expect(cutHarmlessly.output.contains("logging.level") || cutHarmlessly.errors.contains("logging.level"), "said by its key")
    }

    @Test func anInvalidConfigurationIsRefusedWithEveryProblemAndExit78() throws {
        let bench = try Bench()
        try """
            camera: {width: -1, colour: red}
            door: {threshold: 20000}
            """.write(to: bench.configuration, atomically: true, encoding: .utf8)
        let (process, log) = try start(bench, notify: nil)
        process.waitUntilExit()
        #expect(process.terminationStatus == 78)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("camera.width") && text.contains("camera.colour") && text.contains("door.threshold"), "\(text)")
    }

    @Test func aSecretFileOthersCanReadIsRefused() throws {
        let bench = try Bench()
        chmod(bench.folder.appendingPathComponent("secret-key").path, 0o644)
        let (process, log) = try start(bench, notify: nil)
        process.waitUntilExit()
        #expect(process.terminationStatus == 78)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("backend.nec.secret_key") && text.contains("readable by group or others"), "\(text)")
        #expect(!text.contains("not-a-real-secret-key"))
    }

    /// A client that hangs up before the answer (a `facegate status` interrupted, another `facegate run`
    /// checking whether the socket is taken) leaves the daemon running: the answer's write fails with
    /// EPIPE instead of a SIGPIPE that would end the process. This daemon has made no HTTP connection,
    /// so nothing else has set SIGPIPE aside for it.
    @Test func aControlClientThatHangsUpEarlyLeavesTheDaemonRunning() throws {
        let bench = try Bench()
        let socket = bench.folder.appendingPathComponent("control.sock").path
        try bench.write(threshold: 7000, extra: "control: {socket: \(socket)}")
        let notify = try NotifySocket(path: bench.folder.appendingPathComponent("notify").path)
        let (process, log) = try start(bench, notify: notify)
        defer { if process.isRunning { process.terminate() } }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        _ = try #require(notify.waitFor("READY=1"), "no READY=1; log: \(logText())")

        let hangUps = """
            import socket, sys, time
            for request in [b"", b'{"command":"status"}\\n', b"", b'{"command":"status"}\\n']:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                s.sendall(request)
                s.close()
            time.sleep(1)
            """
        let clients = try ToolProcess.runBlocking(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", hangUps, socket])
        #expect(clients.status == 0, "\(clients.errors)")
        #expect(process.isRunning, "the daemon survived clients that hung up; log: \(logText())")
        let status = try ToolProcess.runBlocking(CLITests.executable, ["status", "--socket", socket])
        #expect(status.status != 2 && status.output.contains("door:"), "\(status.output)\(status.errors)")

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(logText())")
    }
}
