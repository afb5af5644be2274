import FacegateCore
import FacegateIdentify
import FacegateQuality
import Foundation
import Yams

/// Reading `facegate.yaml`. Keys (all optional; defaults in `FacegateConfiguration`):
///
/// - `models`: folder of the dlib models
/// - `camera`: `source` (v4l2 | replay), `device`, `width`, `height`, `fps`, `format` (auto | yuyv | mjpeg | grey),
///   `replay_path`, `replay_loops`, `stall_timeout_seconds`
/// - `quality`: `detection_width`, `min_detection_score`, `gate`
/// - `approach`: `settle_frames`, `window_seconds`, `cooldown_seconds`, `min_eye_distance`, `decide_early`,
///   `early_quality`, `early_max_pose_degrees`, `reidentify_seconds`
/// - `motion`: `enabled`, `full_detection_seconds`, `unchanged_scene_seconds`
/// - `liveness`: `enabled`, `threshold`, `uncertain` (deny | allow), `require_movement`, `models`
/// - `backend`: `kind` (one of ``CloudBackends/all``), `request_timeout_seconds`, `decision_deadline_seconds`,
///   and one section per backend, read by the backend itself (`Backends/KIND/`):
///   `nec` (`endpoint`, `region`, `access_key`, `secret_key`, `api_key`),
///   `neocheck` (`endpoint`, `client_id`, `client_secret`, `username`, `password`, `calls_per_hour`, `budget_state`)
/// - `door`: `name`, `relay`/`contact`/`exit_button` (`chip`, `line`, `active_low`), `pulse_seconds`, `fail_safe`,
///   `held_open_seconds`, `tags`, `face_list`, `threshold`, `minimum_margin`, `deny_list`,
///   `reentry_cooldown_seconds`, `schedules` (list of `name`, `applies_to` (everyone | tag:T | subject:S),
///   `time_zone`, `windows` (list of `days`, `from`, `to`), `holidays`)
/// - `offline_cache`: `enabled`, `path`, `key`, `max_entries`, `entry_lifetime_days`, `max_distance`,
///   `minimum_margin`, `revocation_sync_seconds`
/// - `journal`: `path`, `retention_days`, `max_size_mb`, `store_probe_crops`, `probe_crop_retention_days`
/// - `logging`: `level`
/// - `metrics`: `listen` (`host:port`: `/metrics` and `/health` served there; absent: not served)
/// - `control`: `socket` (a path, or `off`), `admin_group`
/// - `enrolment`: `min_quality`, `max_pose_degrees`, `min_eye_distance` (the gate of `facegate enrol`)
/// - `kiosk`: `enabled` (true when the section is given), `listen` (`host:port`, default `127.0.0.1:8470`),
///   `preview`, `names` (subject id: display name)
///
/// Secrets (`access_key`, `secret_key`, `api_key`, `client_secret`, `password`, `key`) are written
/// `credential:NAME` (systemd `LoadCredential=`) or `file:/path` (readable by its owner only); a literal
/// is refused unless the configuration file itself is readable by its owner only.
extension FacegateConfiguration {
    /// Reads and validates a configuration file.
    /// - Parameter refusingAnEmptyFile: for a reload. At start-up a file with no settings (empty, or
    ///   comments only) runs the door on the defaults; a running door reloading one is far more likely
    ///   reading a file truncated mid-write or by mistake, and the defaults would drop its deny list,
    ///   schedules and tags at once.
    public static func load(path: String, refusingAnEmptyFile: Bool = false) throws(ConfigError) -> FacegateConfiguration {
        let text = try readText(path: path)
        let root = try compose(text, file: path)
        if refusingAnEmptyFile, Self.holdsNoSettings(root) {
            throw ConfigError(
                file: path,
                problems: [
                    ConfigProblem(path: "", message: "holds no settings: a reload keeps the running configuration (restart to run on the defaults)")
                ])
        }
        return try FacegateConfiguration(root: root, file: path, fileIsPrivate: SecretFiles.isPrivate(path: path))
    }

    /// The relay's line alone, for `facegate door rest` once the daemon has stopped. Read even from a file
    /// the daemon would refuse for a problem elsewhere: a bad edit may be what stopped it, and the door
    /// must rest all the same. Nil when the file names no relay (the door is simulated).
    public static func relayToRest(path: String) throws(ConfigError) -> GPIOLine? {
        let root = try compose(try readText(path: path), file: path)
        let door = ConfigReader(node: root?.mapping?["door"], path: "door")
        let relay = gpioLine(door.scoped("relay"), isInput: false)
        if !door.problems.isEmpty { throw ConfigError(file: path, problems: door.problems) }
        return relay
    }

    /// The `door` section's lines and `fail_safe` alone, for the commands that drive them by hand
    /// (`facegate door pulse`, `bench`, `watch`). As for ``relayToRest(path:)``, a problem elsewhere in
    /// the file does not stop them: the door being commissioned is often one whose file is half written.
    public static func doorWiring(path: String) throws(ConfigError) -> DoorWiring {
        let root = try compose(try readText(path: path), file: path)
        let door = ConfigReader(node: root?.mapping?["door"], path: "door")
        // `fail_safe` belongs to the door, not to `door.relay`: the daemon reads it there too.
        let wiring = DoorWiring(
            relay: gpioLine(door.scoped("relay"), isInput: false), failSafe: door.bool("fail_safe", default: Door().failSafe),
            contact: gpioLine(door.scoped("contact"), isInput: true), exitButton: gpioLine(door.scoped("exit_button"), isInput: true))
        // A misspelt key the daemon refuses (`failsafe: true` on a maglock) must not be driven as the default.
        door.rejectUnknownKeys(besides: doorKeys)
        if !door.problems.isEmpty { throw ConfigError(file: path, problems: door.problems) }
        return wiring
    }

