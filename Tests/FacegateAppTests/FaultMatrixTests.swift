import FacegateCore
import FacegateEmulators
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9's fault matrix: the real `facegate run` through one fault per case (see
/// FaultMatrixSupport.swift for the bench). Every case walks the enrolled person (in the offline cache
/// from the seed run) and a stranger up to the door and checks the journal's decisions, the relay's
/// moves, the exit status and each decision's time to decide (`total_ms`: from the visit being ready
/// to the decision, relay included), with a 1.5 s decision deadline and a 1 s request timeout.
/// The measured times are in RELIABILITY.md, "The fault matrix".
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FaultMatrixCloudTests {
    /// A cloud that is away: her face opens the door from the offline cache, the stranger is denied,
    /// the first decision within the deadline (plus the local work), the second at once (the cloud's
    /// health is kept: it is not asked again while it is down).
    static func expectDecidedOffline(
        _ run: DaemonRun, _ seed: FaultMatrix.Seed, firstWithin first: Double = 2500, laterWithin later: Double = 1000,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(run.status == 0 && run.killedBySignal == nil, "a normal stop at the replay's end: \(run.summary)", sourceLocation: sourceLocation)
        #expect(run.outcomes == [.grantedOffline, .deniedOffline], "\(run.summary)", sourceLocation: sourceLocation)
        guard run.decisions.count == 2 else { return }
        let granted = run.decisions[0].record, denied = run.decisions[1].record
        #expect(granted.decision.subjectId == seed.subject, sourceLocation: sourceLocation)
        #expect(granted.decision.offline && denied.decision.offline, sourceLocation: sourceLocation)
        // The door: unlocked once, for her, and locked again; the journal says the relay moved.
        #expect(granted.relay == .unlocked && denied.relay == nil, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.relayUnlocks == 1 && run.relayLocks == 1, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(denied.decision.reason.contains("not asked again"), "the stranger was decided without the cloud: \(denied.decision.reason)", sourceLocation: sourceLocation)
        let times = run.decideMilliseconds
        #expect(times[0] < first, "first offline decision in \(times[0]) ms", sourceLocation: sourceLocation)
        #expect(times[1] < later, "later offline decision in \(times[1]) ms", sourceLocation: sourceLocation)
        #expect(!run.leaksASecret, "a secret in the daemon's log", sourceLocation: sourceLocation)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))", sourceLocation: sourceLocation)
    }

    @Test("healthy cloud (control): granted online, stranger denied")
    func control() async throws {
        let seed = try await FaultMatrix.seed.value
        let run = seed.control
        report("healthy cloud", run)
        #expect(run.outcomes == [.granted, .deniedUnknown])
        #expect(run.decisions.first?.record.relay == .unlocked && run.relayUnlocks == 1 && run.relayLocks == 1, "\(run.summary)")
        #expect(run.decideMilliseconds.allSatisfy { $0 < 1500 }, "\(run.decideMilliseconds)")
        #expect(!run.leaksASecret)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))")
    }

    @Test("cloud refused: nothing listens on its port")
    func refused() async throws {
        let seed = try await FaultMatrix.seed.value
        let bench = try CaseBench(name: "refused", seed: seed)
        let refused = try RefusedPort()
        defer { refused.release() }  // held, and so refused, to the end
        let run = try await bench.run(endpoint: refused.endpoint)
        report("cloud refused", run)
        // Each of the client's three attempts is refused at once (about 0.6 s with its pauses), well
        // before the 1.5 s deadline, which a connection backoff used to wait out (1524 ms).
        Self.expectDecidedOffline(run, seed, firstWithin: 1300)
    }

    @Test("cloud accepting and silent: the request timeout abandons it")
    func silent() async throws {
        let seed = try await FaultMatrix.seed.value
        let server = try await HostileServer.start(.silence)
        defer { server.close() }
        let bench = try CaseBench(name: "silent", seed: seed)
        let run = try await bench.run(endpoint: "http://127.0.0.1:\(server.port)")
        report("cloud silent", run)
        Self.expectDecidedOffline(run, seed)
        // It waited for the cloud: the 1 s request timeout, not the whole deadline and not nothing.
        if let first = run.decideMilliseconds.first { #expect(first >= 900, "\(first) ms") }
    }

    @Test("cloud slower than the deadline: the deadline decides offline")
    func slowerThanTheDeadline() async throws {
        let seed = try await FaultMatrix.seed.value
        // A proper empty answer, 4 s late; request timeout = deadline = 1.5 s.
        let server = try await HostileServer.start(.http(body: Array(#"{"candidates":[]}"#.utf8), after: .seconds(4)))
        defer { server.close() }
        let bench = try CaseBench(name: "slow", seed: seed)
        let run = try await bench.run(endpoint: "http://127.0.0.1:\(server.port)", requestTimeout: 1.5, deadline: 1.5)
        report("cloud slower than the deadline", run)
        Self.expectDecidedOffline(run, seed)
        if let first = run.decideMilliseconds.first { #expect(first >= 1400, "\(first) ms: the deadline was waited for") }
    }

    @Test("cloud answering 429 or a 5xx", arguments: [500, 502, 503, 504, 429])
    func unavailableStatus(status: Int) async throws {
        let seed = try await FaultMatrix.seed.value
        let reply: HostileServer.Behaviour =
            status == 500 ? HostileServer.Behaviour.reply(status: 500, body: #"{"message":"Internal Error"}"#)
            : status == 429 ? HostileServer.Behaviour.reply(status: 429, body: #"{"message":"Too Many Requests"}"#) : .gatewayPage(status)
        let bench = try CaseBench(name: "status-\(status)", seed: seed)
        // At the seed's path (none): the offline cache is the account's whose endpoint has the same host and path.
        let run = try await withFaultyCloud(reply) { endpoint in try await bench.run(endpoint: String(endpoint.dropLast("/api".count))) }
        report("HTTP \(status)", run)
        // An answer comes at once (502-504 are tried again): the decision does not wait for the deadline.
        Self.expectDecidedOffline(run, seed, firstWithin: 1400)
    }

    /// A reply the door cannot read is not an outage to decide offline on; whatever it is, the door
    /// stays locked for everyone, and decides fast.
    static func expectLockedForEveryone(_ run: DaemonRun, within: Double = 2500, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0 && run.killedBySignal == nil, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.decisions.count == 2, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.relayUnlocks == 0 && run.decisions.allSatisfy { $0.record.relay == nil }, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.outcomes.allSatisfy { !$0.opensDoor }, "\(run.summary)", sourceLocation: sourceLocation)
        #expect(run.decideMilliseconds.allSatisfy { $0 < within }, "\(run.decideMilliseconds)", sourceLocation: sourceLocation)
        #expect(!run.leaksASecret, "a secret in the daemon's log", sourceLocation: sourceLocation)
        #expect(run.linesNamingAPath.isEmpty, "\(run.linesNamingAPath.prefix(3))", sourceLocation: sourceLocation)
    }

    @Test("a 200 with a garbage body")
    func garbageBody() async throws {
        let seed = try await FaultMatrix.seed.value
        let garbage = (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 197 &+ 13) }
        let server = try await HostileServer.start(.http(contentType: "application/json", body: garbage))
        defer { server.close() }
        let bench = try CaseBench(name: "garbage", seed: seed)
        let run = try await bench.run(endpoint: "http://127.0.0.1:\(server.port)")
        report("garbage body", run)
        Self.expectLockedForEveryone(run)
        #expect(run.outcomes == [.error, .error], "\(run.summary)")
    }

    @Test("a 200 whose body is cut off: the offline path")
    func truncatedBody() async throws {
        let seed = try await FaultMatrix.seed.value
        let server = try await HostileServer.start(.http(body: Array(#"{"candidates":[{"subjectId":"#.utf8), declaredLength: 4096))
        defer { server.close() }
        let bench = try CaseBench(name: "truncated", seed: seed)
        let run = try await bench.run(endpoint: "http://127.0.0.1:\(server.port)")
        report("truncated body", run)
        // A reply cut off is a broken line, as an outage is: decided offline.
        Self.expectDecidedOffline(run, seed)
    }

    @Test("a 200 with a 10 MB body")
    func hugeBody() async throws {
        let seed = try await FaultMatrix.seed.value
        let body = Array(#"{"candidates":["#.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: 10 << 20) + Array("]}".utf8)
        let server = try await HostileServer.start(.http(body: body))
        defer { server.close() }
        let bench = try CaseBench(name: "huge", seed: seed)
        let run = try await bench.run(endpoint: "http://127.0.0.1:\(server.port)")
        report("10 MB body", run)
        Self.expectLockedForEveryone(run)
        #expect(run.outcomes == [.error, .error], "\(run.summary)")
    }

    @Test("TLS handshake failure: plain HTTP answers the client's hello")
    func tlsHandshakeFailure() async throws {
        let seed = try await FaultMatrix.seed.value
        let server = try await HostileServer.start(.http(status: 400, contentType: "text/plain", body: Array("plain HTTP here\n".utf8)))
        defer { server.close() }
        let bench = try CaseBench(name: "tls", seed: seed)
        let run = try await bench.run(endpoint: "https://127.0.0.1:\(server.port)")
        report("TLS handshake failure", run)
        // Known at once, as a refused connection is (it used to wait out the deadline: 1506 ms).
        Self.expectDecidedOffline(run, seed, firstWithin: 1300)
    }
}
