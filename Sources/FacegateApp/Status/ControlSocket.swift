import FacegateCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A request on the daemon's control socket: one JSON line.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable {
        /// What `/health` says.
        case status
        /// Pulse the relay as a manual decision, journaled with its reason.
        case unlock
        /// Take the next approach as an enrolment.
        case enrol
    }

    public var command: Command
    /// Why (for `unlock`): journaled with the decision.
    public var reason: String?
    /// Who to enrol (for `enrol`).
    public var enrolment: EnrolmentRequest?
    /// How long to wait for the approach (for `enrol`; 1...600, default 60).
    public var timeoutSeconds: Int?
    /// The login the client says it acts for (`sudo`'s `SUDO_USER`), journaled beside the kernel's uid as stated,
    /// not checked: under the packaged unit every caller is root, and this tells staff apart.
    public var statedUser: String?

    public init(
        command: Command, reason: String? = nil, enrolment: EnrolmentRequest? = nil, timeoutSeconds: Int? = nil, statedUser: String? = nil
    ) {
        self.command = command
        self.reason = reason
        self.enrolment = enrolment
        self.timeoutSeconds = timeoutSeconds
        self.statedUser = statedUser
    }
}

/// The daemon's answer: one JSON line.
public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var health: DoorHealthReport?
    /// The journaled decision's id (for `unlock`).
    public var decision: UUID?
    /// What the relay did (for `unlock`).
    public var relay: String?
    /// How the enrolment ended (for `enrol`).
    public var enrolment: EnrolmentOutcome?

    public init(
        ok: Bool, error: String? = nil, health: DoorHealthReport? = nil, decision: UUID? = nil, relay: String? = nil,
        enrolment: EnrolmentOutcome? = nil
    ) {
        self.enrolment = enrolment
        self.ok = ok
        self.error = error
        self.health = health
        self.decision = decision
        self.relay = relay
    }

    static func refused(_ why: String) -> Self { ControlResponse(ok: false, error: why) }
}

/// Who is on the other end of a control connection, from the kernel (`SO_PEERCRED`, `SO_PEERGROUPS`).
struct ControlPeer: Sendable, Equatable {
    var pid: pid_t = 0
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]

    /// Root, the daemon's own user, or a member of the admin group.
    func isAllowed(adminGroup: gid_t?) -> Bool {
        if uid == 0 || uid == geteuid() { return true }
        guard let adminGroup else { return false }
        return gid == adminGroup || groups.contains(adminGroup)
    }
}

/// The control socket: `facegate status` and `facegate door unlock` talk to the running daemon here.
///
/// A Unix socket (mode 0660, group the admin group where the daemon may give it), and each connection
/// checked by the kernel's word on who connected: root, the daemon's user and the admin group only.
/// One request per connection; connections are served side by side, so that `facegate status` answers
/// while an enrolment waits for its approach.
struct ControlSocketService: Service {
    let path: String
    /// Members of this group may use the socket (nil: root and the daemon's user only).
    let adminGroup: gid_t?
    let handle: @Sendable (ControlRequest, ControlPeer) async -> ControlResponse
    let logger: Logger
    /// accept() blocks until a client comes: it has a thread of its own. Connections are read and answered
    /// without one (``readRequestLine(_:within:)``), each on its own, so no client waits behind another.
    private let acceptQueue = BlockingWorkQueue(label: "facegate.control.accept")
    /// Connections served at once; one more is answered at once that the socket is busy (the installer's
    /// commands are few; a flood of idle clients must not use up the descriptors the door needs).
    static let connectionLimit = 16
    /// Takes the next connection (a test's own stands in for the kernel's failures).
    var acceptConnection: @Sendable (Int32) throws -> Int32 = { try ControlSocketService.accept($0) }

    init(
        path: String, adminGroup: gid_t?, logger: Logger, handle: @escaping @Sendable (ControlRequest, ControlPeer) async -> ControlResponse
    ) {
        self.path = path
        self.adminGroup = adminGroup
        self.logger = logger
        self.handle = handle
    }

