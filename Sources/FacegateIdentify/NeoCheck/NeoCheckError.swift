import FacegateCore

/// Why a NeoCheck FaceCheck call did not give an answer.
///
/// Messages never hold a token, password or client secret: service replies are
/// quoted only after the credentials have been cut out of them.
public struct NeoCheckError: Error, CloudCallFailure, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The endpoint or credentials given to the client cannot be used.
        case invalidConfiguration
        /// An argument of the call cannot be sent (an empty identifier, say); no call was made.
        case invalidArgument
        /// The token service does not know the client id (or the secret is wrong).
        case invalidClient
        /// The token service does not support the grant type sent.
        case unsupportedGrantType
        /// The username or password was rejected.
        case invalidCredentials
        /// The refresh token was rejected ("Invalid ticket"); the provider falls back to a password grant.
        case invalidRefreshToken
        /// 401 even with a freshly obtained token.
        case unauthorized
        /// 404: the face record or face list does not exist.
        case notFound
        /// 400 with a list of `{code, description}` errors (record and list calls).
        case rejected
        /// 400 "Invalid content": the service could not use what was sent.
        case invalidContent
        /// 400: the service's limit of calls per hour has been reached.
        case hourlyLimitReached
        /// The client-side hourly budget is spent; no call was made.
        case callBudgetExhausted
        /// 400 "Insufficient credits": the account cannot pay for an identification.
        case insufficientCredits
        /// Any other 400.
        case badRequest
        /// 500 from the service, or any other 5xx (a gateway's 502/503/504 in front of it).
        case serverError
        /// 429: the service or a gateway in front of it asks for fewer requests.
        case tooManyRequests
        /// A status the API does not document for the call.
        case unexpectedStatus
        /// The reply could not be understood (not JSON, wrong types, values out of range).
        case malformedResponse
        /// No connection, or it broke before a reply.
        case unreachable
        /// No complete reply within the request timeout.
        case timeout
        /// The reply was larger than the configured cap.
        case responseTooLarge
        /// The calling task was cancelled.
        case cancelled
    }

    public let code: Code
    public let message: String
    /// The HTTP status of the reply, when there was one.
    public let status: Int?
    /// The service's own error list, for `.rejected`.
    public let serviceErrors: [NeoCheckServiceError]
    /// For the hourly limits: how long until one call is affordable again, when known.
    public let retryAfter: Duration?
    /// An earlier attempt of this (idempotent, retried) call got no answer and may have been carried out:
    /// a delete's `notFound` then may be that attempt's doing.
    public var earlierAttemptMayHaveDoneIt = false

    public init(
        _ code: Code, _ message: String, status: Int? = nil, serviceErrors: [NeoCheckServiceError] = [],
        retryAfter: Duration? = nil
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.serviceErrors = serviceErrors
        self.retryAfter = retryAfter
    }

    /// How many of the service's listed errors an error keeps and shows.
    public static let keptServiceErrors = 8
    /// The most characters of the service's listed errors a description shows.
    static let shownServiceErrorCharacters = 1000

    public var description: String {
        var text = "NeoCheck \(code.rawValue): \(message)"
        if let status { text += " (HTTP \(status))" }
        if !serviceErrors.isEmpty {
            // Bounded here too: the description reaches decision reasons, /health and log lines.
            var listed = serviceErrors.prefix(Self.keptServiceErrors).map { "\($0.code): \($0.description)" }.joined(separator: "; ")
            if listed.count > Self.shownServiceErrorCharacters { listed = listed.prefix(Self.shownServiceErrorCharacters) + "…" }
            let more = serviceErrors.count - Self.keptServiceErrors
            text += " [" + listed + (more > 0 ? "; \(more) more" : "") + "]"
        }
        return text
    }

    /// Whether retrying the same call later may succeed without any change to it.
    public var isTransient: Bool {
        switch code {
        case .unreachable, .timeout, .serverError, .tooManyRequests, .hourlyLimitReached, .callBudgetExhausted: true
        default: false
        }
    }

    /// Whether a write may have been carried out although no usable answer came: no reply in time, a
    /// connection that failed (this client cannot tell whether the request had gone), a 5xx (the service may
    /// fail between its write and its reply), a 2xx that could not be read.
    public var mayHaveBeenCarriedOut: Bool {
        switch code {
        // A reply too large to read came, so the request was taken, whatever it said (as NEC ID's).
        case .timeout, .unreachable, .serverError, .cancelled, .responseTooLarge: true
        case .malformedResponse, .unexpectedStatus: status.map { (200..<300).contains($0) } ?? false
        default: false
        }
    }

    public static func == (lhs: NeoCheckError, rhs: NeoCheckError) -> Bool { lhs.code == rhs.code }
}

/// One entry of the error list the record and list calls answer with.
public struct NeoCheckServiceError: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: String
    public var description: String

    public init(code: String, description: String) {
        self.code = code
        self.description = description
    }
}
