import AsyncHTTPClient
import FacegateCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// How a cloud client talks HTTP: one per-request deadline, a cap on reply
/// size, and bounded retries for idempotent calls that failed transiently.
public struct CloudHTTPPolicy: Sendable {
    /// Deadline for one attempt, from sending to the last byte of the reply.
    public var requestTimeout: Duration
    /// Replies larger than this are cut off and reported, never buffered whole.
    public var maxResponseBytes: Int
    /// Attempts for an idempotent call (1 = no retry). Non-idempotent calls get one.
    public var maxAttempts: Int
    /// Delay before the first retry; doubled for each further one.
    public var initialBackoff: Duration

    public init(
        requestTimeout: Duration = .seconds(10), maxResponseBytes: Int = 4 << 20, maxAttempts: Int = 3,
        initialBackoff: Duration = .milliseconds(200)
    ) {
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
    }
}

/// A reply read in full (within the size cap).
public struct CloudHTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// How many attempts of this call failed before this reply in a way that may have been carried out (no
    /// reply in time, a gateway's 502 or 504: the request had gone), so a delete's "not found" after one may be
    /// the first attempt's doing. A connection that failed, or a 503, is not counted: nothing was carried out.
    public var earlierAttempts: Int

    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8], earlierAttempts: Int = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.earlierAttempts = earlierAttempts
    }
}

/// Failures below the level of a service's own error replies.
public struct CloudTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// No connection could be made, or it broke before a reply.
        case unreachable
        /// No complete reply within the request timeout.
        case timeout
        /// The reply was larger than the configured cap.
        case responseTooLarge
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// Sends requests under a `CloudHTTPPolicy`. Signing and auth are the caller's:
/// `prepare` runs before every attempt so each retry gets a fresh signature.
public struct CloudHTTP: Sendable {
    public let client: HTTPClient
    public let policy: CloudHTTPPolicy
    public let logger: Logger
    /// Where the time the service's replies state (their `Date` header) is noted, for checking the
    /// door's clock; nil: not noted (see `CloudEndpoint.clock(for:)`).
    public let cloudClock: CloudClock?

