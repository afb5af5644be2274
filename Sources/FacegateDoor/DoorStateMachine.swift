import FacegateCore

/// Door timings, each with a default that suits an ordinary office door.
public struct DoorTiming: Sendable, Equatable {
    /// How long a grant keeps the relay unlocked.
    public var unlockDuration: Duration
    /// An open door past this raises the held-open alarm.
    public var heldOpenAfter: Duration
    /// An opening counts as authorised if an unlock began at most this long before it.
    public var authorizationWindow: Duration
    /// Lock again as soon as the door closes, instead of waiting out the pulse (stops tailgating).
    public var relocksOnClose: Bool

    public init(
        unlockDuration: Duration = .seconds(5), heldOpenAfter: Duration = .seconds(30),
        authorizationWindow: Duration = .seconds(10), relocksOnClose: Bool = true
    ) {
        self.unlockDuration = unlockDuration
        self.heldOpenAfter = heldOpenAfter
        self.authorizationWindow = authorizationWindow
        self.relocksOnClose = relocksOnClose
    }
}

/// The door's logic with no I/O and no clock reads: inputs come in with the
/// instant they happened, actions come out for the caller to carry out.
///
/// The caller must call ``tick(now:)`` at ``nextDeadline`` (or later) so
/// relocking and the held-open alarm happen on time.
public struct DoorStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public enum Action: Sendable, Hashable {
        /// Drive the relay: `true` to the unlocked state, `false` to locked.
        case driveRelay(unlocked: Bool)
        case report(DoorEvent)
    }

    public let timing: DoorTiming
    public private(set) var isUnlocked = false
    public private(set) var isOpen: Bool
    private var unlockedUntil: Instant?
    private var lastUnlock: Instant?
    private var openedAt: Instant?
    private var heldOpenReported = false

    /// - Parameter doorOpen: the contact's state at start-up; the relay starts locked.
    public init(timing: DoorTiming, doorOpen: Bool = false, now: Instant) {
        self.timing = timing
        self.isOpen = doorOpen
        // A door found open at start-up is timed from then; it was not forced under our watch.
        self.openedAt = doorOpen ? now : nil
    }

    /// When ``tick(now:)`` is next due, if anything is pending.
    public var nextDeadline: Instant? {
        let heldOpenDue = (isOpen && !heldOpenReported) ? openedAt.map { $0.advanced(by: timing.heldOpenAfter) } : nil
        switch (unlockedUntil, heldOpenDue) {
        case let (a?, b?): return min(a, b)
        case let (a, b): return a ?? b
        }
    }

    /// Unlocks for ``DoorTiming/unlockDuration`` (or extends an unlock in progress).
    public mutating func unlock(because reason: UnlockReason, now: Instant) -> [Action] {
        var actions: [Action] = []
        if reason == .requestToExit { actions.append(.report(.requestToExit)) }
        lastUnlock = now
        unlockedUntil = now.advanced(by: timing.unlockDuration)
        if !isUnlocked {
            isUnlocked = true
            actions.append(.driveRelay(unlocked: true))
        }
        actions.append(.report(.unlocked(reason)))
        return actions
    }

    /// The door contact changed (or reported its state again).
    public mutating func contact(open: Bool, now: Instant) -> [Action] {
        guard open != isOpen else { return [] }
        isOpen = open
        if open {
            openedAt = now
            heldOpenReported = false
            let authorized = lastUnlock.map { $0 <= now && now < $0.advanced(by: timing.authorizationWindow) } ?? false
            return authorized ? [.report(.opened(authorized: true))] : [.report(.opened(authorized: false)), .report(.forcedOpen)]
        }
        openedAt = nil
        var actions: [Action] = [.report(.closed)]
        if timing.relocksOnClose, isUnlocked {
            // The one opening the unlock was for is over.
            lastUnlock = nil
            actions += lock()
        }
        return actions
    }

    /// Carries out whatever has fallen due: relocking, the held-open alarm.
    public mutating func tick(now: Instant) -> [Action] {
        var actions: [Action] = []
        if let until = unlockedUntil, until <= now {
            actions += lock()
        }
        if isOpen, !heldOpenReported, let openedAt, openedAt.advanced(by: timing.heldOpenAfter) <= now {
            heldOpenReported = true
            actions.append(.report(.heldOpen))
        }
        return actions
    }

    /// Locks now, whatever is pending (shutdown).
    public mutating func lockNow() -> [Action] {
        isUnlocked ? lock() : []
    }

    private mutating func lock() -> [Action] {
        unlockedUntil = nil
        guard isUnlocked else { return [] }
        isUnlocked = false
        return [.driveRelay(unlocked: false), .report(.locked)]
    }
}
