import FacegateCore
import FacegateJournal
import Foundation
import Testing
import FacegateTesting

#if canImport(Glibc)
    import Glibc
#endif

/// The bench of the fault matrix: the built `facegate run` as a child process, on a replayed camera
/// (real photos from ../shared/testdata, linked, never copied into the repo), a simulated door (its
/// relay's moves are in the daemon's log), a cloud given per case, and a journal read back from SQLite.
///
/// One seed run, made once for the whole matrix, puts the enrolled person in a real offline cache:
/// the NEC ID emulator (`facegate-emulator nec`) enrols her, `facegate run` grants her online, and the
/// cache it filled (with its key) is copied into each case's folder.
enum FaultMatrix {
    static let faces = SharedTestData.faces
    static let enrolledPhoto = "leonardo_dicaprio/01.jpg"
    static let enrolledWalksUp = "leonardo_dicaprio/03.jpg"
    static let strangerWalksUp = "stock_neutral_woman/01.jpg"
    static let noFace = "_noface/05.jpg"
    /// What the secret files hold: no log line of any case may carry them.
    static let secretKey = "matrix-secret-key-0123456789abcdefghij"
    static let apiKey = "matrix-api-key-0123456789"

    /// `facegate` and `facegate-emulator`, beside the test bundle.
    static func executable(_ name: String) -> URL {
        var folder = Bundle.main.bundleURL
        while folder.path != "/", !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent(name)
    }

    /// The seed, made by the first case that needs it.
    static let seed = Task { try await Seed.make() }

    struct Seed: Sendable {
        let folder: URL
        /// The healthy cloud's decisions for [enrolled, stranger]: the matrix's control row.
        let control: DaemonRun
        let subject: String

        var cache: URL { folder.appendingPathComponent("offline-cache.sqlite") }
        var cacheKey: URL { folder.appendingPathComponent("offline-cache.key") }
        var journal: URL { folder.appendingPathComponent("journal.sqlite") }

        static func make() async throws -> Seed {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-matrix-seed-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try writeSecrets(in: folder)
            let newKey = try run(executable("facegate"), ["cache", "new-key", folder.appendingPathComponent("offline-cache.key").path])
            try #require(newKey.status == 0, "cache new-key: \(newKey.output)")

            // The emulator on free ports; it prints the biometric endpoint.
            let emulatorLog = folder.appendingPathComponent("emulator.log")
            let emulator = try ToolProcess.start(
                executable("facegate-emulator"),
                [
                    "nec", "--port", "0", "--portal-port", "0", "--access-key", "AKIDMATRIX",
                    "--secret-key-file", folder.appendingPathComponent("secret-key").path, "--api-key-file",
                    folder.appendingPathComponent("api-key").path, "--state", folder.appendingPathComponent("nec").path,
                ],
                log: emulatorLog)
            defer {
                emulator.terminate()
                emulator.waitUntilExit()
            }
            var endpoint: String?
            for _ in 0..<200 where endpoint == nil {
                try await Task.sleep(for: .milliseconds(50))
                let text = (try? String(contentsOf: emulatorLog, encoding: .utf8)) ?? ""
                if let range = text.range(of: #"listening on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                    endpoint = String(text[range].dropFirst("listening on ".count))
                }
            }
            let cloud = try #require(endpoint, "the emulator did not start: \((try? String(contentsOf: emulatorLog, encoding: .utf8)) ?? "")")
            var environment = ProcessInfo.processInfo.environment
            environment["NEC_ID_ENDPOINT"] = cloud
            environment["NEC_ID_ACCESS_KEY"] = "AKIDMATRIX"
            environment["NEC_ID_SECRET_KEY"] = secretKey
            environment["NEC_ID_API_KEY"] = apiKey
            let tag = try run(executable("facegate"), ["nec", "tags", "create", "staff"], environment: environment)
            try #require(tag.status == 0, "tag: \(tag.output)")
            let enrol = try run(
                executable("facegate"),
                ["nec", "subjects", "register", "--face", faces.appendingPathComponent(enrolledPhoto).path, "--tag", "staff", "--compact"],
                environment: environment)
            try #require(enrol.status == 0, "enrol: \(enrol.output)")
            let object = try JSONSerialization.jsonObject(with: Data(enrol.output.utf8)) as? [String: Any]
            let subject = try #require(object?["id"] as? String, "\(enrol.output)")

            // The control: the healthy cloud grants her online (the cache learns her face) and denies the stranger.
            let bench = try CaseBench(name: "seed", in: folder, seed: nil)
            let control = try await bench.run(endpoint: cloud)
            try #require(
                control.outcomes == [.granted, .deniedUnknown], "the seed run did not grant online: \(control.outcomes) \(control.log)")
            for name in ["offline-cache.sqlite", "journal.sqlite"] {
                try FileManager.default.copyItem(at: bench.folder.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            return Seed(folder: folder, control: control, subject: subject)
        }
    }

