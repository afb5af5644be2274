import FacegateCore
import FacegateQuality
import Foundation
import Logging

/// Everything `facegate run` is told by `/etc/facegate/facegate.yaml`, with the defaults used for keys left out.
///
/// The file's keys are listed in `FacegateConfiguration+YAML.swift` and in the documented example
/// `etc/facegate/facegate.yaml`, which a test keeps equal to these defaults.
public struct FacegateConfiguration: Sendable, Equatable {
    public var camera = Camera()
    public var quality = QualityConfiguration()
    public var approach = ApproachConfiguration()
    /// Which frames the face detector runs on (nothing moving, nobody followed: next to none).
    public var motion = MotionGateConfiguration()
    /// The presentation-attack stage: a photo or a screen held up to the camera is refused before the cloud is asked.
    public var liveness = Liveness()
    public var backend = Backend()
    public var door = Door()
    public var offlineCache = OfflineCache()
    public var journal = Journal()
    public var logging = Logging()
    public var metrics = Metrics()
    public var kiosk = Kiosk()
    public var control = Control()
    /// The gate a face must pass to be enrolled at the door (`facegate enrol`).
    public var enrolment = EnrolmentGate()
    /// Folder of the dlib models; nil searches the default folders.
    public var modelsDirectory: String?
    /// What the file leaves to a default that is likely not what was meant (a schedule without its time
    /// zone, a door without a relay): accepted, and said at every start and reload and by `facegate
    /// config check`. Not a setting but what is said of the settings, so, like ``keysInFile``, it takes
    /// no part in `==`: a file without a relay is still the defaults.
    public var notes: [ConfigProblem] {
        get { said.notes }
        set { said.notes = newValue }
    }
    private var said = Said()
    /// The keys the file spelled out, which a reload compares with the running file's.
    public internal(set) var keysInFile = KeysInFile()

    public init() {}

    /// Every mapping key of a file as its path (`door.deny_list`, `backend.nec.endpoint`; list items are
    /// not followed), in the order the file has them. Not a setting: two configurations with the same
    /// values are equal whichever keys the files spelled them with, so it takes no part in `==`.
    struct Said: Sendable, Equatable {
        var notes: [ConfigProblem] = []
        static func == (left: Said, right: Said) -> Bool { true }
    }

    public struct KeysInFile: Sendable, Equatable, CustomReflectable {
        public var paths: [String] = []
        public static func == (left: KeysInFile, right: KeysInFile) -> Bool { true }
        /// The keys only: ``leaves`` hold the file's values, inline secrets among them.
        public var customMirror: Mirror { Mirror(self, children: ["paths": paths]) }

        /// Keys as a log line or a problem names them: the first five, and how many more.
        public static func named(_ keys: [String]) -> String {
            keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
        }

        /// The keys of this file that `next` lacks, when they are all of its last ones: what a file cut
        /// short at a line break loses (everything after the cut). Keys gone from the middle are an edit
        /// (nil), as is a file that lacks none.
        public func cutShort(in next: KeysInFile) -> [String]? {
            let kept = Set(next.paths)
            guard let first = paths.firstIndex(where: { !kept.contains($0) }) else { return nil }
            let tail = paths[first...]
            return tail.allSatisfy { !kept.contains($0) } ? Array(tail) : nil
        }

        /// Every value of the file in the file's order: where it is (list items followed, `[i]`), the key it
        /// is under (as ``paths`` names keys), and its text.
        public var leaves: [Leaf] = []

        /// A value of the file as written: it may be an inline secret, so it never describes itself.
        public struct Leaf: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
            public var path: String
            public var key: String
            public var value: String

            public var description: String { "\(key): (a value)" }
            public var customMirror: Mirror { Mirror(self, children: ["key": key]) }
        }

