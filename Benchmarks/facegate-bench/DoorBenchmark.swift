import FacegateCore
import FacegateDemo
import FacegateImageCodec
import FacegateJournal
import FacegateQuality
import Foundation

/// `facegate-bench door`: the daemon as a black box. `facegate run` (the release binary beside this
/// one) replays synthesized approaches at 10 frames a second from a folder, searches a
/// `facegate-emulator nec` process on loopback and drives a simulated relay; its journal gives
/// the per-stage latencies and `/proc` its CPU time and resident memory.
struct DoorBenchmark {
    let options: Options

    @_optimize(none)
    func run() async throws {
        let bench = try await DoorBench.prepare(options: options, name: "door")
        defer { bench.close() }
        if options.compareApproach {
            print("## before: approach {decide_early: false, reidentify_seconds: 0}")
            let before = try await bench.runDaemon(
                visits: options.visits, endpoint: bench.cloudEndpoint, name: "door-before",
                approach: "approach: {decide_early: false, reidentify_seconds: 0}")
            report(before)
            print("## after: the defaults")
        }
        if options.kiosk {
            print("## before: no kiosk, no /metrics")
            report(try await bench.runDaemon(visits: options.visits, endpoint: bench.cloudEndpoint, name: "door-plain"))
            print("## after: the kiosk and /metrics served, a page's events and a scrape a second attached")
            let (kioskPort, metricsPort) = (18_470 + Int(getpid() % 500), 19_470 + Int(getpid() % 500))
            report(
                try await bench.runDaemon(
                    visits: options.visits, endpoint: bench.cloudEndpoint, name: "door-kiosk",
                    approach: "kiosk: {listen: '127.0.0.1:\(kioskPort)'}\nmetrics: {listen: '127.0.0.1:\(metricsPort)'}",
                    whileRunning: { _ in try await Self.attachClients(kiosk: kioskPort, metrics: metricsPort) }))
            return
        }
        report(try await bench.runDaemon(visits: options.visits, endpoint: bench.cloudEndpoint, name: "door"))
    }

    /// A page's event stream (curl, reading everything the kiosk sends) and a Prometheus-like scrape of
    /// /metrics every second, while the daemon runs.
    @_optimize(none)
    static func attachClients(kiosk: Int, metrics: Int) async throws -> Duration? {
        let page = Process()
        page.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        page.arguments = ["-sN", "--retry", "20", "--retry-connrefused", "--retry-delay", "1", "-o", "/dev/null", "http://127.0.0.1:\(kiosk)/events"]
        try page.run()
        defer { if page.isRunning { page.terminate() } }
        var scrapes = 0
        while page.isRunning {
            let scrape = Process()
            scrape.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            scrape.arguments = ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(metrics)/metrics"]
            try scrape.run()
            scrape.waitUntilExit()
            if scrape.terminationStatus == 0 { scrapes += 1 }
            try await Task.sleep(for: .seconds(1))
        }
        print("scrapes answered: \(scrapes)")
        return nil
    }

