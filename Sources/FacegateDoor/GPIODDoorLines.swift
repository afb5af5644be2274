import CGPIOD
import Dispatch
import FacegateCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which wiring the relay has, and so which state it must fall to when facegate lets go.
public enum DoorFailMode: String, Sendable, Codable {
    /// Locked whenever facegate is not holding it open (electric strike, power to unlock).
    /// The relay is energised only to unlock.
    case secure
    /// Open whenever facegate is not holding it locked (doors that must open on failure,
    /// maglocks on escape routes). The relay is energised to keep the door locked.
    case safe
}

/// One GPIO line, by chip and line name or number.
public struct GPIOLineAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Bias: String, Sendable, Codable { case asIs, disabled, pullUp, pullDown }

    /// Chip name (`gpiochip0`), path (`/dev/gpiochip0`), label (`pinctrl-bcm2711`) or number.
    public var chip: String
    /// Line name (as set in the device tree) or offset on the chip.
    public var line: String
    /// The line is active (relay energised, contact open, button pressed) when low.
    public var activeLow: Bool
    /// Bias for inputs; outputs leave it to the board.
    public var bias: Bias

    public init(chip: String, line: String, activeLow: Bool = false, bias: Bias = .asIs) {
        self.chip = chip
        self.line = line
        self.activeLow = activeLow
        self.bias = bias
    }

    public var description: String { "\(chip):\(line)\(activeLow ? " (active-low)" : "")" }
}

/// Which line a ``GPIOLineAddress`` is, whatever way it was written: the chip's kernel name and the
/// line's offset on it. Only the kernel can say: `gpiochip3` may be `pinctrl-bcm2711`, line `17` may be
/// `GPIO17`.
public struct GPIOLineIdentity: Sendable, Hashable {
    public let chip: String
    public let offset: UInt32

    init(_ line: OpaquePointer) {
        chip = String(cString: gpiod_chip_name(gpiod_line_get_chip(line)))
        offset = gpiod_line_offset(line)
    }

    public init(chip: String, offset: UInt32) {
        self.chip = chip
        self.offset = offset
    }

    /// The line `address` names on this machine; nil when its chip or line is not there.
    public static func of(_ address: GPIOLineAddress) -> GPIOLineIdentity? {
        guard let chip = try? ChipHandle(address.chip) else { return nil }
        defer { chip.close() }
        return (try? chip.line(address.line)).map(GPIOLineIdentity.init)
    }
}

/// What the kernel says a ``GPIOLineAddress`` names on this machine, for `facegate config check`.
public enum GPIOLineLookup: Sendable, Equatable {
    case found(GPIOLineIdentity)
    /// No chip by that name, path, label or number.
    case noChip
    /// A chip this process may not open (not root, not in its group): nothing can be said of its lines.
    case chipNotOpened
    /// The chip has no line by that name or offset.
    case noLine

    public static func of(_ address: GPIOLineAddress) -> GPIOLineLookup {
        let chip: ChipHandle
        do {
            chip = try ChipHandle(address.chip)
        } catch {
            if error.errno == EACCES || error.errno == EPERM { return .chipNotOpened }
            // A label or a number is looked for by opening every chip: one this process may not open hides
            // the label it carries (libgpiod then says ENOENT), so nothing can be said either.
            let unopenable = (0..<64).contains { number in
                let path = "/dev/gpiochip\(number)"
                return access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0
            }
            return unopenable ? .chipNotOpened : .noChip
        }
        defer { chip.close() }
        return (try? chip.line(address.line)).map { .found(GPIOLineIdentity($0)) } ?? .noLine
    }
}

/// The door's relay, contact and exit button on GPIO lines, through libgpiod v1.6
/// (the character device, so lines are freed by the kernel when the process ends).
///
/// The relay line is requested as an output *with its locked level as the
/// initial value*, so there is no glitch at start-up. ``release()`` de-energises
/// it before giving it back; when facegate exits or dies, the kernel frees the line
/// and it falls to the board's resting level. The board must therefore rest with
/// the relay de-energised (a pull resistor on the driver input): locked for
/// ``DoorFailMode/secure`` doors, unlocked for ``DoorFailMode/safe`` ones.
public final class GPIODDoorLines: DoorLines {
    public struct Configuration: Sendable {
        /// nil watches the inputs only (`facegate door watch` beside a running daemon).
        public var relay: GPIOLineAddress?
        public var failMode: DoorFailMode
        public var contact: GPIOLineAddress?
        public var exitButton: GPIOLineAddress?
        /// Presses of the exit button closer together than this count once.
        public var exitDebounce: Duration
        /// The exit button must still read pressed this long after its edge (see ``ExitPressFilter``).
        public var exitHold: Duration
        /// A contact must rest this long after an edge before its new state counts (reed switches bounce).
        public var contactSettle: Duration
        /// Shown as the lines' consumer by `gpioinfo`.
        public var consumer: String