        /// The key where `next` ends early, when it is this file cut short inside its last list or value
        /// (a cut at a line break after `- alice` of a deny list ending `- bob`, or right after `deny_list:`, or
        /// mid-line in `threshold: 7500`): every value of `next` is this file's, in order, its last perhaps cut mid-way, and this
        /// file goes on. ``cutShort(in:)`` sees only keys. Removing the last items of the file's last list,
        /// or shortening its last value, looks the same: that takes a restart. Nil otherwise.
        public func endsEarly(in next: KeysInFile) -> String? {
            let count = next.leaves.count
            guard count > 0, count <= leaves.count else { return nil }
            for index in 0..<(count - 1) where next.leaves[index] != leaves[index] { return nil }
            let last = next.leaves[count - 1], running = leaves[count - 1]
            // Cut right after the key of a list or mapping (`deny_list:` and nothing under it): the key
            // reads as empty where this file has items under it.
            if last.value.isEmpty, running.path.hasPrefix(last.path + "[") || running.path.hasPrefix(last.path + ".") { return running.key }
            guard last.path == running.path, last.key == running.key, running.value.hasPrefix(last.value) else { return nil }
            if count < leaves.count { return leaves[count].key }
            return last.value == running.value ? nil : running.key
        }
    }

    public struct Camera: Sendable, Equatable {
        public enum Source: String, Sendable, CaseIterable { case v4l2, replay }
        public enum PixelFormat: String, Sendable, CaseIterable { case auto, yuyv, mjpeg, grey }

        public var source = Source.v4l2
        /// A device path, or a stable name under /dev/v4l/by-id or by-path.
        public var device = "/dev/video0"
        public var width = 640
        public var height = 480
        public var framesPerSecond = 15
        public var pixelFormat = PixelFormat.auto
        /// With `source: replay`: a folder of frames or a video file.
        public var replayPath: String?
        public var replayLoops = false
        /// No frame for this long counts as a stalled camera: it is reopened.
        public var stallTimeout: Duration = .seconds(5)

        public init() {}
    }

    public struct Liveness: Sendable, Equatable {
        public var enabled = true
        /// A visit whose liveness (0-1, its weakest cue's score) is below this is refused as an attack.
        public var threshold = 0.5
        /// What a visit gets whose face to be sent the liveness stage could not judge.
        public var uncertain = UncertainLivenessPolicy.deny
        /// A visit the parallax cue cannot judge (held still, or too short) is uncertain, not judged on
        /// texture alone. Off by default: it would refuse a person standing still (BENCHMARKS.md).
        public var requireMovement = false
        /// Folder of the presentation-attack models; nil searches the default folders.
        public var modelsDirectory: String?

        public init() {}
    }

    /// The cloud backend: which one, its timing, and every registered backend's own section
    /// (`Backends/`, listed in ``CloudBackends``).
    public struct Backend: Sendable, Equatable {
        public var kind = BackendKind.nec
        /// Deadline of one cloud call: a silent connection is abandoned then.
        public var requestTimeout: Duration = .milliseconds(1500)
        /// The longest a decision waits for the cloud, from when it starts; then the offline path decides.
        /// 1.5 s keeps the first offline decision of an outage within 2 s of the visit (later ones
        /// skip the cloud until it is back); a healthy cloud answers a search well within it.
        public var decisionDeadline: Duration = .milliseconds(1500)
        /// Each backend's section by kind; every registered backend has one, with its defaults.
        var sections = CloudBackends.defaultSections

        public init() {}

        public static func == (left: Backend, right: Backend) -> Bool {
            left.kind == right.kind && left.requestTimeout == right.requestTimeout && left.decisionDeadline == right.decisionDeadline
                && left.sections.count == right.sections.count
                && left.sections.allSatisfy { kind, section in right.sections[kind].map(section.isSameSection(as:)) ?? false }
        }
    }

    public struct GPIOLine: Sendable, Equatable, Codable {
        /// The pull an input line is requested with (`bias`).
        public enum Bias: String, Sendable, Equatable, CaseIterable, Codable {
            /// Whatever the board and the chip give it (the default).
            case asIs = "as-is"
            case pullUp = "pull-up"
            case pullDown = "pull-down"
            case disabled
        }

        /// A chip name (gpiochip0), path (/dev/gpiochip0) or label.
        public var chip: String
        /// A line name or offset.
        public var line: String
        public var activeLow: Bool
        /// Inputs only (contact, exit button): a button wired active-low to a line with no pull-up of its
        /// own floats, and every edge of the noise would be a request to exit.
        public var bias: Bias

        public init(chip: String, line: String, activeLow: Bool = false, bias: Bias = .asIs) {
            self.chip = chip
            self.line = line
            self.activeLow = activeLow
            self.bias = bias
        }
    }

    public struct Door: Sendable, Equatable {
        public var name = "door"
        /// nil drives a simulated door that logs what a relay would do.
        public var relay: GPIOLine?
        public var pulse: Duration = .seconds(3)
        /// Open the door when the controller fails (fire exits); the default keeps it locked.
        public var failSafe = false
        public var contact: GPIOLine?
        public var heldOpenAfter: Duration = .seconds(30)
        public var exitButton: GPIOLine?
        /// NEC ID: tags searched (a face matches if it carries any).
        public var tags: [String] = []
        /// NeoCheck: the face list searched, by id or name.
        public var faceList: String?
        /// In the backend's units: NEC 0...9999, NeoCheck 0...100. nil takes the backend's default.
        public var threshold: Double?
        public var minimumMargin: Double?
        public var schedules: [AccessSchedule] = []
        public var denyList: Set<String> = []
        public var reentryCooldown: Duration = .zero

        public init() {}
    }

    public struct OfflineCache: Sendable, Equatable {
        public var enabled = true
        public var path = "/var/lib/facegate/offline-cache.sqlite"
        public var key: SecretReference? = .credential("offline-cache-key")
        public var maxEntries = 5000
        public var entryLifetime: Duration = .seconds(7 * 24 * 3600)
        /// Descriptor distance: stricter than the cloud (dlib's same-person limit is about 0.6).
        public var maxDistance = 0.42
        public var minimumMargin = 0.05
        /// How often deletions in the cloud are synced into the cache while online.
        public var revocationSyncInterval: Duration = .seconds(600)

        public init() {}
    }

    public struct Journal: Sendable, Equatable {
        public var path = "/var/lib/facegate/journal.sqlite"
        public var retentionDays = 90
        public var maxSizeMegabytes = 512
        /// Keep each decision's probe crop (biometric data: off by default).
        public var storeProbeCrops = false
        public var probeCropRetentionDays = 7

        public init() {}
    }

    /// `/metrics` and `/health` over HTTP; off unless an address is given.
    public struct Metrics: Sendable, Equatable {
        /// Where to listen (`host:port`; `[v6]:port`); nil: not served.
        public var listen: ListenAddress?

        public init() {}
    }

    /// The kiosk page for the screen at the door; off unless the `kiosk` section is given.
    public struct Kiosk: Sendable, Equatable {
        public var enabled = false
        /// Loopback by default: the preview shows who is at the door.
        public var listen = ListenAddress(host: "127.0.0.1", port: 8470)
        /// The live camera picture; off keeps the guidance and decisions without it.
        public var preview = true
        /// Names to welcome people by, by subject id (or NeoCheck record id); nobody else is named.
        public var displayNames: [String: String] = [:]

        public init() {}
    }

    /// The control socket `facegate status` and `facegate door unlock` use.
    public struct Control: Sendable, Equatable {
        /// nil: no control socket.
        public var socket: String? = "/run/facegate/control.sock"
        /// Besides root, the members of this group may use it (a group that does not exist: root only).
        public var adminGroup = "facegate-admin"

        public init() {}
    }

    public struct Logging: Sendable, Equatable {
        public enum Level: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }
        public var level = Level.info

        public init() {}
    }

    /// The door's policy for the configured backend.
    public var doorPolicy: DoorPolicy {
        let chosen = type(of: backend.chosen)
        return DoorPolicy(
            door: door.name, threshold: door.threshold ?? chosen.defaultThreshold, scoreUnit: chosen.scoreUnit,
            minimumMargin: door.minimumMargin, offlineMaxDistance: offlineCache.maxDistance,
            offlineMinimumMargin: offlineCache.minimumMargin, schedules: door.schedules, denyList: door.denyList,
            reentryCooldown: door.reentryCooldown, searchTags: door.tags, faceList: door.faceList)
    }
}

