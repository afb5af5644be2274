import FacegateCore

/// Door timings, each with a default that suits an ordinary office door.
public struct DoorTiming: Sendable, Equatable {
    /// How long a grant keeps the relay unlocked.
    public var unlockDuration: Duration
    /// An open door past this raises the held-open alarm.
    public var heldOpenAfter: Duration
    /// How long the door contact takes to report a change (its debounce): an opening reported this
    /// long after the relay locked again may have happened while it was still unlocked.
    public var contactSettle: Duration
    /// Lock again as soon as the door closes, instead of waiting out the pulse (stops tailgating).
    public var relocksOnClose: Bool

    public init(
        unlockDuration: Duration = .seconds(5), heldOpenAfter: Duration = .seconds(30),
        contactSettle: Duration = .milliseconds(30), relocksOnClose: Bool = true
    ) {
        self.unlockDuration = unlockDuration
        self.heldOpenAfter = heldOpenAfter
        self.contactSettle = contactSettle
        self.relocksOnClose = relocksOnClose
    }

    /// The longest an opening can follow an unlock and still count as authorised: the pulse, plus
    /// the contact's settle time. The window closes earlier when the relay locks earlier (a close
    /// relocks it); an opening after the relay has locked again is forced.
    public var authorizationWindow: Duration { unlockDuration + contactSettle }
}

/// The door's logic with no I/O and no clock reads: inputs come in with the
/// instant they happened, actions come out for the caller to carry out.
///
/// The caller must call ``tick(now:)`` at ``nextDeadline`` (or later) so
/// relocking and the held-open alarm happen on time, and must tell the machine
/// through ``relayFailed(unlocked:now:)`` when it could not drive the relay as asked,
/// so that ``isUnlocked`` never claims a lock the relay did not make.
public struct DoorStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public enum Action: Sendable, Hashable {
        /// Drive the relay: `true` to the unlocked state, `false` to locked.
        case driveRelay(unlocked: Bool)
        case report(DoorEvent)
    }

    public let timing: DoorTiming
    /// Whether the relay is (or may be) in its unlocked state.
    public private(set) var isUnlocked = false
    /// The relay could not be locked: it is taken to be unlocked, and the machine drives nothing more.
    public private(set) var isFaulted = false
    public private(set) var isOpen: Bool
    private var unlockedUntil: Instant?
    /// When the current unlock began; openings from then on are authorised while the relay is unlocked.
    private var unlockedAt: Instant?
    /// After a relock, openings reported before this (within the contact's settle time) are still authorised.
    private var authorizedUntil: Instant?
    private var openedAt: Instant?
    private var heldOpenReported = false
    /// Why the relay is being driven unlocked: a write that fails is reported as that unlock failing.
    private var unlockingFor: UnlockReason?
    /// A face was granted while the door stood open (the next person in a queue, granted as the one before
    /// walks through): the close that ends this opening is not theirs, so it does not relock.
    private var unlockedWhileOpen = false

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
    /// A faulted machine does nothing.
    public mutating func unlock(because reason: UnlockReason, now: Instant) -> [Action] {
        guard !isFaulted else { return [] }
        var actions: [Action] = []
        if reason == .requestToExit { actions.append(.report(.requestToExit)) }
        unlockedUntil = now.advanced(by: timing.unlockDuration)
        // A face's grant only: an exit press or a manual unlock during an opening is for that opening.
        if isOpen, reason == .grant { unlockedWhileOpen = true }
        if !isUnlocked {
            isUnlocked = true
            unlockedAt = now
            authorizedUntil = nil
            unlockingFor = reason
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
            return isAuthorizedOpening(at: now)
                ? [.report(.opened(authorized: true))] : [.report(.opened(authorized: false)), .report(.forcedOpen)]
        }
        openedAt = nil
        var actions: [Action] = [.report(.closed)]
        if unlockedWhileOpen {
            // Someone granted while the door stood open has not had their own opening yet: the pulse
            // stands for it (and the close after it relocks). Relocking here locked them out, told "welcome".
            unlockedWhileOpen = false
        } else if timing.relocksOnClose, isUnlocked, !isFaulted {
            actions += lock(now: now)
            // The one opening the unlock was for is over: opening again on it is forced.
            authorizedUntil = nil
        }
        return actions
    }

    /// Carries out whatever has fallen due: relocking, the held-open alarm.
    public mutating func tick(now: Instant) -> [Action] {
        var actions: [Action] = []
        if let until = unlockedUntil, until <= now {
            actions += lock(now: now)
        }
        if isOpen, !heldOpenReported, let openedAt, openedAt.advanced(by: timing.heldOpenAfter) <= now {
            heldOpenReported = true
            actions.append(.report(.heldOpen))
        }
        return actions
    }

    /// Locks now, whatever is pending (shutdown of a fail-secure door).
    public mutating func lockNow(now: Instant) -> [Action] {
        isUnlocked && !isFaulted ? lock(now: now) : []
    }

    /// The relay could not be driven as the last ``Action/driveRelay(unlocked:)`` asked, even after
    /// the caller's retries. The actions after that drive in the same batch did not happen and must
    /// not be carried out.
    ///
    /// - A failed unlock is reported (``DoorEvent/unlockFailed(_:)``) and the machine forgets it (an
    ///   opening is forced), but the relay's level is unknown: a write can take effect and still fail
    ///   (an I2C expander that drove the line, then lost the acknowledgement). So the relay is driven
    ///   locked, as at the end of a pulse: that lock failing in turn is the fault below.
    /// - A failed lock leaves the relay unlocked as far as anyone can tell: the machine is faulted,
    ///   stays unlocked, drives nothing more and reports the fault (an alarm).
    public mutating func relayFailed(unlocked: Bool, now: Instant) -> [Action] {
        if unlocked {
            isUnlocked = false
            unlockedUntil = nil
            unlockedAt = nil
            authorizedUntil = nil
            unlockedWhileOpen = false
            var actions: [Action] = unlockingFor.map { [.report(.unlockFailed($0))] } ?? []
            unlockingFor = nil
            actions.append(.driveRelay(unlocked: false))
            return actions
        }
        guard !isFaulted else { return [] }
        isFaulted = true
        isUnlocked = true
        unlockedUntil = nil
        return [.report(.fault(.relayNotLocked))]
    }

    /// The relay was found not holding its level, or could not be read (``DoorFault/relayLost``): the door
    /// may be unlocked, and is faulted.
    public mutating func relayLost(now: Instant) -> [Action] {
        guard !isFaulted else { return [] }
        isFaulted = true
        isUnlocked = true
        unlockedUntil = nil
        return [.report(.fault(.relayLost))]
    }

    private func isAuthorizedOpening(at now: Instant) -> Bool {
        if isUnlocked, let unlockedAt { return unlockedAt <= now }
        if let unlockedAt, let authorizedUntil { return unlockedAt <= now && now < authorizedUntil }
        return false
    }

    private mutating func lock(now: Instant) -> [Action] {
        unlockedUntil = nil
        unlockedWhileOpen = false
        guard isUnlocked else { return [] }
        isUnlocked = false
        // The authorised window ends with the relock, give or take the contact's settle time.
        authorizedUntil = now.advanced(by: timing.contactSettle)
        return [.driveRelay(unlocked: false), .report(.locked)]
    }
}
