import AsyncHTTPClient
import FacegateCore
import FacegateIdentify
import Foundation
import Logging

extension BackendKind {
    /// NeoCheck FaceCheck: `POST v1/face/list/identify` over a face list, confidence 0...100, OAuth2.
    public static let neocheck = BackendKind(registering: "neocheck")
}

/// NeoCheck's section of the configuration (`backend.neocheck`) and how the door opens its client.
public struct NeoCheckBackend: CloudBackend, Equatable {
    static let kind = BackendKind.neocheck

    public var endpoint = "https://neocheck.net/api"
    public var clientId: String?
    public var clientSecret: SecretReference?
    public var username: String?
    public var password: SecretReference?
    /// The service's per-user hourly call limit.
    public var callsPerHour = 3600
    /// Where the client-side hourly budget is kept across restarts.
    public var budgetStatePath = "/var/lib/facegate/neocheck-budget.json"
    var writtenFiles: [(key: String, path: String)] { [("backend.neocheck.budget_state", budgetStatePath)] }
    var besideWrittenFiles: [String] { [HourlyCallBudget.lockSuffix] }

    public init() {}

    mutating func read(_ section: ConfigReader, fileIsPrivate: Bool) {
        endpoint = section.endpoint("endpoint", default: endpoint)
        // A quoted empty (or blank) value is none: `config check` asks for it, rather than every sign-in
        // failing at the door.
        clientId = section.string("client_id").flatMap(Self.unlessBlank)
        clientSecret = section.secret("client_secret", fileIsPrivate: fileIsPrivate)
        username = section.string("username").flatMap(Self.unlessBlank)
        password = section.secret("password", fileIsPrivate: fileIsPrivate)
        callsPerHour = section.int("calls_per_hour", default: callsPerHour, in: 1...1_000_000)
        budgetStatePath = section.string("budget_state", default: budgetStatePath)
        // As the journal's and the cache's: the unit runs the daemon in a read-only `/`, where a relative file is not written.
        if !budgetStatePath.hasPrefix("/") { section.problem("must be an absolute path", key: "budget_state") }
    }

    private static func unlessBlank(_ value: String) -> String? {
        value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : value
    }

    static let scoreUnit = ScoreUnit.neoCheckConfidence
    static let defaultThreshold = 80.0

    static func thresholdProblem(_ value: Double) -> String? {
        (1...100).contains(value)
            ? nil
            : "must be within 1...100: NeoCheck confidence is a percentage (default 80); over 100 is a threshold on NEC ID's 0...9999 scale, under 1 a fraction"
    }

    /// NeoCheck names a match by its face record's GUID, never an external id (an HR number): an entry
    /// written as one matches nobody.
    static func subjectIdNote(_ id: String) -> String? {
        UUID(uuidString: id) == nil
            ? "names an id that is not a NeoCheck record id (a GUID): NeoCheck names a match by its record's GUID, so it matches nobody"
            : nil
    }

    static func thresholdNote(_ value: Double) -> String? {
        value < 50 ? "is far below NeoCheck's usual 80: faces of different people may pass it" : nil
    }

    static func marginProblem(_ value: Double) -> String? {
        (0...100).contains(value) ? nil : "must be within 0...100, in NeoCheck confidence points"
    }

    /// NeoCheck's identification names one person, never a second with their score: a margin is read and
    /// never applied, so a look-alike is not refused while the file says it would be. Said, not refused: a
    /// file that ran before still runs.
    static let marginNote: String? =
        "has no effect with NeoCheck: its identification names one person, with no second score to keep a margin from"


    /// NeoCheck's only "tag" is the face list the door searches.
    static func provenTag(of door: FacegateConfiguration.Door) -> String? { door.faceList }

    static let tagScheduleAdvice = "with NeoCheck the only tag is the door's face_list"

    static func searchScopeProblems(of door: FacegateConfiguration.Door) -> [(key: String, message: String)] {
        door.tags.isEmpty ? [] : [("tags", "NeoCheck has no tags: a door's search is narrowed by its face_list")]
    }

    /// NeoCheck identifies within one face list: without one every search fails and every visit is an
    /// error, a door that never opens while it looks configured.
    static func doorSearchProblems(of door: FacegateConfiguration.Door) -> [ConfigProblem] {
        guard (door.faceList ?? "").trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        return [ConfigProblem(path: "door.face_list", message: "is needed: NeoCheck identifies within one face list (its id or name)")]
    }