/// Where a secret comes from. Secrets are never written inline in a file others can read.
public enum SecretReference: Sendable, Hashable, CustomStringConvertible {
    /// A systemd credential (`LoadCredential=`), read from `$CREDENTIALS_DIRECTORY/NAME`.
    case credential(String)
    /// A file readable by its owner only.
    case file(String)
    /// Written in the configuration itself: accepted only when that file is readable by its owner only.
    case inline(String)

    /// `credential:NAME`, `file:/path`, or a literal.
    public init(parsing text: String) {
        if text.hasPrefix("credential:") {
            self = .credential(String(text.dropFirst("credential:".count)))
        } else if text.hasPrefix("file:") {
            self = .file(String(text.dropFirst("file:".count)))
        } else {
            self = .inline(text)
        }
    }

    /// Whether an inline value reads as a reference mistyped (`File:/path`, `Credential:NAME`,
    /// `credentials:NAME`): no real secret starts so.
    static func looksMistyped(_ value: String) -> Bool {
        let lowered = value.lowercased()
        return ["file:", "credential:", "credentials:"].contains { lowered.hasPrefix($0) }
    }

    /// Never the secret itself, nor where it is kept (a configuration value too).
    public var description: String {
        switch self {
        case .credential: "a systemd credential"
        case .file: "a file"
        case .inline: "inline value"
        }
    }
}

