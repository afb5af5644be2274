import FacegateApp
import FacegateTesting
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateQuality
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The systemd watchdog (issue 9, item 21): `DoorControllerService` sends `WATCHDOG=1` only while no
/// stage is busy past its limit and the door has not failed. Run in-process on a real `AF_UNIX`
/// datagram socket as `$NOTIFY_SOCKET`, with a cloud search that does not answer until told.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct WatchdogTests {
    @Test(.timeLimit(.minutes(3)))
    func aDecisionBusyPastItsLimitStopsTheWatchdogUntilItEnds() async throws {
        let rig = try WatchdogRig()
        defer { rig.close() }
        let lines = SimulatedDoorLines(logger: rig.logger)
        let running = try rig.start(lines: lines, decisionLimit: .milliseconds(400))

        // Fed while the door is idle.
        _ = try #require(await rig.notify.waitFor("WATCHDOG=1", timeout: .seconds(20)), "no WATCHDOG=1 at all")
        // Someone walks up; the cloud does not answer (the decision deadline is 30 s).
        #expect(await rig.search.waitUntilCalled(timeout: .seconds(120)), "the visit never reached the cloud")
        let called = ContinuousClock.now

        // Within its limit a busy decision is not hung: still fed.
        let hung = try #require(await rig.notify.waitFor("STATUS=hung: one decision", timeout: .seconds(5)), "the hang was not reported")
        #expect(rig.notify.count("WATCHDOG=1", from: called, to: hung.time) >= 1, "a decision within its limit stopped the watchdog")
        #expect(hung.time - called >= .milliseconds(300), "called hung before its limit")

        // Past it: no ping at all (the interval is 100 ms, WATCHDOG_USEC 200 ms).
        try await Task.sleep(for: .milliseconds(800))
        #expect(rig.notify.count("WATCHDOG=1", after: hung.index) == 0, "the watchdog was fed while a decision was hung")

        // The cloud answers: the decision ends, the pings come back.
        let released = rig.notify.messages.count
        rig.search.release()
        #expect(await rig.notify.waitFor("WATCHDOG=1", after: released, timeout: .seconds(3)) != nil, "the watchdog stayed stopped after the hang ended")

        rig.source.end()
        try await running.value
        #expect(rig.search.calls == 1)
    }

    @Test(.timeLimit(.minutes(3)))
    func anAnalysisHungPastItsLimitStopsTheWatchdogUntilItEnds() async throws {
        let rig = try WatchdogRig()
        defer { rig.close() }
        // The cloud answers at once: only the frame's analysis can hang here.
        rig.search.release()
        let analyzer = HangingAnalyzer()
        defer { analyzer.release() }
        let source = HeldOpenSource(SynthesizedApproach())
        let running = try rig.start(
            lines: SimulatedDoorLines(logger: rig.logger), decisionLimit: .seconds(30), source: source, analyzer: analyzer,
            analysisLimit: .milliseconds(400))
        defer { source.end() }

        _ = try #require(await rig.notify.waitFor("WATCHDOG=1", timeout: .seconds(20)), "no WATCHDOG=1 at all")
        // The first frame with someone in it does not come back from the quality core.
        #expect(await analyzer.waitUntilHanging(timeout: .seconds(60)), "the analysis never hung")
        let hanging = ContinuousClock.now
        let hung = try #require(
            await rig.notify.waitFor("STATUS=hung: the analysis of one frame", timeout: .seconds(5)), "the hang was not reported")
        #expect(rig.notify.count("WATCHDOG=1", from: hanging, to: hung.time) >= 1, "an analysis within its limit stopped the watchdog")

        // Past it: no ping at all (the interval is 100 ms, WATCHDOG_USEC 200 ms), so systemd would restart the daemon.
        try await Task.sleep(for: .milliseconds(800))
        #expect(rig.notify.count("WATCHDOG=1", after: hung.index) == 0, "the watchdog was fed while an analysis was hung")

        // The analysis returns: the pings come back.
        let released = rig.notify.messages.count
        analyzer.release()
        #expect(await rig.notify.waitFor("WATCHDOG=1", after: released, timeout: .seconds(3)) != nil, "the watchdog stayed stopped after the hang ended")
        source.end()
        try await running.value
    }

    @Test(.timeLimit(.minutes(3)))
    func afterTheDoorFailsTheWatchdogIsNeverFedAgain() async throws {
        let rig = try WatchdogRig()
        defer { rig.close() }
        let lines = BreakableDoorLines()
        // A long decision limit: only the door's failure can stop the pings here.
        let running = try rig.start(lines: lines, decisionLimit: .seconds(30))
        let finished = Atomic(false)
        let watcher = Task {
            defer { finished.store(true, ordering: .releasing) }
            try await running.value
        }

        _ = try #require(await rig.notify.waitFor("WATCHDOG=1", timeout: .seconds(20)), "no WATCHDOG=1 at all")
        // A decision in progress keeps the service running after the door fails (it is let finish).
        #expect(await rig.search.waitUntilCalled(timeout: .seconds(120)), "the visit never reached the cloud")
        let called = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(300))
        #expect(rig.notify.count("WATCHDOG=1", from: called, to: .now) >= 1, "not fed while a decision was within its limit")

        // The door's lines are lost.
        lines.lose()
        let failed = try #require(await rig.notify.waitFor("door failed", timeout: .seconds(5)), "the door's failure was not reported")
        try await Task.sleep(for: .milliseconds(800))
        let stoppedEarly = finished.load(ordering: .acquiring)
        #expect(!stoppedEarly, "the service stopped; the watchdog check would prove nothing")
        // (A ping already on its way as the flag was set may land just after the status line.)
        let settled = failed.time + .milliseconds(50)
        #expect(rig.notify.count("WATCHDOG=1", from: settled, to: .now) == 0, "the watchdog was fed after the door failed")

        rig.search.release()
        rig.source.end()
        let error = await #expect(throws: DoorError.self) { try await watcher.value }
        #expect(error?.code == .ioFailed)
        #expect(rig.notify.count("WATCHDOG=1", from: settled, to: .now) == 0)
        // The relay is left locked and handed back to the kernel (its resting level).
        #expect(lines.isReleased && !lines.relayIsUnlocked)
    }
}

