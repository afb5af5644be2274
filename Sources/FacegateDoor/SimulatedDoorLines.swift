import FacegateCore
import Logging
import Synchronization

/// A door without hardware: logs what the relay would do, and takes contact
/// and exit-button changes from whoever drives the simulation (the demo, tests).
public final class SimulatedDoorLines: DoorLines {
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var relayUnlocked = false
        var contactOpen = false
        var relayChanges = 0
        var continuations: [AsyncThrowingStream<DoorInput, any Error>.Continuation] = []
    }

    public init(logger: Logger = Logger(label: "facegate.door.simulated")) {
        self.logger = logger
    }

    public var relayIsUnlocked: Bool { state.withLock { $0.relayUnlocked } }
    /// How many times the relay would have switched.
    public var relayChanges: Int { state.withLock { $0.relayChanges } }

    public func driveRelay(unlocked: Bool) throws {
        let changed = state.withLock { state in
            defer { state.relayUnlocked = unlocked }
            if state.relayUnlocked != unlocked { state.relayChanges += 1 }
            return state.relayUnlocked != unlocked
        }
        if changed {
            logger.notice("simulated relay \(unlocked ? "energised: door unlocked" : "released: door locked")")
        }
    }

    public func contactIsOpen() throws -> Bool? { state.withLock { $0.contactOpen } }

    public func inputs() -> AsyncThrowingStream<DoorInput, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DoorInput.self)
        state.withLock { $0.continuations.append(continuation) }
        return stream
    }

    /// Moves the simulated door contact.
    public func setContact(open: Bool) {
        let listeners = state.withLock { state in
            state.contactOpen = open
            return state.continuations
        }
        for listener in listeners { listener.yield(.contact(open: open)) }
    }

    /// Presses the simulated exit button.
    public func pressExitButton() {
        for listener in state.withLock({ $0.continuations }) { listener.yield(.exitButtonPressed) }
    }

    public func release() {
        try? driveRelay(unlocked: false)
        let listeners = state.withLock { state in
            defer { state.continuations = [] }
            return state.continuations
        }
        for listener in listeners { listener.finish() }
    }
}
