import FacegateApp
import FacegateTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The `facegate` executable as a user runs it: real files in, JSON lines and exit codes out.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CLITests {
    static let packageRoot = PackageFolder.root
    static let testData = SharedTestData.root

    /// The built `facegate`, beside this test bundle.
    static var executable: URL {
        var folder = Bundle.main.bundleURL
        while folder.path != "/", !FileManager.default.fileExists(atPath: folder.appendingPathComponent("facegate").path) {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("facegate")
    }

    struct Run {
        var status: Int32
        var output: String
        var errors = ""
        var lines: [[String: Any]] {
            output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    func run(_ arguments: [String]) throws -> Run {
        let run = try ToolProcess.runBlocking(Self.executable, arguments)
        return Run(status: run.status, output: run.output, errors: run.errors)
    }

    /// `door rest`, the unit's ExecStopPost: only `door.relay` is read, so a file the daemon refuses for
    /// a problem elsewhere still finds its relay; a relay it cannot drive is said by its key, never the
    /// chip the file names. (Driving a real relay: HIL `11-relay-rest`.)
    @Test func doorRestReadsTheRelayAloneAndNamesNoChip() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        func rest(_ yaml: String) throws -> Run {
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            return try run(["door", "rest", "--config", file])
        }
        let simulated = try rest("door: {threshold: twelve}\n")
        #expect(simulated.status == 0, "\(simulated.errors)")
        #expect(simulated.output.contains("nothing to rest"))
        let missingChip = try rest("door:\n  threshold: twelve\n  relay: {chip: gpiochip-marker-41, line: relay}\n")
        #expect(missingChip.status == 1)
        #expect(missingChip.errors.contains("door.relay"), "\(missingChip.errors)")
        #expect(!missingChip.errors.contains("marker") && !missingChip.output.contains("marker"), "\(missingChip.errors)")
        let noLine = try rest("door:\n  relay: {chip: gpiochip0}\n")
        #expect(noLine.status == 78)
        #expect(noLine.errors.contains("door.relay.line"), "\(noLine.errors)")

        // Under the unit, the relay the daemon last started with is recorded in its state folder: a file
        // that no longer parses (the bad edit that stopped it) still rests that line. Here its chip is
        // missing, so the try is seen failing, said by its key.
        let state = folder.url.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["STATE_DIRECTORY"] = state.path
        try "door:\n  relay: {chip: @broken\n".write(toFile: file, atomically: true, encoding: .utf8)
        let unrecorded = try ToolProcess.runBlocking(Self.executable, ["door", "rest", "--config", file], environment: environment)
        #expect(unrecorded.status == 78, "nothing recorded, nothing to rest: \(unrecorded.errors)")
        try RestingRelayRecord.write(.init(chip: "gpiochip-marker-42", line: "relay"), in: state.path)
        let recorded = try ToolProcess.runBlocking(Self.executable, ["door", "rest", "--config", file], environment: environment)
        #expect(recorded.status == 1)
        #expect(recorded.errors.contains("door.relay of the last start"), "\(recorded.errors)")
        #expect(!recorded.errors.contains("marker"), "\(recorded.errors)")

        // The same line in the file with another `active_low`: rested once, as the daemon drove it (both
        // ways, it would end at whichever came last).
        try "door:\n  relay: {chip: /dev/gpiochip-marker-42, line: relay, active_low: true}\n".write(toFile: file, atomically: true, encoding: .utf8)
        let changed = try ToolProcess.runBlocking(Self.executable, ["door", "rest", "--config", file], environment: environment)
        #expect(changed.status == 1)
        #expect(changed.errors.contains("of the last start") && !changed.errors.contains("of the configuration"), "\(changed.errors)")
    }

    /// `door rest` rests the relay the daemon last started with before it reads the file: a file whose
    /// reading never ends (here an alias used as a key, which the YAML library hashes expanded: ten to a
    /// level, nine levels) still has the recorded line tried at once, and the unit's stop timeout ends the
    /// rest. Its chip is missing here, so the try is seen failing, said by its key.
    @Test func doorRestTriesTheRecordedRelayBeforeReadingTheFile() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        var laughs = "l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]\n"
        for level in 1...8 { laughs += "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        laughs += "? *l8\n: never\ndoor:\n  relay: {chip: gpiochip-marker-43, line: relay}\n"
        try laughs.write(toFile: file, atomically: true, encoding: .utf8)
        let state = folder.url.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try RestingRelayRecord.write(.init(chip: "gpiochip-marker-42", line: "relay"), in: state.path)
        var environment = ProcessInfo.processInfo.environment
        environment["STATE_DIRECTORY"] = state.path
        let log = folder.url.appendingPathComponent("rest.log")
        let rest = try ToolProcess.start(Self.executable, ["door", "rest", "--config", file], environment: environment, log: log)
        defer { if rest.isRunning { rest.terminate() } }
        let said = try await askUntil(within: .seconds(30)) { (try? String(contentsOf: log, encoding: .utf8)) ?? "" } until: {
            $0.contains("door.relay of the last start")
        }
        #expect(said.contains("door.relay of the last start"), "the recorded relay was not tried within 30 s: \(said)")
        #expect(!said.contains("marker"), "\(said)")
    }

    /// `door pulse`, `bench` and `watch` never guess how the relay is wired: a line given without its fail
    /// mode, and not the file's, or a fail mode the file contradicts for that line, is refused (64) before
    /// any GPIO chip is opened (the chips named here do not exist: a GPIO error would say the command went
    /// on). Messages name keys and flags, never the file's values. (The levels driven: HIL `03-relay-pulse`.)
    @Test func doorCommandsRefuseARelayWiredByGuess() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        // A maglock door (fail-safe, on an active-low driver); the markers must not come back.
        try """
        backend: {nec: {api_key: secret-marker-61}}
        door:
          name: door-marker-62
          relay: {chip: gpiochip-marker-63, line: relay, active_low: true}
          fail_safe: true

        """.write(toFile: file, atomically: true, encoding: .utf8)
        let missingFile = folder.file("none.yaml")
        func said(_ run: Run) -> String { run.output + run.errors }
        func saysNoValues(_ run: Run, _ arguments: [String]) {
            #expect(!said(run).contains("secret-marker") && !said(run).contains("door-marker"), "\(arguments): \(said(run))")
        }
        let other = "gpiochip-nonexistent-64"
        let unsaid: [[String]] = [
            ["door", "pulse", "--config", file, "--chip", other, "--line", "relay", "--ms", "10"],
            ["door", "pulse", "--config", missingFile, "--chip", other, "--line", "relay"],
            ["door", "bench", "--config", file, "--chip", other, "--line", "relay", "--sim-value", "/dev/null"],
            ["door", "watch", "--config", file, "--chip", other, "--contact", "contact", "--relay", "relay"],
        ]
        for arguments in unsaid {
            let refused = try run(arguments)
            #expect(refused.status == 64, "\(arguments): \(said(refused))")
            #expect(refused.errors.contains("say how the relay is wired") && refused.errors.contains("fail-secure"), "\(arguments): \(refused.errors)")
            #expect(!said(refused).contains("GPIO"), "\(arguments): \(said(refused))")
            saysNoValues(refused, arguments)
        }
        let contradicting: [[String]] = [
            ["door", "pulse", "--config", file, "--chip", "gpiochip-marker-63", "--line", "relay", "--fail-secure"],
            ["door", "pulse", "--config", file, "--chip", "/dev/gpiochip-marker-63", "--line", "relay", "--active-low", "--fail-secure"],
            ["door", "watch", "--config", file, "--chip", "gpiochip-marker-63", "--contact", "contact", "--relay", "relay", "--relay-fail-secure"],
        ]
        for arguments in contradicting {
            let refused = try run(arguments)
            #expect(refused.status == 64, "\(arguments): \(said(refused))")
            #expect(refused.errors.contains("contradicts door.fail_safe"), "\(arguments): \(refused.errors)")
            #expect(!said(refused).contains("GPIO"), "\(arguments): \(said(refused))")
            saysNoValues(refused, arguments)
        }

        // The file's own line without its fail mode: wired as the file says, said in one line, and then
        // driven (here the chip is missing: the GPIO error, exit 1).
        let sameLine = try run(["door", "pulse", "--config", file, "--chip", "gpiochip-marker-63", "--line", "relay", "--ms", "10"])
        #expect(sameLine.status == 1, "\(said(sameLine))")
        #expect(sameLine.output.contains("door.fail_safe"), "\(sameLine.output)")
        #expect(sameLine.errors.contains("relay: no such GPIO chip"), "\(sameLine.errors)")
        // No line: the file's relay, said by its key.
        let fromFile = try run(["door", "pulse", "--config", file, "--ms", "10"])
        #expect(fromFile.status == 1, "\(said(fromFile))")
        #expect(fromFile.output.contains("door.relay in \(file)"), "\(fromFile.output)")
        #expect(fromFile.errors.contains("relay: no such GPIO chip"), "\(fromFile.errors)")
        #expect(!said(fromFile).contains("marker"), "\(said(fromFile))")

        // No line and no file, or a file naming no relay (or contact, for watch): a configuration error.
        try "door: {threshold: twelve}\n".write(toFile: folder.file("simulated.yaml"), atomically: true, encoding: .utf8)
        let unconfigured: [([String], String)] = [
            (["door", "pulse", "--config", missingFile], "none.yaml"), (["door", "watch", "--config", missingFile], "none.yaml"),
            (["door", "pulse", "--config", folder.file("simulated.yaml")], "door.relay"),
            (["door", "bench", "--config", folder.file("simulated.yaml"), "--sim-value", "/dev/null"], "door.relay"),
            (["door", "watch", "--config", folder.file("simulated.yaml")], "door.contact"),
        ]
        for (arguments, named) in unconfigured {
            let refused = try run(arguments)
            #expect(refused.status == 78, "\(arguments): \(said(refused))")
            #expect(refused.errors.contains(named) && !said(refused).contains("GPIO"), "\(arguments): \(said(refused))")
        }
    }

    /// `config check` passes a schedule without its time zone (exit 0) and notes the zone it takes.
    @Test func configCheckNotesAScheduleWithoutItsTimeZone() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        try "door:\n  schedules: [{name: office, windows: [{days: [mon], from: \"08:00\", to: \"18:00\"}]}]\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["TZ"] = "Asia/Tokyo"
        let check = try ToolProcess.runBlocking(Self.executable, ["config", "check", "--syntax-only", file], environment: environment)
        #expect(check.status == 0, "\(check.output)\(check.errors)")
        #expect(check.output.contains("ok") && check.output.contains("note: door.schedules[0].time_zone"), "\(check.output)")
        #expect(check.output.contains("Asia/Tokyo"), "\(check.output)")
    }

    /// A machine whose `/etc/localtime` is a copy of a zone file, not a link to one (as on many appliance
    /// images; here a private mount of a copy of /etc holding Sydney's zone as a file): Foundation cannot
    /// name the zone, reads GMT, and would read the schedule's hours 10 or 11 h off. `config check`
    /// refuses it by the key and asks for the name; before, it passed and the door opened for office
    /// hours in the night. The same zone by its name is read right.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")))
    func configCheckRefusesAScheduleOnAMachineZoneItCannotName() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        try "door:\n  schedules: [{name: office, windows: [{days: [mon], from: \"08:00\", to: \"18:00\"}]}]\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let etc = folder.file("etc")
        let copy = try ToolProcess.runBlocking(URL(fileURLWithPath: "/bin/cp"), ["-a", "/etc", etc])
        try #require(copy.status == 0, "\(copy.errors)")
        try? FileManager.default.removeItem(atPath: etc + "/localtime")
        try FileManager.default.copyItem(atPath: "/usr/share/zoneinfo/Australia/Sydney", toPath: etc + "/localtime")
        var environment = ProcessInfo.processInfo.environment
        environment["TZ"] = nil
        let check = try ToolProcess.runBlocking(
            URL(fileURLWithPath: "/usr/bin/unshare"),
            ["--mount", "sh", "-c", "mount --bind \"$0\" /etc && exec \"$1\" config check --syntax-only \"$2\"", etc, Self.executable.path, file],
            environment: environment)
        #expect(check.status == 1, "\(check.output)\(check.errors)")
        #expect(check.output.contains("door.schedules[0].time_zone") && check.output.contains("h off for part of the year"), "\(check.output)")
        environment["TZ"] = "Australia/Sydney"
        let named = try ToolProcess.runBlocking(Self.executable, ["config", "check", "--syntax-only", file], environment: environment)
        #expect(named.status == 0 && named.output.contains("Australia/Sydney"), "\(named.output)")
    }

    /// `config check` notes what the packaged unit's service could never read, by key and without a path:
    /// a `file:` secret, and a configuration file others may not read. Beside the problems too (a missing
    /// key file here, a missing camera on a box), where postinst looks for it before starting a door on
    /// "only devices missing". Outside the unit such a file works, so alone it is no problem (exit 0).
    @Test func configCheckNotesWhatTheUnitsServiceCannotRead() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        try "camera: {device: /dev/video77}\noffline_cache: {enabled: true, key: \"file:/nonexistent/facegate-key\"}\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        let check = try ToolProcess.runBlocking(Self.executable, ["config", "check", file])
        #expect(check.status == 1, "\(check.output)\(check.errors)")
        #expect(check.output.contains("  camera.device: names no device that exists"), "\(check.output)")
        #expect(
            check.output.contains("  note: offline_cache.key: is a file: secret, which the facegate unit's service cannot read"),
            "\(check.output)")
        #expect(
            check.output.contains("  note: <top>: the file is not readable by others (its mode, or a folder above it others may not enter), and the facegate unit's service cannot read it"),
            "\(check.output)")
        #expect(!check.output.contains("facegate-key"), "no path from the file: \(check.output)")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let readable = try ToolProcess.runBlocking(Self.executable, ["config", "check", file])
        #expect(!readable.output.contains("the file is not readable by others"), "\(readable.output)")
    }

    /// `config check` says when the door is simulated (no `door.relay`: nothing is driven) and still
    /// passes it (the demo, a door being wired); a fail-safe door without a relay (a maglock that would
    /// never be energised, the door open) is refused by `door.fail_safe`. Before, both passed silently.
    @Test func configCheckNotesASimulatedDoorAndRefusesAMaglockWithoutARelay() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        func check(_ yaml: String) throws -> ToolRun {
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            return try ToolProcess.runBlocking(Self.executable, ["config", "check", "--syntax-only", file])
        }
        let simulated = try check("door: {name: front}\n")
        #expect(simulated.status == 0, "\(simulated.output)\(simulated.errors)")
        #expect(simulated.output.contains("note: door.relay") && simulated.output.contains("nothing is driven"), "\(simulated.output)")
        let maglock = try check("door: {name: front, fail_safe: true}\n")
        #expect(maglock.status == 1, "\(maglock.output)\(maglock.errors)")
        #expect(maglock.output.contains("door.fail_safe") && maglock.output.contains("needs door.relay"), "\(maglock.output)")
        let wired = try check("door: {relay: {chip: gpiochip0, line: \"5\"}, fail_safe: true}\n")
        #expect(wired.status == 0 && !wired.output.contains("door.relay"), "\(wired.output)\(wired.errors)")
    }

    @Test func facesPrintsOneLinePerImageAndFailsOnAnUnreadableOne() throws {
        let good = Self.testData.appendingPathComponent("faces/matt_damon/01.jpg").path
        let none = Self.testData.appendingPathComponent("faces/_noface/01.jpg").path
        let result = try run(["faces", "--descriptor", good, none, "/nonexistent.jpg", "/etc/hostname"])
        #expect(result.status == 1)
        let lines = result.lines
        #expect(lines.count == 4)
        let faces = try #require(lines[0]["faces"] as? [[String: Any]])
        #expect(faces.count == 1)
        #expect((faces[0]["descriptor"] as? [Double])?.count == 128)
        #expect(faces[0]["attributes"] as? [String: Any] != nil && faces[0]["quality"] as? [String: Any] != nil)
        #expect((lines[0]["width"] as? Int ?? 0) > 0 && (lines[0]["height"] as? Int ?? 0) > 0)
        #expect((lines[1]["faces"] as? [Any])?.isEmpty == true)
        #expect(lines[2]["error"] as? String == "no such file")
        #expect(lines[3]["error"] as? String == "not a JPEG or PNG image")
        let ok = try run(["faces", good])
        #expect(ok.status == 0)
        #expect((ok.lines.first?["faces"] as? [[String: Any]])?.first?["descriptor"] == nil)
    }

    @Test func livenessJudgesEachVisitAndFailsClearlyOnBadInput() throws {
        let pad = Self.testData.appendingPathComponent("pad")
        let printed = pad.appendingPathComponent("print/silentface__image_F1.jpg").path
        let live = pad.appendingPathComponent("bonafide/silentface__image_T1.jpg").path
        let replay = pad.appendingPathComponent("screen/lestari15__fake.mp4").path
        let result = try run(["liveness", "--json", printed, live, replay])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.lines
        #expect(lines.count == 3, "\(result.output)")
        // The shape other tools rely on, exactly.
        for line in lines { #expect(Set(line.keys) == ["source", "visit", "liveness", "verdict", "cues"], "\(line)") }
        #expect(lines.map { $0["source"] as? String } == [printed, live, replay])
        #expect(lines.map { $0["verdict"] as? String } == ["attack", "live", "attack"])
        #expect(lines.allSatisfy { $0["visit"] as? Int == 1 })
        #expect(((lines[1]["cues"] as? [String: Double])?["texture"] ?? 0) > 0.9)

        // A threshold of 0 or NaN would judge every face live (NaN compares false): refused before judging.
        for threshold in ["0", "nan", "1.5"] {
            let refused = try run(["liveness", "--threshold", threshold, printed])
            #expect(refused.status == 64 && refused.errors.contains("--threshold must be above 0"), "\(threshold): \(refused.errors)")
        }

        // A frame without a face and a truncated video: an error each, naming the file; the good one still judged.
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-cut-\(UUID().uuidString.prefix(8)).mp4")
        let whole = try Data(contentsOf: pad.appendingPathComponent("bonafide/lestari15__real.mp4"))
        try whole.prefix(whole.count / 6).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let noFace = Self.testData.appendingPathComponent("faces/_noface/01.jpg").path
        let bad = try run(["liveness", "--json", noFace, cut.path, printed])
        #expect(bad.status == 1)
        #expect(bad.errors.contains("\(noFace): no face in it"), "\(bad.errors)")
        #expect(bad.errors.contains("\(cut.path)") && bad.errors.contains("damaged or truncated"), "\(bad.errors)")
        #expect(bad.lines.last?["source"] as? String == printed)
    }

    @Test func livenessCutsVisitsAsTheDaemonDoes() throws {
        // A man 13 s in front of a webcam, turning his head: one visit at the door (re-identification
        // joins the sightings the frontal detector loses), so one judgement, not one per reappearance.
        let standing = Self.testData.appendingPathComponent("pad/bonafide/zubair__real.mov").path
        let result = try run(["liveness", "--json", standing])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.lines.count == 1, "\(result.output)")
        #expect(result.lines.first?["verdict"] as? String == "live")
    }

    @Test func bestPicksOneFacePerApproachFromAVideo() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-best-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let video = Self.testData.appendingPathComponent("video/short_hamilton_clip.mp4").path
        let umaskBefore = umask(0o022)
        let result: Run
        do {
            defer { umask(umaskBefore) }
            result = try run(["best", video, "--out", out.path])
        }
        #expect(result.status == 0)
        // Crops of faces: the folder and each crop are their owner's alone, whatever the umask.
        #expect(try FileManager.default.attributesOfItem(atPath: out.path)[.posixPermissions] as? Int == 0o700)
        let visits = result.lines
        #expect(!visits.isEmpty)
        #expect(visits.contains { $0["passedQualityGate"] as? Bool == true })
        for (index, visit) in visits.enumerated() {
            #expect(visit["visit"] as? Int == index + 1)
            let crop = try #require(visit["crop"] as? String)
            #expect(FileManager.default.fileExists(atPath: crop))
            #expect(try FileManager.default.attributesOfItem(atPath: crop)[.posixPermissions] as? Int == 0o600)
            let first = try #require(visit["firstSeen"] as? Double), last = try #require(visit["lastSeen"] as? Double)
            #expect(first <= last)
        }
    }

    @Test func bestOnAMissingSourceIsAClearError() throws {
        let result = try run(["best", "/nonexistent/folder"])
        #expect(result.status != 0)
    }

    /// `facegate status` prints the daemon's words for each part (a camera's, a cloud's, a file system's error,
    /// which carry text from outside) escaped as `facegate log` does: an ESC or a C1 CSI (U+009B) cannot move
    /// the cursor or rewrite the terminal, in the text or in `--json`; so are the daemon's refusals, and the
    /// relay `facegate door unlock` reports. Before, all reached the terminal raw.
    @Test func statusEscapesTheDaemonsWords() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let hostile = "timed out\u{1B}[2J\u{9B}31mdoor open\nforged: ok"
        let health = DoorHealthReport(
            camera: .init(status: .failed, lastError: hostile, since: Date(timeIntervalSince1970: 1_780_000_000)), cloud: .init(status: .ok),
            relay: .init(status: .ok), journal: .init(status: .ok), offlineCache: .init(status: .off))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let answer = folder.file("answer.json")
        try encoder.encode(ControlResponse(ok: true, health: health)).write(to: URL(fileURLWithPath: answer))
        // A daemon stand-in: each connection's request line answered with the canned answer.
        let socketPath = folder.file("control.sock")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [
            "-c",
            """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1])
            s.listen(4)
            s.settimeout(60)
            while True:
                c, _ = s.accept()
                c.makefile("rb").readline()
                answer = open(sys.argv[2], "rb").read()
                c.sendall(answer + b"\\n")
                c.close()
            """, socketPath, answer,
        ]
        try server.run()
        defer {
            // SIGKILL: the test runner's children may inherit SIGTERM blocked.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socketPath), Date() < deadline { usleep(20_000) }

        for arguments in [["status", "--socket", socketPath], ["status", "--json", "--socket", socketPath]] {
            let status = try run(arguments)
            #expect(status.status == 1, "\(arguments): \(status.output)\(status.errors)")
            let scalars = status.output.unicodeScalars
            #expect(!scalars.contains("\u{1B}") && !scalars.contains("\u{9B}"), "\(arguments): \(status.output.debugDescription)")
            #expect(status.output.contains("door open") && !status.output.contains("\nforged"), "\(arguments): \(status.output)")
        }
        let text = try run(["status", "--socket", socketPath]).output
        #expect(text.contains(#"timed out\u{1B}[2J\u{9B}31mdoor open\nforged: ok"#), "\(text)")
        let json = try run(["status", "--json", "--socket", socketPath]).output
        #expect(json.contains(#"\u009b31m"#), "\(json)")

        // The daemon's refusals, and the relay an unlock reports, likewise.
        try encoder.encode(ControlResponse(ok: false, error: hostile)).write(to: URL(fileURLWithPath: answer))
        let refused = try run(["status", "--socket", socketPath])
        let unlockRefused = try run(["door", "unlock", "--reason", "test", "--socket", socketPath])
        #expect(refused.status == 2 && unlockRefused.status == 1, "\(refused.errors)\(unlockRefused.errors)")
        try encoder.encode(ControlResponse(ok: true, decision: UUID(), relay: hostile)).write(to: URL(fileURLWithPath: answer))
        let unlocked = try run(["door", "unlock", "--reason", "test", "--socket", socketPath])
        #expect(unlocked.status == 0, "\(unlocked.output)\(unlocked.errors)")
        for said in [refused.errors, unlockRefused.errors, unlocked.output] {
            #expect(said.contains(#"timed out\u{1B}[2J\u{9B}31mdoor open\nforged: ok"#), "\(said.debugDescription)")
            #expect(!said.unicodeScalars.contains("\u{1B}") && !said.unicodeScalars.contains("\u{9B}"), "\(said.debugDescription)")
        }
    }
}