    static func writeSecrets(in folder: URL) throws {
        for (name, value) in [("access-key", "AKIDMATRIX"), ("secret-key", secretKey), ("api-key", apiKey)] {
            let path = folder.appendingPathComponent(name).path
            try #require(FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]))
        }
    }

    /// A short command to its end: its status and standard output.
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let run = try ToolProcess.runBlocking(executable, arguments, environment: environment)
        return (run.status, run.output)
    }
}

/// What one `facegate run` did: its exit, its log, the journal's decisions, and how long it all took.
struct DaemonRun: Sendable {
    var status: Int32
    var killedBySignal: Int32?
    var log: String
    var decisions: [JournaledDecision]
    var wallTime: Duration

    var outcomes: [Decision.Outcome] { decisions.map(\.record.decision.outcome) }
    /// Each decision's time to decide (from the visit being ready to the decision, relay included), in ms.
    var decideMilliseconds: [Double] {
        decisions.map { decision in decision.record.latencies.total.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 } ?? .nan }
    }
    /// How often the simulated relay was driven unlocked (the daemon logs each move).
    var relayUnlocks: Int { log.components(separatedBy: "simulated relay driven: door unlocked").count - 1 }
    var relayLocks: Int { log.components(separatedBy: "simulated relay driven: door locked").count - 1 }
    /// Whether any secret value leaked into the daemon's output.
    var leaksASecret: Bool { log.contains(FaultMatrix.secretKey) || log.contains(FaultMatrix.apiKey) }
    /// The daemon's log lines naming a path from the configuration: every one (journal, cache, key and
    /// secret files, the replayed frames) lies in the case's folder.
    var linesNamingAPath: [Substring] { log.split(separator: "\n").filter { $0.contains("facegate-matrix-") } }
    /// For failure messages: outcomes, times, reasons, the log's last lines.
    var summary: String {
        let rows = decisions.map { "\($0.record.decision.outcome.rawValue) relay=\($0.record.relay.map { "\($0)" } ?? "-") total=\($0.record.latencies.total.map { "\($0)" } ?? "-") reason=\($0.record.decision.reason)" }
        return "exit \(status) signal \(killedBySignal.map(String.init) ?? "-"), \(wallTime)\n" + rows.joined(separator: "\n") + "\n--- log\n"
            + log.split(separator: "\n").suffix(25).joined(separator: "\n")
    }
}

/// One case's folder: secrets, the cache copied from the seed, a fresh journal, the replayed approach.
final class CaseBench: @unchecked Sendable {
    let name: String
    let folder: URL
    var journalFolder: URL
    var journal: URL { journalFolder.appendingPathComponent("journal.sqlite") }

    /// - Parameter seed: the offline cache to start with (nil: an empty one, for the seed run itself).
    init(name: String, in parent: URL? = nil, seed: FaultMatrix.Seed?) throws {
        self.name = name
        let base = parent ?? FileManager.default.temporaryDirectory
        folder = base.appendingPathComponent("facegate-matrix-\(name)-\(UUID().uuidString.prefix(6))")
        journalFolder = folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FaultMatrix.writeSecrets(in: folder)
        if let seed {
            try FileManager.default.copyItem(at: seed.cache, to: folder.appendingPathComponent("offline-cache.sqlite"))
            try FileManager.default.copyItem(at: seed.cacheKey, to: folder.appendingPathComponent("offline-cache.key"))
        } else {
            try FileManager.default.copyItem(
                at: base.appendingPathComponent("offline-cache.key"), to: folder.appendingPathComponent("offline-cache.key"))
        }
    }

    /// The approach: the enrolled person then a stranger, each for 6 frames at 5 fps, with empty
    /// frames between (longer than the approach cooldown) and after (time for the last decision).
    func writeFrames(visitors: [String] = [FaultMatrix.enrolledWalksUp, FaultMatrix.strangerWalksUp]) throws -> URL {
        let frames = folder.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        var number = 0
        func add(_ photo: String, _ count: Int) throws {
            let source = FaultMatrix.faces.appendingPathComponent(photo)
            for _ in 0..<count {
                number += 1
                try FileManager.default.createSymbolicLink(
                    at: frames.appendingPathComponent(String(format: "%03d.", number) + source.pathExtension), withDestinationURL: source)
            }
        }
        try add(FaultMatrix.noFace, 2)
        for visitor in visitors {
            try add(visitor, 6)
            try add(FaultMatrix.noFace, 10)
        }
        return frames
    }

