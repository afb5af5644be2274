import FacegateDoor

extension FacegateConfiguration {
    /// ``sameLine(_:_:)``, or the same line on this machine's chips however it is spelt (an offset and
    /// the line's name, a chip's label and its name).
    public static func sameLineOnThisMachine(_ a: GPIOLine, _ b: GPIOLine) -> Bool {
        if sameLine(a, b) { return true }
        guard let first = GPIOLineIdentity.of(a.address) else { return false }
        return first == GPIOLineIdentity.of(b.address)
    }

    /// The door's lines and how its relay is wired, as ``doorWiring(path:)`` reads them.
    public struct DoorWiring: Sendable, Equatable {
        public var relay: GPIOLine?
        /// `door.fail_safe`: the relay is energised to keep the door locked (a maglock).
        public var failSafe: Bool
        public var contact: GPIOLine?
        public var exitButton: GPIOLine?

        public init(relay: GPIOLine? = nil, failSafe: Bool = false, contact: GPIOLine? = nil, exitButton: GPIOLine? = nil) {
            self.relay = relay
            self.failSafe = failSafe
            self.contact = contact
            self.exitButton = exitButton
        }
    }
}

/// The relay a command driving it by hand (`facegate door pulse`, `bench`, `watch`) uses, and how it is
/// wired. Fail-safe and fail-secure wiring drive opposite levels to unlock: a guess would have the tool an
/// installer tests the door with do the opposite of what the door does. So the wiring is the file's, or
/// said on the command line, and a command line that contradicts the file for its own line is refused.
public struct RelayWiring: Sendable, Equatable {
    public var line: FacegateConfiguration.GPIOLine
    public var failSafe: Bool
    public var origin: Origin

    public enum Origin: Sendable, Equatable {
        /// The line and its wiring as the command line says (the file agrees, or names another line).
        case commandLine
        /// The command line's line, wired as the file says for that same line.
        case commandLineWiredAsConfigured
        /// `door.relay` and `door.fail_safe`: no line on the command line.
        case configuration
        /// The line and its wiring as the command line says, the file unread: nothing checked them.
        case commandLineUnchecked
    }

    public init(line: FacegateConfiguration.GPIOLine, failSafe: Bool, origin: Origin) {
        self.line = line
        self.failSafe = failSafe
        self.origin = origin
    }

    /// The relay in a command's output: the command line's own words, or the file's key (never the chip
    /// and line the file names).
    public var name: String { origin == .configuration ? "door.relay" : "\(line.chip):\(line.line)" }

    /// What the command line says of the relay.
    public struct Flags: Sendable, Equatable {
        public var chip: String
        public var line: String
        /// `--active-low` given (its absence says nothing: the flag has no opposite).
        public var activeLow: Bool
        /// `--fail-safe` (true) or `--fail-secure` (false); nil when neither was given.
        public var failSafe: Bool?
        public var names: FlagNames

        public init(chip: String, line: String, activeLow: Bool, failSafe: Bool?, names: FlagNames) {
            self.chip = chip
            self.line = line
            self.activeLow = activeLow
            self.failSafe = failSafe
            self.names = names
        }
    }

    /// How a command spells its wiring flags, for its refusals.
    public struct FlagNames: Sendable, Equatable {
        public var failSafe: String
        public var failSecure: String
        public var activeLow: String

        /// `door pulse` and `door bench`.
        public static let relay = FlagNames(failSafe: "--fail-safe", failSecure: "--fail-secure", activeLow: "--active-low")
        /// `door watch`, whose relay is one of its lines.
        public static let watch = FlagNames(failSafe: "--relay-fail-safe", failSecure: "--relay-fail-secure", activeLow: "--relay-active-low")
    }

    /// Why no wiring was settled on. Messages name keys and flags, never a value from the file.
    public enum Refusal: Error, Sendable {
        /// A line on the command line without its fail mode, and no file that names that line.
        case failModeNotSaid(FlagNames, because: FileSays)
        /// Flags that contradict the file for the same line: the keys they contradict.
        case contradictsConfiguration(keys: [String])
        /// No line on the command line and the file names no relay.
        case noRelayConfigured
        /// No line on the command line and the file cannot be read.
        case configurationUnreadable(ConfigError)