extension WatchdogTests {
    /// The watchdog vouches for the door itself, not only the pipeline: a relay write that never returns
    /// (a GPIO expander's bus hung in the ioctl) holds the door, so the exit button and every unlock with
    /// it. Past its limit the daemon says so (`STATUS=hung: the door …`, a critical line) and stops the
    /// pings, so systemd's `WatchdogSec=` ends it. No visit is under way here: only the door can stop them.
    @Test(.timeLimit(.minutes(3)))
    func aRelayWriteThatNeverReturnsStopsTheWatchdogUntilItDoes() async throws {
        let rig = try WatchdogRig()
        defer { rig.close() }
        let lines = StuckUnlockLines()
        defer { lines.unstick() }
        let source = HeldOpenSource(SynthesizedApproach(empty: 3, present: 0, after: 0))
        defer { source.end() }
        let running = try rig.start(lines: lines, decisionLimit: .seconds(30), source: source, doorAnswerLimit: .milliseconds(400))

        _ = try #require(await rig.notify.waitFor("WATCHDOG=1", timeout: .seconds(20)), "no WATCHDOG=1 at all")
        lines.pressExit()
        #expect(await lines.waitUntilStuck(timeout: .seconds(20)), "the exit press never drove the relay")
        let stuck = ContinuousClock.now
        let hung = try #require(
            await rig.notify.waitFor("STATUS=hung: the door has not answered", timeout: .seconds(5)), "the door's hang was not reported")
        #expect(hung.time - stuck >= .milliseconds(300), "called hung before its limit")

        // Past it: no ping at all (the interval is 100 ms, WATCHDOG_USEC 200 ms).
        try await Task.sleep(for: .milliseconds(800))
        #expect(rig.notify.count("WATCHDOG=1", after: hung.index) == 0, "the watchdog was fed while the door was stuck")