        public init(
            relay: GPIOLineAddress?, failMode: DoorFailMode = .secure, contact: GPIOLineAddress? = nil,
            exitButton: GPIOLineAddress? = nil, exitDebounce: Duration = .milliseconds(300),
            contactSettle: Duration = .milliseconds(30), exitHold: Duration = .milliseconds(30), consumer: String = "facegate"
        ) {
            self.contactSettle = contactSettle
            self.exitHold = exitHold
            self.relay = relay
            self.failMode = failMode
            self.contact = contact
            self.exitButton = exitButton
            self.exitDebounce = exitDebounce
            self.consumer = consumer
        }
    }

    public let configuration: Configuration
    public var failMode: DoorFailMode { configuration.failMode }
    private let relay: RequestedLine?
    private let contact: RequestedLine?
    private let exitButton: RequestedLine?
    private let chips: Mutex<[String: ChipHandle]>
    private let watcherStop = SetOnceFlag()
    private let watchers = Mutex<[DispatchSemaphore]>([])

    public init(configuration: Configuration) throws(DoorError) {
        self.configuration = configuration
        var opened: [String: ChipHandle] = [:]
        func line(_ address: GPIOLineAddress, _ role: DoorLineRole) throws(DoorError) -> OpaquePointer {
            do {
                let chip: ChipHandle
                if let existing = opened[address.chip] {
                    chip = existing
                } else {
                    chip = try ChipHandle(address.chip)
                    opened[address.chip] = chip
                }
                return try chip.line(address.line)
            } catch {
                throw error.about(role)
            }
        }
        var requestedRelay: RequestedLine?
        do throws(DoorError) {
            let consumer = configuration.consumer
            let lockedEnergised = configuration.failMode == .safe
            // Every chip and line is found before any is requested: a chip that is not there yet (waited
            // for, looked for again every second) never has the relay requested and let go at each look.
            let relayLine = try configuration.relay.map { (address) throws(DoorError) in (address, try line(address, .relay)) }
            let contactLine = try configuration.contact.map { (address) throws(DoorError) in (address, try line(address, .contact)) }
            let exitLine = try configuration.exitButton.map { (address) throws(DoorError) in (address, try line(address, .exitButton)) }
            // One line spelt two ways (its name and its offset, a chip's label and its name) is caught here,
            // before any request: the second request would fail as busy, read as another process holding it.
            var claimed: [GPIOLineIdentity: DoorLineRole] = [:]
            for (role, found) in [(DoorLineRole.relay, relayLine?.1), (.contact, contactLine?.1), (.exitButton, exitLine?.1)] {
                guard let found else { continue }
                let identity = GPIOLineIdentity(found)
                if let earlier = claimed[identity] {
                    throw DoorError(.badConfiguration, "is the same GPIO line as the \(earlier.rawValue), named another way", role: role)
                }
                claimed[identity] = role
            }
            requestedRelay = try relayLine.map { (address, line) throws(DoorError) in
                try RequestedLine(line, address: address, role: .relay) { line, flags in
                    gpiod_line_request_output_flags(line, consumer, flags, lockedEnergised ? 1 : 0)
                }
            }
            relay = requestedRelay
            contact = try contactLine.map { (address, line) throws(DoorError) in
                try RequestedLine(line, address: address, role: .contact) { line, flags in
                    gpiod_line_request_both_edges_events_flags(line, consumer, flags)
                }
            }
            exitButton = try exitLine.map { (address, line) throws(DoorError) in
                try RequestedLine(line, address: address, role: .exitButton) { line, flags in
                    gpiod_line_request_rising_edge_events_flags(line, consumer, flags)
                }
            }
        } catch {
            // The relay, already held (a later line's request failed: held by another process), is let go
            // as ``release()`` does: de-energised first.
            try? requestedRelay?.set(0)
            requestedRelay?.release()
            for chip in opened.values { chip.close() }
            throw error
        }
        chips = Mutex(opened)
    }

