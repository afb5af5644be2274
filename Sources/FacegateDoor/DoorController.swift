import FacegateCore
import Logging
import Synchronization

/// Runs the door: feeds the wiring's inputs and the unlock requests through
/// ``DoorStateMachine``, carries out its actions on the relay, and publishes
/// the events.
///
/// The relay is locked from the moment the controller exists. When ``run()``
/// ends, however it ends, a fail-secure door is locked and the lines released
/// (resting locked); a fail-safe door's lines are released without locking it
/// (resting unlocked).
///
/// A lock write that fails is retried (``RelayRetry``); if the relay still cannot
/// be locked, the door reports ``DoorEvent/fault(_:)`` and ``run()`` throws
/// ``DoorError/Code/relayFault``: the daemon must then stop, so that the kernel
/// frees the line and the service is restarted. A failed unlock write is thrown to the caller and
/// the relay then locked the same way: the write may have taken effect all the same.
///
/// Its timers (the unlock pulse, held-open and the relock retries) run on `DoorClock`: the daemon's
/// ``DoorController`` uses the continuous clock, a test a manual one.
public typealias DoorController = ClockedDoorController<ContinuousClock>

public actor ClockedDoorController<DoorClock: Clock>: DoorActuator where DoorClock.Duration == Duration {
    /// How hard to try before a lock write is a fault.
    public struct RelayRetry: Sendable {
        /// Writes in all, the first included.
        public var tries: Int
        /// The pause after the first failed write; it doubles after each further one.
        public var firstPause: Duration

        /// By default 3 tries over 150 ms: a line that is merely busy has answered by then, and a
        /// door left unlocked for longer is worse than a restart.
        public init(tries: Int = 3, firstPause: Duration = .milliseconds(50)) {
            self.tries = max(1, tries)
            self.firstPause = firstPause
        }
    }

    private let lines: any DoorLines
    private let clock: DoorClock
    private let logger: Logger
    private let retry: RelayRetry
    private var machine: DoorStateMachine<DoorClock.Instant>
    private var wake: Task<Void, Never>?
    private var subscribers: [Int: AsyncStream<DoorEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    private var stopped = false
    /// The lines have been given back: nothing can be driven any more.
    private var released = false
    /// True while a failed lock write is being retried: nothing else may drive the relay meanwhile.
    private var relockInProgress = false
    /// A stop waiting for the relock in progress to end (locked, or the fault).
    private var relockWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when the relay could not be locked; ``run()`` throws it.
    private var fault: DoorError?
    private let faults: AsyncStream<DoorError>
    private let faultSignal: AsyncStream<DoorError>.Continuation
    /// True once ``run()`` is reading the inputs.
    public private(set) var isWatchingInputs = false
    /// Events a subscriber had no room for (256 unread): each is lost to that subscriber, the journal included.
    /// Read without the actor: `/metrics` must answer while a relay write hangs the door.
    public nonisolated var droppedEvents: Int { droppedCount.withLock { $0 } }
    private let droppedCount = Mutex(0)
    /// Events are being lost (said once as it starts, and with the count once readers keep up again).
    private var droppingSince: Int?
    /// Unlocks whose relay write failed since the last one that unlocked: how many, since when, the last error.
    private var failedUnlockStreak: (count: Int, since: DoorClock.Instant, lastError: String)?
    /// The level the relay was last driven to and took (unlocked or not); nil after a write that failed,
    /// when it is not known. The lines are requested locked.
    private var drivenUnlocked: Bool? = false
    /// How often the relay is read back (``DoorLines/relayReadsUnlocked()``); nil: never.
    private let relayCheckInterval: Duration?
    /// Whether a read-back has agreed with the relay's level yet: until one has, a read that fails or
    /// disagrees is the chip's way (a driver that cannot read its outputs), and read-back is turned off.
    private var relayReadBackProven = false
    private var relayReadBackOff = false

    /// - Parameter relayCheckInterval: how often to read the relay back and compare it with the level it was
    ///   driven to (nil: never): a relay whose chip went away, or that fell from its level by itself, is a
    ///   ``DoorFault/relayLost`` fault within that time, not something the next grant finds.
    public init(
        lines: any DoorLines, timing: DoorTiming = DoorTiming(), relayRetry: RelayRetry = RelayRetry(), clock: DoorClock,
        relayCheckInterval: Duration? = nil, logger: Logger = Logger(label: "facegate.door")
    ) throws {
        self.lines = lines
        self.clock = clock
        self.logger = logger
        self.retry = relayRetry
        self.relayCheckInterval = relayCheckInterval
        let open = try lines.contactIsOpen() ?? false
        machine = DoorStateMachine(timing: timing, doorOpen: open, now: clock.now)
        (faults, faultSignal) = AsyncStream.makeStream(of: DoorError.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Watches the inputs until cancelled, until the inputs fail, or until the relay cannot be
    /// locked (it then throws ``DoorError/Code/relayFault``); then rests the relay and releases the lines.
    public func run() async throws {
        let inputs = lines.inputs()
        let faults = self.faults
        isWatchingInputs = true
        // A door found open when the controller was made is timed for the held-open alarm from now on.
        scheduleWake()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await input in inputs { await self.handle(input) }
                }
                // A fault can come from whichever task drives a relock: the timer at the end of a pulse, or a contact closing.
                group.addTask {
                    for await fault in faults { throw fault }
                }
                if let interval = self.relayCheckInterval {
                    let clock = self.clock
                    group.addTask {
                        // Ends quietly when the door stops (cancelled): a stop is no failure (review: its sleep's
                        // CancellationError, ending first, made a graceful stop throw, and the daemon exit 1).
                        while (try? await clock.sleep(for: interval)) != nil {
                            await self.checkRelay()
                        }
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            await shutDown()
            throw fault ?? error
        }
        await shutDown()
        if let fault { throw fault }
    }

    public func unlock(because reason: UnlockReason) async throws {
        // Checked here, once the door is free: a caller cancelled while it waited for the door (held by a
        // relay write on a stalled bus), an unlock whose asker hung up or a stop past its grace, drives
        // nothing. Nobody may be at the door.
        try Task.checkCancellation()
        try checkRelayIsFree()
        try await apply(machine.unlock(because: reason, now: clock.now))
    }

    public func events() -> AsyncStream<DoorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: DoorEvent.self, bufferingPolicy: .bufferingNewest(256))
        if stopped {
            continuation.finish()
            return stream
        }
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        return stream
    }

    /// Whether the relay is, or may be, unlocked: true after a relock that failed.
    public var isUnlocked: Bool { machine.isUnlocked }
    /// Whether the relay could not be locked (the controller is stopping or has stopped).
    public var isFaulted: Bool { machine.isFaulted }
    /// The unlocks in a row whose relay write failed, whoever asked (a grant, a manual unlock, the exit
    /// button); nil once one unlocks. An unlock refused without a write (a relock in progress, a stopped
    /// door) neither counts nor clears.
    public var failedUnlocks: FailedUnlocks? {
        failedUnlockStreak.map { FailedUnlocks(inARow: $0.count, failingFor: $0.since.duration(to: clock.now), lastError: $0.lastError) }
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    private func checkRelayIsFree() throws(DoorError) {
        if let fault { throw fault }
        if let refusal = unlockRefusal { throw DoorError(.ioFailed, "the relay was not driven: \(refusal)") }
    }

    /// Why no unlock may drive the relay now; nil while it is free. A grant or manual unlock is refused by
    /// ``checkRelayIsFree()`` (thrown), an exit press by an `unlockRefused` event.
    private var unlockRefusal: UnlockRefusal? {
        if fault != nil { return .faulted }
        if stopped { return .stopped }
        return relockInProgress ? .relocking : nil
    }

    private func handle(_ input: DoorInput) async {
        switch input {
        case .contact(let open):
            try? await apply(machine.contact(open: open, now: clock.now))  // throws only for a failed unlock
        case .exitButtonPressed:
            // A press refused before any write is reported too, the press and then why: the journal has
            // every exit press, as it has one whose write failed.
            if let refusal = unlockRefusal {
                logger.error("exit request not carried out", metadata: ["refused": "\(refusal.rawValue)"])
                publish([.report(.requestToExit), .report(.unlockRefused(.requestToExit, refusal))])
                return
            }
            do {
                try await apply(machine.unlock(because: .requestToExit, now: clock.now))
            } catch {
                logger.error("exit request not carried out", metadata: Self.metadata(of: error))
            }
        }
    }

    private func tick() async {
        try? await apply(machine.tick(now: clock.now))  // a tick never unlocks, so never throws
        scheduleWake()  // whatever is due next, even when this tick had nothing to do
    }

    /// Carries out the machine's actions in order. A relay write that fails ends the batch (the
    /// events after it did not happen) and is handed back to the machine: a failed unlock is
    /// thrown to the caller once the relay is locked again, a lock that fails every retry is a fault
    /// that stops ``run()``.
    private func apply(_ actions: [DoorStateMachine<DoorClock.Instant>.Action]) async throws {
        // Nothing changed (an input that repeats the state the door is in): the timers stand as they are.
        guard !actions.isEmpty else { return }
        defer { scheduleWake() }
        for action in actions {
            switch action {
            case .driveRelay(unlocked: true):
                do {
                    try lines.driveRelay(unlocked: true)
                    drivenUnlocked = true
                    failedUnlockStreak = nil
                } catch {
                    drivenUnlocked = nil
                    logger.error("relay could not be unlocked; locking it, in case the write took effect", metadata: Self.metadata(of: error))
                    let description = (error as? DoorError)?.description ?? "\(type(of: error))"
                    failedUnlockStreak = (
                        (failedUnlockStreak?.count ?? 0) + 1, failedUnlockStreak?.since ?? clock.now, description
                    )
                    // The failure reported, then the relay locked with a relock's retries: a lock failing every try is the fault.
                    try? await apply(machine.relayFailed(unlocked: true, now: clock.now))
                    throw error
                }
            case .driveRelay(unlocked: false):
                if await !lockRelay() {
                    publish(machine.relayFailed(unlocked: false, now: clock.now))
                    let error = DoorError(.relayFault, "\(DoorFault.relayNotLocked) after \(retry.tries) tries")
                    fault = fault ?? error
                    faultSignal.yield(error)
                    return
                }
            case .report(let event):
                publish([.report(event)])
            }
        }
    }

    /// Drives the relay to locked, retrying a failed write. False when every try failed; true also
    /// when the lines were released meanwhile.
    private func lockRelay() async -> Bool {
        // Whatever the outcome, a stop waiting for it goes on once the caller has dealt with it (the fault
        // is set before the actor runs the stop again).
        defer {
            for waiter in relockWaiters { waiter.resume() }
            relockWaiters = []
        }
        var pause = retry.firstPause
        for attempt in 1...retry.tries {
            do {
                try lines.driveRelay(unlocked: false)
                drivenUnlocked = false
                if attempt > 1 { logger.notice("relay locked after a retry", metadata: ["tries": "\(attempt)"]) }
                return true
            } catch {
                drivenUnlocked = nil
                var metadata = Self.metadata(of: error)
                metadata["try"] = "\(attempt)"
                metadata["tries"] = "\(retry.tries)"
                logger.error("relay could not be locked", metadata: metadata)
            }
            guard attempt < retry.tries else { break }
            relockInProgress = true
            defer { relockInProgress = false }
            // In a task of its own so that a cancelled caller still pauses: a relock is never rushed
            // through its tries nor abandoned half way.
            await Task { [pause, clock] in try? await clock.sleep(for: pause) }.value
            pause *= 2
            // Released meanwhile (the controller stopped): the relay rests de-energised, out of our hands.
            if released { return true }
        }
        logger.critical(
            "door fault: \(DoorFault.relayNotLocked); the door may be unlocked; stopping", metadata: ["tries": "\(retry.tries)"])
        return false
    }

    /// Reads the relay back while nothing is driving it: a level other than the one it was driven to, or a
    /// line that cannot be read (its chip gone), is the ``DoorFault/relayLost`` fault, which stops ``run()``
    /// as a relay that will not lock does. Skipped while a relock is between its tries, after a write that
    /// failed (the level is not known until the next one takes), and once stopped or faulted.
    private func checkRelay() {
        guard !stopped, !released, !relockInProgress, !relayReadBackOff, fault == nil, let driven = drivenUnlocked else { return }
        let reads: Bool?
        var cause: [String: Logger.MetadataValue] = [:]
        do {
            reads = try lines.relayReadsUnlocked()
        } catch {
            reads = nil
            cause = Self.metadata(of: error)
            cause["read"] = "failed"
        }
        if cause.isEmpty {
            guard let reads else { return }
            guard reads != driven else {
                relayReadBackProven = true
                return
            }
            cause["read"] = "\(reads ? "unlocked" : "locked")"
            cause["driven"] = "\(driven ? "unlocked" : "locked")"
        }
        guard relayReadBackProven else {
            // Never read back right since the start: the chip cannot report its outputs (no `get` in its driver:
            // EIO, or its last level cached wrong). Faulting would restart the door for ever, a fail-safe maglock
            // unlocking at each restart: its level is not watched, and that is said once.
            relayReadBackOff = true
            cause["read_back"] = "off"
            logger.warning("the relay cannot be read back on this chip: its level is not watched while the door is idle", metadata: cause)
            return
        }
        logger.critical("door fault: \(DoorFault.relayLost); the door may be unlocked; stopping", metadata: cause)
        publish(machine.relayLost(now: clock.now))
        let error = DoorError(.relayFault, "\(DoorFault.relayLost)", role: .relay)
        fault = error
        faultSignal.yield(error)
    }

    private func publish(_ actions: [DoorStateMachine<DoorClock.Instant>.Action]) {
        for case .report(let event) in actions {
            if event.isAlarm {
                logger.warning("door alarm", metadata: ["event": "\(event.name)"])
            } else {
                logger.info("door", metadata: ["event": "\(event.name)"])
            }
            var dropped = false
            for subscriber in subscribers.values {
                // The newest is kept: what is lost is the oldest the reader had not taken.
                if case .dropped(let lost) = subscriber.yield(event) {
                    dropped = true
                    let total = droppedCount.withLock { count in
                        count += 1
                        return count
                    }
                    if droppingSince == nil {
                        droppingSince = total - 1
                        logger.error("door events are being lost: a reader is too far behind", metadata: ["event": "\(lost.name)"])
                    }
                }
            }
            if !dropped, let since = droppingSince {
                droppingSince = nil
                logger.notice("door events are delivered again", metadata: ["lost": "\(droppedEvents - since)"])
            }
        }
    }

    /// The error's kind and errno only: a GPIO error's message names the configured lines.
    private static func metadata(of error: any Error) -> Logger.Metadata {
        guard let error = error as? DoorError else { return ["error": "\(type(of: error))"] }
        var metadata: Logger.Metadata = ["error": "\(error.code)"]
        if let errno = error.errno { metadata["errno"] = "\(errno)" }
        return metadata
    }

    private func scheduleWake() {
        wake?.cancel()
        wake = nil
        guard !stopped, let deadline = machine.nextDeadline else { return }
        wake = Task { [weak self, clock] in
            do {
                try await clock.sleep(until: deadline, tolerance: nil)
            } catch {
                return
            }
            await self?.tick()
        }
    }

    /// A fail-secure door is locked (with retries) before its lines are released; a fail-safe
    /// door is released as it is, and so rests unlocked.
    private func shutDown() async {
        guard !stopped else { return }
        stopped = true  // first: no unlock may start while the relay is being rested
        wake?.cancel()
        wake = nil
        if relockInProgress {
            // A relock is between its tries: the machine counts the door locked, the relay is not. The stop
            // waits for those tries (one loop drives the relay, never two), and a relay they never lock is
            // the fault (before, the stop ended them and the door stopped cleanly, strike perhaps energised).
            // A fail-safe door's too: it is released unlocked either way, but a relay that cannot be driven
            // is said, not reported as a clean stop (review).
            await withCheckedContinuation { relockWaiters.append($0) }
        } else if lines.failMode == .secure {
            try? await apply(machine.lockNow(now: clock.now))  // locking never throws; a failure is a fault
        }
        if lines.failMode == .safe { logger.notice("releasing a fail-safe door: it rests unlocked") }
        lines.release()
        released = true
        for subscriber in subscribers.values { subscriber.finish() }
        subscribers = [:]
        faultSignal.finish()
    }
}

/// Unlocks in a row whose relay write failed, with no unlock since: one is a bad write, several
/// a relay that cannot be driven (its I2C expander gone).
public struct FailedUnlocks: Sendable, Equatable {
    public var inARow: Int
    /// Since the first of them, on the door's clock.
    public var failingFor: Duration
    /// The last failure, by the line's role ("relay: …"), never its chip or name.
    public var lastError: String
}

extension ClockedDoorController where DoorClock == ContinuousClock {
    /// The daemon's door, on the continuous clock.
    public init(
        lines: any DoorLines, timing: DoorTiming = DoorTiming(), relayRetry: RelayRetry = RelayRetry(),
        relayCheckInterval: Duration? = nil, logger: Logger = Logger(label: "facegate.door")
    ) throws {
        try self.init(
            lines: lines, timing: timing, relayRetry: relayRetry, clock: ContinuousClock(), relayCheckInterval: relayCheckInterval,
            logger: logger)
    }
}
