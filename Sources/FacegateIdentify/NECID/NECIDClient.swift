import AsyncHTTPClient
import FacegateCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Where and as whom the client talks to NEC ID.
public struct NECIDConfiguration: Sendable {
    /// Base URL of the biometric API, e.g. `https://api.id.nec.com.au` (`/v1.1` is added).
    public var endpoint: String
    /// Base URL of tenant management, e.g. `https://portal.id.nec.com.au` (`/api` is added).
    public var portalEndpoint: String?
    public var credentials: AWSCredentials
    /// The application's key, sent as `x-api-key` on gallery calls.
    public var apiKey: String?
    public var region: String
    public var service: String
    public var http: CloudHTTPPolicy

    public init(
        endpoint: String, portalEndpoint: String? = nil, credentials: AWSCredentials, apiKey: String? = nil,
        region: String = "ap-southeast-2", service: String = "execute-api", http: CloudHTTPPolicy = CloudHTTPPolicy()
    ) {
        self.endpoint = endpoint
        self.portalEndpoint = portalEndpoint
        self.credentials = credentials
        self.apiKey = apiKey
        self.region = region
        self.service = service
        self.http = http
    }
}

/// A reply decoded, with the service's own JSON kept for whoever wants to show it.
public struct NECIDReply<Value: Sendable>: Sendable {
    public var value: Value
    public var status: Int
    public var body: [UInt8]
}