    @_optimize(none)
    func report(_ run: DoorBench.DaemonRun) {
        let decisions = run.decisions
        let granted = decisions.filter { $0.record.decision.outcome == .granted }
        let cloudCalls = decisions.filter { $0.record.latencies.cloud != nil }.count
        let cpuSeconds = Double(run.cpuTicks) / Double(sysconf(Int32(_SC_CLK_TCK)))

        print("machine: \(machine())")
        print("\(options.visits) people\(options.queue ? " in a queue, 2 s apart, each standing \(options.queueStopFrames * 100) ms at the door" : ""), \(run.frames) frames replayed at 10 fps in \(format(run.wall)) s; \(decisions.count) decisions (\(granted.count) granted)")
        let runLog = (try? String(contentsOf: run.log, encoding: .utf8)) ?? ""
        let fields: [Substring] = runLog.split(separator: "\n").flatMap { (line: Substring) -> [Substring] in line.split(separator: " ") }
        func logged(_ key: String) -> [Double] {
            let prefix = key + "="
            var values: [Double] = []
            for field in fields where field.hasPrefix(prefix) {
                if let value = Double(field.dropFirst(prefix.count)) { values.append(value) }
            }
            return values
        }
        let approaches = logged("approach_ms").sorted()
        if !approaches.isEmpty {
            let median = approaches[approaches.count / 2]
            print(String(format: "face first seen → visit ready (the approach): median %.0f ms, max %.0f ms, n %d", median, approaches.last!, approaches.count))
        }
        print("| what | median ms | p95 ms | max ms | n |")
        print("|---|---|---|---|---|")
        func row(_ name: String, _ values: [Duration?]) {
            let present = values.compactMap { $0 }.map(milliseconds).sorted()
            guard !present.isEmpty else { return print("| \(name) | - | - | - | 0 |") }
            func q(_ p: Double) -> Double { present[min(present.count - 1, Int((Double(present.count - 1) * p).rounded(.up)))] }
            print(String(format: "| %@ | %.1f | %.1f | %.1f | %d |", name, q(0.5), q(0.95), present.last!, present.count))
        }
        row("capture (the replay's JPEG decoding of the best frame)", granted.map(\.record.latencies.capture))
        row("quality core on the best frame", granted.map(\.record.latencies.quality))
        row("cloud search (emulator on loopback, incl. its own matching)", granted.map(\.record.latencies.cloud))
        row("policy", granted.map(\.record.latencies.policy))
        row("policy done → grant committed to the journal → relay on (relay)", granted.map(\.record.latencies.relay))
        row("visit ready → relay on and journaled (total)", granted.map(\.record.latencies.total))
        row("total minus cloud (facegate's own share)", granted.map { d in d.record.latencies.total.flatMap { t in d.record.latencies.cloud.map { t - $0 } } })
        print("cloud calls per visit: \(String(format: "%.2f", Double(cloudCalls) / Double(max(1, decisions.count))))")
        // The daemon's own counts, from its last log line: frames it took (the replay drops what it
        // cannot take) and those the detector ran on (the motion gate skips the empty scene).
        let seen = logged("frames").last.map { Int($0) }
        let analysed = logged("frames_analysed").last.map { Int($0) }
        print("frames taken: \(seen.map(String.init) ?? "?") of \(run.frames) replayed, analysed: \(analysed.map(String.init) ?? "?")")
        print("frames per second sustained: \(String(format: "%.1f", Double(seen ?? 0) / seconds(run.wall)))")
        print("CPU per frame taken: \(String(format: "%.1f", cpuSeconds * 1000 / Double(max(1, seen ?? run.frames)))) ms (user+system of facegate run)")
        if let reidentified = logged("reidentifications").last { print("faces re-identified: \(Int(reidentified))") }
        let residentKB = run.residentKB
        if let peak = residentKB.max(), let last = residentKB.last, let early = residentKB.dropFirst(min(10, residentKB.count - 1)).first {
            print("resident memory: \(early / 1024) MB after 5 s, \(last / 1024) MB at the end, peak \(peak / 1024) MB")
        }
        // The process's own memory (heap, stacks) apart from the pages of the binary and libraries it
        // has read: serving more code (the kiosk's HTTP server) touches more of the 230 MB binary.
        if let anon = run.anonymousKB.last, let file = run.fileKB.last, let early = run.anonymousKB.dropFirst(min(10, run.anonymousKB.count - 1)).first {
            print("of which private (RssAnon): \(early / 1024) MB after 5 s, \(anon / 1024) MB at the end; the binary's and libraries' pages (RssFile) at the end: \(file / 1024) MB")
        }
    }
}

/// The door benchmarks' bench: the release binaries, the NEC emulator process with one person
/// enrolled, an offline cache key, and `facegate run` over synthesized approaches.
final class DoorBench: @unchecked Sendable {
    /// The daemon's decision deadline in these runs (its default).
    static let deadline = 1.5

    struct DaemonRun {
        var decisions: [JournaledDecision]
        var frames: Int
        var wall: Duration
        var cpuTicks: Int
        var residentKB: [Int]
        var anonymousKB: [Int]
        var fileKB: [Int]
        var log: URL
        /// What `whileRunning` measured, if anything.
        var measured: Duration?
    }

    let options: Options
    let folder: URL
    let facegate: String
    let emulator: String
    let media: DemoMedia
    let secrets: URL
    let port: Int
    let environment: [String: String]
    private var cloud: Process?
    private let credentials = (accessKey: "AKIDBENCH", secretKey: "bench-secret-key-0123456789abcdefghij", apiKey: "bench-api-key-0123456789")

    var cloudEndpoint: String { "http://127.0.0.1:\(port)" }

