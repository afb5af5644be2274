import AsyncHTTPClient
import FacegateCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A client of the NeoCheck FaceCheck API: face records, face lists and the three
/// identifications, signed in with OAuth 2.0 and kept within the hourly call limit.
///
/// - Every call gets a bearer token from `tokens`; a 401 makes it renew the token
///   and try once more.
/// - With a `budget`, each API call spends one call from it first and is refused
///   locally (`callBudgetExhausted`) when none is left; token requests are not
///   counted (they go to the token service, not the Face API). One call is made over an empty budget:
///   the delete of a record a failed enrolment made (`deleteRecord(_:beyondBudget:)`), since a face
///   and a name left in the register cost more than one call over the count.
/// - Reads, updates and deletes are retried on transient failures (see `CloudHTTP`);
///   creations and identifications are sent once, since a retry could create a
///   second record or spend a second credit.
public struct NeoCheckClient: Sendable {
    public let configuration: NeoCheckConfiguration
    public let tokens: OAuth2TokenProvider
    public let budget: HourlyCallBudget?
    private let http: CloudHTTP
    private let base: String
    /// The service's time as its replies (the token service's too) state it, carried on the raw
    /// monotonic clock; nil unless `http` was given a clock.
    public var cloudClock: CloudClock? { http.cloudClock }

    /// - Parameter now: the monotonic clock the access token ages on (tests pass a manual one).
    public init(
        configuration: NeoCheckConfiguration, http: CloudHTTP, budget: HourlyCallBudget? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) throws(NeoCheckError) {
        let base = try configuration.validatedBase()
        self.configuration = configuration
        self.http = http
        self.base = base
        self.budget = budget
        let tokenURL = base + "/connect/token"
        let credentials = configuration.credentials
        tokens = OAuth2TokenProvider(refreshLeeway: configuration.refreshLeeway, now: now) {
            (grant: OAuth2Grant) async throws(NeoCheckError) -> OAuth2Token in
            try await Self.requestToken(grant, url: tokenURL, credentials: credentials, http: http)
        }
    }

    // MARK: Reachability

    /// Whether the service answers at all, without signing in, spending a call of the budget or
    /// sending a face: an unauthenticated GET of the token endpoint, which any live service refuses
    /// with a 4xx. Throws `serverError`/`tooManyRequests` for 5xx/429, `unreachable`/`timeout` when
    /// nothing answers.
    public func checkReachable() async throws(NeoCheckError) {
        let url = base + "/connect/token"
        let response = try await Self.send(http, idempotent: false) {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            return request
        }
        let status = Int(response.status.code)
        if status == 429 { throw NeoCheckError(.tooManyRequests, "the service is refusing calls (429)", status: status) }
        if status >= 500 { throw NeoCheckError(.serverError, "the service answered \(status)", status: status) }
    }

    // MARK: Face records

    /// Creates a face record and returns its identifier (GUID).
    public func createRecord(_ record: NeoCheckNewFaceRecord) async throws(NeoCheckError) -> String {
        guard !record.faceImage.isEmpty else { throw NeoCheckError(.invalidArgument, "the face image is empty") }
        let response = try await call(.POST, "v1/face", json: AddFaceRecordBody(record), idempotent: false)
        return try identifier(from: response, what: "face record")
    }

    /// Replaces a face record's content (see `NeoCheckFaceRecordUpdate` for how the record is named).
    public func updateRecord(_ update: NeoCheckFaceRecordUpdate) async throws(NeoCheckError) {
        guard update.identifier?.isEmpty == false || update.externalIdentifier?.isEmpty == false else {
            throw NeoCheckError(.invalidArgument, "an update names the record by identifier or external identifier")
        }
        let response = try await call(.PUT, "v1/face", json: UpdateFaceRecordBody(update), idempotent: true)
        try confirm(response, what: "face record update")
    }

