import FacegateCore

/// A change on one of the door's inputs.
public enum DoorInput: Sendable, Hashable {
    case contact(open: Bool)
    case exitButtonPressed
}

/// The door's wiring: one relay output and optional contact and exit-button inputs.
///
/// ``DoorController`` drives these; `GPIODDoorLines` is the real wiring and
/// `SimulatedDoorLines` the stand-in for the demo and machines without GPIO.
public protocol DoorLines: Sendable {
    /// Drives the relay to its unlocked or locked state. Fast (one ioctl); may be called from any task.
    func driveRelay(unlocked: Bool) throws
    /// The contact's current state, nil when no contact is wired.
    func contactIsOpen() throws -> Bool?
    /// Whether the relay reads back unlocked now; nil when there is no relay, or none that can be read back.
    /// Throws when its line is lost (the chip gone). Read while the door is idle: a relay that stops holding
    /// its level (an I2C expander reset, a board unplugged) is a fault found then, not at the next grant.
    func relayReadsUnlocked() throws -> Bool?
    /// The inputs until the stream is dropped; the stream fails if the lines are lost. It begins with
    /// the contact's level as the stream is made (when a contact is wired), then its changes: a door
    /// opened while the daemon was starting is seen, and no change falls between a read and the watch.
    func inputs() -> AsyncThrowingStream<DoorInput, any Error>
    /// Which state the relay rests in when it is not energised, and so which state the door is in
    /// after ``release()`` or when facegate dies.
    var failMode: DoorFailMode { get }
    /// De-energises the relay and gives the lines back to the kernel: the door rests locked when
    /// fail-secure, unlocked when fail-safe. The relay is never driven to its locked level here: a
    /// fail-secure door's caller locks it first, a fail-safe door must open.
    func release()
}

extension DoorLines {
    /// Fail-secure unless the wiring says otherwise.
    public var failMode: DoorFailMode { .secure }
    /// No read-back unless the wiring has one.
    public func relayReadsUnlocked() throws -> Bool? { nil }
}

/// Which of the door's lines something is about.
public enum DoorLineRole: String, Sendable, Hashable {
    case relay, contact
    case exitButton = "exit button"
}

/// Why the door I/O failed. The message names the line by its role ("relay: …"), never by its chip
/// or line name: those are the installer's configuration.
public struct DoorError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String { case chipNotFound, lineNotFound, lineBusy, ioFailed, badConfiguration, relayFault }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let chipNotFound = Code(.chipNotFound)
        public static let lineNotFound = Code(.lineNotFound)
        /// Another process holds the line.
        public static let lineBusy = Code(.lineBusy)
        public static let ioFailed = Code(.ioFailed)
        public static let badConfiguration = Code(.badConfiguration)
        /// The relay could not be locked: the door controller stops so that the process exits, the
        /// kernel frees the line and the service is restarted.
        public static let relayFault = Code(.relayFault)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let errno: Int32?
    /// The line the error is about, when it is about one.
    public let role: DoorLineRole?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, role: DoorLineRole? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.role = role
    }

    /// The same error, said of `role`'s line.
    func about(_ role: DoorLineRole) -> DoorError {
        DoorError(code, message, errno: errno, role: role)
    }

    /// "relay: cannot set the GPIO line (…)": the message, said of its line.
    public var description: String { role.map { "\($0.rawValue): \(message)" } ?? message }

    public static func == (lhs: DoorError, rhs: DoorError) -> Bool { lhs.code == rhs.code }
}