    /// Writes the configuration: NEC at `endpoint`, a simulated door, the offline cache on.
    func writeConfiguration(endpoint: String, requestTimeout: Double, deadline: Double, frames: URL) throws -> URL {
        let f = folder.path
        let file = folder.appendingPathComponent("facegate.yaml")
        try """
            camera: {source: replay, replay_path: \(frames.path), fps: 5, replay_loops: false}
            approach: {cooldown_seconds: 1}
            # The visitors are photos carried up to the camera, which the liveness stage refuses.
            liveness: {enabled: false}
            backend:
              kind: nec
              request_timeout_seconds: \(requestTimeout)
              decision_deadline_seconds: \(deadline)
              nec:
                endpoint: \(endpoint)
                access_key: file:\(f)/access-key
                secret_key: file:\(f)/secret-key
                api_key: file:\(f)/api-key
            door: {name: matrix door, tags: [staff], pulse_seconds: 0.5}
            offline_cache: {path: \(f)/offline-cache.sqlite, key: file:\(f)/offline-cache.key}
            journal: {path: \(journal.path)}
            control: {socket: off}  # not the system's: a daemon may be running
            """.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Runs `facegate run` to its end (the replay ends: a normal stop), or SIGKILLs it after `limit`.
    /// - Parameters:
    ///   - wrapper: a command the daemon runs under (`faketime`).
    ///   - killWhen: SIGKILLs the daemon as soon as its log contains this text.
    func run(
        endpoint: String, requestTimeout: Double = 1, deadline: Double = 1.5, visitors: [String]? = nil, wrapper: [String] = [],
        killWhen: String? = nil, limit: Duration = .seconds(40)
    ) async throws -> DaemonRun {
        let frames = try visitors.map { try writeFrames(visitors: $0) } ?? writeFrames()
        let configuration = try writeConfiguration(endpoint: endpoint, requestTimeout: requestTimeout, deadline: deadline, frames: frames)
        let process = Process()
        let daemon = FaultMatrix.executable("facegate")
        if let program = wrapper.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(wrapper.dropFirst()) + [daemon.path, "run", "--config", configuration.path]
        } else {
            process.executableURL = daemon
            process.arguments = ["run", "--config", configuration.path]
        }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil
        environment["WATCHDOG_USEC"] = nil
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        // stdout and stderr to one file: nothing to drain, so no pipe can fill and stall the daemon.
        let logFile = folder.appendingPathComponent("run.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        let clock = ContinuousClock()
        let started = clock.now
        try process.run()
        func log() -> String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
        var killed = false
        while process.isRunning {
            if clock.now - started > limit {
                kill(process.processIdentifier, SIGKILL)
                Issue.record("\(name): facegate run still running after \(limit); killed. Log:\n\(log().suffix(3000))")
                killed = true
                break
            }
            if let killWhen, log().contains(killWhen) {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            try await Task.sleep(for: .milliseconds(killWhen == nil ? 100 : 5))
        }
        process.waitUntilExit()
        try handle.close()
        let wallTime = clock.now - started
        // A journal on a full or read-only disk may not even open for reading: its cases read it again later.
        let decisions = (try? readDecisions()) ?? []
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        _ = killed
        return DaemonRun(
            status: process.terminationReason == .exit ? process.terminationStatus : -1, killedBySignal: signal, log: log(),
            decisions: decisions, wallTime: wallTime)
    }

    /// The journal's decisions, oldest first.
    func readDecisions(at path: URL? = nil) throws -> [JournaledDecision] {
        let file = path ?? journal
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        var decisions: [JournaledDecision] = []
        try JournalReader(path: file.path).forEachDecision(DecisionQuery()) { decisions.append($0) }
        return decisions.sorted { $0.record.time < $1.record.time }
    }

    func doorEvents() throws -> [DoorEventRecord] {
        var events: [DoorEventRecord] = []
        try JournalReader(path: journal.path).forEachDoorEvent(DoorEventQuery()) { events.append($0) }
        return events
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

/// Each case's measured times to decide, printed at the end of its test for RELIABILITY.md's table.
func report(_ name: String, _ run: DaemonRun) {
    let times = run.decideMilliseconds.map { String(format: "%.0f ms", $0) }.joined(separator: ", ")
    print("fault-matrix | \(name) | \(run.outcomes.map(\.rawValue).joined(separator: ", ")) | \(times) | run \(run.wallTime)")
}

extension DaemonRun {
    /// The decisions the daemon logged (outcome, total_ms), for runs whose journal could not be written.
    var loggedDecisions: [(outcome: String, milliseconds: Double)] {
        log.split(separator: "\n").filter { $0.contains("<5>decision ") }.compactMap { line in
            guard let outcome = line.range(of: #"outcome=[a-z-]+"#, options: .regularExpression),
                let total = line.range(of: #"total_ms=[0-9]+"#, options: .regularExpression)
            else { return nil }
            return (String(line[outcome].dropFirst(8)), Double(line[total].dropFirst(9)) ?? .nan)
        }
    }
}

/// Runs a command that must succeed (mount, the sqlite3 shell); fails the test with its output if not.
@discardableResult
func mustRun(_ path: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let result = try FaultMatrix.run(URL(fileURLWithPath: path), arguments)
    try #require(result.status == 0, "\(path) \(arguments.joined(separator: " ")) failed: \(result.output)", sourceLocation: sourceLocation)
    return result.output
}