    /// An HTTP client for a cloud service: certificates verified (AsyncHTTPClient's default, never
    /// turned off), no redirects (a signed request or a password must not go elsewhere: a 307 keeps the
    /// body, and may lead to plain http). Every client of a cloud, the door's and the commands', is made here.
    /// - Parameters:
    ///   - connectTimeout: a second for the door (a cloud that cannot even be connected to within it is away
    ///     for a person waiting); an installer's command may wait longer.
    ///   - readTimeout: nil for none here (the door bounds each call itself); it also bounds a reply whose
    ///     body stalls after its head.
    public static func makeClient(connectTimeout: Duration = .seconds(1), readTimeout: Duration? = nil) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(
            connect: .nanoseconds(Int64(connectTimeout / .nanoseconds(1))),
            read: readTimeout.map { .nanoseconds(Int64($0 / .nanoseconds(1))) })
        // A failed connect fails the call at once (`send` has its own retries). AsyncHTTPClient's
        // default instead retries it with a backoff that grows to a minute over a long outage, and a
        // call made once the cloud is back waits that backoff out: the door would stay offline for up
        // to a minute after the cloud's return.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public init(client: HTTPClient, policy: CloudHTTPPolicy, logger: Logger, cloudClock: CloudClock? = nil) {
        self.client = client
        self.policy = policy
        self.logger = logger
        self.cloudClock = cloudClock
    }

    /// Sends one logical call, retrying only when `idempotent` and the failure is transient
    /// (no connection, timeout, 502/503/504).
    /// - Parameter beforeRetry: run before each attempt after the first; what it throws ends the call (a
    ///   service that counts every request it gets, a retry included, is paid for each before it goes).
    public func send(
        idempotent: Bool, beforeRetry: (@Sendable () async throws -> Void)? = nil, prepare: @Sendable () throws -> HTTPClientRequest
    ) async throws -> CloudHTTPResponse {
        let attempts = idempotent ? policy.maxAttempts : 1
        var backoff = policy.initialBackoff
        var attempt = 1
        var perhapsCarriedOut = 0
        while true {
            if attempt > 1, let beforeRetry { try await beforeRetry() }
            let request = try prepare()
            do {
                var response = try await once(request)
                response.earlierAttempts = perhapsCarriedOut
                if attempt < attempts, [.badGateway, .serviceUnavailable, .gatewayTimeout].contains(response.status) {
                    logger.debug("transient reply, retrying", metadata: ["status": "\(response.status.code)", "attempt": "\(attempt)"])
                    if response.status != .serviceUnavailable { perhapsCarriedOut += 1 }
                } else {
                    return response
                }
            } catch let error as CloudTransportError where error.kind != .responseTooLarge && attempt < attempts {
                logger.debug("transient failure, retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                if error.kind == .timeout { perhapsCarriedOut += 1 }
            }
            try await Task.sleep(for: backoff)
            backoff *= 2
            attempt += 1
        }
    }

    private func once(_ request: HTTPClientRequest) async throws -> CloudHTTPResponse {
        let timeout = TimeAmount.nanoseconds(
            Int64(policy.requestTimeout.components.seconds) * 1_000_000_000
                + policy.requestTimeout.components.attoseconds / 1_000_000_000)
        let deadline = NIODeadline.now() + timeout
        let client = self.client, logger = self.logger, maxBytes = policy.maxResponseBytes, cloudClock = self.cloudClock
        do {
            // AsyncHTTPClient's deadline covers the reply's head; a body that stalls after it
            // is bounded by this one, over the whole exchange. The small grace lets the
            // client's own, more specific error (connection refused, say) arrive first.
            return try await withDeadline(.now + policy.requestTimeout + .milliseconds(250)) {
                let response = try await client.execute(request, deadline: deadline, logger: logger)
                // Noted as the head arrives: the body's transfer adds nothing to the service's time.
                if let cloudClock, let stated = HTTPDate.statedTime(of: response.headers) { cloudClock.note(stated: stated) }
                var body = try await response.body.collect(upTo: maxBytes)
                let bytes = body.readBytes(length: body.readableBytes) ?? []
                return CloudHTTPResponse(status: response.status, headers: response.headers, body: bytes)
            }
        } catch is DeadlineExceeded {
            throw CloudTransportError(.timeout, "no complete reply within \(policy.requestTimeout)")
        } catch is NIOTooManyBytesError {
            throw CloudTransportError(.responseTooLarge, "reply over \(policy.maxResponseBytes) bytes")
        } catch let error as HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                throw CloudTransportError(.timeout, "no reply within \(policy.requestTimeout)")
            }
            if error == .cancelled, NIODeadline.now() >= deadline {
                throw CloudTransportError(.timeout, "no reply within \(policy.requestTimeout)")
            }
            // Its words quote the refused header in full: a key, a signature or a token.
            if "\(error)".contains("invalidHeaderField") {
                throw CloudTransportError(.unreachable, "the request was not sent: a header value has a character a header cannot carry")
            }
            throw CloudTransportError(.unreachable, Self.withoutAddress(error, of: request))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Connection refused, reset, TLS failure and the like: the service could not be reached.
            throw CloudTransportError(.unreachable, Self.withoutAddress(error, of: request))
        }
    }

    /// The transport's own words for a failure, with the cloud's address (configuration values, and
    /// what they resolve to) taken out: they name the target ("[IPv4]localhost/127.0.0.1:443", "for host
    /// …"). The host name is replaced where it stands as a name of its own (a one-word host, "nec", must
    /// not eat into other words, "connection"), then the addresses it resolved to, then its port.
    static func withoutAddress(_ error: any Error, of request: HTTPClientRequest) -> String {
        var text = "\(error)"
        guard let url = URLComponents(string: request.url), var host = url.host, !host.isEmpty else { return text }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? (url.scheme?.lowercased() == "http" ? 80 : 443)
        let replacements: [(pattern: String, with: String)] = [
            ("(?<![A-Za-z0-9.-])" + NSRegularExpression.escapedPattern(for: host) + "(?![A-Za-z0-9-]|\\.[A-Za-z0-9])", "the cloud's host"),
            // The addresses it resolved to, where the transport names a target ("host/address:port"):
            // IPv6 first (two or more colons, an IPv4 tail allowed), then IPv4.
            ("(?<=/)[0-9A-Fa-f]*(:[0-9A-Fa-f.]*){2,}(?=:\\d+)", "its address"),
            ("(?<=/)\\d{1,3}(\\.\\d{1,3}){3}(?=:\\d+)", "its address"),
            // Its port: after an address (":443") and in a resolver's words ("port 443").
            (":\(port)(?![0-9])", ""),
            ("(?<![A-Za-z])port \(port)(?![0-9])", "its port"),
        ]
        for (pattern, replacement) in replacements {
            guard let expression = try? NSRegularExpression(pattern: pattern, options: .caseInsensitive) else { continue }
            text = expression.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: NSRegularExpression.escapedTemplate(for: replacement))
        }
        return text
    }
}
