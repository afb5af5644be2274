@testable import FacegateApp
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The control socket under faults a client or the box can cause: it must neither end the daemon (and
/// the door with it) nor be held by one client.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ControlSocketFaultTests {
    static let quiet = Logger.quiet("control-faults")

    /// The socket service on its own, answering every allowed request `ok`, at the path given to `body`.
    static func withServedSocket(_ body: (String) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("control.sock")
        let service = ControlSocketService(path: path, adminGroup: nil, logger: quiet) { _, _ in ControlResponse(ok: true) }
        let running = Task { try await service.run() }
        defer { running.cancel() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }
        try await body(path)
    }

    /// The process out of file descriptors (as a flood of HTTP clients would leave it) when a client
    /// connects: accept() fails with EMFILE. The socket waits and tries again; before, it stopped, and
    /// the daemon's services with it. (For about a second the whole test process can open no file: the
    /// suite runs with `--no-parallel`, as `scripts/test` runs it, so nothing else is running then.)
    @Test func aProcessOutOfDescriptorsKeepsItsControlSocket() async throws {
        try await Self.withServedSocket { path in
            // Two clients, made while descriptors are there, connected once none are left: the accept()
            // already waiting reserved its descriptor before the shortage and takes the first; the next fails.
            let clients = (0..<2).map { _ in socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }
            try #require(clients.allSatisfy { $0 >= 0 })
            defer { for client in clients { close(client) } }
            var address = try ControlSocketService.socketAddress(path)
            // No descriptor left: the limit just above the highest one open, and every gap below it filled.
            var saved = rlimit()
            try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved) == 0)
            var fillers: [Int32] = []
            var lowered = saved
            lowered.rlim_cur = rlim_t(Self.highestOpenDescriptor() + 1)
            try #require(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lowered) == 0)
            while true {
                let filler = open("/dev/null", O_RDONLY)
                if filler < 0 { break }
                fillers.append(filler)
            }
            var connected: [Int32] = []
            for client in clients {
                connected.append(
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                    })
                try? await Task.sleep(for: .milliseconds(200))
            }
            // accept() fails for as long as this lasts.
            try? await Task.sleep(for: .milliseconds(800))
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved)
            for filler in fillers { close(filler) }
            try #require(connected == [0, 0])

            for (n, client) in clients.enumerated() {
                let answer = try Self.ask(client)
                #expect(answer.contains("\"ok\":true"), "client \(n + 1), answered once descriptors are free again: \(answer)")
            }
            #expect(FileManager.default.fileExists(atPath: path), "still serving")
        }
    }

    /// A client that sends a byte now and then, never a whole line, does not hold the socket: another
    /// client's request is answered within the 5 s a request has (and a little).
    @Test func aClientThatDripsItsRequestDoesNotHoldTheSocket() async throws {
        try await Self.withServedSocket { path in
            let dripping = try ControlClient.connect(to: path)
            defer { close(dripping) }
            let drip = Task.detached {
                // A byte a second, for longer than the other client waits.
                for _ in 0..<40 where !Task.isCancelled {
                    var byte = UInt8(ascii: " ")
                    _ = Glibc.send(dripping, &byte, 1, Int32(MSG_NOSIGNAL))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            defer { drip.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            let response = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 20) }.value
            #expect(response.ok)
            #expect(ContinuousClock.now - started < .seconds(8), "answered after \(ContinuousClock.now - started)")
        }
    }

    /// Clients that connect and say nothing (stray `nc -U` sessions, a hung script) hold up nobody: each
    /// connection is read on its own. Before, requests were read one after another, each idle client holding
    /// the next for its 5 s: six of them kept an installer's request waiting 30 s, past the command's own wait,
    /// and an unlock the installer had given up on was carried out later.
    @Test func severalSilentClientsDoNotHoldTheSocket() async throws {
        try await Self.withServedSocket { path in
            let silent = try (0..<6).map { _ in try ControlClient.connect(to: path) }
            defer { for client in silent { close(client) } }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            let response = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 20) }.value
            #expect(response.ok)
            #expect(ContinuousClock.now - started < .seconds(3), "answered after \(ContinuousClock.now - started)")
        }
    }

    /// An error accept() passes on that is neither a stop nor a passing shortage (here EPROTO, once) does not
    /// end the socket: it is tried again, and the next client is answered. Before, the service returned,
    /// and its group (the daemon, the door with it) shut down.
    @Test func anUnexpectedAcceptErrorIsTriedAgain() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("control.sock")
        var service = ControlSocketService(path: path, adminGroup: nil, logger: Self.quiet) { _, _ in ControlResponse(ok: true) }
        let failuresLeft = Mutex(1)
        service.acceptConnection = { listener in
            if failuresLeft.withLock({ left in
                defer { left -= 1 }
                return left > 0
            }) {
                throw ControlSocketService.AcceptFailure(code: EPROTO)
            }
            return try ControlSocketService.accept(listener)
        }
        let ended = Mutex(false)
        let running = Task {
            try await service.run()
            ended.withLock { $0 = true }
        }
        defer { running.cancel() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }
        while failuresLeft.withLock({ $0 }) >= 0, !ended.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!ended.withLock { $0 }, "the service ended at the error")
        let response = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 10) }.value
        #expect(response.ok)
    }

    /// Past the limit of connections at once, one more is answered at once that the socket is busy, and the
    /// socket serves again when they go.
    @Test func connectionsPastTheLimitAreToldTheSocketIsBusy() async throws {
        try await Self.withServedSocket { path in
            let held = try (0..<ControlSocketService.connectionLimit).map { _ in try ControlClient.connect(to: path) }
            try await Task.sleep(for: .milliseconds(300))
            let busy = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 10) }.value
            #expect(!busy.ok && busy.error?.contains("busy") == true, "\(String(describing: busy.error))")
            for client in held { close(client) }
            try await Task.sleep(for: .milliseconds(300))
            let served = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 10) }.value
            #expect(served.ok)
        }
    }

    /// An unlock whose client has hung up by the time it is read (its wait over, Ctrl-C) is not carried out:
    /// nobody may be at the door. The kernel keeps the line and the caller's credentials after the close.
    @Test func anUnlockWhoseClientHungUpIsNotCarriedOut() async throws {
        let asked = Mutex<[ControlRequest.Command]>([])
        let service = ControlSocketService(path: "/nonexistent/control.sock", adminGroup: nil, logger: Self.quiet) { request, _ in
            asked.withLock { $0.append(request.command) }
            return ControlResponse(ok: true)
        }
        for command in ["unlock", "status"] {
            var ends: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
            let line = Array(#"{"command":"\#(command)","reason":"delivery"}"#.utf8) + [UInt8(ascii: "\n")]
            _ = line.withUnsafeBytes { Glibc.send(ends[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(ends[1])
            await service.serve(ends[0])
        }
        // The status was answered (to nobody); the unlock never reached the door.
        #expect(asked.withLock { $0 } == [.status])
    }

    /// An unlock whose client hangs up while it is being carried out (its grant still being committed on a
    /// slow disk) is withdrawn: its work is cancelled, so the relay never moves (the pipeline withholds a
    /// grant cancelled after its commit). Before, only a client gone before the request was read counted.
    @Test func anUnlockWhoseClientHangsUpWhileItIsCarriedOutIsCancelled() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("control.sock")
        let outcome = Mutex<String?>(nil)
        let service = ControlSocketService(path: path, adminGroup: nil, logger: Self.quiet) { request, _ in
            // The grant's commit, taking its time; then the relay, unless the work was cancelled meanwhile.
            try? await Task.sleep(for: .seconds(3))
            outcome.withLock { $0 = Task.isCancelled ? "withheld" : "unlocked" }
            return ControlResponse(ok: true)
        }
        let running = Task { try await service.run() }
        defer { running.cancel() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }
        let client = try ControlClient.connect(to: path)
        let line = Array(#"{"command":"unlock","reason":"delivery"}"#.utf8) + [UInt8(ascii: "\n")]
        _ = line.withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        try await Task.sleep(for: .milliseconds(500))
        close(client)
        for _ in 0..<600 where outcome.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(outcome.withLock { $0 } == "withheld")
    }

    /// A daemon that does not answer within the client's wait is said to be late (it may still be carrying
    /// the request out: an enrolment's face may be enrolled all the same), not that the request was not
    /// sent in time (the daemon's own words for a client that drips its request).
    @Test func anAnswerLaterThanTheClientWaitsIsSaidToBeLate() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("control.sock")
        let service = ControlSocketService(path: path, adminGroup: nil, logger: Self.quiet) { _, _ in
            try? await Task.sleep(for: .seconds(20))
            return ControlResponse(ok: true)
        }
        let running = Task { try await service.run() }
        defer { running.cancel() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }
        let error = await Task.detached { () -> (any Error)? in
            do {
                _ = try ControlClient.send(ControlRequest(command: .status), to: path, timeout: 1)
                return nil
            } catch {
                return error
            }
        }.value
        let late = try #require(error as? ControlAnswerLate, "\(String(describing: error))")
        #expect(late.description == "the daemon did not answer within 1 s")
    }

    /// `facegate enrol` waits for as long as the daemon may take with the longest decision deadline the
    /// file takes: the approach, its work on the box up to the decision limit, both cloud calls at their
    /// timeout, a NeoCheck record's delete. Before, it waited the approach and 60 s, less than two cloud calls
    /// at a 300 s deadline.
    @Test func theEnrolCommandWaitsAsLongAsTheDaemonsLimitsAllow() {
        let deadline = FacegateConfiguration.longestDecisionDeadline
        let daemon =
            Duration.seconds(60) + DoorControllerService.decisionLimit(decisionDeadline: deadline)
            + DoorControllerService.enrolmentCloudTimeout(decisionDeadline: deadline) * 2 + NeoCheckFaceSearch.withdrawalLimit
        #expect(.seconds(DoorControllerService.longestEnrolmentAnswer(waiting: 60)) > daemon)
        #expect(DoorControllerService.longestEnrolmentAnswer(waiting: 60) <= Int(daemon.components.seconds) + 30, "and not much longer")
    }

    static func highestOpenDescriptor() -> Int32 {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return open.compactMap { Int32($0) }.max() ?? 1024
    }

    /// Sends a status request on a connected socket and reads the answer's line (at most 10 s).
    static func ask(_ fd: Int32) throws -> String {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array(#"{"command":"status"}"#.utf8) + [UInt8(ascii: "\n")]
        _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") { answer.append(byte) }
        return String(decoding: answer, as: UTF8.self)
    }
}