    private init(options: Options, name: String) throws {
        self.options = options
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        facegate = binaries.appendingPathComponent("facegate").path
        emulator = binaries.appendingPathComponent("facegate-emulator").path
        for binary in [facegate, emulator] where !FileManager.default.isExecutableFile(atPath: binary) {
            fail("\(binary) is missing: swift build -c release --product facegate --product facegate-emulator")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-\(name)-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        media = try DemoMedia.locate(options.media)
        secrets = folder.appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        for (file, value) in [("access-key", credentials.accessKey), ("secret-key", credentials.secretKey), ("api-key", credentials.apiKey)] {
            let path = secrets.appendingPathComponent(file).path
            guard FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]) else {
                fail("cannot write \(path)")
            }
        }
        port = 18_000 + Int(getpid() % 1000)
        var environment = ProcessInfo.processInfo.environment
        environment["NEC_ID_ENDPOINT"] = "http://127.0.0.1:\(port)"
        environment["NEC_ID_ACCESS_KEY"] = credentials.accessKey
        environment["NEC_ID_SECRET_KEY"] = credentials.secretKey
        environment["NEC_ID_API_KEY"] = credentials.apiKey
        self.environment = environment
    }

    // @_optimize(none) on the async orchestration below: Swift 6.3's release build crashes in LLVM's
    // coroutine splitting (swifterror) on these functions; they are not what the benchmark measures.

    /// The bench with the cloud up and one person (obama) enrolled under the tag `staff`.
    @_optimize(none)
    static func prepare(options: Options, name: String) async throws -> DoorBench {
        let bench = try DoorBench(options: options, name: name)
        try await bench.startCloud()
        guard try await bench.runToEnd(["nec", "tags", "create", "staff"]) == 0,
            try await bench.runToEnd(["nec", "subjects", "register", "--face", bench.media.directory + "/obama.jpg", "--tag", "staff"]) == 0
        else { bench.stop("enrolment failed") }
        guard try await bench.runToEnd(["cache", "new-key", bench.folder.appendingPathComponent("cache.key").path]) == 0 else {
            bench.stop("cache key")
        }
        return bench
    }

    /// Starts the emulator (again, on the same port and state) and waits until it answers.
    @_optimize(none)
    func startCloud() async throws {
        cloud = try launch(
            emulator,
            ["nec", "--port", "\(port)", "--portal-port", "\(port + 1)", "--access-key", credentials.accessKey, "--secret-key-file",
             secrets.appendingPathComponent("secret-key").path, "--api-key-file", secrets.appendingPathComponent("api-key").path, "--state", folder.appendingPathComponent("nec").path]
                + (options.models.map { ["--models", $0] } ?? []),
            log: folder.appendingPathComponent("emulator.log"))
        for _ in 0..<100 {
            if try await runToEnd(["nec", "health"]) == 0 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        stop("the emulator did not start (\(folder.path)/emulator.log)")
    }

    @_optimize(none)
    func stopCloud() async {
        guard let cloud else { return }
        cloud.terminate()
        while cloud.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        self.cloud = nil
    }

    func close() {
        cloud?.terminate()
        if options.keep {
            print("kept: \(folder.path)")
        } else {
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// fail() exits without running defers: the emulator must not outlive the benchmark.
    func stop(_ message: String) -> Never {
        cloud?.terminate()
        fail(message)
    }

    /// `facegate run` over `visits` people walking up (the enrolled one and a stranger in turn) until
    /// the replay ends, sampled from /proc; the decisions are read from its journal.
    @_optimize(none)
    func runDaemon(
        visits: Int, endpoint: String, name: String, approach: String = "",
        whileRunning: (@Sendable (_ log: URL) async throws -> Duration?)? = nil
    ) async throws -> DaemonRun {
        let frames = folder.appendingPathComponent("frames-\(name)")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        var people = [try media.image("obama2.jpg"), try media.image("biden.jpg")]
        if options.queue {
            // A queue of different people (the same one back within seconds would rightly be the same
            // visit): the enrolled one and the shared test photos' people, one photo each.
            people = [try media.image("obama2.jpg")] + (try Self.testPeople(options.testdata, models: options.models))
        }
        let blur = options.sharp ? 0 : SyntheticApproach().startBlur
        let visitors = (0..<visits).map { DemoScene.Visitor(name: "\($0)", portrait: people[$0 % people.count]) }
        // A queue: each person's 2 s (walking up, then standing at the door to open it) ends as the next
        // one's begins. A person who vanished at the door undecided, someone else in their spot, is rightly
        // not decided (the door would open for the one standing there): a real one stops at the door.
        let standing = options.queueStopFrames
        let scene = options.queue
            ? DemoScene(visitors: visitors, approach: SyntheticApproach(frameCount: 20 - standing, startBlur: blur), lingerFrames: standing, emptyFrames: 0)
            : DemoScene(visitors: visitors, approach: SyntheticApproach(frameCount: 30, startBlur: blur))
        var frameCount = 0
        for try await frame in scene.frames() {
            try Data(try ImageCodec.encodeJPEG(frame.image)).write(to: frames.appendingPathComponent(String(format: "%06d.jpg", frameCount)))
            frameCount += 1
        }
        let journal = folder.appendingPathComponent("journal-\(name).sqlite").path
        let configuration = folder.appendingPathComponent("facegate-\(name).yaml")
        try """
            \(options.models.map { "models: \($0)" } ?? "")
            camera: {source: replay, replay_path: \(frames.path), fps: 10}
            backend:
              kind: nec
              nec:
                endpoint: \(endpoint)
                access_key: file:\(secrets.path)/access-key
                secret_key: file:\(secrets.path)/secret-key
                api_key: file:\(secrets.path)/api-key
            door: {name: bench door, tags: [staff], pulse_seconds: 1}
            offline_cache: {path: \(folder.path)/cache.sqlite, key: "file:\(folder.path)/cache.key"}
            journal: {path: \(journal)}
            control: {socket: off}
            # The visitors are photos walking up: the liveness stage would rightly refuse them.
            liveness: {enabled: false}
            \(approach)
            """.write(to: configuration, atomically: true, encoding: .utf8)

        let clock = ContinuousClock()
        let started = clock.now
        let log = folder.appendingPathComponent("run-\(name).log")
        let daemon = try launch(facegate, ["run", "--config", configuration.path], log: log)
        let watcher = whileRunning.map { body in Task { try await body(log) } }
        var residentKB: [Int] = [], anonymousKB: [Int] = [], fileKB: [Int] = []
        var cpuTicks = 0
        while daemon.isRunning {
            if let sample = ProcessSample(pid: daemon.processIdentifier) {
                residentKB.append(sample.residentKB)
                anonymousKB.append(sample.anonymousKB)
                fileKB.append(sample.fileKB)
                cpuTicks = sample.cpuTicks
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let wall = clock.now - started
        guard daemon.terminationStatus == 0 else { stop("facegate run exited \(daemon.terminationStatus) (\(log.path))") }
        let measured = try await watcher?.value ?? nil
        var decisions: [JournaledDecision] = []
        try JournalReader(path: journal).forEachDecision(DecisionQuery()) { decisions.append($0) }
        return DaemonRun(
            decisions: decisions.sorted { $0.record.time < $1.record.time }, frames: frameCount, wall: wall, cpuTicks: cpuTicks,
            residentKB: residentKB, anonymousKB: anonymousKB, fileKB: fileKB, log: log, measured: measured)
    }

    /// Head and shoulders of each person in `testdata`/faces (their first photo).
    static func testPeople(_ testdata: String, models: String?) throws -> [PixelImage] {
        let analyzer = try DlibFaceAnalyzer(models: try FaceModels.locate(models))
        let faces = URL(fileURLWithPath: testdata).appendingPathComponent("faces")
        var people: [PixelImage] = []
        for person in try FileManager.default.contentsOfDirectory(atPath: faces.path).sorted() where !person.hasPrefix("_") {
            let folder = faces.appendingPathComponent(person)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue,
                let first = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().first,
                let photo = try? ImageCodec.decode([UInt8](try Data(contentsOf: folder.appendingPathComponent(first)))),
                let portrait = try? LivenessBenchmark.headAndShoulders(photo, analyzer: analyzer)
            else { continue }
            people.append(portrait)
        }
        return people
    }

    private func launch(_ path: String, _ arguments: [String], log: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: log.path) {
            guard FileManager.default.createFile(atPath: log.path, contents: nil) else { fail("cannot write \(log.path)") }
        }
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    @_optimize(none)
    private func runToEnd(_ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: facegate)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return process.terminationStatus
    }
}

/// Resident memory and CPU time of a process, from /proc.
struct ProcessSample {
    var residentKB: Int
    /// Of which the process's own pages (heap, stacks) and the files' (binary, libraries) it has read.
    var anonymousKB: Int
    var fileKB: Int
    var cpuTicks: Int

    init?(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        func kilobytes(_ key: String) -> Int? {
            status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") })
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        }
        guard let kb = kilobytes("VmRSS") else { return nil }
        anonymousKB = kilobytes("RssAnon") ?? 0
        fileKB = kilobytes("RssFile") ?? 0
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        residentKB = kb
        cpuTicks = user + system
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("facegate-bench door: \(message)\n".utf8))
    exit(1)
}

func seconds(_ duration: Duration) -> Double { duration.timeInterval }

func milliseconds(_ duration: Duration) -> Double { duration.milliseconds }

func format(_ duration: Duration) -> String { String(format: "%.0f", seconds(duration)) }