    func run() async throws {
        let listener: Int32
        do {
            listener = try ControlSocketService.listen(at: path, group: adminGroup)
        } catch {
            // The door decides without it: only the installer's commands are lost, and the log says why.
            logger.error("control socket unavailable; facegate status and door unlock will not reach this daemon", metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        defer {
            close(listener)
            unlink(path)
        }
        logger.notice("control socket open")
        await cancelWhenGracefulShutdown {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { connections in
                    var short = false, refusing = false, failing = false
                    let open = OpenConnections(), refused = OpenConnections()
                    let acceptConnection = self.acceptConnection
                    while !Task.isCancelled {
                        let connection: Int32
                        do {
                            connection = try await acceptQueue.run { try acceptConnection(listener) }
                        } catch let failure as AcceptFailure where failure.isPassing {
                            // Out of descriptors or memory for now (a flood of HTTP clients, say): the socket
                            // waits and tries again. Ending here would end the daemon, and with it the door.
                            if !short { logger.warning("control socket cannot accept for now; trying again", metadata: ["errno": "\(failure.code)"]) }
                            short = true
                            guard (try? await Task.sleep(for: .milliseconds(250))) != nil else { break }
                            continue
                        } catch {
                            // The listener shut down by the stop: done. Anything else (an error accept() passes
                            // on, a security module's refusal) is tried again each second, said once: ending
                            // here ended the service, and with it the daemon and the door (review).
                            if Task.isCancelled { break }
                            if !failing {
                                let code = (error as? AcceptFailure).map { "\($0.code)" } ?? "\(type(of: error))"
                                logger.error("control socket cannot accept; trying again each second", metadata: ["errno": "\(code)"])
                            }
                            failing = true
                            guard (try? await Task.sleep(for: .seconds(1))) != nil else { break }
                            continue
                        }
                        if failing { logger.notice("control socket accepting again") }
                        short = false
                        failing = false
                        guard open.enter(limit: Self.connectionLimit) else {
                            // Said once for a run of refusals, not once for each.
                            if !refusing { logger.warning("control connections refused: too many open at once", metadata: ["limit": "\(Self.connectionLimit)"]) }
                            refusing = true
                            // Its request read first (at most a second): closing on a client still writing would
                            // reset the connection before it reads why. As many of those at once as are served;
                            // past that, closed at once.
                            guard refused.enter(limit: Self.connectionLimit) else {
                                close(connection)
                                continue
                            }
                            connections.addTask {
                                defer {
                                    close(connection)
                                    refused.leave()
                                }
                                _ = try? await Self.readRequestLine(connection, within: .seconds(1))
                                Self.answer(.refused("the control socket is busy: too many connections at once; try again"), on: connection)
                            }
                            continue
                        }
                        refusing = false
                        connections.addTask {
                            defer { open.leave() }
                            await serve(connection)
                        }
                    }
                    // Shutting down: a request still waiting (an enrolment) is cancelled, not waited for.
                    connections.cancelAll()
                }
            } onCancel: {
                // Wakes the accept() above: the socket is closed after it returns.
                shutdown(listener, Int32(SHUT_RDWR))
            }
        }
    }

    func serve(_ connection: Int32) async {
        defer { close(connection) }
        let response: ControlResponse
        // The request is read whoever sent it (and dropped unless they may ask): closing on a client
        // still writing would reset the connection before it reads the refusal.
        let line = try? await Self.readRequestLine(connection)
        if let peer = Self.peer(of: connection), peer.isAllowed(adminGroup: adminGroup) {
            if let line, let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8)) {
                logger.notice("control request", metadata: ["command": "\(request.command.rawValue)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                if request.command == .unlock, Self.hasHungUp(connection) {
                    // The asker gave up (its wait ended, Ctrl-C): nobody may be at the door to go through it.
                    logger.notice("control request withdrawn: its client hung up", metadata: ["command": "unlock"])
                    response = .refused("withdrawn: the client hung up")
                } else if request.command == .enrol || request.command == .unlock {
                    // Withdrawn if the asker hangs up meanwhile: an enrolment waiting for its approach, or an
                    // unlock whose grant is still being committed (up to a second on a slow disk), whose relay
                    // then never moves (review: it still opened the door, for nobody).
                    response = await answerWhileConnected(connection, request.command) { await handle(request, peer) }
                } else {
                    response = await handle(request, peer)
                }
            } else {
                response = .refused("not a control request (one JSON line)")
            }
        } else {
            let uid = Self.peer(of: connection).map { "\($0.uid)" } ?? "?"
            logger.warning("control connection refused: not root or the admin group", metadata: ["uid": "\(uid)"])
            response = .refused("not allowed: the control socket is for root and the admin group")
        }
        Self.answer(response, on: connection)
    }