/// A TCP address to listen on, written `host:port` (`[::1]:port` for IPv6).
public struct ListenAddress: Sendable, Hashable {
    public var host: String
    public var port: Int

    /// `localhost`, or an address in 127.0.0.0/8 or `::1` however it is written (``LoopbackAddress``): only
    /// this machine reaches it.
    public static func isLoopbackHost(_ host: String) -> Bool { LoopbackAddress.names(host) }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether one server listening here would keep another from listening at `other`: the same port, on
    /// the same host however spelt (`localhost` is 127.0.0.1 or ::1), or on a wildcard address, which takes
    /// the port on every address of its family (`::` on both, as Linux binds it). Port 0 is any free port.
    public func clashes(with other: ListenAddress) -> Bool {
        guard port == other.port, port != 0 else { return false }
        func family(_ host: String) -> String { host == "localhost" ? "either" : host.contains(":") ? "6" : "4" }
        let (mine, theirs) = (host.lowercased(), other.host.lowercased())
        if mine == theirs || [mine, theirs].contains(where: { ["::", "*", ""].contains($0) }) { return true }
        if mine == "0.0.0.0" || theirs == "0.0.0.0" { return family(mine) != "6" && family(theirs) != "6" }
        // `localhost` against a loopback address of either family.
        return (mine == "localhost" && Self.isLoopbackHost(theirs)) || (theirs == "localhost" && Self.isLoopbackHost(mine))
    }

    /// nil when `text` is not `host:port` with a port from 0 to 65535.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return nil }
        self.init(host: host, port: port)
    }
}

extension FacegateConfiguration {
    /// Each of ``notes`` as a warning: by key path and a fixed phrase, never a value from the file.
    public func logNotes(to logger: Logger) {
        for note in notes {
            logger.warning("configuration note", metadata: ["key": "\(note.path)", "note": "\(note.message)"])
        }
    }
}