        public enum FileSays: Sendable, Equatable { case anotherLine, noRelay, unreadable }

        /// A usage error (64) when the command line must say more, a configuration error (78) when the
        /// file was to say it all.
        public var exitCode: Int32 {
            switch self {
            case .failModeNotSaid, .contradictsConfiguration: 64
            case .noRelayConfigured, .configurationUnreadable: 78
            }
        }

        public func message(configuration path: String) -> String {
            switch self {
            case .failModeNotSaid(let names, let because):
                let why =
                    switch because {
                    case .anotherLine: "door.relay in \(path) is another line"
                    case .noRelay: "\(path) names no door.relay"
                    case .unreadable: "\(path) cannot be read"
                    }
                return "say how the relay is wired: \(names.failSafe) (energised to lock, a maglock) or \(names.failSecure) "
                    + "(energised to unlock, a strike); \(why), so it cannot say it"
            case .contradictsConfiguration(let keys):
                return "the command line contradicts \(keys.joined(separator: " and ")) in \(path) for this relay line: "
                    + "correct the one that is wrong"
            case .noRelayConfigured:
                return "door.relay: \(path) names no relay (the door is simulated): give the relay's line on the command line"
            case .configurationUnreadable(let error):
                return error.description + "\n  (or give the relay's line and how it is wired on the command line)"
            }
        }
    }

    /// The rule: the command line's line with its own wiring when it says it all and the file does not
    /// contradict it; the file's wiring for the same line when the command line leaves it out; the file's
    /// relay when the command line names none.
    /// - Parameter sameLine: whether two spellings name one line (`FacegateConfiguration.sameLineOnThisMachine`
    ///   asks the kernel: a line's offset and its name are the same line).
    public static func resolve(
        _ flags: Flags?, configuration: Result<FacegateConfiguration.DoorWiring, ConfigError>,
        sameLine: (FacegateConfiguration.GPIOLine, FacegateConfiguration.GPIOLine) -> Bool = FacegateConfiguration.sameLine
    ) -> Result<RelayWiring, Refusal> {
        guard let flags else {
            switch configuration {
            case .failure(let error): return .failure(.configurationUnreadable(error))
            case .success(let door):
                guard let relay = door.relay else { return .failure(.noRelayConfigured) }
                return .success(RelayWiring(line: relay, failSafe: door.failSafe, origin: .configuration))
            }
        }
        var line = FacegateConfiguration.GPIOLine(chip: flags.chip, line: flags.line, activeLow: flags.activeLow)
        let door = try? configuration.get()
        guard let door, let configured = door.relay, sameLine(configured, line) else {
            guard let failSafe = flags.failSafe else {
                let because: Refusal.FileSays = door == nil ? .unreadable : door?.relay == nil ? .noRelay : .anotherLine
                return .failure(.failModeNotSaid(flags.names, because: because))
            }
            return .success(RelayWiring(line: line, failSafe: failSafe, origin: door == nil ? .commandLineUnchecked : .commandLine))
        }
        var contradicted: [String] = []
        if let failSafe = flags.failSafe, failSafe != door.failSafe { contradicted.append("door.fail_safe") }
        if flags.activeLow, !configured.activeLow { contradicted.append("door.relay.active_low") }
        guard contradicted.isEmpty else { return .failure(.contradictsConfiguration(keys: contradicted)) }
        let tookFromFile = flags.failSafe == nil || configured.activeLow != flags.activeLow
        line.activeLow = configured.activeLow
        return .success(RelayWiring(line: line, failSafe: door.failSafe, origin: tookFromFile ? .commandLineWiredAsConfigured : .commandLine))
    }

    /// The one line a command says when the file settled the wiring, so that it is never silent.
    public func note(configuration path: String) -> String? {
        switch origin {
        case .commandLine: nil
        case .commandLineWiredAsConfigured: "the relay is wired as door.fail_safe and door.relay.active_low in \(path) say for this line"
        case .configuration: "the relay is door.relay in \(path), wired as door.fail_safe and door.relay.active_low say"
        // An installer who gave the wrong fail mode for a maglock is told that the file could not catch it.
        case .commandLineUnchecked: "\(path) cannot be read: the relay is wired as the command line says, unchecked against door.fail_safe"
        }
    }
}
