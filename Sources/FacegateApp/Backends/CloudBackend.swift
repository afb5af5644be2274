import FacegateCore
import FacegateIdentify
import Foundation
import Logging
import Synchronization

/// Every cloud face-search service facegate can use, each listed once.
///
/// The configuration reader, `facegate config check` and ``DoorParts`` read this table; nothing else
/// names a backend. A new backend is one folder under `Backends/` (its ``CloudBackend`` section and its
/// `FaceSearch` adapter) plus one line here; the README's layout section has the checklist.
enum CloudBackends {
    static let all: [any CloudBackend.Type] = [NECBackend.self, NeoCheckBackend.self]

    /// Each backend's section with its defaults.
    static var defaultSections: [BackendKind: any CloudBackend] {
        Dictionary(uniqueKeysWithValues: all.map { ($0.kind, $0.init()) })
    }
}

/// A cloud backend's name: `backend.kind` in the configuration, its section's name, the journal's `backend`.
public struct BackendKind: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Only the backends in the table exist; a name nothing registered is nil.
    public init?(rawValue: String) {
        guard let registered = CloudBackends.all.first(where: { $0.kind.rawValue == rawValue }) else { return nil }
        self = registered.kind
    }

    /// For a backend's own `static let` (see its folder).
    init(registering name: String) {
        rawValue = name
    }

    public var description: String { rawValue }
}

/// One cloud backend, whole: its section of the configuration (the type's stored properties, with
/// their defaults), how that section is read and checked, its secrets, its score scale, and how its
/// client and the door's adapters (search, revocation lister, reachability) are made.
protocol CloudBackend: Sendable {
    static var kind: BackendKind { get }
    /// The section with its defaults.
    init()
    /// Reads the section's keys (every backend's section is read, chosen or not, so a typo in either is
    /// reported). Unknown keys are the caller's to reject.
    mutating func read(_ section: ConfigReader, fileIsPrivate: Bool)

    /// The scale of the scores its search returns.
    static var scoreUnit: ScoreUnit { get }
    /// A door's threshold when the file sets none, in ``scoreUnit``.
    static var defaultThreshold: Double { get }
    /// Why a door's threshold is not on this backend's scale (nil when it is). A threshold on another
    /// backend's scale lets nearly everyone in or nobody: it is refused, never clamped.
    static func thresholdProblem(_ value: Double) -> String?
    /// Why a door's threshold, on the scale, is lax enough to be said (a note, nil when it is not): far
    /// below the default, faces of different people may pass it.
    static func thresholdNote(_ value: Double) -> String?
    /// Why `id`, given in a deny list or a `subject:` schedule, cannot be an id this backend's matches carry
    /// (a note: it would match nobody, so deny nobody and restrict nobody); nil when it can.
    static func subjectIdNote(_ id: String) -> String?
    /// Why a door's minimum margin is not on this backend's scale, or nil.
    static func marginProblem(_ value: Double) -> String?
    /// Why a door's minimum margin, on the scale, is never applied (nil: it is): said as a note.
    static var marginNote: String? { get }
    /// The one tag a match of this door is proven to carry, so that a schedule for it can apply (nil: none).
    static func provenTag(of door: FacegateConfiguration.Door) -> String?
    /// What to tell an installer whose schedule names a tag the door cannot check.
    static var tagScheduleAdvice: String { get }
    /// What is wrong with the door's search scope (`tags`, `face_list`) for this backend, by key under
    /// `door`. A scope key this backend does not search by is refused: ignored, it would let in
    /// everyone the door was meant to narrow down.
    static func searchScopeProblems(of door: FacegateConfiguration.Door) -> [(key: String, message: String)]
    /// A search scope this backend takes that is wider than it may look, by key under `door`: said at every
    /// start and reload and by `config check`, not refused.
    static func searchScopeNotes(of door: FacegateConfiguration.Door) -> [(key: String, message: String)]
    /// What a door needs to search this backend at all, by key path: checked when the door starts and by
    /// `facegate config check`, not when the file is read, since the CLI reads the same file to set the
    /// cloud up before the door's search exists.
    static func doorSearchProblems(of door: FacegateConfiguration.Door) -> [ConfigProblem]

