import FacegateCore
import Foundation

/// Settings of the NeoCheck FaceCheck emulator.
public struct NeoCheckEmulatorConfiguration: Sendable {
    /// The one API client and user the emulated account has.
    public var clientID: String
    public var clientSecret: String
    public var username: String
    public var password: String
    /// Where face records, lists and credits are kept (`neocheck.json`).
    public var stateDirectory: URL
    /// `expires_in` of the access tokens issued.
    public var tokenLifetime: Duration
    /// The service's limit of Face API calls per hour for the user.
    public var callsPerHour: Int
    /// Sets the identifications the account can pay for; nil keeps the state folder's
    /// count (no limit in a new folder).
    public var credits: Int?
    /// Larger request bodies are refused.
    public var maxRequestBytes: Int
    /// Whether identifications compare disabled records too. The document does not say whether the
    /// service skips them; by default the emulator does (what `enabled` suggests), and with this set
    /// it plays a service that does not, for tests of a client that must not trust it to.
    public var identifiesDisabledRecords: Bool
    /// The monotonic clock tokens expire and the hourly limit counts on; tests pass a manual one.
    public var now: @Sendable () -> ContinuousClock.Instant

    public init(
        clientID: String, clientSecret: String, username: String, password: String, stateDirectory: URL,
        tokenLifetime: Duration = .seconds(3600), callsPerHour: Int = 3600, credits: Int? = nil,
        maxRequestBytes: Int = 16 << 20, identifiesDisabledRecords: Bool = false,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.username = username
        self.password = password
        self.stateDirectory = stateDirectory
        self.tokenLifetime = tokenLifetime
        self.callsPerHour = callsPerHour
        self.credits = credits
        self.maxRequestBytes = maxRequestBytes
        self.identifiesDisabledRecords = identifiesDisabledRecords
        self.now = now
    }
}