    /// Deletes a face record; returns the service's boolean result. Throws `notFound` for an unknown record.
    /// - Parameter beyondBudget: made even when the hourly budget is spent (see ``HourlyCallBudget/spendBeyondLimit()``):
    ///   for taking back a record a failed enrolment made, a face and a name that must not stay in the register.
    @discardableResult
    public func deleteRecord(_ record: NeoCheckRecordReference, beyondBudget: Bool = false) async throws(NeoCheckError) -> Bool {
        let response = try await call(.DELETE, try Self.recordPath(record), idempotent: true, beyondBudget: beyondBudget)
        return try boolean(from: response)
    }

    /// Reads a face record. Throws `notFound` for an unknown record.
    public func record(_ record: NeoCheckRecordReference) async throws(NeoCheckError) -> NeoCheckFaceRecord {
        let response = try await call(.GET, try Self.recordPath(record), idempotent: true)
        return try decode(FaceRecordReply.self, from: response).record()
    }

    // MARK: Face lists

    /// Creates a face list and returns its identifier (GUID).
    public func createList(name: String, description: String? = nil) async throws(NeoCheckError) -> String {
        guard !name.isEmpty else { throw NeoCheckError(.invalidArgument, "a face list needs a name") }
        let body = FaceListBody(identifier: nil, name: name, description: description)
        let response = try await call(.POST, "v1/face/list", json: body, idempotent: false)
        return try identifier(from: response, what: "face list")
    }

    /// Renames or re-describes the face list `identifier`.
    public func updateList(identifier: String, name: String, description: String?) async throws(NeoCheckError) {
        guard !identifier.isEmpty, !name.isEmpty else {
            throw NeoCheckError(.invalidArgument, "a face list update needs the list's identifier and a name")
        }
        let body = FaceListBody(identifier: identifier, name: name, description: description)
        let response = try await call(.PUT, "v1/face/list", json: body, idempotent: true)
        try confirm(response, what: "face list update")
    }

    /// Deletes a face list; returns the service's boolean result. Throws `notFound` for an unknown list.
    @discardableResult
    public func deleteList(identifier: String) async throws(NeoCheckError) -> Bool {
        let response = try await call(.DELETE, "v1/face/list/" + (try Self.segment(identifier)), idempotent: true)
        return try boolean(from: response)
    }

    /// Reads a face list. Throws `notFound` for an unknown list.
    public func list(identifier: String) async throws(NeoCheckError) -> NeoCheckFaceList {
        let response = try await call(.GET, "v1/face/list/" + (try Self.segment(identifier)), idempotent: true)
        let list = try decode(NeoCheckFaceList.self, from: response)
        guard !list.identifier.isEmpty else { throw NeoCheckError(.malformedResponse, "the face list has no identifier") }
        return list
    }

    /// Puts a face record into a face list. Throws `notFound` when either does not exist.
    @discardableResult
    public func addRecord(_ record: NeoCheckRecordReference, toList list: NeoCheckListReference) async throws(NeoCheckError) -> Bool {
        try Self.check(record)
        try Self.check(list)
        // Adding the same record to the same list twice has the effect of once: safe to retry.
        let body = AddFaceRecordToListBody(record: record, list: list)
        let response = try await call(.POST, "v1/face/list/AddFaceRecord", json: body, idempotent: true)
        return try boolean(from: response)
    }

    // MARK: Identification

    /// 1:1 against a stored face record.
    public func identify(
        probe: [UInt8], againstRecord record: NeoCheckRecordReference, faceQA: Bool = false
    ) async throws(NeoCheckError) -> NeoCheckIdentification {
        try Self.check(record)
        var body = IdentifyRecordBody(faceImageBase64: try Self.base64(probe, "probe"), doFaceQA: faceQA)
        switch record {
        case .identifier(let id): body.faceRecordIdentifier = id
        case .externalIdentifier(let id): body.faceRecordExternalIdentifier = id
        }
        let response = try await call(.POST, "v1/face/identifyRecord", json: body, idempotent: false)
        return try decode(IdentifyReply.self, from: response).identification()
    }

