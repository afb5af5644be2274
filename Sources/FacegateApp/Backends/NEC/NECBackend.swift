import AsyncHTTPClient
import FacegateCore
import FacegateIdentify
import Foundation
import Logging

extension BackendKind {
    /// NEC ID: `POST /v1.1/face/search` over tags, scores 0...9999, AWS SigV4 plus `x-api-key`.
    public static let nec = BackendKind(registering: "nec")
}

/// NEC ID's section of the configuration (`backend.nec`) and how the door opens its client.
public struct NECBackend: CloudBackend, Equatable {
    static let kind = BackendKind.nec

    public var endpoint = "https://api.id.nec.com.au"
    public var region = "ap-southeast-2"
    public var accessKey: SecretReference?
    public var secretKey: SecretReference?
    public var apiKey: SecretReference?

    public init() {}

    mutating func read(_ section: ConfigReader, fileIsPrivate: Bool) {
        endpoint = section.endpoint("endpoint", default: endpoint)
        region = section.string("region", default: region)
        // A quoted empty value is no region: every signature would name none and every call be refused.
        if region.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            section.problem("must not be empty: the AWS region NEC ID's signatures name (such as ap-southeast-2)", key: "region")
        }
        accessKey = section.secret("access_key", fileIsPrivate: fileIsPrivate)
        secretKey = section.secret("secret_key", fileIsPrivate: fileIsPrivate)
        apiKey = section.secret("api_key", fileIsPrivate: fileIsPrivate)
    }

    static let scoreUnit = ScoreUnit.necScore
    static let defaultThreshold = 7000.0

    static func thresholdProblem(_ value: Double) -> String? {
        (1000...9999).contains(value)
            ? nil
            : "must be within 1000...9999: NEC ID scores run 0...9999 (default 7000); under 1000 is a threshold on NeoCheck's 0...100 scale or a fraction"
    }

    static func thresholdNote(_ value: Double) -> String? {
        value < 5000 ? "is far below NEC ID's default of 7000: faces of different people may pass it" : nil
    }

    static func marginProblem(_ value: Double) -> String? {
        (0...9999).contains(value) ? nil : "must be within 0...9999, in NEC ID score points"
    }

    /// NEC does not say which tags a match carries: only a search over exactly one tag proves it.
    static func provenTag(of door: FacegateConfiguration.Door) -> String? {
        door.tags.count == 1 ? door.tags[0] : nil
    }

    static let tagScheduleAdvice =
        "with NEC ID a tag schedule needs the door to search exactly that one tag (NEC does not say which tags a match carries); use subject schedules"

    static func searchScopeProblems(of door: FacegateConfiguration.Door) -> [(key: String, message: String)] {
        var problems: [(key: String, message: String)] = []
        if door.tags.count > 64 { problems.append(("tags", "NEC ID searches at most 64 tags")) }
        if door.faceList != nil { problems.append(("face_list", "NEC ID has no face lists: a door's search is narrowed by tags")) }
        return problems
    }

    /// A search without tags is a search of every subject the application (its API key) holds, enrolled
    /// for any door or none: allowed (one door to an application), never silent.
    static func searchScopeNotes(of door: FacegateConfiguration.Door) -> [(key: String, message: String)] {
        door.tags.isEmpty
            ? [("tags", "is empty: NEC ID then searches every subject of the application (the API key's), whoever enrolled them and for whichever door; name the door's tags to narrow it")]
            : []
    }

    func missingSettings() -> [ConfigProblem] { [] }

    var secrets: [(key: String, reference: SecretReference?)] {
        [("backend.nec.access_key", accessKey), ("backend.nec.secret_key", secretKey), ("backend.nec.api_key", apiKey)]
    }

    /// NEC ID's API key picks the application, and with it the gallery, on a shared endpoint. (Not the access
    /// key: rotating it keeps the tenant.)
    func offlineAccount(_ context: BackendOpening) throws(DaemonStartError) -> [String] {
        [Self.accountEndpoint(endpoint), try context.secret(apiKey, "backend.nec.api_key", backend: Self.kind)]
    }

    /// The door's account as `facegate nec --config` takes it: the endpoint and region, and each secret the
    /// file names, read as the daemon reads it (`credential:NAME` from `environment`'s CREDENTIALS_DIRECTORY).
    /// A secret the file names and that cannot be read throws naming its key, never a value.
    public func account(environment: [String: String]) throws(DaemonStartError) -> Account {
        let context = BackendOpening(http: CloudHTTPPolicy(), environment: environment, logger: Logger(label: "facegate.nec"))
        return Account(
            endpoint: endpoint, region: region, accessKey: try context.secretIfNamed(accessKey, "backend.nec.access_key", backend: Self.kind),
            secretKey: try context.secretIfNamed(secretKey, "backend.nec.secret_key", backend: Self.kind),
            apiKey: try context.secretIfNamed(apiKey, "backend.nec.api_key", backend: Self.kind))
    }

    /// What ``account(environment:)`` reads; each secret nil when the file names none.
    public struct Account: Sendable {
        public var endpoint: String
        public var region: String
        public var accessKey: String?
        public var secretKey: String?
        public var apiKey: String?
    }

    func open(_ context: BackendOpening) throws(DaemonStartError) -> OpenedBackend {
        let configuration = NECIDConfiguration(
            endpoint: endpoint,
            credentials: AWSCredentials(
                accessKeyID: try context.secret(accessKey, "backend.nec.access_key", backend: Self.kind),
                secretAccessKey: try context.secret(secretKey, "backend.nec.secret_key", backend: Self.kind)),
            apiKey: try context.secret(apiKey, "backend.nec.api_key", backend: Self.kind), region: region, http: context.http)
        let httpClient = CloudHTTP.makeClient()
        let search = NECFaceSearch(
            client: NECIDClient(configuration: configuration, httpClient: httpClient, logger: context.logger), logger: context.logger)
        return OpenedBackend(search: search, close: { try? await httpClient.shutdown() })
    }
}

extension FacegateConfiguration.Backend {
    /// NEC ID's section, `backend.nec`.
    public var nec: NECBackend {
        get { self[NECBackend.self] }
        set { self[NECBackend.self] = newValue }
    }
}