    deinit { release() }

    public func driveRelay(unlocked: Bool) throws {
        let energised = unlocked == (configuration.failMode == .secure)
        try relay?.set(energised ? 1 : 0)
    }

    public func relayReadsUnlocked() throws -> Bool? {
        guard let relay else { return nil }
        // The output's level as the chip reports it (an expander's register after a reset, say), logical:
        // libgpiod applies active-low, as it does for the writes.
        let energised = try relay.value() == 1
        return energised == (configuration.failMode == .secure)
    }

    public func contactIsOpen() throws -> Bool? {
        try contact.map { try $0.value() == 1 }
    }

    public func inputs() -> AsyncThrowingStream<DoorInput, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DoorInput.self)
        let watched = [contact, exitButton].compactMap { $0 }
        guard !watched.isEmpty else {
            // Nothing to watch: the stream stays open until dropped, so the controller keeps running.
            continuation.onTermination = { _ in }
            return stream
        }
        let stop = watcherStop
        let finished = DispatchSemaphore(value: 0)
        watchers.withLock { $0.append(finished) }
        continuation.onTermination = { _ in stop.set() }
        let contact = contact, exitButton = exitButton
        let settle = configuration.contactSettle
        let pressFilter = ExitPressFilter(hold: configuration.exitHold, debounce: configuration.exitDebounce)
        let thread = InputThread {
            var presses = pressFilter
            // Contacts bounce: after an edge, wait until the line has been quiet for
            // `settle`, then report the level it settled at (if it changed).
            // The level it starts from comes first, once settled like any change: whatever the controller
            // read before the watch began may be stale.
            var reportedOpen: Bool?
            var settlingSince: ContinuousClock.Instant? = contact == nil ? nil : .now
            do {
                while !stop.isSet {
                    var timeout: Int32 = 200
                    let waits = [settlingSince.map { settle - (ContinuousClock.now - $0) }, presses.wait(at: .now)].compactMap { $0 }
                    if let left = waits.min() {
                        // Rounded up: a wait of 0 ms would spin until the settle time is out.
                        timeout = max(0, Int32((left / .milliseconds(1)).rounded(.up)))
                    }
                    for (line, _) in try RequestedLine.wait(for: watched, timeoutMilliseconds: timeout) {
                        if line === contact {
                            settlingSince = .now
                        } else if line === exitButton {
                            presses.edge(at: .now)
                        }
                    }
                    let now = ContinuousClock.now
                    if presses.isDue(at: now), let exitButton, presses.judge(pressed: try exitButton.value() == 1, at: now) {
                        continuation.yield(.exitButtonPressed)
                    }
                    if let since = settlingSince, ContinuousClock.now - since >= settle, let contact {
                        settlingSince = nil
                        let open = try contact.value() == 1
                        if open != reportedOpen {
                            reportedOpen = open
                            continuation.yield(.contact(open: open))
                        }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            finished.signal()
        }
        thread.start()
        return stream
    }

    public func release() {
        // Stop the input watchers before their lines' descriptors close under them.
        watcherStop.set()
        for finished in watchers.withLock({ watchers in defer { watchers = [] }; return watchers }) {
            _ = finished.wait(timeout: .now() + .seconds(2))
        }
        // Rest de-energised (the inactive level; libgpiod applies active-low): locked for a
        // fail-secure strike, unlocked for a fail-safe maglock. Driven before letting go so the
        // line does not depend on how the chip treats a freed output.
        try? relay?.set(0)
        relay?.release()
        contact?.release()
        exitButton?.release()
        chips.withLock { chips in
            for chip in chips.values { chip.close() }
            chips = [:]
        }
    }
}

/// An open gpiochip.
private final class ChipHandle: Sendable {
    private let pointer: Mutex<GPIODPointer?>

    init(_ name: String) throws(DoorError) {
        guard let chip = gpiod_chip_open_lookup(name) else {
            let code = errno
            throw DoorError(.chipNotFound, "no such GPIO chip (\(String(cString: strerror(code))))", errno: code)
        }
        self.pointer = Mutex(GPIODPointer(chip))
    }

    func line(_ nameOrOffset: String) throws(DoorError) -> OpaquePointer {
        let found: GPIODPointer? = pointer.withLock { chip in
            guard let chip else { return nil }
            let line = UInt32(nameOrOffset).map { gpiod_chip_get_line(chip.raw, $0) } ?? gpiod_chip_find_line(chip.raw, nameOrOffset)
            return line.map(GPIODPointer.init)
        }
        guard let found else {
            throw DoorError(.lineNotFound, "the GPIO chip has no such line", errno: errno)
        }
        return found.raw
    }

    func close() {
        pointer.withLock { chip in
            if let chip { gpiod_chip_close(chip.raw) }
            chip = nil
        }
    }
}

/// One requested line; every libgpiod call on it is made under its lock.
private final class RequestedLine: Sendable {
    private let line: Mutex<GPIODPointer?>
    private let fd: Int32
    let role: DoorLineRole

    init(
        _ line: OpaquePointer, address: GPIOLineAddress, role: DoorLineRole,
        request: (OpaquePointer, Int32) -> Int32
    ) throws(DoorError) {
        var flags: Int32 = 0
        if address.activeLow { flags |= Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) }
        switch address.bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
        guard request(line, flags) == 0 else {
            let code = errno
            throw DoorError(
                code == EBUSY ? .lineBusy : .ioFailed,
                "cannot request the GPIO line (\(String(cString: strerror(code))))", errno: code
            ).about(role)
        }
        self.line = Mutex(GPIODPointer(line))
        self.fd = gpiod_line_event_get_fd(line)  // -1 for outputs
        self.role = role
    }

    func set(_ value: Int32) throws(DoorError) {
        let failure: Int32? = line.withLock { line in
            guard let line else { return EBADF }
            return gpiod_line_set_value(line.raw, value) == 0 ? nil : errno
        }
        if let failure {
            throw DoorError(.ioFailed, "cannot set the GPIO line (\(String(cString: strerror(failure))))", errno: failure).about(role)
        }
    }

    func value() throws(DoorError) -> Int32 {
        let result: (Int32, Int32) = line.withLock { line in
            guard let line else { return (-1, EBADF) }
            let value = gpiod_line_get_value(line.raw)
            return (value, value < 0 ? errno : 0)
        }
        guard result.0 >= 0 else {
            throw DoorError(.ioFailed, "cannot read the GPIO line (\(String(cString: strerror(result.1))))", errno: result.1).about(role)
        }
        return result.0
    }

    func release() {
        line.withLock { line in
            if let line { gpiod_line_release(line.raw) }
            line = nil
        }
    }

    /// Waits up to the timeout for edge events on any of the lines; returns each event read.
    static func wait(for lines: [RequestedLine], timeoutMilliseconds: Int32) throws(DoorError) -> [(RequestedLine, Int32)] {
        var fds = lines.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return [] }
            let code = errno
            throw DoorError(.ioFailed, "waiting for GPIO events failed: \(String(cString: strerror(code)))", errno: code)
        }
        var events: [(RequestedLine, Int32)] = []
        for (index, entry) in fds.enumerated() where entry.revents != 0 {
            if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                throw DoorError(.ioFailed, "the GPIO line was lost").about(lines[index].role)
            }
            let line = lines[index]
            let read: (Int32, Int32) = line.line.withLock { pointer in
                guard let pointer else { return (-1, EBADF) }
                var event = gpiod_line_event()
                return gpiod_line_event_read(pointer.raw, &event) == 0 ? (event.event_type, 0) : (-1, errno)
            }
            guard read.0 >= 0 else {
                throw DoorError(.ioFailed, "cannot read the GPIO line's event (\(String(cString: strerror(read.1))))", errno: read.1).about(line.role)
            }
            events.append((line, read.0))
        }
        return events
    }
}

/// A libgpiod object pointer. libgpiod objects are not thread-safe; each one is
/// only ever touched inside the `Mutex` of the object that owns it.
private struct GPIODPointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}

/// A plain thread for the blocking poll loop, so it never holds a cooperative-pool thread.
private final class InputThread: Sendable {
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let input = Unmanaged<InputThread>.fromOpaque(argument!).takeRetainedValue()
            input.body()
            return nil
        }, box.toOpaque())
        if result == 0 {
            pthread_detach(thread)
        } else {
            box.release()
            body()
        }
    }
}

