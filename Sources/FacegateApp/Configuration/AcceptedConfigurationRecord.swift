import Crypto
import FacegateCore
import Foundation

/// What the configuration file held when the daemon last started or reloaded on it, kept in its state
/// folder (systemd's `$STATE_DIRECTORY`, owner-only): its keys and values in order, a secret's value only
/// as a digest. A file cut short while the daemon was stopped (written as the power went, a full disk)
/// still parses, without what followed the cut: the door's deny list, schedules or tags among them, and
/// at start-up that meant the defaults. The next start compares the file against this record by the
/// rules a reload compares it against the running file (``FacegateConfiguration/KeysInFile``), and
/// refuses one that reads as cut short (`facegate config accept` takes such a file as meant), unless all
/// it lost is how the door logs, serves its kiosk and metrics, keeps its journal or takes commands:
/// that is run on, with a warning.
public struct AcceptedConfigurationRecord: Codable, Sendable, Equatable {
    public static let fileName = "accepted-configuration.json"
    /// Where the packaged unit keeps its state, for the installer's `config check` and `config accept`.
    public static let packagedStateFolder = "/var/lib/facegate"

    struct Leaf: Codable, Sendable, Equatable {
        var path: String
        var key: String
        /// As written; a secret's as `sha256:` and its digest (a cut inside it is then not seen: a secret
        /// cut short fails its sign-in, which fails secure).
        var value: String
    }

    /// The record's own format: a record of another (a facegate rolled back and forth) is not compared with.
    static let currentFormat = 1
    var format = Self.currentFormat
    /// The file it describes, as given to the daemon: another file (a candidate checked beside it, a unit
    /// given another `--config`) is not compared with it.
    var configurationPath: String
    var paths: [String]
    var leaves: [Leaf]

    /// The keys whose values are secrets: each backend's, and the offline cache's key.
    static let secretKeys: Set<String> = Set(CloudBackends.all.flatMap { $0.init().secrets.map(\.key) } + ["offline_cache.key"])

    public init(_ configuration: FacegateConfiguration, path: String) {
        configurationPath = Self.canonical(path)
        paths = configuration.keysInFile.paths
        leaves = configuration.keysInFile.leaves.map { leaf in
            let secret = Self.secretKeys.contains(leaf.key) && !leaf.value.isEmpty
            return Leaf(
                path: leaf.path, key: leaf.key,
                value: secret ? "sha256:" + SHA256.hash(data: Data(leaf.value.utf8)).map { String(format: "%02x", $0) }.joined() : leaf.value)
        }
    }

    var keysInFile: FacegateConfiguration.KeysInFile {
        FacegateConfiguration.KeysInFile(paths: paths, leaves: leaves.map { .init(path: $0.path, key: $0.key, value: $0.value) })
    }

    static func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }

    /// What `configuration` (the file at `path`) lost against this record, when it reads as this file cut
    /// short: it lacks all of this file's last keys, or its values are this file's in order up to one cut
    /// mid-way, where this file went on. Nil for another file, a record of another format, or an edit.
    /// An edit that removes the file's last keys or items, or shortens its last value, looks the same.
    public func cut(in configuration: FacegateConfiguration, path: String) -> Cut? {
        guard format == Self.currentFormat, configurationPath == Self.canonical(path) else { return nil }
        let accepted = keysInFile, next = AcceptedConfigurationRecord(configuration, path: path).keysInFile
        if let gone = accepted.cutShort(in: next) { return Cut(keys: gone, endsInsideAValue: false) }
        if let key = accepted.endsEarly(in: next) { return Cut(keys: [key], endsInsideAValue: true) }
        return nil
    }

    /// What a file cut short lost, by key.
    public struct Cut: Sendable, Equatable {
        /// The keys gone (all of the last ones), or the key whose values end early.
        public var keys: [String]
        public var endsInsideAValue: Bool

        /// Sections whose defaults let nobody in whom the file kept out: how the door logs, serves its kiosk
        /// and metrics, keeps its journal and takes `facegate` commands. A cut that loses only their keys is
        /// run on (said); one that loses any other (the door's deny list, schedules or relay, the offline
        /// cache switched off or tightened, liveness, the quality gate, the backend) is refused, since the
        /// defaults it would run on may let in whom the file did not (review: the door's section alone was
        /// refused, and a cut in `offline_cache` switched offline grants back on).
        static let harmlessSections: Set<String> = ["logging", "kiosk", "metrics", "journal", "control"]

        /// Whether a start refuses the file: it lost a key outside ``harmlessSections``.
        public var refusesTheStart: Bool {
            !keys.allSatisfy { key in Self.harmlessSections.contains(String(key.prefix { $0 != "." && $0 != "[" })) }
        }

        public var problem: ConfigProblem {
            let what =
                endsInsideAValue
                ? "ends inside the last values of the file the door last ran on"
                : "lacks the last keys of the file the door last ran on (\(FacegateConfiguration.KeysInFile.named(keys)))"
            return ConfigProblem(
                path: keys[0],
                message: "the file \(what), as a file cut short does (written as the power went, a full disk)"
                    + (refusesTheStart
                        ? "; if it is as you mean it, run `facegate config accept`, then start the door" : ": the door runs on it"))
        }
    }

    // MARK: - The record on disk

    /// The daemon's state folder (systemd's, the first when it names several); nil outside the unit.
    public static func daemonFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        RestingRelayRecord.folder(environment: environment)
    }

    /// The folder an installer's command reads and writes the record in: the unit's when run under it,
    /// else the packaged unit's state folder when it is there.
    public static func installerFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let folder = daemonFolder(environment: environment) { return folder }
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: packagedStateFolder, isDirectory: &isFolder) && isFolder.boolValue
            ? packagedStateFolder : nil
    }

    /// The record in `folder`; nil when there is none, or it cannot be read (a start then takes the file).
    public static func read(in folder: String) -> AcceptedConfigurationRecord? {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Self.self, from: data)
    }

    /// Replaces the record in `folder` with `configuration`'s, whole (a temporary file renamed), owner-only,
    /// and owned by the folder's owner when root writes it (`facegate config accept`).
    public static func write(_ configuration: FacegateConfiguration, path: String, in folder: String) throws {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(fileName)
        let data = try JSONEncoder().encode(AcceptedConfigurationRecord(configuration, path: path))
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(fileName).\(getpid())")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        ServiceFolderOwner.giveToTheFoldersOwner(path: temporary.path, in: folder)
        guard rename(temporary.path, url.path) == 0 else {
            let error = errno
            unlink(temporary.path)
            throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO)
        }
    }
}