    /// 1:1 against a reference image.
    public func identify(
        probe: [UInt8], againstReference reference: [UInt8], faceQA: Bool = false
    ) async throws(NeoCheckError) -> NeoCheckIdentification {
        let body = IdentifyReferenceBody(
            faceImageBase64: try Self.base64(probe, "probe"), referenceImageBase64: try Self.base64(reference, "reference"),
            doFaceQA: faceQA)
        let response = try await call(.POST, "v1/face/identifyReferenceImage", json: body, idempotent: false)
        return try decode(IdentifyReply.self, from: response).identification()
    }

    /// 1:N against the records of a face list: the call the daemon makes at the door.
    public func identify(
        probe: [UInt8], againstList list: NeoCheckListReference, faceQA: Bool = false
    ) async throws(NeoCheckError) -> NeoCheckIdentification {
        try Self.check(list)
        var body = IdentifyListBody(faceImageBase64: try Self.base64(probe, "probe"), doFaceQA: faceQA)
        switch list {
        case .identifier(let id): body.faceListId = id
        case .name(let name): body.faceListName = name
        }
        let response = try await call(.POST, "v1/face/list/identify", json: body, idempotent: false)
        return try decode(IdentifyReply.self, from: response).identification()
    }

    // MARK: Calls

    /// A call with a JSON body.
    private func call(
        _ method: HTTPMethod, _ path: String, json: some Encodable, idempotent: Bool
    ) async throws(NeoCheckError) -> APIReply {
        let body: [UInt8]
        do {
            body = [UInt8](try JSONEncoder().encode(json))
        } catch {
            throw NeoCheckError(.invalidArgument, "the request cannot be encoded as JSON")
        }
        return try await call(method, path, body: body, idempotent: idempotent)
    }

    /// Spends from the budget, authorises, sends, and renews the token once on a 401.
    private func call(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, idempotent: Bool, beyondBudget: Bool = false
    ) async throws(NeoCheckError) -> APIReply {
        let url = base + "/" + path
        var token = try await tokens.token()
        // Spent once the token is in hand: a failed sign-in costs no Face API call.
        if let budget {
            if beyondBudget { await budget.spendBeyondLimit() } else { try await budget.spend() }
        }
        // Every token the call sent or could renew with: a reply that quotes one has it cut out.
        var secrets = credentialSecrets
        var attempt = 1
        while true {
            let bearer = token
            secrets += [bearer.accessToken] + (bearer.refreshToken.map { [$0] } ?? [])
            // A retry of a read (a timeout, a gateway's 502 or 504) may have reached the service as well: the
            // service counts each request against its hour, so each retry is paid for before it goes (review:
            // one was paid for three, and the service's own limit came first). Reads only: a write's retry
            // refused by the budget would be reported as "no call was made" when its first attempt may have
            // been carried out (such calls, clean-ups and installer commands, are rare).
            var retry: (@Sendable () async throws -> Void)?
            if let budget, method == .GET { retry = { try await budget.spend() } }
            let response = try await Self.send(http, idempotent: idempotent, beforeRetry: retry) {
                var request = HTTPClientRequest(url: url)
                request.method = method
                request.headers.add(name: "Authorization", value: "Bearer " + bearer.accessToken)
                request.headers.add(name: "Accept", value: "application/json")
                if let body {
                    request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
                    request.body = .bytes(ByteBuffer(bytes: body))
                }
                return request
            }
            if response.status == .unauthorized {
                await tokens.rejected(bearer)
                guard attempt == 1 else {
                    // A renewal the service refuses too: forgotten, refresh token and all, so the next call signs in
                    // with the password grant. Kept, every later call renewed by the same refresh into a refused
                    // token, and the door was refused until a restart (review).
                    await tokens.reset()
                    throw NeoCheckError(.unauthorized, "the service refused a freshly obtained token", status: 401)
                }
                http.logger.debug("access token refused, renewing it", metadata: ["path": "\(path)"])
                token = try await tokens.token()
                attempt += 1
                continue
            }
            if response.status == .badRequest, let budget, ErrorReply.parse(response.body)?.first(saying: Self.saysHourlyLimit) != nil {
                await budget.exhaust()
            }
            return APIReply(response: response, secrets: secrets)
        }
    }