        // The write returns: the pings come back, and the status line with them.
        let released = rig.notify.messages.count
        lines.unstick()
        #expect(await rig.notify.waitFor("WATCHDOG=1", after: released, timeout: .seconds(5)) != nil, "the watchdog stayed stopped after the door answered")
        #expect(await rig.notify.waitFor("STATUS=door watchdog door", after: released, timeout: .seconds(5)) != nil, "the hang is still said")
        source.end()
        try await running.value
    }
}

/// Door lines whose first unlock never returns until ``unstick()``: a relay write hung in the kernel.
/// The exit button is pressed on command.
final class StuckUnlockLines: DoorLines {
    private let continuation: AsyncThrowingStream<DoorInput, any Error>.Continuation
    private let stream: AsyncThrowingStream<DoorInput, any Error>
    private let state = Mutex((stuck: false, armed: true, unlockWrites: 0))
    private let released = DispatchSemaphore(value: 0)
    /// The relay writes that unlocked it, the hung one included.
    var unlockWrites: Int { state.withLock { $0.unlockWrites } }

    init() {
        (stream, continuation) = AsyncThrowingStream<DoorInput, any Error>.makeStream()
    }

    func pressExit() { continuation.yield(.exitButtonPressed) }

    func driveRelay(unlocked: Bool) throws {
        if unlocked { state.withLock { $0.unlockWrites += 1 } }
        guard unlocked, state.withLock({ state in
            defer { state.armed = false }
            state.stuck = state.armed
            return state.armed
        }) else { return }
        // Bounded: on a machine with one cooperative thread this one may be the last, and a test that
        // could never release it would hang the whole run instead of failing.
        _ = released.wait(timeout: .now() + 60)
        state.withLock { $0.stuck = false }
    }

    func waitUntilStuck(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.stuck }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Lets the hung write return (once; again is harmless).
    func unstick() {
        let wasStuck = state.withLock { state in
            defer { state.armed = false }
            return state.stuck
        }
        if wasStuck { released.signal() }
    }

    func contactIsOpen() throws -> Bool? { nil }
    func inputs() -> AsyncThrowingStream<DoorInput, any Error> { stream }
    func release() {}
}

/// One door in-process: a person walks up, the cloud holds the search until released, a notify socket.
final class WatchdogRig: Sendable {
    let folder: URL
    let configuration: FacegateConfiguration
    let logger: Logger
    let search = HeldCloud()
    let source: HeldOpenSource
    let notify: NotifyListener

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-watchdog-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Quiet: the hang and the door's failure are logged as critical, on purpose.
        logger = Logger(label: "facegate.watchdog-test") { _ in SwiftLogNoOpLogHandler() }
        var configuration = FacegateConfiguration()
        // Not the system's socket: tests run side by side.
        configuration.control.socket = nil
        // The scene's visitors are photos carried up to the camera, which the liveness stage refuses
        // (its own tests turn it on); these tests are about what happens after it.
        configuration.liveness.enabled = false
        configuration.door.name = "watchdog door"
        configuration.door.tags = ["staff"]
        configuration.door.pulse = .milliseconds(300)
        configuration.backend.decisionDeadline = .seconds(30)
        configuration.offlineCache.enabled = false
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        self.configuration = configuration
        let stills = try TestFaceAnalyzers.stills()
        let portrait = try TestPortrait.headAndShoulders(
            try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledWalksUp), analyzer: stills)
        source = HeldOpenSource(DemoScene(visitors: [.init(name: "visitor", portrait: portrait)]))
        notify = try NotifyListener(path: folder.appendingPathComponent("notify").path)
    }

    /// Runs the daemon with a 200 ms watchdog (pinged every 100 ms) until the source ends.
    /// - Parameters:
    ///   - source, analyzer: instead of the scene and the face core (a scripted scene and analysis).
    ///   - analysisLimit, doorAnswerLimit: instead of the service's own (15 s, 5 s).
    ///   - statusServerListening: given, the door serves `/health` on loopback and is told its port.
    func start(
        lines: any DoorLines, decisionLimit: Duration, source: (any FrameSource)? = nil, analyzer: (any FrameAnalyzing)? = nil,
        analysisLimit: Duration? = nil, doorAnswerLimit: Duration? = nil, statusServerListening: (@Sendable (Int) async -> Void)? = nil
    ) throws -> Task<Void, any Error> {
        var configuration = self.configuration
        if statusServerListening != nil { configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0) }
        var parts = try DoorParts.open(
            configuration, overrides: .init(
                source: source ?? self.source, search: search, doorLines: lines, faceEngine: try TestFaceAnalyzers.video().engine,
                environment: [:]),
            logger: logger)
        if let analyzer { parts.analyzer = analyzer }
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        settings.statusInterval = .milliseconds(100)
        settings.decisionLimit = decisionLimit
        if let analysisLimit { settings.analysisLimit = analysisLimit }
        if let doorAnswerLimit { settings.doorAnswerLimit = doorAnswerLimit }
        settings.onStatusServerListening = statusServerListening
        let service = DoorControllerService(
            configuration: configuration, parts: parts, settings: settings,
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"]), logger: logger,
            loadConfiguration: { [configuration] in configuration })
        return Task { try await service.run() }
    }

    func close() {
        search.release()
        source.end()
        notify.close()
        try? FileManager.default.removeItem(at: folder)
    }
}


