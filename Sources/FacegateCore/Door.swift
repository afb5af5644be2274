/// Why the door was unlocked.
public enum UnlockReason: String, Sendable, Codable, Hashable {
    /// The access policy granted a visitor.
    case grant
    /// Someone inside pressed the request-to-exit button.
    case requestToExit
    /// An operator asked for it (`facegate door pulse`).
    case manual
}

/// Something that happened at the door, in the order it happened.
public enum DoorEvent: Sendable, Hashable {
    /// The relay was driven to its unlocked state.
    case unlocked(UnlockReason)
    /// The relay was driven back to its locked state.
    case locked
    /// The door contact opened; `authorized` is false when no unlock preceded it within the window.
    case opened(authorized: Bool)
    case closed
    /// Alarm: the door stayed open longer than allowed.
    case heldOpen
    /// Alarm: the door opened without a grant or exit request in the preceding window.
    case forcedOpen
    /// The request-to-exit button was pressed.
    case requestToExit
    /// Alarm: the door can no longer be trusted (the relay could not be locked); the controller stops.
    case fault(DoorFault)
    /// An unlock was asked for and the relay write failed: the door stays locked (the relay is driven
    /// locked again, as the write may have taken effect). No `unlocked` follows.
    case unlockFailed(UnlockReason)
    /// An exit press the door refused before any relay write (``UnlockRefusal`` says why): nothing was
    /// driven. No `unlocked` follows. (A grant or manual unlock refused so is thrown to its caller instead.)
    case unlockRefused(UnlockReason, UnlockRefusal)

    /// A stable lower-camel-case name, for logs and JSON lines.
    public var name: String {
        switch self {
        case .unlocked: "unlocked"
        case .locked: "locked"
        case .opened: "opened"
        case .closed: "closed"
        case .heldOpen: "heldOpen"
        case .forcedOpen: "forcedOpen"
        case .requestToExit: "requestToExit"
        case .fault: "fault"
        case .unlockFailed: "unlockFailed"
        case .unlockRefused: "unlockRefused"
        }
    }

    public var isAlarm: Bool {
        switch self {
        case .heldOpen, .forcedOpen, .fault: true
        case .unlocked, .locked, .opened, .closed, .requestToExit, .unlockFailed, .unlockRefused: false
        }
    }
}

/// Why the door refused an unlock without driving the relay.
public enum UnlockRefusal: String, Sendable, Codable, Hashable, CustomStringConvertible {
    /// A failed lock write was being retried: nothing else may drive the relay meanwhile.
    case relocking
    /// The relay could not be locked, or was lost: the door drives nothing more and stops.
    case faulted
    /// The door had stopped: its lines are given back. (No exit press is read by then: a grant or manual
    /// unlock arriving after the stop is refused with it.)
    case stopped

    public var description: String {
        switch self {
        case .relocking: "a failed lock of the relay was being retried"
        case .faulted: "the relay faulted (it could not be locked, or was lost) and the door is stopping"
        case .stopped: "the door had stopped"
        }
    }
}

/// What went wrong when the door reports a ``DoorEvent/fault(_:)``.
public enum DoorFault: String, Sendable, Codable, Hashable, CustomStringConvertible {
    /// The relay line could not be driven to its locked level, even after retrying: the strike may
    /// still be energised (the door unlocked).
    case relayNotLocked = "relay-not-locked"
    /// The relay, read back while the door was idle, no longer holds the level it was driven to, or cannot
    /// be read at all (its chip gone, an I2C expander reset): it may be unlocked, and the next unlock may
    /// not move it.
    case relayLost = "relay-lost"

    public var description: String {
        switch self {
        case .relayNotLocked: "the relay could not be driven to its locked level"
        case .relayLost: "the relay does not read back the level it was driven to"
        }
    }
}

/// The door as the daemon sees it: a relay to pulse and a stream of what happens.
///
/// Implementations keep the relay in its resting state whenever they are not running,
/// including after the process dies: locked for a fail-secure door, unlocked for a fail-safe one.
public protocol DoorActuator: Sendable {
    /// Unlocks for the configured pulse time, then locks again on its own. Throws `CancellationError`,
    /// driving nothing, when the caller was cancelled before the relay moved.
    func unlock(because reason: UnlockReason) async throws
    /// Events from now on, until the door stops or the consumer cancels.
    func events() async -> AsyncStream<DoorEvent>
}