    func missingSettings() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if clientId == nil { problems.append(ConfigProblem(path: "backend.neocheck.client_id", message: "is needed")) }
        if username == nil { problems.append(ConfigProblem(path: "backend.neocheck.username", message: "is needed")) }
        return problems
    }

    var secrets: [(key: String, reference: SecretReference?)] {
        [("backend.neocheck.client_secret", clientSecret), ("backend.neocheck.password", password)]
    }

    /// A NeoCheck user's records and face lists are its own (list names repeat across accounts).
    func offlineAccount(_ context: BackendOpening) throws(DaemonStartError) -> [String] {
        guard let username else { throw DaemonStartError(key: "backend.neocheck", "client_id and username are required") }
        return [Self.accountEndpoint(endpoint), username]
    }

    /// The door's account as `facegate neocheck --config` takes it: the endpoint, client id, user name, the
    /// hourly budget's file and limit (so that the installer's calls count in the door's budget), and each
    /// secret the file names, read as the daemon reads it (`credential:NAME` from `environment`'s
    /// CREDENTIALS_DIRECTORY). A secret the file names and that cannot be read throws naming its key, never a value.
    public func account(environment: [String: String]) throws(DaemonStartError) -> Account {
        let context = BackendOpening(http: CloudHTTPPolicy(), environment: environment, logger: Logger(label: "facegate.neocheck"))
        return Account(
            endpoint: endpoint, clientId: clientId,
            clientSecret: try context.secretIfNamed(clientSecret, "backend.neocheck.client_secret", backend: Self.kind), username: username,
            password: try context.secretIfNamed(password, "backend.neocheck.password", backend: Self.kind), callsPerHour: callsPerHour,
            budgetStatePath: budgetStatePath)
    }

    /// What ``account(environment:)`` reads; each setting nil when the file gives none.
    public struct Account: Sendable {
        public var endpoint: String
        public var clientId: String?
        public var clientSecret: String?
        public var username: String?
        public var password: String?
        public var callsPerHour: Int
        public var budgetStatePath: String
    }

    func open(_ context: BackendOpening) throws(DaemonStartError) -> OpenedBackend {
        guard let endpointURL = URL(string: endpoint) else {
            throw DaemonStartError(key: "backend.neocheck.endpoint", "is not a URL")
        }
        guard let clientId, let username else {
            throw DaemonStartError(key: "backend.neocheck", "client_id and username are required")
        }
        let credentials = NeoCheckCredentials(
            clientID: clientId, clientSecret: try context.secret(clientSecret, "backend.neocheck.client_secret", backend: Self.kind),
            username: username, password: try context.secret(password, "backend.neocheck.password", backend: Self.kind))
        let httpClient = CloudHTTP.makeClient()
        do {
            var degradations: [StartDegradation] = []
            let budget = try HourlyCallBudget(callsPerHour: callsPerHour, stateFile: URL(fileURLWithPath: budgetStatePath))
            if let problem = budget.stateProblem {
                // The budget guards the service's cost, not the door: a lost count starts as an hour spent
                // evenly, calls coming back at the hourly rate (see HourlyCallBudget), and the door carries on.
                let degradation = StartDegradation(
                    key: "backend.neocheck.budget_state", detail: "call budget state \(problem.rawValue): started with the hour spent")
                context.logger.warning(
                    "call budget state not usable; starting with the hour's calls spent",
                    metadata: ["key": "\(degradation.key)", "cause": "\(problem.rawValue)"])
                degradations.append(degradation)
            }
            let client = try NeoCheckClient(
                configuration: NeoCheckConfiguration(endpoint: endpointURL, credentials: credentials),
                http: CloudHTTP(
                    client: httpClient, policy: context.http, logger: context.logger,
                    cloudClock: CloudEndpoint.clock(for: endpointURL.absoluteString)),
                budget: budget)
            return OpenedBackend(
                search: NeoCheckFaceSearch(client: client), degradations: degradations, close: { try? await httpClient.shutdown() })
        } catch {
            try? httpClient.syncShutdown()
            throw DaemonStartError(key: "backend.neocheck", error.description)
        }
    }
}

extension FacegateConfiguration.Backend {
    /// NeoCheck's section, `backend.neocheck`.
    public var neoCheck: NeoCheckBackend {
        get { self[NeoCheckBackend.self] }
        set { self[NeoCheckBackend.self] = newValue }
    }
}