    /// Settings it cannot run without, other than secrets, by key path.
    func missingSettings() -> [ConfigProblem]
    /// Its secrets by key path; nil where the file names none.
    var secrets: [(key: String, reference: SecretReference?)] { get }
    /// Files the door writes for it while running, by key path (a call budget's state, say).
    var writtenFiles: [(key: String, path: String)] { get }
    /// What the names of the files it keeps beside each of ``writtenFiles`` add to that file's (a lock file's
    /// `.lock`), so that no other file the door writes is put there.
    var besideWrittenFiles: [String] { get }
    /// Makes the client and the door's adapters. Throws naming the key of what is wrong.
    func open(_ context: BackendOpening) throws(DaemonStartError) -> OpenedBackend
    /// What names the account and gallery its grants come from (the endpoint, and the key or user that picks
    /// the tenant), for the offline cache to tell another account's faces (it keeps only a MAC of it).
    /// Throws naming the key of a secret that cannot be read.
    func offlineAccount(_ context: BackendOpening) throws(DaemonStartError) -> [String]

    /// Equality through the table's existentials.
    func isSameSection(as other: any CloudBackend) -> Bool
}

extension CloudBackend {
    static func doorSearchProblems(of door: FacegateConfiguration.Door) -> [ConfigProblem] { [] }
    static func searchScopeNotes(of door: FacegateConfiguration.Door) -> [(key: String, message: String)] { [] }
    var writtenFiles: [(key: String, path: String)] { [] }
    var besideWrittenFiles: [String] { [] }
    static var marginNote: String? { nil }
    static func subjectIdNote(_ id: String) -> String? { nil }
}

extension CloudBackend where Self: Equatable {
    func isSameSection(as other: any CloudBackend) -> Bool { (other as? Self) == self }
}

/// What a backend is given to open its client.
struct BackendOpening: Sendable {
    var http: CloudHTTPPolicy
    var environment: [String: String]
    var logger: Logger
    /// Each secret as first read: the offline cache's account and the client are given the same value,
    /// even when its file is rotated while the door starts.
    private let read = SecretsRead()

    init(http: CloudHTTPPolicy, environment: [String: String], logger: Logger) {
        self.http = http
        self.environment = environment
        self.logger = logger
    }

    /// A secret's value; a missing or unreadable one throws naming its key, never a value.
    func secret(_ reference: SecretReference?, _ key: String, backend: BackendKind) throws(DaemonStartError) -> String {
        guard let reference else { throw DaemonStartError(key: key, "is required for backend \(backend.rawValue)") }
        if let value = read.values.withLock({ $0[key] }) { return value }
        do {
            let value = try SecretFiles.resolve(reference, environment: environment)
            read.values.withLock { $0[key] = value }
            return value
        } catch {
            throw DaemonStartError(key: key, error.description)
        }
    }

    /// A secret the file may leave out (`facegate nec` and `neocheck --config` then take it from a flag or
    /// the environment): nil when it names none; one it names and that cannot be read throws as above.
    func secretIfNamed(_ reference: SecretReference?, _ key: String, backend: BackendKind) throws(DaemonStartError) -> String? {
        guard let reference else { return nil }
        return try secret(reference, key, backend: backend)
    }

    private final class SecretsRead: Sendable {
        let values = Mutex<[String: String]>([:])
    }
}

extension CloudBackend {
    /// An endpoint as an account's name: the service's host and path, however the address is spelled (case, a
    /// final `/`), and whichever port or scheme reaches it (a proxy's port, TLS turned on are the same service).
    static func accountEndpoint(_ endpoint: String) -> String {
        let trimmed = endpoint.trimmingCharacters(in: .whitespaces)
        guard let parts = URLComponents(string: trimmed), let host = parts.host, !host.isEmpty else { return trimmed.lowercased() }
        var path = parts.path
        while path.hasSuffix("/") { path.removeLast() }
        return host.lowercased() + path
    }
}

/// A backend's client, opened: the door's search and revocation lister, and how to release it.
struct OpenedBackend: Sendable {
    /// The door's search, its register's revocations and enrolment into that register.
    var search: any FaceSearch & CloudDirectory & FaceEnrolling
    /// What it runs without (a lost call budget): logged, journaled and shown in `STATUS=` by the daemon.
    var degradations: [StartDegradation] = []
    var close: @Sendable () async -> Void
}

extension FacegateConfiguration.Backend {
    /// The chosen backend's section.
    var chosen: any CloudBackend {
        guard let section = sections[kind] else {
            // Every kind in the table has a section from the start, and no kind exists outside it
            // (``BackendKind/init(rawValue:)``): only a `static let` missing its line in the table gets here.
            preconditionFailure("backend \(kind) has no line in CloudBackends.all")
        }
        return section
    }

    /// One backend's section, by its type (`backend[NECBackend.self]`); each backend's folder gives it a name.
    subscript<Section: CloudBackend>(_ type: Section.Type) -> Section {
        get { sections[Section.kind] as? Section ?? Section() }
        set { sections[Section.kind] = newValue }
    }
}
