import FacegateCore
import Logging
import Synchronization

/// A door without hardware: logs what the relay would do, and takes contact
/// and exit-button changes from whoever drives the simulation (the demo, tests).
/// Relay writes can be told to fail, to rehearse a relay that will not lock.
public final class SimulatedDoorLines: DoorLines {
    public let failMode: DoorFailMode
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var relayUnlocked = false
        var contactOpen = false
        var relayChanges = 0
        var released = false
        /// Writes to the locked / unlocked state still to fail; nil fails every one.
        var failingLockWrites: Int? = 0
        var failingUnlockWrites: Int? = 0
        var failedWrites = 0
        /// The relay's line is gone (its chip unplugged): reads fail (writes are told to fail on their own).
        var relayLost = false
        var continuations: [AsyncThrowingStream<DoorInput, any Error>.Continuation] = []
    }

    /// - Parameter failMode: which state the relay rests in when released (locked unless fail-safe).
    public init(failMode: DoorFailMode = .secure, logger: Logger = Logger(label: "facegate.door.simulated")) {
        self.failMode = failMode
        self.logger = logger
    }

    public var relayIsUnlocked: Bool { state.withLock { $0.relayUnlocked } }
    /// How many times the relay would have switched.
    public var relayChanges: Int { state.withLock { $0.relayChanges } }
    /// Whether ``release()`` has given the lines back.
    public var isReleased: Bool { state.withLock { $0.released } }
    /// How many relay writes failed because they were told to.
    public var failedRelayWrites: Int { state.withLock { $0.failedWrites } }

    /// Makes the next `count` writes of the relay to the given state fail (nil: every one, until
    /// ``stopFailingRelayWrites()``). The relay keeps its state when a write fails.
    public func failRelayWrites(unlocked: Bool, count: Int? = nil) {
        state.withLock { state in
            if unlocked { state.failingUnlockWrites = count } else { state.failingLockWrites = count }
        }
    }

    /// The relay's chip goes away (a USB relay board unplugged): its reads fail from now on; true brings it
    /// back.
    public func loseRelay(_ lost: Bool = true) {
        state.withLock { $0.relayLost = lost }
    }

    /// The relay falls to `unlocked` by itself (an I2C expander reset to its power-on level), as if driven
    /// there by nobody.
    public func knockRelay(unlocked: Bool) {
        state.withLock { $0.relayUnlocked = unlocked }
    }

    public func relayReadsUnlocked() throws -> Bool? {
        let (lost, unlocked) = state.withLock { ($0.relayLost, $0.relayUnlocked) }
        if lost { throw DoorError(.ioFailed, "simulated relay cannot be read (its chip is gone)", errno: 19, role: .relay) }  // ENODEV
        return unlocked
    }

    public func stopFailingRelayWrites() {
        state.withLock { state in
            state.failingLockWrites = 0
            state.failingUnlockWrites = 0
        }
    }

    public func driveRelay(unlocked: Bool) throws {
        let outcome = state.withLock { state -> (failed: Bool, changed: Bool) in
            if state.released { return (true, false) }
            let failing = unlocked ? state.failingUnlockWrites : state.failingLockWrites
            if failing.map({ $0 > 0 }) ?? true {
                if unlocked { state.failingUnlockWrites = failing.map { $0 - 1 } } else { state.failingLockWrites = failing.map { $0 - 1 } }
                state.failedWrites += 1
                return (true, false)
            }
            defer { state.relayUnlocked = unlocked }
            if state.relayUnlocked != unlocked { state.relayChanges += 1 }
            return (false, state.relayUnlocked != unlocked)
        }
        if outcome.failed {
            throw DoorError(.ioFailed, "simulated relay write failed", errno: 5)  // EIO, as a lost line gives
        }
        if outcome.changed {
            logger.notice("simulated relay \(unlocked ? "driven: door unlocked" : "driven: door locked")")
        }
    }

    public func contactIsOpen() throws -> Bool? { state.withLock { $0.contactOpen } }

    public func inputs() -> AsyncThrowingStream<DoorInput, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DoorInput.self)
        // Like the real lines: the contact's level first, then its changes (under the lock, so none is missed).
        state.withLock { state in
            state.continuations.append(continuation)
            continuation.yield(.contact(open: state.contactOpen))
        }
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

    /// De-energises the relay, as the kernel does when it frees a real line (this cannot fail):
    /// locked when fail-secure, unlocked when fail-safe.
    public func release() {
        let restsUnlocked = failMode == .safe
        let (listeners, changed) = state.withLock { state in
            defer {
                state.continuations = []
                state.relayUnlocked = restsUnlocked
                state.released = true
            }
            if state.relayUnlocked != restsUnlocked { state.relayChanges += 1 }
            return (state.continuations, state.relayUnlocked != restsUnlocked)
        }
        if changed {
            logger.notice("simulated relay released: door \(restsUnlocked ? "unlocked (fail-safe)" : "locked (fail-secure)")")
        }
        for listener in listeners { listener.finish() }
    }
}