    /// A Face API reply, and the secrets its quoted text must not show.
    private struct APIReply {
        var response: CloudHTTPResponse
        var secrets: [String]
    }

    /// The account's own secrets, cut out of anything quoted from any reply.
    private var credentialSecrets: [String] { [configuration.credentials.clientSecret, configuration.credentials.password] }

    private static func send(
        _ http: CloudHTTP, idempotent: Bool, beforeRetry: (@Sendable () async throws -> Void)? = nil,
        prepare: @escaping @Sendable () -> HTTPClientRequest
    ) async throws(NeoCheckError) -> CloudHTTPResponse {
        do {
            return try await http.send(idempotent: idempotent, beforeRetry: beforeRetry, prepare: prepare)
        } catch let error as NeoCheckError {
            // The budget, spent before a retry: no call was made for it.
            throw error
        } catch let error as CloudTransportError {
            switch error.kind {
            case .timeout: throw NeoCheckError(.timeout, error.detail)
            case .responseTooLarge: throw NeoCheckError(.responseTooLarge, error.detail)
            case .unreachable: throw NeoCheckError(.unreachable, error.detail)
            }
        } catch is CancellationError {
            throw NeoCheckError(.cancelled, "the call was cancelled")
        } catch {
            throw NeoCheckError(.unreachable, "\(type(of: error))")
        }
    }

    // MARK: Token service