    /// Writes `response` as one JSON line. An answer is small: it fits the socket's buffer, and a client that
    /// does not read it holds nothing (a send waits at most its 5 s `SO_SNDTIMEO` in any case).
    static func answer(_ response: ControlResponse, on connection: Int32) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let bytes = [UInt8]((try? encoder.encode(response)) ?? Data(#"{"ok":false}"#.utf8)) + [UInt8(ascii: "\n")]
        _ = try? writeAll(bytes, to: connection)
    }

    /// One request line (at most 64 KiB), read within `limit` of the connection's acceptance, waited for
    /// without holding a thread: a poll that does not wait, then a short sleep, so every connection is read
    /// on its own and clients that connect and say nothing hold up nobody's request. Cancelled with the task.
    static func readRequestLine(_ fd: Int32, within limit: Duration = .seconds(5)) async throws -> String {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while line.count < 65_536 {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let waited = poll(&ready, 1, 0)
            if waited < 0, errno == EINTR { continue }
            if waited <= 0 {
                guard ContinuousClock.now < deadline else { throw ControlSocketError("the request was not sent in time", timedOut: true) }
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, 65_536 - line.count)) }
            if count > 0 {
                // One request per connection: what follows its newline is not read.
                if let end = chunk[..<count].firstIndex(of: UInt8(ascii: "\n")) {
                    line += chunk[..<end]
                    break
                }
                line += chunk[..<count]
            } else if count == 0 {
                break
            } else if errno != EINTR, errno != EAGAIN {
                throw ControlSocketError("the request could not be read")
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// `answer`, cancelled if the asker hangs up first. An enrolment waits minutes for "the next
    /// approach": carried on after an installer's Ctrl-C (or a dropped ssh session), it would enrol
    /// whoever walked up next, under the door's tags, with nobody there to see it.
    private func answerWhileConnected(
        _ connection: Int32, _ command: ControlRequest.Command, _ answer: @escaping @Sendable () async -> ControlResponse
    ) async -> ControlResponse {
        await withTaskGroup(of: ControlResponse?.self) { group in
            group.addTask { await answer() }
            group.addTask {
                // A poll without waiting, four times a second: no thread is held while the request waits.
                while !Task.isCancelled {
                    if Self.hasHungUp(connection) {
                        logger.notice("control request withdrawn: its client hung up", metadata: ["command": "\(command.rawValue)"])
                        return nil
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return nil
            }
            var answered: ControlResponse?
            for await result in group {
                group.cancelAll()
                if let result {
                    answered = result
                    break
                }
            }
            return answered ?? .refused("withdrawn: the client hung up")
        }
    }

    /// Whether the peer has closed its end (or the connection failed), without reading what it sent.
    static func hasHungUp(_ connection: Int32) -> Bool {
        // POLLRDHUP (Linux, 0x2000): the peer shut its writing side down; Glibc's Swift view leaves it out.
        let peerClosed = Int16(0x2000)
        var watched = pollfd(fd: connection, events: peerClosed, revents: 0)
        guard poll(&watched, 1, 0) > 0 else { return false }
        return watched.revents & (peerClosed | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    // MARK: - The socket

    static func listen(at path: String, group: gid_t?) throws -> Int32 {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            // Foundation's error names the folder: the configuration's, not for the log; its code says why.
            throw ControlSocketError("cannot make the control socket's folder (\((error as NSError).domain) \((error as NSError).code))")
        }
        // A socket left by a daemon that died is replaced; anything else at the path is not touched.
        // attributesOfItem does not follow a symlink: a link at the path is "another file".
        if let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType {
            guard type == .typeSocket else { throw ControlSocketError("the control socket's path is taken by another file") }
            // One that answers belongs to a daemon still running: it is not taken from it.
            if (try? ControlClient.connect(to: path)).map({ close($0) }) != nil {
                throw ControlSocketError("another facegate daemon serves this control socket")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError("cannot make the control socket (errno \(errno))") }
        var address = try socketAddress(path)
        // Owner and group only from its birth: no window in which others could connect.
        let oldMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(oldMask)
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw ControlSocketError("cannot bind the control socket (errno \(code))")
        }
        // The admin group's members may connect where the daemon may give them the socket; the check of
        // each connection below holds either way.
        if let group { _ = chown(path, geteuid(), group) }
        guard Glibc.listen(fd, 8) == 0 else {
            close(fd)
            throw ControlSocketError("cannot listen on the control socket (errno \(errno))")
        }
        return fd
    }

    static func socketAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ControlSocketError("the control socket's path is too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes + [0]) }
        return address
    }

    static func accept(_ listener: Int32) throws -> Int32 {
        while true {
            let connection = Glibc.accept(listener, nil, nil)
            if connection >= 0 {
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                // A client that connects and says nothing does not hold the socket for long.
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return connection
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            throw AcceptFailure(code: errno)
        }
    }

    /// Why accept() gave no connection.
    struct AcceptFailure: Error {
        var code: Int32
        /// A shortage that passes (descriptors, memory, buffers), not a listener shut down.
        var isPassing: Bool { [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code) }
    }

    /// The kernel's credentials of the connected process.
    static func peer(of connection: Int32) -> ControlPeer? {
        // struct ucred: pid, uid, gid (Glibc leaves it out of Swift's view without _GNU_SOURCE).
        var credentials = [UInt32](repeating: 0, count: 3)
        var length = socklen_t(12)
        let gotCredentials = credentials.withUnsafeMutableBytes { getsockopt(connection, SOL_SOCKET, SO_PEERCRED, $0.baseAddress, &length) }
        guard gotCredentials == 0, length == 12 else { return nil }
        var groups = [gid_t](repeating: 0, count: 256)
        var groupsLength = socklen_t(groups.count * MemoryLayout<gid_t>.size)
        let gotGroups = groups.withUnsafeMutableBytes { getsockopt(connection, SOL_SOCKET, SO_PEERGROUPS, $0.baseAddress, &groupsLength) } == 0
        let count = gotGroups ? Int(groupsLength) / MemoryLayout<gid_t>.size : 0
        return ControlPeer(pid: pid_t(bitPattern: credentials[0]), uid: credentials[1], gid: credentials[2], groups: Array(groups.prefix(count)))
    }

    /// One line (at most 64 KiB), without its newline, read within `limit` in all, blocking (the client's
    /// read of its answer; the daemon reads requests with ``readRequestLine(_:within:)``).
    static func readLine(_ fd: Int32, within limit: Duration = .seconds(5)) throws -> String {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 65_536 {
            // Waits no longer than what is left of the deadline (a read alone would wait its 5 s).
            let left = ContinuousClock.now.duration(to: deadline)
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let waited = poll(&ready, 1, Int32(max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            if waited == 0 || left <= .zero { throw ControlSocketError("the request was not sent in time", timedOut: true) }
            if waited < 0, errno == EINTR { continue }
            let count = read(fd, &byte, 1)
            if count == 1 {
                if byte == UInt8(ascii: "\n") { break }
                line.append(byte)
            } else if count == 0 {
                break
            } else if errno != EINTR {
                throw ControlSocketError("the request could not be read")
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a peer that hung up is EPIPE here, not a SIGPIPE that ends the process
            // (nothing sets SIGPIPE aside before the first HTTP connection).
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ControlSocketError("the answer could not be written")
            }
            sent += count
        }
    }
}

/// How many control connections are being served.
private final class OpenConnections: Sendable {
    private let count = Mutex(0)

    /// Counts one more, unless `limit` are open.
    func enter(limit: Int) -> Bool {
        count.withLock { open in
            guard open < limit else { return false }
            open += 1
            return true
        }
    }

    func leave() { count.withLock { $0 -= 1 } }
}

/// What went wrong with the control socket (never a request's content).
public struct ControlSocketError: Error, CustomStringConvertible {
    public var description: String
    /// The line did not come in time.
    var timedOut = false
    init(_ description: String, timedOut: Bool = false) {
        self.description = description
        self.timedOut = timedOut
    }
}

/// The daemon did not answer within the client's wait: it may still be carrying the request out.
public struct ControlAnswerLate: Error, CustomStringConvertible {
    public var seconds: Int
    public var description: String { "the daemon did not answer within \(seconds) s" }
}

/// `facegate status` and `facegate door unlock`: one request to the running daemon.
public enum ControlClient {
    public static func send(_ request: ControlRequest, to path: String, timeout seconds: Int = 30) throws -> ControlResponse {
        let fd = try connect(to: path)
        defer { close(fd) }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var line = [UInt8](try JSONEncoder().encode(request))
        line.append(UInt8(ascii: "\n"))
        try ControlSocketService.writeAll(line, to: fd)
        // The whole of `timeout`: an enrolment's answer comes after its approach, minutes later.
        let answer: String
        do {
            answer = try ControlSocketService.readLine(fd, within: .seconds(seconds))
        } catch let error as ControlSocketError where error.timedOut {
            // The daemon's side of the wait, not the request's: it may still be working on it.
            throw ControlAnswerLate(seconds: seconds)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let response = try? decoder.decode(ControlResponse.self, from: Data(answer.utf8)) else {
            throw ControlSocketError("the daemon's answer could not be read")
        }
        return response
    }

    /// A connected socket to the daemon at `path`.
    static func connect(to path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError("cannot make a socket") }
        var address = try ControlSocketService.socketAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            if code == ENOENT || code == ECONNREFUSED { throw ControlSocketError("no facegate daemon is listening on \(path) (is `facegate run` running?)") }
            if code == EACCES { throw ControlSocketError("not allowed to use \(path): it is for root and the admin group") }
            throw ControlSocketError("cannot connect to \(path) (errno \(code))")
        }
        return fd
    }
}