    /// Every key of the `door` section the daemon reads (``readDoor``), for the commands that read only its wiring.
    static let doorKeys: Set<String> = [
        "name", "relay", "contact", "exit_button", "pulse_seconds", "fail_safe", "held_open_seconds", "tags", "face_list", "threshold",
        "minimum_margin", "deny_list", "reentry_cooldown_seconds", "schedules",
    ]

    /// The file's text. Each way it can fail is said as itself (before, a file missing, a folder, or one
    /// the reader may not open were all "cannot be read as UTF-8 text", and an installer looked for a bad
    /// byte). The path is the error's file, never repeated in a message.
    private static func readText(path: String) throws(ConfigError) -> String {
        func refusal(_ message: String) -> ConfigError { ConfigError(file: path, problems: [ConfigProblem(path: "", message: message)]) }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            throw refusal(code == ENOENT || code == ENOTDIR ? "does not exist" : "cannot be read: \(String(cString: strerror(code)))")
        }
        if info.st_mode & S_IFMT == S_IFDIR { throw refusal("is a folder, not a file") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw refusal("cannot be read: \(String(cString: strerror(errno)))") }
        close(descriptor)
        guard let data = FileManager.default.contents(atPath: path) else { throw refusal("cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw refusal("cannot be read as UTF-8 text") }
        return text
    }

    private static func compose(_ yaml: String, file: String) throws(ConfigError) -> Node? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, problems: [Self.syntaxProblem(error, in: yaml)])
        }
        let limit = largestExpansion(ofTextOf: yaml.utf8.count)
        if let root, !expands(root, toAtMost: limit) {
            // Without a `*` there is no alias: only a file far larger than any door's comes here.
            let message =
                yaml.contains("*")
                ? "its aliases expand to over \(limit) entries (aliases nested in aliases): write the settings out"
                : "holds over \(limit) entries"
            throw ConfigError(file: file, problems: [ConfigProblem(path: "", message: message)])
        }
        return root
    }

    /// The fewest nodes a file may hold with its aliases expanded, however short: a door's settings, a kiosk's
    /// names for thousands of people included, are a small fraction of it.
    static let largestExpansion = 100_000

    /// The most nodes a file of `bytes` may hold with its aliases expanded: ``largestExpansion``, or four a
    /// byte (more than any file without aliases can hold) for a larger file. Walking the tree then costs no
    /// more than reading the text did, so a deny list of 100,000 ids is read (before, a file of over 100,000
    /// entries was refused for aliases it did not have), while ten aliases nested nine deep still are not.
    static func largestExpansion(ofTextOf bytes: Int) -> Int { max(largestExpansion, 4 * bytes) }

    /// Whether `root`, its aliases expanded, holds at most `limit` nodes. Yams shares an aliased node rather
    /// than copying it, but every reader here walks the expanded tree: ten aliases nested nine deep (the
    /// "billion laughs") would hold `config check`, start-up and reload for hours. Stops counting at the limit.
    static func expands(_ root: Node, toAtMost limit: Int) -> Bool {
        var counted = 0
        var pending = [root]
        while let node = pending.popLast() {
            counted += 1
            if counted > limit { return false }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    pending.append(key)
                    pending.append(value)
                }
            case .sequence(let sequence): pending.append(contentsOf: sequence)
            case .scalar, .alias: break
            }
        }
        return true
    }

    /// No document, or one that is only `null`.
    static func holdsNoSettings(_ root: Node?) -> Bool {
        guard let root else { return true }
        return root.null != nil && root.scalar?.style == .plain
    }

    /// Parses configuration text; `fileIsPrivate` says whether inline secrets are acceptable.
    public init(yaml: String, file: String = "<text>", fileIsPrivate: Bool = false) throws(ConfigError) {
        try self.init(root: try Self.compose(yaml, file: file), file: file, fileIsPrivate: fileIsPrivate)
    }

    private init(root: Node?, file: String, fileIsPrivate: Bool) throws(ConfigError) {
        let reader = ConfigReader(node: root)
        self.init()
        read(from: reader, fileIsPrivate: fileIsPrivate)
        if !reader.problems.isEmpty { throw ConfigError(file: file, problems: reader.problems) }
        notes = reader.notes
        keysInFile.paths = Self.keyPaths(of: root)
        keysInFile.leaves = Self.leaves(of: root)
    }

    /// Mappings keyed by the installer's own data (subject ids): their keys are values, never listed.
    static let freeFormMappings: Set<String> = ["kiosk.names"]

    /// Abbreviations the time zone library takes as zones (its legacy three-letter IDs, and tzdata's fixed
    /// EST, MST and HST), each meaning one zone where people mean another or a zone with daylight saving.
    /// `Etc/GMT+5` as the offset it is ("UTC−5"); nil for any other name.
    static func isInvertedEtcZone(_ name: String) -> Bool {
        guard name.hasPrefix("Etc/GMT"), let hours = Int(name.dropFirst(7)) else { return false }
        return hours != 0
    }

    /// tzdata's names for Greenwich time with no summer time, upper-cased (UTC's names are not among them:
    /// nobody writes UTC for the clocks of a country).
    static let greenwichZones: Set<String> = ["GMT", "GMT0", "GREENWICH", "ETC/GMT", "ETC/GMT0", "ETC/GMT+0", "ETC/GMT-0", "ETC/GREENWICH"]

    static let ambiguousZoneAbbreviations: Set<String> = [
        "ACT", "AET", "AGT", "ART", "AST", "BET", "BST", "CAT", "CNT", "CST", "CTT", "EAT", "ECT", "EST", "HST", "IET", "IST",
        "JST", "MIT", "MST", "NET", "NST", "PLT", "PNT", "PRT", "PST", "SST", "VST",
    ]

    /// The longest decision deadline taken without a note: past it, a grant can come after its person
    /// has given up at the door.
    static let promptDecision: Duration = .seconds(10)
    /// A liveness threshold below this lets through attacks the tests' media show (prints score below it).
    static let lowestTestedLivenessThreshold = 0.3
    static let highestTestedLivenessThreshold = 0.9
    /// The closest two different people of the shared test photos come (descriptor distance, README).
    static let closestImpostorDistance = 0.5
    /// The longest `backend.decision_deadline_seconds` taken (a client of the daemon that cannot read the
    /// file bounds its waits by it).
    public static let longestDecisionDeadline: Duration = .seconds(300)

    static func keyPaths(of node: Node?, under prefix: String = "") -> [String] {
        guard !freeFormMappings.contains(prefix), let mapping = node?.mapping else { return [] }
        var paths: [String] = []
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            let path = prefix.isEmpty ? name : prefix + "." + name
            paths.append(path)
            paths += keyPaths(of: value, under: path)
        }
        return paths
    }

    /// Every scalar under `node` in document order, for ``KeysInFile/endsEarly(in:)``. The key a value is
    /// under stops at a free-form mapping (its keys are the installer's data, never said).
    static func leaves(of node: Node?, key: String = "", path: String = "") -> [KeysInFile.Leaf] {
        guard let node else { return [] }
        if let mapping = node.mapping {
            var leaves: [KeysInFile.Leaf] = []
            for (name, value) in mapping {
                let text = name.string ?? ""
                let childKey = freeFormMappings.contains(key) ? key : key.isEmpty ? text : key + "." + text
                leaves += Self.leaves(of: value, key: childKey, path: path.isEmpty ? text : path + "." + text)
            }
            return leaves
        }
        if let sequence = node.sequence {
            return sequence.enumerated().flatMap { index, item in Self.leaves(of: item, key: key, path: path + "[\(index)]") }
        }
        return [KeysInFile.Leaf(path: path, key: key, value: node.scalar?.string ?? "")]
    }

    /// The parser's error as a line and column only. Yams' own text quotes the offending source line,
    /// which may hold an inline secret; libyaml's problem and context phrases are fixed texts, kept.
    static func syntaxProblem(_ error: any Error, in yaml: String) -> ConfigProblem {
        func problem(_ what: String, _ context: YamlError.Context?, _ mark: Mark) -> ConfigProblem {
            let phrase = [context?.text, what].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return ConfigProblem(path: "", message: "not valid YAML: \(phrase)", line: mark.line, column: mark.column)
        }
        switch error as? YamlError {
        case .scanner(let context, let what, let mark, _), .parser(let context, let what, let mark, _),
            .composer(let context, let what, let mark, _):
            return problem(what, context, mark)
        case .duplicatedKeysInMapping(_, let context):
            // The duplicated keys are left out too: only the line says where.
            return ConfigProblem(
                path: "", message: "not valid YAML: a key appears twice in one mapping", line: context.mark.line,
                column: context.mark.column)
        case .reader(let what, let offset, _, _):
            let location = offset.flatMap { lineAndColumn(ofOffset: $0, in: yaml) }
            return ConfigProblem(path: "", message: "not valid YAML: \(what)", line: location?.line, column: location?.column)
        default:
            return ConfigProblem(path: "", message: "not valid YAML")
        }
    }

    private static func lineAndColumn(ofOffset offset: Int, in text: String) -> (line: Int, column: Int)? {
        let scalars = text.unicodeScalars
        guard offset >= 0, offset <= scalars.count else { return nil }
        var line = 1, column = 1
        for scalar in scalars.prefix(offset) {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private mutating func read(from r: ConfigReader, fileIsPrivate: Bool) {
        modelsDirectory = r.string("models")

        let c = r.scoped("camera")
        camera.source = c.choice("source", default: camera.source)
        camera.device = c.string("device", default: camera.device)
        camera.width = c.int("width", default: camera.width, in: 16...8192)
        camera.height = c.int("height", default: camera.height, in: 16...8192)
        camera.framesPerSecond = c.int("fps", default: camera.framesPerSecond, in: 1...120)
        camera.pixelFormat = c.choice("format", default: camera.pixelFormat)
        camera.replayPath = c.string("replay_path")
        camera.replayLoops = c.bool("replay_loops", default: camera.replayLoops)
        camera.stallTimeout = c.seconds("stall_timeout_seconds", default: camera.stallTimeout, in: 0.1...600)
        // A wait shorter than two frame intervals (or than a second: a camera's first frame after it starts
        // streaming comes late) ends before the frames do, and every wait is taken for a stall: the camera
        // is closed and reopened for ever while the door decides nothing.
        if camera.stallTimeout.timeInterval < max(2.0 / Double(camera.framesPerSecond), 1) {
            c.problem("must be at least two frame intervals (2 / camera.fps seconds) and at least 1 s", key: "stall_timeout_seconds")
        }
        if camera.source == .replay, camera.replayPath == nil { c.problem("is needed when source is replay", key: "replay_path") }
        c.rejectUnknownKeys()

        let q = r.scoped("quality")
        quality.detectionWidth = q.int("detection_width", default: quality.detectionWidth, in: 160...4096)
        quality.minDetectionScore = q.double("min_detection_score", default: quality.minDetectionScore, in: -1...5)
        quality.qualityGate = q.double("gate", default: quality.qualityGate, in: 0...1)
        q.rejectUnknownKeys()

        let a = r.scoped("approach")
        approach.settleFrames = a.int("settle_frames", default: approach.settleFrames, in: 0...300)
        approach.approachWindow = a.seconds("window_seconds", default: approach.approachWindow, in: 0.1...120)
        approach.cooldown = a.seconds("cooldown_seconds", default: approach.cooldown, in: 0.1...600)
        // Shorter than two frame intervals, every person's track ends between two frames: a visit (and a cloud
        // call) a frame, and a camera's ordinary wait for its next frame taken for a silence.
        if approach.cooldown.timeInterval < 2.0 / Double(camera.framesPerSecond) {
            a.problem("must be at least two frame intervals (2 / camera.fps seconds)", key: "cooldown_seconds")
        }
        approach.minInterEyeDistance = a.double("min_eye_distance", default: approach.minInterEyeDistance, in: 0...1000)
        approach.qualityGate = quality.qualityGate
        if a.bool("decide_early", default: approach.earlyQuality != nil) {
            let mark = a.double("early_quality", default: approach.earlyQuality ?? 0.8, in: 0...1)
            approach.earlyQuality = mark
            if mark < approach.qualityGate { a.problem("must not be below quality.gate", key: "early_quality") }
            approach.earlyMaxPoseDegrees = a.double("early_max_pose_degrees", default: approach.earlyMaxPoseDegrees, in: 0...45)
        } else {
            approach.earlyQuality = nil
            _ = a.double("early_quality", in: 0...1)
            _ = a.double("early_max_pose_degrees", in: 0...45)
        }
        approach.reidentifyWindow = a.seconds("reidentify_seconds", default: approach.reidentifyWindow, in: 0...600)
        a.rejectUnknownKeys()

        let m = r.scoped("motion")
        motion.enabled = m.bool("enabled", default: motion.enabled)
        motion.fullDetectionInterval = m.seconds("full_detection_seconds", default: motion.fullDetectionInterval, in: 0.1...10)
        motion.unchangedSceneInterval = m.seconds("unchanged_scene_seconds", default: motion.unchangedSceneInterval, in: 0...60)
        m.rejectUnknownKeys()

        let pad = r.scoped("liveness")
        liveness.enabled = pad.bool("enabled", default: liveness.enabled)
        liveness.threshold = pad.double("threshold", default: liveness.threshold, in: 0...1)
        if liveness.threshold == 0 {
            // Nothing scores below 0: the stage would run, and judge every print and screen live.
            pad.problem("must be above 0 (0 judges every face live; to turn the stage off write enabled: false)", key: "threshold")
        } else if liveness.enabled, liveness.threshold < Self.lowestTestedLivenessThreshold {
            // Allowed, never silent: the printed photos in the tests score below 0.3, screen replays ~0.1 (BENCHMARKS.md).
            pad.note(
                "is below 0.3: the door then takes printed photos and phone screens that the tests judge attacks", key: "threshold")
        } else if liveness.enabled, liveness.threshold > Self.highestTestedLivenessThreshold {
            // Allowed, never silent: at 1 only a model certain to the last digit passes, and the door opens for
            // nobody (review); the tests' live faces score from about 0.5 up (BENCHMARKS.md).
            pad.note("is above 0.9: the door then refuses live faces that the tests judge live, as attacks", key: "threshold")
        }
        liveness.uncertain = pad.choice("uncertain", default: liveness.uncertain)
        if liveness.enabled, liveness.uncertain == .allow {
            pad.note("is allow: a face the liveness stage cannot judge goes to the cloud unjudged", key: "uncertain")
        }
        liveness.requireMovement = pad.bool("require_movement", default: liveness.requireMovement)
        if liveness.enabled, !liveness.requireMovement {
            // The default (a person standing still gives the parallax cue nothing either: BENCHMARKS.md),
            // but a weakening all the same, said like the others.
            pad.note(
                "is false: a photo or a screen held still is judged on texture alone, and a phone screen whose edge is out of view can pass it",
                key: "require_movement")
        }
        // A window of N frame intervals sees N + 1 frames.
        if liveness.enabled, approach.approachWindow.timeInterval * Double(camera.framesPerSecond) + 1 < Double(approach.earlyMinFrames) {
            // A visit then ends before the parallax cue has the sightings it needs: judged on texture alone.
            a.note("is shorter than the \(approach.earlyMinFrames) frames the liveness stage needs to see the face move (at camera.fps)", key: "window_seconds")
        }
        if !liveness.enabled {
            // Allowed (a door behind a guard, a camera the models do not suit), but never silent.
            pad.note("is false: a photo or a phone screen showing an enrolled person's face is searched, and can open the door", key: "enabled")
        }
        liveness.modelsDirectory = pad.string("models")
        pad.rejectUnknownKeys()
        if liveness.enabled, camera.pixelFormat == .grey, camera.source == .v4l2 {
            // Measured: the texture models, trained on colour, judge every grey face an attack (live
            // faces included), so such a door would never open; said here, not found at the door.
            c.problem("is grey, and the liveness stage judges every grey face an attack: give a colour format, or liveness enabled: false", key: "format")
        }

        let b = r.scoped("backend")
        backend.kind = backendKind(b)
        backend.requestTimeout = b.seconds("request_timeout_seconds", default: backend.requestTimeout, in: 0.1...120)
        backend.decisionDeadline = b.seconds("decision_deadline_seconds", default: backend.decisionDeadline, in: 0.1...Self.longestDecisionDeadline.timeInterval)
        if backend.decisionDeadline < backend.requestTimeout {
            b.problem("must be at least request_timeout_seconds", key: "decision_deadline_seconds")
        } else if backend.decisionDeadline > Self.promptDecision {
            // Allowed (a slow uplink), but said: a grant opens the door up to the deadline and 5 s after the
            // visit was ready, for whoever stands there by then. In words: notes reach the log, and the
            // configuration's values do not.
            b.note(
                "is over \(Int(Self.promptDecision.timeInterval)) s: a grant may open the door up to the deadline and 5 s more after the person was seen, for whoever stands there then",
                key: "decision_deadline_seconds")
        }
        for backendType in CloudBackends.all {
            let section = b.scoped(backendType.kind.rawValue)
            var settings = backendType.init()
            settings.read(section, fileIsPrivate: fileIsPrivate)
            section.rejectUnknownKeys()
            backend.sections[backendType.kind] = settings
        }
        b.rejectUnknownKeys()

        readDoor(r.scoped("door"))

        let cache = r.scoped("offline_cache")
        offlineCache.enabled = cache.bool("enabled", default: offlineCache.enabled)
        offlineCache.path = cache.string("path", default: offlineCache.path)
        if !offlineCache.path.hasPrefix("/") { cache.problem("must be an absolute path", key: "path") }
        if cache.singleValue("key") != nil {
            offlineCache.key = cache.secret("key", fileIsPrivate: fileIsPrivate, inlineAllowed: false)
        }
        offlineCache.maxEntries = cache.int("max_entries", default: offlineCache.maxEntries, in: 1...10_000_000)
        offlineCache.entryLifetime = .seconds(
            Int64(cache.double("entry_lifetime_days", default: 7, in: 0.01...365) * 86_400))
        offlineCache.maxDistance = cache.double("max_distance", default: offlineCache.maxDistance, in: 0.1...0.6)
        offlineCache.minimumMargin = cache.double("minimum_margin", default: offlineCache.minimumMargin, in: 0...1)
        // Allowed (a door whose regulars are locked out offline too often), never silent: the offline path is
        // meant to be the stricter one.
        if offlineCache.enabled, offlineCache.maxDistance > Self.closestImpostorDistance {
            cache.note(
                "is above 0.5: offline, a look-alike may be let in (on the test photos no two people are closer than 0.5; dlib's usual same-person limit is 0.6)",
                key: "max_distance")
        }
        if offlineCache.enabled, offlineCache.minimumMargin == 0 {
            cache.note("is 0: offline, a face as close to a second cached person as to the first is let in as the first", key: "minimum_margin")
        }
        offlineCache.revocationSyncInterval = cache.seconds(
            "revocation_sync_seconds", default: offlineCache.revocationSyncInterval, in: 10...86_400)
        cache.rejectUnknownKeys()

        let j = r.scoped("journal")
        journal.path = j.string("path", default: journal.path)
        // The daemon runs in / with a read-only root (the unit): a relative path would not open, and the
        // door would decide unrecorded.
        if !journal.path.hasPrefix("/") { j.problem("must be an absolute path", key: "path") }
        journal.retentionDays = j.int("retention_days", default: journal.retentionDays, in: 1...3650)
        journal.maxSizeMegabytes = j.int("max_size_mb", default: journal.maxSizeMegabytes, in: 1...1_000_000)
        journal.storeProbeCrops = j.bool("store_probe_crops", default: journal.storeProbeCrops)
        journal.probeCropRetentionDays = j.int("probe_crop_retention_days", default: journal.probeCropRetentionDays, in: 1...365)
        j.rejectUnknownKeys()
        checkDataFilesApart(r)

        let l = r.scoped("logging")
        logging.level = l.choice("level", default: logging.level)
        l.rejectUnknownKeys()

        let status = r.scoped("metrics")
        if let listen = status.string("listen") {
            metrics.listen = ListenAddress(parsing: listen)
            if metrics.listen == nil { status.problem("must be host:port (a port from 0 to 65535)", key: "listen") }
        }
        status.rejectUnknownKeys()

        let controlSection = r.scoped("control")
        if let socket = controlSection.string("socket") {
            if socket == "off" {
                control.socket = nil
            } else if socket.hasPrefix("/"), socket.utf8.count < 100 {
                control.socket = socket
            } else {
                controlSection.problem("must be an absolute path of under 100 bytes, or off", key: "socket")
            }
        }
        control.adminGroup = controlSection.string("admin_group", default: control.adminGroup)
        controlSection.rejectUnknownKeys()

        let e = r.scoped("enrolment")
        enrolment.minQuality = e.double("min_quality", default: enrolment.minQuality, in: 0...1)
        enrolment.maxPoseDegrees = e.double("max_pose_degrees", default: enrolment.maxPoseDegrees, in: 0...90)
        enrolment.minInterEyeDistance = e.double("min_eye_distance", default: enrolment.minInterEyeDistance, in: 1...10_000)
        e.rejectUnknownKeys()

        let k = r.scoped("kiosk")
        if k.isPresent {
            kiosk.enabled = k.bool("enabled", default: true)
            if let listen = k.string("listen") {
                if let address = ListenAddress(parsing: listen) {
                    kiosk.listen = address
                } else {
                    k.problem("must be host:port (a port from 0 to 65535)", key: "listen")
                }
            }
            kiosk.preview = k.bool("preview", default: kiosk.preview)
            kiosk.displayNames = k.textMapping("names")
            if kiosk.enabled, !ListenAddress.isLoopbackHost(kiosk.listen.host) {
                // Allowed (a screen on another box), but the picture and the names go to whoever can reach it.
                k.note(
                    "is not a loopback address: anyone who can reach it sees the camera's picture, the faces and the welcome names (name the box by its address or its host name: other names are refused)",
                    key: "listen")
            }
            // However spelt: `0.0.0.0:8470` takes the kiosk's `127.0.0.1:8470` too, and one of the two would not start.
            if kiosk.enabled, let metricsAddress = metrics.listen, metricsAddress.clashes(with: kiosk.listen) {
                status.problem("is the kiosk's address, which serves /metrics and /health already: give another or leave it out", key: "listen")
            }
        }
        k.rejectUnknownKeys()

        r.rejectUnknownKeys()
    }

    /// The files SQLite keeps beside a database (`journal.path`, `offline_cache.path`).
    static let sqliteCompanions = ["-wal", "-shm", "-journal"]

    /// Each data file the door writes is a file of its own: the call budget's save (a rename) onto the
    /// journal replaced its history with a few bytes of JSON, and a database in another's place, or in
    /// its write-ahead log, loses both. Compared as written, `.` and `..` resolved (the folders are not
    /// looked at). Every backend's files count, chosen or not: `facegate neocheck --config` writes the
    /// budget on any door. The problem is at the later key the file writes, naming the other key only.
    private func checkDataFilesApart(_ r: ConfigReader) {
        var files: [(key: String, path: String, companions: [String])] = []
        for backendType in CloudBackends.all {
            guard let section = backend.sections[backendType.kind] else { continue }
            files += section.writtenFiles.map { ($0.key, $0.path, section.besideWrittenFiles) }
        }
        files.append(("offline_cache.path", offlineCache.path, Self.sqliteCompanions))
        files.append(("journal.path", journal.path, Self.sqliteCompanions))
        for (index, later) in files.enumerated() {
            for earlier in files[..<index] {
                let one = Self.standardisedPath(earlier.path), other = Self.standardisedPath(later.path)
                let same = one == other
                guard same || !Set([one] + earlier.companions.map { one + $0 }).isDisjoint(with: [other] + later.companions.map { other + $0 })
                else { continue }
                // At a key the file writes: a default path is not where the mistake is.
                let (at, named) = r.written(later.key) != nil || r.written(earlier.key) == nil ? (later.key, earlier.key) : (earlier.key, later.key)
                let message =
                    same
                    ? "is the same file as \(named): each needs a file of its own, or one overwrites the other"
                    : "is a file kept beside \(named), or \(named) one kept beside it (SQLite's -wal, -shm and -journal, the call budget's .lock): each needs a file of its own"
                r.problem(message, key: at, at: r.written(at))
            }
        }
    }

    /// `path` with `.`, `..` and repeated slashes resolved, as text.
    static func standardisedPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
            } else {
                parts.append(part)
            }
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    private mutating func readDoor(_ d: ConfigReader) {
        door.name = d.string("name", default: door.name)
        if door.name.isEmpty || door.name.contains(where: { $0.isNewline }) { d.problem("must be a non-empty single line", key: "name") }
        door.relay = Self.gpioLine(d.scoped("relay"), isInput: false)
        door.pulse = d.seconds("pulse_seconds", default: door.pulse, in: 0.05...60)
        door.failSafe = d.bool("fail_safe", default: door.failSafe)
        door.contact = Self.gpioLine(d.scoped("contact"), isInput: true)
        door.heldOpenAfter = d.seconds("held_open_seconds", default: door.heldOpenAfter, in: 1...3600)
        door.exitButton = Self.gpioLine(d.scoped("exit_button"), isInput: true)
        checkDoorWiring(d)
        door.tags = d.strings("tags")
        door.faceList = d.string("face_list")
        // Scores are in the chosen backend's own units; one on another's scale is refused (see CloudBackend).
        let chosen = type(of: backend.chosen)
        for scope in chosen.searchScopeProblems(of: door) { d.problem(scope.message, key: scope.key) }
        for scope in chosen.searchScopeNotes(of: door) { d.note(scope.message, key: scope.key, at: d.written(scope.key)) }
        door.threshold = d.double("threshold", check: chosen.thresholdProblem)
        if let threshold = door.threshold, let note = chosen.thresholdNote(threshold) { d.note(note, key: "threshold") }
        door.minimumMargin = d.double("minimum_margin", check: chosen.marginProblem)
        if door.minimumMargin != nil, let note = chosen.marginNote { d.note(note, key: "minimum_margin") }
        // An id quoted with a space around it (or a block value's line break) would never match the cloud's, and deny nobody.
        door.denyList = Set(d.strings("deny_list").map { SubjectIdentity.trimmed($0) })
        // Said once for the list, without the entry (a value of the file).
        if let note = door.denyList.sorted().lazy.compactMap({ chosen.subjectIdNote($0) }).first {
            d.note("an entry " + note + ": that person is not denied", key: "deny_list")
        }
        door.reentryCooldown = d.seconds("reentry_cooldown_seconds", default: door.reentryCooldown, in: 0...86_400)
        // Each with its index in the file, for the key path of a problem found below.
        let schedulesRead = d.list("schedules").enumerated().compactMap { entry in schedule(entry.element).map { (entry.offset, $0) } }
        door.schedules = schedulesRead.map(\.1)
        // A tag schedule only holds for people known to carry the tag. NEC does not say which tags a
        // match carries (only a one-tag search proves it), and NeoCheck's only "tag" is the face list;
        // any other tag schedule would silently never apply, letting people in at any hour.
        let provenTag = chosen.provenTag(of: door)
        for (index, schedule) in schedulesRead {
            guard case .tag(let tag) = schedule.scope, tag != provenTag else { continue }
            let how = chosen.tagScheduleAdvice
            // Named by its key path, not by its name or tag: messages carry no values from the file.
            d.problem("names a tag the door cannot check: \(how)", key: "schedules[\(index)].applies_to")
        }
        d.rejectUnknownKeys()
    }

    /// Each role on a line of its own, and nothing wired without a relay. A line named twice would be
    /// refused as busy at the second request, which reads as another process holding it: the daemon
    /// would restart for ever. Without a relay the door is simulated, so a contact or an exit button
    /// would look wired while nothing is read, and a fail-safe lock (a maglock, energised to lock) would
    /// never be energised: the door open while the journal records decisions. No relay at all is allowed
    /// (the demo, a door being wired) but noted, since nothing is driven.
    private func checkDoorWiring(_ d: ConfigReader) {
        let roles = [("relay", door.relay), ("contact", door.contact), ("exit_button", door.exitButton)]
        for (index, (key, line)) in roles.enumerated() {
            guard let line else { continue }
            if let earlier = roles[..<index].first(where: { $0.1.map { Self.sameLine($0, line) } ?? false }) {
                d.problem("is the same GPIO line as door.\(earlier.0): each needs a line of its own", key: key)
            }
        }
        guard door.relay == nil else { return }
        for (key, wired) in [("contact", door.contact != nil), ("exit_button", door.exitButton != nil)] where wired {
            d.problem("needs door.relay: without a relay the door is simulated", key: key)
        }
        if door.failSafe {
            d.problem("needs door.relay: a fail-safe lock is energised to lock, and without a relay nothing is driven (the door would stand open)", key: "fail_safe")
        }
        d.note("is not set: the door is simulated and nothing is driven (decisions are journaled, no lock moves)", key: "relay")
    }

    /// The same chip (by name or /dev path) and the same line text. A line named on one role and given
    /// by offset on another is not caught here (only the kernel knows): ``sameLineOnThisMachine(_:_:)``
    /// asks it, and the daemon refuses such a file when it opens the lines (exit 78).
    public static func sameLine(_ a: GPIOLine, _ b: GPIOLine) -> Bool {
        func chip(_ name: String) -> String { name.hasPrefix("/dev/") ? String(name.dropFirst(5)) : name }
        return chip(a.chip) == chip(b.chip) && a.line == b.line
    }

    private static func gpioLine(_ g: ConfigReader, isInput: Bool) -> GPIOLine? {
        guard g.isPresent else { return nil }
        let chip = g.string("chip")
        let line = g.string("line")
        let activeLow = g.bool("active_low", default: false)
        let bias = g.choice("bias", default: GPIOLine.Bias.asIs)
        if !isInput, bias != .asIs { g.problem("is for inputs: the relay's level is driven, its rest set by the board", key: "bias") }
        if chip == nil { g.problem("is needed", key: "chip") }
        if line == nil { g.problem("is needed (a line name or offset)", key: "line") }
        g.rejectUnknownKeys()
        guard let chip, let line else { return nil }
        return GPIOLine(chip: chip, line: line, activeLow: activeLow, bias: bias)
    }

    private static let dayNames = ["sunday": 1, "monday": 2, "tuesday": 3, "wednesday": 4, "thursday": 5, "friday": 6, "saturday": 7]

    /// A day by its name, any case: the name, a start of it of at least three letters (`tue`, `tues`,
    /// `thurs`), `weds`, or a plural (`mondays`). Not any word that starts like one: `sunflower` is not
    /// Sunday.
    static func weekday(_ text: String) -> Int? {
        var word = text.lowercased()
        if word == "weds" { word = "wed" }
        if word.count > 3, word.hasSuffix("s"), dayNames[String(word.dropLast())] != nil { word.removeLast() }
        guard word.count >= 3 else { return nil }
        return dayNames.first { $0.key.hasPrefix(word) }?.value
    }

    /// The text after `tag:` or `subject:` without the spaces (or invisible characters) around it; nil when nothing is left.
    private static func named(_ text: Substring) -> String? {
        let name = SubjectIdentity.trimmed(text)
        return name.isEmpty ? nil : name
    }

    /// A calendar date written YYYY-MM-DD (or YYYY-M-D): `2026-02-30` and a two-digit year are not dates, and a
    /// holiday that never comes would leave the door open on the day it was meant to close.
    static func holiday(_ text: String) -> AccessSchedule.Day? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, (1...2).contains(parts[1].count), (1...2).contains(parts[2].count),
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) }), let year = Int(parts[0]), let month = Int(parts[1]),
            let day = Int(parts[2]), year >= 1970
        else { return nil }
        let components = DateComponents(calendar: Calendar(identifier: .gregorian), year: year, month: month, day: day)
        guard components.isValidDate else { return nil }
        return AccessSchedule.Day(year: year, month: month, day: day)
    }

    private func schedule(_ s: ConfigReader) -> AccessSchedule? {
        let name = s.string("name") ?? s.path
        let scopeText = s.string("applies_to", default: "everyone")
        let scope: AccessSchedule.Scope
        if scopeText == "everyone" {
            scope = .everyone
        } else if scopeText.hasPrefix("tag:"), let tag = Self.named(scopeText.dropFirst(4)) {
            scope = .tag(tag)
        } else if scopeText.hasPrefix("subject:"), let subject = Self.named(scopeText.dropFirst(8)) {
            // `subject: 1234` is subject 1234: a space kept in the id would match nobody, and a schedule
            // that applies to nobody leaves its subject in at any hour.
            scope = .subject(subject)
            if let note = type(of: backend.chosen).subjectIdNote(subject) {
                s.note(note + ": the schedule restricts nobody", key: "applies_to")
            }
        } else {
            s.problem("must be everyone, tag:NAME or subject:ID", key: "applies_to")
            scope = .everyone
        }
        let zone: TimeZone?
        let machineZone = MachineTimeZone.current()
        if let zoneName = s.string("time_zone") {
            // The time zone library also takes abbreviations and offsets, and reads them its own way (BST as
            // Bangladesh, IST as India, EST without daylight saving), which would open the door hours away
            // from the ones meant: those are refused; tzdata's names (Area/Location, and the few without a
            // slash such as UTC, CET or Japan) are taken.
            let isAbbreviation = Self.ambiguousZoneAbbreviations.contains(zoneName.uppercased())
                || (!zoneName.contains("/") && zoneName.contains(where: { $0 == "+" || $0 == "-" }))
            zone = isAbbreviation ? nil : TimeZone(identifier: zoneName)
            if isAbbreviation {
                s.problem(
                    "is an abbreviation or offset, not a time zone name: give the IANA name (Area/Location, such as Europe/London), or UTC",
                    key: "time_zone", at: s.value("time_zone"))
            } else if zone == nil {
                s.problem("is not a known time zone (an IANA name such as Europe/Madrid)", key: "time_zone", at: s.value("time_zone"))
            }
            if zone != nil, Self.isInvertedEtcZone(zoneName) {
                // POSIX's sign: Etc/GMT+5 is five hours behind UTC, the opposite of what it seems to say. Said
                // without the zone's own offset: notes reach the log, and the configuration's values do not.
                s.note("counts the other way round, as tzdata's Etc/GMT zones do: Etc/GMT+N is N hours behind UTC, Etc/GMT-N ahead", key: "time_zone")
            }
            if zone != nil, Self.greenwichZones.contains(zoneName.uppercased()) {
                // Taken (a door that keeps GMT all year), but a British installer writing GMT means the clocks on
                // the wall, an hour ahead from March to October: the door would open and close an hour off.
                s.note(
                    "has no summer time: the hours are GMT all year; for the hours of UK clocks (BST in summer) give Europe/London",
                    key: "time_zone")
            }
        } else if let problem = MachineTimeZone.problem(
            machineZone, localOffset: SystemTimeZone.utcOffset(at:), tz: ProcessInfo.processInfo.environment["TZ"])
        {
            zone = nil
            s.problem(problem, key: "time_zone")
        } else if let differing = MachineTimeZone.note(machineZone, localOffset: SystemTimeZone.utcOffset(at:)) {
            zone = machineZone
            s.note(differing, key: "time_zone")
        } else {
            // Allowed, as before, but said: an appliance image often runs in UTC, and office hours read
            // in UTC open the door hours away from the ones meant.
            zone = machineZone
            s.note("is not given: the hours are read in this machine's time zone, \(machineZone.identifier)", key: "time_zone")
        }
        var windows: [AccessSchedule.Window] = []
        for w in s.list("windows") {
            var days = Set<Int>()
            for (index, day) in w.strings("days").enumerated() {
                if let number = Self.weekday(day) { days.insert(number) } else {
                    w.problem("is not a day (mon ... sun, or monday ... sunday)", key: "days[\(index)]")
                }
            }
            if days.isEmpty { w.problem("needs at least one day", key: "days") }
            let from = minutes(w, "from"), to = minutes(w, "to")
            if let from, from == 24 * 60 {
                w.problem("must be 00:00 ... 23:59 (24:00 is only an end)", key: "from", at: w.value("from"))
            }
            // from == to is either empty or all day; which one was meant cannot be told, so neither is guessed.
            if let from, let to, from == to {
                w.problem("must differ from `from`: for all day write from \"00:00\" to \"24:00\"", key: "to", at: w.value("to"))
            }
            w.rejectUnknownKeys()
            if let from, let to, from != to, from < 24 * 60, !days.isEmpty {
                windows.append(.init(weekdays: days, start: from, end: to))
            }
        }
        if windows.isEmpty { s.problem("needs at least one window", key: "windows") }
        var holidays = Set<AccessSchedule.Day>()
        for (index, text) in s.strings("holidays").enumerated() {
            if let holiday = Self.holiday(text) {
                holidays.insert(holiday)
            } else {
                s.problem("is not a calendar date YYYY-MM-DD", key: "holidays[\(index)]")
            }
        }
        s.rejectUnknownKeys()
        guard let zone, !windows.isEmpty else { return nil }
        return AccessSchedule(name: name, scope: scope, timeZone: zone, windows: windows, holidays: holidays)
    }

    private func minutes(_ r: ConfigReader, _ key: String) -> Int? {
        guard let text = r.string(key) else {
            r.problem("is needed (HH:MM)", key: key)
            return nil
        }
        let parts = text.split(separator: ":").map { Int($0) }
        guard parts.count == 2, let h = parts[0], let m = parts[1], (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440
        else {
            r.problem("must be a time HH:MM (00:00 ... 24:00)", key: key, at: r.value(key))
            return nil
        }
        return h * 60 + m
    }

    /// `backend.kind`: one of the backends in ``CloudBackends``.
    private func backendKind(_ b: ConfigReader) -> BackendKind {
        guard let node = b.singleValue("kind") else { return backend.kind }
        guard let text = node.string, let kind = BackendKind(rawValue: text) else {
            let allowed = CloudBackends.all.map { $0.kind.rawValue }.joined(separator: ", ")
            b.problem("must be one of \(allowed)", key: "kind", at: node)
            return backend.kind
        }
        return kind
    }
}
