import FacegateCore
import FacegateDemo
import FacegateImageCodec
import FacegateJournal
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `facegate-bench outage`: how long a person waits at the door while the cloud is away. The release
/// `facegate run` replays enrolled and unknown people walking up (10 fps) against, in turn, the
/// emulator (to put the enrolled face in the offline cache), a port where nothing listens (the
/// cloud refusing), and a listener that accepts and never answers (the cloud silent); then the
/// emulator comes back during a run and the benchmark times how soon the daemon uses it again.
struct OutageBenchmark {
    let options: Options

    // Not optimised: see DoorBench (a Swift 6.3 release-build crash in coroutine splitting).
    @_optimize(none)
    func run() async throws {
        let bench = try await DoorBench.prepare(options: options, name: "outage")
        defer { bench.close() }

        // Online once: the enrolled person is granted and cached.
        let warm = try await bench.runDaemon(visits: 1, endpoint: bench.cloudEndpoint, name: "warm")
        guard warm.decisions.first?.record.decision.outcome == .granted else { bench.stop("the warm-up visit was not granted") }

        print("machine: \(machine())")
        print("decision deadline \(DoorBench.deadline) s; each row: a fresh `facegate run`, \(options.visits) visits, enrolled and unknown in turn")
        print("| cloud | first offline decision, ms | later ones: median ms | p95 ms | max ms | cloud calls |")
        print("|---|---|---|---|---|---|")
        await bench.stopCloud()
        try await report(
            "refusing (nothing listens on its port)",
            try await bench.runDaemon(visits: options.visits, endpoint: bench.cloudEndpoint, name: "refused").decisions)
        let silent = try SilentPort()
        defer { silent.close() }
        try await report(
            "accepting, never answering",
            try await bench.runDaemon(visits: options.visits, endpoint: "http://127.0.0.1:\(silent.port)", name: "silent").decisions)

        // Back online: the cloud returns while the daemon runs; how soon does a search reach it?
        let back = try await bench.runDaemon(
            visits: max(6, options.visits), endpoint: bench.cloudEndpoint, name: "back",
            whileRunning: { log in
                // Wait until the daemon has found it away, then bring it back.
                while !((try? String(contentsOf: log, encoding: .utf8))?.contains("cloud unavailable") ?? false) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await bench.startCloud()
                let restarted = ContinuousClock.now
                while !((try? String(contentsOf: log, encoding: .utf8))?.contains("cloud back") ?? false) {
                    if ContinuousClock.now - restarted > .seconds(60) { return nil }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return ContinuousClock.now - restarted
            })
        let onlineAgain = back.decisions.drop { $0.record.decision.offline }.first
        print("")
        print("back online: the daemon saw the cloud again \(back.measured.map { String(format: "%.0f ms", milliseconds($0)) } ?? "never") after it came back (probe interval 5 s); first decision after: \(onlineAgain?.record.decision.outcome.rawValue ?? "none")")
    }

    @_optimize(none)
    private func report(_ name: String, _ decisions: [JournaledDecision]) async throws {
        let offline = decisions.filter(\.record.decision.offline)
        guard let first = offline.first?.record.latencies.total else {
            return print("| \(name) | no offline decision | - | - | - | - |")
        }
        let later = offline.dropFirst().compactMap(\.record.latencies.total).map(milliseconds).sorted()
        func q(_ p: Double) -> Double { later.isEmpty ? .nan : later[min(later.count - 1, Int((Double(later.count - 1) * p).rounded(.up)))] }
        let calls = decisions.filter { $0.record.latencies.cloud != nil }.count
        print(String(format: "| %@ | %.0f | %.1f | %.1f | %.1f | %d of %d |", name, milliseconds(first), q(0.5), q(0.95), later.last ?? .nan, calls, decisions.count))
    }
}

/// A loopback port whose connections the kernel completes and nobody ever reads or answers.
final class SilentPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 128) == 0 else { fail("cannot listen on loopback") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        descriptor = fd
    }

    func close() { _ = Glibc.close(descriptor) }
}