/// The NEC ID client: every call of both hosts, signed with SigV4.
///
/// An actor because it learns the clock offset from "Signature expired" replies
/// and signs every later request with the corrected time.
public actor NECIDClient {
    public let configuration: NECIDConfiguration
    private let http: CloudHTTP
    private let signer: SigV4Signer
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// Seconds to add to the local clock to get the service's.
    public private(set) var clockOffset: TimeInterval = 0
    /// The service's time as its replies state it, carried on the raw monotonic clock; nil unless the
    /// service is reached over https on another machine (or the caller gave a clock).
    public nonisolated var cloudClock: CloudClock? { http.cloudClock }

    /// - Parameters:
    ///   - httpClient: owned by the caller; make one with `makeHTTPClient()`.
    ///   - now: the local clock, replaceable to test skew handling.
    ///   - cloudClock: where the service's stated time is noted; nil: a clock of its own when both
    ///     endpoints are https on another machine (`CloudEndpoint.clock(for:)`), none otherwise.
    public init(
        configuration: NECIDConfiguration, httpClient: HTTPClient, logger: Logger = Logger(label: "facegate.necid"),
        now: @escaping @Sendable () -> Date = { Date() }, cloudClock: CloudClock? = nil
    ) {
        self.configuration = configuration
        self.http = CloudHTTP(
            client: httpClient, policy: configuration.http, logger: logger,
            cloudClock: cloudClock ?? CloudEndpoint.clock(for: configuration.endpoint, configuration.portalEndpoint))
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: configuration.service)
        self.logger = logger
        self.now = now
    }

    /// An HTTP client suited to NEC ID (see `CloudHTTP.makeClient()`).
    public static func makeHTTPClient() -> HTTPClient { CloudHTTP.makeClient() }

    // MARK: Calls

    /// Sends one call and decodes its reply; the service's JSON comes back too.
    public func perform<Value>(_ operation: NECIDOperation<Value>) async throws(NECIDError) -> NECIDReply<Value> {
        var response = try await send(operation)
        if response.status == .forbidden, let serverNow = clockSkewEvidence(response) {
            let offset = serverNow.timeIntervalSince(now())
            clockOffset = offset
            logger.warning(
                "clock skew: the service's clock differs from this box's; signing with the service's time",
                metadata: ["skewSeconds": "\(Int(offset.rounded()))", "call": "\(operation.name)"])
            response = try await send(operation)
        }
        return try interpret(response, for: operation)
    }

    public func health() async throws(NECIDError) -> NECHealth { try await perform(NECIDCall.health()).value }

    public func listSubjects(
        start: Int? = nil, length: Int? = nil, direction: NECSortDirection? = nil, emptyWhenNotFound: Bool = false
    ) async throws(NECIDError) -> NECSubjectList {
        try await perform(NECIDCall.listSubjects(start: start, length: length, direction: direction, emptyWhenNotFound: emptyWhenNotFound)).value
    }

    public func registerSubject(face: [UInt8], tags: [String] = []) async throws(NECIDError) -> NECRegistration {
        try await perform(NECIDCall.registerSubject(face: face, tags: tags)).value
    }

    public func updateSubject(id: String, face: [UInt8], tags: [String] = []) async throws(NECIDError) -> NECRegistration {
        try await perform(NECIDCall.updateSubject(id: id, face: face, tags: tags)).value
    }

    public func unregisterSubject(id: String) async throws(NECIDError) {
        _ = try await perform(NECIDCall.unregisterSubject(id: id))
    }

    public func listEvents(subjectID: String) async throws(NECIDError) -> NECEventList {
        try await perform(NECIDCall.listEvents(subjectID: subjectID)).value
    }

    public func registerEvent(subjectID: String, face: [UInt8], tags: [String] = []) async throws(NECIDError) -> NECRegistration {
        try await perform(NECIDCall.registerEvent(subjectID: subjectID, face: face, tags: tags)).value
    }

    public func updateEvent(subjectID: String, eventID: String, face: [UInt8], tags: [String] = []) async throws(NECIDError) -> NECRegistration {
        try await perform(NECIDCall.updateEvent(subjectID: subjectID, eventID: eventID, face: face, tags: tags)).value
    }

    public func unregisterEvent(subjectID: String, eventID: String) async throws(NECIDError) {
        _ = try await perform(NECIDCall.unregisterEvent(subjectID: subjectID, eventID: eventID))
    }

    public func extract(image: [UInt8], limit: Int? = nil) async throws(NECIDError) -> NECExtraction {
        try await perform(NECIDCall.extract(image: image, limit: limit)).value
    }

    public func verify(face: [UInt8], probe: [UInt8]) async throws(NECIDError) -> NECVerification {
        try await perform(NECIDCall.verify(face: face, probe: probe)).value
    }

    public func verify(subjectID: String, probe: [UInt8]) async throws(NECIDError) -> NECVerification {
        try await perform(NECIDCall.verify(subjectID: subjectID, probe: probe)).value
    }

    public func search(probe: [UInt8], threshold: Int? = nil, limit: Int? = nil, tags: [String] = []) async throws(NECIDError) -> NECSearchResult {
        try await perform(NECIDCall.search(probe: probe, threshold: threshold, limit: limit, tags: tags)).value
    }

    public func listTags() async throws(NECIDError) -> [String] { try await perform(NECIDCall.listTags()).value }

    public func createTag(_ name: String) async throws(NECIDError) { _ = try await perform(NECIDCall.createTag(name)) }

    public func renameTag(_ oldName: String, to newName: String) async throws(NECIDError) {
        _ = try await perform(NECIDCall.renameTag(oldName, to: newName))
    }

    public func deleteTag(_ name: String) async throws(NECIDError) { _ = try await perform(NECIDCall.deleteTag(name)) }

    public func bulkRegister(_ registrations: [NECBulkRegistration]) async throws(NECIDError) -> NECJob {
        try await perform(NECIDCall.bulkRegister(registrations)).value
    }

    public func jobProgress(batchID: String, pagingID: String? = nil) async throws(NECIDError) -> NECJobProgress {
        try await perform(NECIDCall.jobProgress(batchID: batchID, pagingID: pagingID)).value
    }

    public func listGalleries() async throws(NECIDError) -> [NECGallery] { try await perform(NECIDCall.listGalleries()).value.galleries }

    public func gallery(id: String) async throws(NECIDError) -> NECGallery { try await perform(NECIDCall.gallery(id: id)).value }

    public func createGallery(name: String, description: String? = nil, faceMinimumQualityScore: Double? = nil, size: Int? = nil) async throws(NECIDError) -> NECGallery {
        try await perform(NECIDCall.createGallery(name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore, size: size)).value
    }

    public func updateGallery(id: String, name: String? = nil, description: String? = nil, size: Int? = nil) async throws(NECIDError) -> NECGallery {
        try await perform(NECIDCall.updateGallery(id: id, name: name, description: description, size: size)).value
    }

    public func deleteGallery(id: String) async throws(NECIDError) { _ = try await perform(NECIDCall.deleteGallery(id: id)) }

    public func listApplications() async throws(NECIDError) -> [NECApplication] {
        try await perform(NECIDCall.listApplications()).value.applications
    }

    public func application(id: String) async throws(NECIDError) -> NECApplication { try await perform(NECIDCall.application(id: id)).value }

    public func createApplication(name: String, description: String? = nil, faceMinimumQualityScore: Double? = nil, galleryID: String) async throws(NECIDError) -> NECApplication {
        try await perform(NECIDCall.createApplication(name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore, galleryID: galleryID)).value
    }

    public func updateApplication(id: String, name: String? = nil, description: String? = nil, faceMinimumQualityScore: Double? = nil) async throws(NECIDError) -> NECApplication {
        try await perform(NECIDCall.updateApplication(id: id, name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore)).value
    }

    public func deleteApplication(id: String) async throws(NECIDError) { _ = try await perform(NECIDCall.deleteApplication(id: id)) }

    // MARK: Wire

    private func url<Value>(for operation: NECIDOperation<Value>) throws(NECIDError) -> String {
        let base: String
        let prefix: String
        switch operation.host {
        case .biometric:
            base = configuration.endpoint
            prefix = "/v1.1"
        case .portal:
            guard let portal = configuration.portalEndpoint, !portal.isEmpty else {
                throw NECIDError(.validation, "no portal endpoint configured for \(operation.name)")
            }
            base = portal
            prefix = "/api"
        }
        // Keys and faces travel in the request: the daemon's configuration check holds here too, for the
        // installer's commands (the endpoint is not repeated: it may carry credentials).
        let which = operation.host == .portal ? "portal endpoint" : "endpoint"
        if let refusal = CloudEndpoint.refusal(base) { throw NECIDError(.validation, "the \(which) \(refusal)") }
        guard var components = URLComponents(string: base) else { throw NECIDError(.validation, "the \(which) is not a URL") }
        // A base that already ends in the prefix (".../v1.1") is taken as it is.
        var basePath = components.percentEncodedPath
        while basePath.hasSuffix("/") { basePath.removeLast() }
        if basePath.hasSuffix(prefix) { basePath.removeLast(prefix.count) }
        let segments = operation.pathSegments.map { SigV4Format.percentEncode($0.utf8) }
        components.percentEncodedPath = basePath + prefix + "/" + segments.joined(separator: "/")
        components.percentEncodedQuery = operation.query.isEmpty ? nil : operation.query
        guard let url = components.string else { throw NECIDError(.validation, "cannot form a URL from the \(which)") }
        return url
    }

    private func send<Value>(_ operation: NECIDOperation<Value>) async throws(NECIDError) -> CloudHTTPResponse {
        let url = try url(for: operation)
        let signer = self.signer
        let apiKey = operation.sendsAPIKey ? configuration.apiKey : nil
        let offset = clockOffset
        let now = self.now
        let body = operation.body
        let method = operation.method
        logger.debug("NEC ID call", metadata: ["call": "\(operation.name)"])
        do {
            return try await http.send(idempotent: operation.idempotent) {
                var request = HTTPClientRequest(url: url)
                request.method = method
                request.headers.add(name: "accept", value: "application/json")
                if let body {
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: body))
                }
                if let apiKey, !apiKey.isEmpty {
                    request.headers.add(name: "x-api-key", value: apiKey)
                }
                try request.signSigV4(with: signer, body: body ?? [], at: now().addingTimeInterval(offset))
                return request
            }
        } catch let error as NECIDError {
            throw error
        } catch let error as CloudTransportError {
            switch error.kind {
            case .unreachable: throw NECIDError(.unreachable, "\(operation.name): \(error.detail)")
            case .timeout: throw NECIDError(.timeout, "\(operation.name): \(error.detail)")
            case .responseTooLarge: throw NECIDError(.responseTooLarge, "\(operation.name): \(error.detail)")
            }
        } catch is CancellationError {
            throw NECIDError(.timeout, "\(operation.name): cancelled")
        } catch {
            throw NECIDError(.unreachable, "\(operation.name): \(error)")
        }
    }

    /// How a reply to `operation` reads: the decoded value, or the typed error for its status and body.
    /// Public so this decoder of the service's bytes can be fuzzed without a network (`Fuzz/`).
    public nonisolated func interpret<Value>(
        _ response: CloudHTTPResponse, for operation: NECIDOperation<Value>
    ) throws(NECIDError) -> NECIDReply<Value> {
        let status = Int(response.status.code)
        if (200..<300).contains(status) {
            do {
                let value = try operation.decodeSuccess(response.body)
                return NECIDReply(value: value, status: status, body: response.body)
            } catch {
                // The decoder's description may quote the reply (up to 40 characters of a value that is
                // not a number): the service's text, sanitized like its messages (found by Fuzz/, nec).
                // The call was carried out: a write's reply is kept, for it may name what was made.
                throw NECIDError(
                    .malformedResponse,
                    "\(operation.name): the reply is not the documented JSON (\(sanitize(describe(error))))",
                    httpStatus: status, unreadReply: operation.idempotent ? [] : response.body)
            }
        }
        if status == 404, let noMatch = operation.notFoundValue {
            // NEC ID answers in JSON, its errors too: a 404 page that is not (a proxy's, a web server's at a
            // wrong address) says nothing about who matched, and must not deny everyone as unknown unseen. Nor
            // does another's JSON: only a message naming what the call looks for (candidates, a subject) is one.
            guard (try? JSONSerialization.jsonObject(with: Data(response.body))) is [String: Any] else {
                throw NECIDError(
                    .malformedResponse, "\(operation.name): HTTP 404 without NEC ID's JSON (is the endpoint's address right?)",
                    httpStatus: status)
            }
            let message = (try? JSONDecoder().decode(NECErrorBody.self, from: Data(response.body)))?.message ?? ""
            guard Self.saysNoMatch(message, naming: operation.noMatchWords) else {
                throw NECIDError(
                    .malformedResponse,
                    "\(operation.name): HTTP 404 that is not NEC ID's no match ("
                        + (message.isEmpty ? "no message" : "\"\(sanitize(message))\"") + "; is the endpoint's address right?)",
                    httpStatus: status)
            }
            return NECIDReply(value: noMatch, status: status, body: response.body)
        }
        var failure = error(from: response, for: operation.name)
        failure.earlierAttemptMayHaveDoneIt = response.earlierAttempts > 0
        throw failure
    }

    /// Whether a 404's message is NEC ID's "no match": it names what the call looks for and says it was not found
    /// (or not verified), and quotes no path (a web framework's "No static resource v1.1/subjects." names a
    /// subject too: review).
    static func saysNoMatch(_ message: String, naming words: [String]) -> Bool {
        let lowered = message.lowercased()
        guard !lowered.contains("/"), words.contains(where: lowered.contains) else { return false }
        return lowered.contains("not ") || lowered.hasPrefix("no ")
    }

    private nonisolated func error(from response: CloudHTTPResponse, for name: String) -> NECIDError {
        let status = Int(response.status.code)
        let body = try? JSONDecoder().decode(NECErrorBody.self, from: Data(response.body))
        let message = sanitize(body?.message ?? "")
        let described = message.isEmpty ? "HTTP \(status)" : message
        if status == 403 {
            if message == "Forbidden" {
                return NECIDError(.apiKeyRejected, "\(name): the x-api-key was refused (Forbidden)", httpStatus: status)
            }
            return NECIDError(.signatureRejected, "\(name): the request signature was refused: \(described)", httpStatus: status)
        }
        if let number = body?.errorCode {
            let code = NECIDError.code(forServiceErrorCode: number) ?? .serviceError
            return NECIDError(code, "\(name): \(described)", httpStatus: status, serviceErrorCode: number)
        }
        switch status {
        case 404: return NECIDError(.notFound, "\(name): \(message.isEmpty ? "not found" : message)", httpStatus: status)
        case 400..<600: return NECIDError(.serviceError, "\(name): \(described)", httpStatus: status)
        default: return NECIDError(.malformedResponse, "\(name): unexpected HTTP \(status)", httpStatus: status)
        }
    }

    /// The service's time when a 403 says the signature is too old or too new,
    /// from the reply's `Date` header, else from the message itself. Public to be fuzzed (`Fuzz/`).
    public nonisolated func clockSkewEvidence(_ response: CloudHTTPResponse) -> Date? {
        guard let body = try? JSONDecoder().decode(NECErrorBody.self, from: Data(response.body)),
            let message = body.message,
            message.hasPrefix("Signature expired") || message.hasPrefix("Signature not yet current")
        else { return nil }
        if let header = response.headers.first(name: "date"), let date = HTTPDate.parse(header) {
            return date
        }
        // "... (20180816T040829Z - 5 min.)": the service's time is in the brackets.
        if let open = message.lastIndex(of: "("), let stamp = message[message.index(after: open)...].split(separator: " ").first {
            return HTTPDate.parseAMZ(String(stamp))
        }
        return nil
    }

    /// A key named in a message: "api" and "key(s)" (any case, joined or apart), a closing quote (plain,
    /// single or escaped), a colon or equals sign, an opening bracket and quote, each optional, then a
    /// value of at least 8 characters that is not a plain lowercase word under 20 letters (so "API key
    /// provided is invalid" keeps its words, and a key of lowercase letters only is still taken out). Every optional part is told apart by its first character, so a long run
    /// of spaces cannot be split many ways (the match stays linear).
    private static let apiKeyValue =
        #"(api[\s_-]*keys?(?:\\?["'])?\s*(?:[:=]\s*)?(?:\[\s*)?(?:\\?["'])?)(?-i:(?![a-z]{1,19}(?![^\s"'\\,;{}\[\]])))[^\s"'\\,;{}\[\]]{8,}"#
    /// How much of a message is kept before it is cleaned: errors show 300 characters of it; a reply body
    /// may be megabytes, and the patterns below are not run over all of it. Counted in Unicode scalars: one
    /// character can be millions of combining marks.
    private static let messageKept = 1_000
    /// How much of a cleaned message an error shows, in Unicode scalars.
    private static let messageShown = 300

    /// A service message fit for logs and errors: printable, bounded, keys removed.
    private nonisolated func sanitize(_ message: String) -> String {
        let secrets = [configuration.credentials.secretAccessKey, configuration.apiKey ?? "", configuration.credentials.accessKeyID]
        // Cut first, and a beginning of a secret the cut leaves at the end with it: a piece too short to be
        // recognised as one (under 8), which the redaction shrinking the text could bring into the part shown.
        // (Cutting the last (longest secret - 1) scalars instead only moved the cut: review.)
        let kept = SecretRedaction.cut(message, toScalars: Self.messageKept, secrets: secrets)
        var text = SecretRedaction.redact(kept, secrets: secrets, marker: "<redacted>")
        // NEC ID names the existing gallery's key in a Duplicate message; keys stay out of errors, however
        // the message spells it ("apiKey K", "ApiKey: K", "API key K", JSON's "apiKey":"K", "x-api-key=K").
        text = text.replacingOccurrences(of: Self.apiKeyValue, with: "$1<redacted>", options: [.regularExpression, .caseInsensitive])
        if let range = text.range(of: "Signature=") {
            text = String(text[..<range.upperBound]) + "<redacted>"
        }
        let shown = text.unicodeScalars.prefix(Self.messageShown + 1)
        return shown.count > Self.messageShown ? String(String.UnicodeScalarView(shown.prefix(Self.messageShown))) + "..." : text
    }

    private nonisolated func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): "corrupt data: \(context.debugDescription.prefix(120))"
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context): "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.valueNotFound(_, let context): "null at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "undecodable"
        }
    }
}
