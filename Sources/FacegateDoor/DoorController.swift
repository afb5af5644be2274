import FacegateCore
import Logging

/// Runs the door: feeds the wiring's inputs and the unlock requests through
/// ``DoorStateMachine``, carries out its actions on the relay, and publishes
/// the events.
///
/// The relay is locked from the moment the controller exists and is locked
/// again and released when ``run()`` ends, however it ends.
public actor DoorController: DoorActuator {
    private let lines: any DoorLines
    private let logger: Logger
    private var machine: DoorStateMachine<ContinuousClock.Instant>
    private var wake: Task<Void, Never>?
    private var subscribers: [Int: AsyncStream<DoorEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    private var stopped = false
    /// True once ``run()`` is reading the inputs.
    public private(set) var isWatchingInputs = false

    public init(lines: any DoorLines, timing: DoorTiming = DoorTiming(), logger: Logger = Logger(label: "facegate.door"))
        throws
    {
        self.lines = lines
        self.logger = logger
        let open = try lines.contactIsOpen() ?? false
        machine = DoorStateMachine(timing: timing, doorOpen: open, now: .now)
    }

    /// Watches the inputs until cancelled (or until the inputs fail), then locks and releases the lines.
    public func run() async throws {
        defer { shutDown() }
        let inputs = lines.inputs()
        isWatchingInputs = true
        for try await input in inputs {
            switch input {
            case .contact(let open):
                try apply(machine.contact(open: open, now: .now))
            case .exitButtonPressed:
                try apply(machine.unlock(because: .requestToExit, now: .now))
            }
        }
    }

    public func unlock(because reason: UnlockReason) throws {
        guard !stopped else { throw DoorError(.ioFailed, "the door controller has stopped") }
        try apply(machine.unlock(because: reason, now: .now))
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

    public var isUnlocked: Bool { machine.isUnlocked }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    private func tick() throws {
        try apply(machine.tick(now: .now))
    }

    private func apply(_ actions: [DoorStateMachine<ContinuousClock.Instant>.Action]) throws {
        var failure: (any Error)?
        for action in actions {
            switch action {
            case .driveRelay(let unlocked):
                do {
                    try lines.driveRelay(unlocked: unlocked)
                } catch {
                    logger.error("relay could not be driven", metadata: ["unlocked": "\(unlocked)", "error": "\(error)"])
                    failure = failure ?? error
                }
            case .report(let event):
                if event.isAlarm {
                    logger.warning("door alarm", metadata: ["event": "\(event.name)"])
                } else {
                    logger.info("door", metadata: ["event": "\(event.name)"])
                }
                for subscriber in subscribers.values { subscriber.yield(event) }
            }
        }
        scheduleWake()
        if let failure { throw failure }
    }

    private func scheduleWake() {
        wake?.cancel()
        wake = nil
        guard !stopped, let deadline = machine.nextDeadline else { return }
        wake = Task { [weak self] in
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
            } catch {
                return
            }
            try? await self?.tick()
        }
    }

    private func shutDown() {
        guard !stopped else { return }
        let actions = machine.lockNow()
        try? apply(actions)
        stopped = true
        wake?.cancel()
        wake = nil
        lines.release()
        for subscriber in subscribers.values { subscriber.finish() }
        subscribers = [:]
    }
}