/// The state of an emulated NeoCheck FaceCheck account, and what it answers.
///
/// Tokens live in memory (a restart signs everyone out); records, lists and
/// credits live in the state folder. The hourly limit counts every authorised
/// Face API call in a sliding hour; token requests are not counted. A credit is
/// spent by each identification that compared faces (not by one that found no
/// face, or had nothing to compare with).
///
/// Where the API document is silent, the emulator chooses: the update bodies
/// name their record or list by `identifier` (a record also by `externalIdentifier`);
/// a record is in at most one list (it has one `faceListId`), so adding it to a
/// list moves it; identifying against an unknown record or list answers 404;
/// ErrorMessage objects are `{"message": ...}`; face QA is laid out as
/// `{faceRectangle, featurePoints, imageFeatures, checks}` (see `NeoCheckMatching`). Counters
/// and the revoke methods are there for tests that need to see or force what
/// the real service does on its own (a token rejected before its expiry, say).
public actor NeoCheckEmulator {
    public nonisolated let configuration: NeoCheckEmulatorConfiguration
    nonisolated let analyzer: any FaceAnalyzing
    /// The face core blocks for tens of milliseconds an image: it runs here, off the cooperative pool.
    nonisolated let faceWork = BlockingWorkQueue(label: "facegate.emulator.neocheck.faces")
    let store: StateFile<NeoCheckEmulatorStore>
    private var accessTokens: [String: ContinuousClock.Instant] = [:]
    private var refreshTokens: Set<String> = []
    private var callTimes: [ContinuousClock.Instant] = []

    /// Requests to `connect/token`, by `grant_type` as sent.
    public private(set) var tokenRequests: [String: Int] = [:]
    /// Authorised Face API calls (those that count against the hourly limit).
    public private(set) var apiCalls = 0

    public init(configuration: NeoCheckEmulatorConfiguration, analyzer: any FaceAnalyzing) async throws {
        guard configuration.callsPerHour > 0, configuration.tokenLifetime > .zero else {
            throw NeoCheckEmulatorError("calls per hour and token lifetime must be positive")
        }
        if let credits = configuration.credits, credits < 0 {
            throw NeoCheckEmulatorError("credits cannot be negative")
        }
        self.configuration = configuration
        self.analyzer = analyzer
        store = try StateFile(directory: configuration.stateDirectory, name: "neocheck.json", initial: NeoCheckEmulatorStore())
        if let credits = configuration.credits {
            try await store.update { $0.credits = credits }
        }
    }

    /// Credits left, nil when unlimited.
    public var credits: Int? {
        get async { await store.value.credits }
    }

    /// Makes every access token invalid at once, as a server-side expiry or revocation would.
    public func revokeAccessTokens() {
        accessTokens.removeAll()
    }

    /// Makes every refresh token invalid ("Invalid ticket" on the next refresh).
    public func revokeRefreshTokens() {
        refreshTokens.removeAll()
    }

    /// Whether access tokens issued for a refresh grant are refused by the Face API (as a service whose
    /// user's rights changed may refuse those minted from an old refresh token), while a password grant's work.
    private(set) var refusesRefreshedTokens = false

    /// From now on, access tokens a refresh grant issues are refused (401) by every Face API call.
    public func refuseTokensFromRefreshGrants(_ refuse: Bool = true) {
        refusesRefreshedTokens = refuse
    }

    /// Record creations still to be saved and then answered 500, as a service that fails between its
    /// write and its reply does: the record exists, and the caller is not told its identifier.
    private(set) var creationsFailingAfterSave = 0

    /// The next `count` record creations (`POST v1/face`) are saved, then answered 500 Internal Error.
    public func failRecordCreationsAfterSaving(_ count: Int) {
        creationsFailingAfterSave = max(0, count)
    }

    /// Takes one of the creations to fail after saving, if any are left.
    func takeCreationFailure() -> Bool {
        guard creationsFailingAfterSave > 0 else { return false }
        creationsFailingAfterSave -= 1
        return true
    }

    // MARK: Token service

    enum TokenOutcome: Sendable {
        case issued(AuthorizationReply)
        case refused(String)
    }

    func grant(_ form: [String: String]) -> TokenOutcome {
        let grantType = form["grant_type"] ?? ""
        tokenRequests[grantType.isEmpty ? "(none)" : String(grantType.prefix(40)), default: 0] += 1
        guard form["client_id"] == configuration.clientID, form["client_secret"] == configuration.clientSecret else {
            return .refused("Invalid ClientId")
        }
        let refreshToken: String
        switch grantType {
        case "password":
            guard form["username"] == configuration.username, form["password"] == configuration.password else {
                return .refused("Invalid credentials")
            }
            refreshToken = Self.randomToken()
            refreshTokens.insert(refreshToken)
        case "refresh_token":
            guard let presented = form["refresh_token"], refreshTokens.contains(presented) else {
                return .refused("Invalid ticket")
            }
            // The document: a new access token "and the same refresh_token".
            refreshToken = presented
        default:
            return .refused("Unsupported grant type")
        }
        let now = configuration.now()
        accessTokens = accessTokens.filter { $0.value > now }
        let accessToken = Self.randomToken()
        if !(grantType == "refresh_token" && refusesRefreshedTokens) {
            accessTokens[accessToken] = now + configuration.tokenLifetime
        }
        return .issued(
            AuthorizationReply(
                access_token: accessToken, expires_in: Int(configuration.tokenLifetime.components.seconds),
                id_token: Self.randomToken(), refresh_token: refreshToken))
    }

    // MARK: Admission

    enum Admission: Sendable {
        case admitted
        case unauthorized
        case overHourlyLimit
    }

    /// Checks the bearer token and counts the call against the hourly limit.
    func admit(authorization: String?) -> Admission {
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return .unauthorized
        }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let now = configuration.now()
        guard let expiry = accessTokens[token], now < expiry else {
            return .unauthorized
        }
        callTimes.removeAll { now - $0 >= .seconds(3600) }
        guard callTimes.count < configuration.callsPerHour else {
            return .overHourlyLimit
        }
        callTimes.append(now)
        apiCalls += 1
        return .admitted
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Why the emulator cannot start.
public struct NeoCheckEmulatorError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