    static func requestToken(
        _ grant: OAuth2Grant, url: String, credentials: NeoCheckCredentials, http: CloudHTTP
    ) async throws(NeoCheckError) -> OAuth2Token {
        var form = [("client_id", credentials.clientID), ("client_secret", credentials.clientSecret)]
        var secrets: [String]
        switch grant {
        case .password:
            form = [("grant_type", "password")] + form + [("username", credentials.username), ("password", credentials.password)]
            secrets = [credentials.clientSecret, credentials.password]
        case .refreshToken(let refreshToken):
            form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)] + form
            secrets = [credentials.clientSecret, refreshToken]
        }
        // The service may quote the form back as it came, percent-encoded.
        secrets += secrets.map(percentEncoded)
        let body = formEncoded(form)
        http.logger.debug("requesting an access token", metadata: ["grant": "\(form[0].1)"])
        // A token request changes nothing on the service: safe to retry.
        let response = try await send(http, idempotent: true) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Accept", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
            return request
        }
        return try token(from: response, grant: grant, secrets: secrets)
    }

    /// How the token service's reply reads: the token, or the typed error for its status and body, with
    /// `secrets` taken out of any message it quotes. Public so this decoder can be fuzzed without a network (`Fuzz/`).
    public static func token(
        from response: CloudHTTPResponse, grant: OAuth2Grant, secrets: [String]
    ) throws(NeoCheckError) -> OAuth2Token {
        let status = Int(response.status.code)
        switch response.status {
        case .ok:
            let reply: TokenReply
            do {
                reply = try JSONDecoder().decode(TokenReply.self, from: Data(response.body))
            } catch {
                throw NeoCheckError(.malformedResponse, "the token reply is not an Authorization object", status: status)
            }
            guard !reply.accessToken.isEmpty, reply.expiresIn.isFinite, reply.expiresIn > 0, reply.expiresIn < 1e9 else {
                throw NeoCheckError(.malformedResponse, "the token reply has no token or an invalid expires_in", status: status)
            }
            // A token goes into a header (a control character there is refused before anything is sent, and
            // never answered 401, so it would be kept for its lifetime) and into the redaction of every reply.
            guard Self.canBeSent(reply.accessToken), reply.refreshToken.map(Self.canBeSent) ?? true else {
                throw NeoCheckError(
                    .malformedResponse, "the token reply has a token that is not printable ASCII or is over \(Self.longestToken) bytes",
                    status: status)
            }
            if let type = reply.tokenType, type.lowercased() != "bearer" {
                // Not quoted: the reply's text, which could carry a secret or a terminal's control codes.
                throw NeoCheckError(.malformedResponse, "the token type is not Bearer", status: status)
            }
            return OAuth2Token(
                accessToken: reply.accessToken, refreshToken: reply.refreshToken?.isEmpty == false ? reply.refreshToken : nil,
                lifetime: .milliseconds(Int64(reply.expiresIn * 1000)))
        case .badRequest, .unauthorized:
            let text = sanitized(ErrorReply.parse(response.body)?.text ?? "no message", removing: secrets)
            let lowered = text.lowercased()
            let code: NeoCheckError.Code
            if lowered.contains("unsupported grant") || lowered.contains("unsupported_grant_type") {
                code = .unsupportedGrantType
            } else if lowered.contains("invalid clientid") || lowered.contains("invalid_client") || lowered.contains("invalid client") {
                code = .invalidClient
            } else if case .refreshToken = grant {
                // The document's "Invalid ticket", but also an empty 401 or an OAuth `invalid_token`: whatever the
                // words, the refresh token got no new token, and the provider turns to the password grant.
                code = .invalidRefreshToken
            } else if lowered.contains("invalid credentials") || lowered.contains("invalid_grant")
                || lowered.contains("username") || lowered.contains("password")
            {
                code = .invalidCredentials
            } else {
                code = .badRequest
            }
            throw NeoCheckError(code, "token service: \(text)", status: status)
        case .tooManyRequests:
            throw NeoCheckError(.tooManyRequests, "token service answered 429", status: status)
        case _ where (500...599).contains(status):
            // A gateway's 502/503/504 carries its own page, not the service's JSON: quoted only when it parses.
            let text = sanitized(ErrorReply.parse(response.body)?.text ?? "no message", removing: secrets)
            throw NeoCheckError(.serverError, "token service: \(text)", status: status)
        default:
            throw NeoCheckError(.unexpectedStatus, "token service answered \(status)", status: status)
        }
    }

    /// The longest token taken: real ones are a few kilobytes at most (a signed JWT).
    static let longestToken = 16 * 1024

    /// Printable ASCII without spaces, as a bearer token is (RFC 6750's b64token is narrower still).
    static func canBeSent(_ token: String) -> Bool {
        token.utf8.count <= longestToken && token.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// `application/x-www-form-urlencoded`: everything but unreserved characters percent-encoded.
    static func formEncoded(_ fields: [(String, String)]) -> [UInt8] {
        fields.map { percentEncoded($0.0) + "=" + percentEncoded($0.1) }.joined(separator: "&").utf8.map { $0 }
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    // MARK: Replies

    private static func recordPath(_ record: NeoCheckRecordReference) throws(NeoCheckError) -> String {
        switch record {
        case .identifier(let id): "v1/face/" + (try segment(id))
        case .externalIdentifier(let id): "v1/face/externalIdentifier/" + (try segment(id))
        }
    }

    /// One path segment: never `.` or `..`, dot segments a proxy may resolve (`DELETE v1/face/..` would name
    /// another resource than a record).
    private static func segment(_ value: String) throws(NeoCheckError) -> String {
        guard !value.isEmpty else { throw NeoCheckError(.invalidArgument, "an identifier is empty") }
        guard value != ".", value != ".." else { throw NeoCheckError(.invalidArgument, "an identifier cannot be '.' or '..'") }
        return percentEncoded(value)
    }

    private static func check(_ record: NeoCheckRecordReference) throws(NeoCheckError) {
        switch record {
        case .identifier(let value), .externalIdentifier(let value):
            guard !value.isEmpty else { throw NeoCheckError(.invalidArgument, "the face record reference is empty") }
        }
    }

    private static func check(_ list: NeoCheckListReference) throws(NeoCheckError) {
        switch list {
        case .identifier(let value), .name(let value):
            guard !value.isEmpty else { throw NeoCheckError(.invalidArgument, "the face list reference is empty") }
        }
    }

    private static func base64(_ image: [UInt8], _ what: String) throws(NeoCheckError) -> String {
        guard !image.isEmpty else { throw NeoCheckError(.invalidArgument, "the \(what) image is empty") }
        return Data(image).base64EncodedString()
    }

    static func saysHourlyLimit(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.contains("per hour") || lowered.contains("maximum number of calls")
    }

    /// The typed error for a reply that is not a success.
    private func failure(_ reply: APIReply) -> NeoCheckError {
        let response = reply.response, secrets = reply.secrets
        let status = Int(response.status.code)
        let parsed = ErrorReply.parse(response.body)
        let text = parsed?.text.map { Self.sanitized($0, removing: secrets) }
        switch response.status {
        case .badRequest:
            // The hourly limit and the credits first, whatever else the reply lists: a limit read as the
            // service refusing a record would have the revocation sync revoke every record it reads.
            // Said in the message or in the listed errors alike.
            if let limit = parsed?.first(saying: Self.saysHourlyLimit) {
                return NeoCheckError(.hourlyLimitReached, Self.sanitized(limit, removing: secrets), status: status)
            }
            if let credits = parsed?.first(saying: { $0.lowercased().contains("credit") }) {
                return NeoCheckError(.insufficientCredits, Self.sanitized(credits, removing: secrets), status: status)
            }
            if let parsed, !parsed.errors.isEmpty {
                return NeoCheckError(
                    .rejected, Self.listing(text ?? "the service rejected the request", parsed.errors), status: status,
                    serviceErrors: Self.kept(parsed.errors, removing: secrets))
            }
            guard let text else { return NeoCheckError(.badRequest, "bad request, no message", status: status) }
            let lowered = text.lowercased()
            if lowered.contains("invalid content") {
                return NeoCheckError(.invalidContent, text, status: status)
            }
            return NeoCheckError(.badRequest, text, status: status)
        case .unauthorized:
            return NeoCheckError(.unauthorized, "the service refused the token", status: status)
        case .notFound:
            // The service's 404 is bare (or JSON): a page (a proxy's, a gateway's for a path it does not know)
            // says nothing about the record, and read as "not found" it would revoke every record the sync reads.
            let body = response.body
            guard body.isEmpty || (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) != nil else {
                return NeoCheckError(.unexpectedStatus, "a 404 that is not the service's (its body is not JSON)", status: status)
            }
            return NeoCheckError(.notFound, text ?? "not found", status: status)
        case .tooManyRequests:
            return NeoCheckError(.tooManyRequests, "the service answered 429", status: status)
        case _ where (500...599).contains(status):
            return NeoCheckError(.serverError, text ?? "server error \(status), no message", status: status)
        default:
            return NeoCheckError(.unexpectedStatus, "the service answered \(status)", status: status)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from reply: APIReply) throws(NeoCheckError) -> Value {
        guard reply.response.status == .ok else {
            var failure = failure(reply)
            failure.earlierAttemptMayHaveDoneIt = reply.response.earlierAttempts > 0
            throw failure
        }
        do {
            return try JSONDecoder().decode(type, from: Data(reply.response.body))
        } catch {
            // The summary may quote the reply (up to 40 characters of a value that is not a number):
            // the service's text, sanitized like its messages (found by Fuzz/, neocheck).
            throw NeoCheckError(
                .malformedResponse,
                "the reply is not the expected JSON: \(Self.sanitized(Self.summary(of: error), removing: reply.secrets))", status: 200)
        }
    }

    private func identifier(from reply: APIReply, what: String) throws(NeoCheckError) -> String {
        let created = try decode(IdentifierReply.self, from: reply)
        if let identifier = created.identifier, !identifier.isEmpty {
            return identifier
        }
        if let errors = created.errors, !errors.isEmpty {
            throw NeoCheckError(
                .rejected, Self.listing("the \(what) was not created", errors), status: 200,
                serviceErrors: Self.kept(errors, removing: reply.secrets))
        }
        throw NeoCheckError(.malformedResponse, "the reply names no \(what) identifier", status: 200)
    }

    private func confirm(_ reply: APIReply, what: String) throws(NeoCheckError) {
        // A 400 carries the same object with result false; `failure` reads its errors.
        let outcome = try decode(ResultReply.self, from: reply)
        guard outcome.result == true else {
            let errors = outcome.errors ?? []
            throw NeoCheckError(
                .rejected, Self.listing("the \(what) was refused", errors), status: 200,
                serviceErrors: Self.kept(errors, removing: reply.secrets))
        }
    }

    private func boolean(from reply: APIReply) throws(NeoCheckError) -> Bool {
        try decode(Bool.self, from: reply)
    }

    /// Replies are quoted in errors: cut them short and take out anything secret. The text is cut before
    /// the secrets are looked for too (a reply may be a megabyte), in Unicode scalars, and a beginning of a
    /// secret the cut leaves at its end goes with it (``SecretRedaction/cut(_:toScalars:secrets:)``):
    /// whatever is left after redaction came from that first part.
    static func sanitized(_ text: String, removing secrets: [String]) -> String {
        let kept = SecretRedaction.cut(text, toScalars: 4096, secrets: secrets)
        return String(SecretRedaction.redact(kept, secrets: secrets, marker: "[redacted]").prefix(300))
    }

    /// The first of the service's listed errors, each redacted and cut short: a reply may list thousands,
    /// and they reach the journal's reasons, /health and the logs.
    static func kept(_ errors: [NeoCheckServiceError], removing secrets: [String]) -> [NeoCheckServiceError] {
        errors.prefix(NeoCheckError.keptServiceErrors).map {
            NeoCheckServiceError(
                code: String(sanitized($0.code, removing: secrets).prefix(100)),
                description: String(sanitized($0.description, removing: secrets).prefix(200)))
        }
    }

    /// `message`, saying how many errors the service listed when not all of them are kept.
    static func listing(_ message: String, _ errors: [NeoCheckServiceError]) -> String {
        errors.count > NeoCheckError.keptServiceErrors
            ? message + " (\(errors.count) errors listed, the first \(NeoCheckError.keptServiceErrors) kept)" : message
    }

    private static func summary(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(type(of: error))" }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : path + ": ") + String(context.debugDescription.prefix(120))
        @unknown default:
            return "undecodable"
        }
    }
}

// MARK: Reading replies without a network

extension NeoCheckClient {
    /// The kinds of reply the Face API sends, for `interpret(_:as:)`.
    public enum ReplyKind: Sendable, CaseIterable {
        /// The three identifications.
        case identification
        /// A face record read.
        case faceRecord
        /// A face list read.
        case faceList
        /// The identifier of a created record or list.
        case createdIdentifier
        /// The result of an update.
        case confirmation
        /// The boolean of a delete or an add to a list.
        case boolean
    }

    /// How a reply reads, as the call that gets it reads it: the decoded value, or the typed error for its
    /// status and body. Public so these decoders of the service's bytes can be fuzzed without a network (`Fuzz/`).
    public func interpret(_ response: CloudHTTPResponse, as kind: ReplyKind) throws(NeoCheckError) -> any Sendable {
        let response = APIReply(response: response, secrets: credentialSecrets)
        return switch kind {
        case .identification: try decode(IdentifyReply.self, from: response).identification()
        case .faceRecord: try decode(FaceRecordReply.self, from: response).record()
        case .faceList: try decode(NeoCheckFaceList.self, from: response)
        case .createdIdentifier: try identifier(from: response, what: "face record")
        case .confirmation: try confirm(response, what: "face record update")
        case .boolean: try boolean(from: response)
        }
    }
}