/// A scene's frames, then nothing until ``end()``: a camera that stays on after the visitor left.
final class HeldOpenSource: FrameSource {
    private let scene: any FrameSource
    private let ended = Atomic(false)

    init(_ scene: any FrameSource) { self.scene = scene }

    func end() { ended.store(true, ordering: .releasing) }

    func frames() -> AsyncThrowingStream<Frame, any Error> {
        let scene = self.scene
        let source = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await frame in scene.frames() { continuation.yield(frame) }
                    while !source.ended.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(20)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Door lines whose inputs can be lost on command (the stream fails, as a lost GPIO line does); they
/// remember where the relay was driven and whether they were released.
final class BreakableDoorLines: DoorLines {
    private let continuation = Mutex<AsyncThrowingStream<DoorInput, any Error>.Continuation?>(nil)
    private let stream: AsyncThrowingStream<DoorInput, any Error>
    private let relay = Mutex((unlocked: false, released: false))
    var relayIsUnlocked: Bool { relay.withLock { $0.unlocked } }
    var isReleased: Bool { relay.withLock { $0.released } }

    init() {
        let (stream, continuation) = AsyncThrowingStream<DoorInput, any Error>.makeStream()
        self.stream = stream
        self.continuation.withLock { $0 = continuation }
    }

    func driveRelay(unlocked: Bool) throws { relay.withLock { $0.unlocked = unlocked } }
    func contactIsOpen() throws -> Bool? { nil }
    func inputs() -> AsyncThrowingStream<DoorInput, any Error> { stream }
    func release() { relay.withLock { $0.released = true } }

    func lose() {
        continuation.withLock { $0?.finish(throwing: DoorError(.ioFailed, "the door's lines were lost")) }
    }
}

/// A bound `AF_UNIX` datagram socket standing in for systemd's notify socket; a thread reads it.
final class NotifyListener: Sendable {
    struct Message: Sendable {
        var index: Int
        var time: ContinuousClock.Instant
        var text: String
    }

    let path: String
    private let fd: Int32
    private let received = Mutex<[Message]>([])
    private let stopping = Atomic(false)
    private let stopped = DispatchSemaphore(value: 0)

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
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopping.load(ordering: .acquiring) {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { continue }
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                received.withLock { $0.append(Message(index: $0.count, time: .now, text: text)) }
            }
            stopped.signal()
        }
        thread.start()
    }

    var messages: [Message] { received.withLock { $0 } }

    /// The first message from index `after` on that contains `text`.
    func waitFor(_ text: String, after: Int = 0, timeout: Duration) async -> Message? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = messages.dropFirst(after).first(where: { $0.text.contains(text) }) { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    func count(_ text: String, after index: Int) -> Int {
        messages.dropFirst(index + 1).filter { $0.text.contains(text) }.count
    }

    func count(_ text: String, from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Int {
        messages.filter { $0.time >= start && $0.time <= end && $0.text.contains(text) }.count
    }

    func close() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopped.wait()
        Glibc.close(fd)
        unlink(path)
    }
}
