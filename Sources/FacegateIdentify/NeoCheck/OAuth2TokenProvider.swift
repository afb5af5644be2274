import FacegateCore
import Foundation
import Synchronization

/// An OAuth 2.0 access token, with what is needed to renew it.
///
/// `description` never shows the tokens themselves.
public struct OAuth2Token: Sendable, CustomStringConvertible {
    public let accessToken: String
    public let refreshToken: String?
    public let tokenType: String
    /// The lifetime the service granted (`expires_in`).
    public let lifetime: Duration
    /// When the token was received, on the monotonic clock.
    public let receivedAt: ContinuousClock.Instant
    /// When the service will stop accepting it, on the wall clock (for display).
    public let expiresAt: Date

    public init(
        accessToken: String, refreshToken: String?, tokenType: String = "Bearer", lifetime: Duration,
        receivedAt: ContinuousClock.Instant = .now, expiresAt: Date? = nil
    ) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.tokenType = tokenType
        self.lifetime = lifetime
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt ?? Date().addingTimeInterval(lifetime.timeInterval)
    }

    /// The same token, treated as already expired (the service refused it), keeping the refresh token.
    func markedExpired() -> OAuth2Token {
        OAuth2Token(
            accessToken: accessToken, refreshToken: refreshToken, tokenType: tokenType, lifetime: .zero,
            receivedAt: receivedAt, expiresAt: Date.distantPast)
    }

    public var description: String {
        "\(tokenType) token (redacted), valid \(lifetime), expires \(expiresAt)"
            + (refreshToken == nil ? ", no refresh token" : ", refreshable")
    }
}

/// Which grant to ask the token service for.
public enum OAuth2Grant: Sendable {
    /// `grant_type=password`: client id and secret, username and password.
    case password
    /// `grant_type=refresh_token` with the refresh token held.
    case refreshToken(String)
}

/// Keeps one access token for all callers and renews it before it runs out.
///
/// - A token is renewed `leeway` before `expires_in` ends, where the leeway is
///   `refreshLeeway` capped at a tenth of the lifetime (so short-lived tokens are
///   still used for most of their life).
/// - A renewal tries the refresh token first; any refusal of it (a 400 or 401, unless it says the client
///   itself is unknown) drops the refresh token and falls back to a password grant.
/// - Concurrent callers that find the token stale share one renewal: exactly one
///   token request is in flight at a time. A caller cancelled while it waits stops waiting at once
///   (`cancelled`); the renewal goes on for the others.
public actor OAuth2TokenProvider {
    public typealias Fetch = @Sendable (OAuth2Grant) async throws(NeoCheckError) -> OAuth2Token

    private let fetch: Fetch
    private let refreshLeeway: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private var current: OAuth2Token?
    private var renewal: Task<OAuth2Token, any Error>?

    /// Token requests made so far, for diagnostics.
    public private(set) var grantsRequested = 0

    /// - Parameters:
    ///   - refreshLeeway: how long before expiry to renew, at most (capped at a tenth of the lifetime).
    ///   - now: the monotonic clock tokens age on (tests pass a manual one).
    ///   - fetch: performs one token request.
    public init(
        refreshLeeway: Duration = .seconds(60), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        fetch: @escaping Fetch
    ) {
        self.refreshLeeway = refreshLeeway
        self.now = now
        self.fetch = fetch
    }

    /// A token that is valid now, renewing it first if needed.
    public func token() async throws(NeoCheckError) -> OAuth2Token {
        if let current, isFresh(current) {
            return current
        }
        let task: Task<OAuth2Token, any Error>
        if let renewal {
            task = renewal
        } else {
            let stale = current
            // The renewal keeps its result and clears itself (see `renewAndKeep`), so that it counts
            // even when every caller waiting for it has been cancelled.
            task = Task { try await self.renewAndKeep(replacing: stale) }
            renewal = task
        }
        do {
            // `task.value` ignores the waiter's cancellation: a decision under a deadline would wait out a
            // silent token service's own timeouts. Cancelling one waiter must not cancel the shared renewal either.
            return try await Self.value(of: task)
        } catch let error as NeoCheckError {
            throw error
        } catch is CancellationError {
            throw NeoCheckError(.cancelled, "stopped waiting for the access token: the call was cancelled")
        } catch {
            throw NeoCheckError(.unreachable, "token request failed: \(type(of: error))")
        }
    }

    /// `task`'s result, or `CancellationError` as soon as the calling task is cancelled (`task` goes on).
    private static func value(of task: Task<OAuth2Token, any Error>) async throws -> OAuth2Token {
        let waiter = RenewalWaiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Not waiting when already cancelled: nothing to pass the renewal's result on to.
                if waiter.wait(continuation) { Task { waiter.settle(await task.result) } }
            }
        } onCancel: {
            waiter.settle(.failure(CancellationError()))
        }
    }

    /// One renewal: its token becomes the current one, and either way the next stale caller starts another.
    private func renewAndKeep(replacing stale: OAuth2Token?) async throws(NeoCheckError) -> OAuth2Token {
        // Runs on this actor once `token()` has stored the task as `renewal` and suspended.
        defer { renewal = nil }
        let token = try await renew(replacing: stale)
        current = token
        return token
    }

    /// Tells the provider the service refused `token` (401); the next `token()` renews it.
    public func rejected(_ token: OAuth2Token) {
        if let current, current.accessToken == token.accessToken {
            self.current = current.markedExpired()
        }
    }

    /// Forgets the token entirely; the next `token()` makes a password grant.
    public func reset() {
        current = nil
    }

    private func isFresh(_ token: OAuth2Token) -> Bool {
        let leeway = min(refreshLeeway, token.lifetime / 10)
        return now() < token.receivedAt + token.lifetime - leeway
    }

    private func renew(replacing stale: OAuth2Token?) async throws(NeoCheckError) -> OAuth2Token {
        if let refreshToken = stale?.refreshToken {
            grantsRequested += 1
            do {
                let token = try await fetch(.refreshToken(refreshToken))
                // The service answers a refresh with the same refresh token, or may omit it.
                return received(token, keeping: refreshToken)
            } catch where Self.refusesRefreshToken(error) {
                // Dropped, so that a password grant that fails too is not followed by the same dead
                // refresh at every later call: the next renewal goes straight to the password grant.
                if current?.refreshToken == refreshToken { current = nil }
            }
        }
        grantsRequested += 1
        return received(try await fetch(.password), keeping: nil)
    }

    /// Whether the token service refused a refresh grant in a way a password grant may not be refused:
    /// any 400 or 401 (the document's "Invalid ticket", an OAuth `invalid_grant` or `invalid_token`, an
    /// empty 401), except one that says the client itself is unknown, which the password grant would meet too.
    static func refusesRefreshToken(_ error: NeoCheckError) -> Bool {
        if error.code == .invalidRefreshToken { return true }
        guard error.code != .invalidClient, let status = error.status else { return false }
        return status == 400 || status == 401
    }

    /// The token as this provider keeps it: aged from now on its clock, its refresh token kept when
    /// the reply left it out.
    private func received(_ token: OAuth2Token, keeping refreshToken: String?) -> OAuth2Token {
        OAuth2Token(
            accessToken: token.accessToken, refreshToken: token.refreshToken ?? refreshToken, tokenType: token.tokenType,
            lifetime: token.lifetime, receivedAt: now(), expiresAt: token.expiresAt)
    }
}

/// One caller's wait for a shared renewal: resumed once, by the renewal's result or by the caller's
/// cancellation, whichever comes first (the cancellation may come before the wait has begun).
private final class RenewalWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<OAuth2Token, any Error>?
        var outcome: Result<OAuth2Token, any Error>?
        var resumed = false
    }

    private let state = Mutex(State())

    /// Waits with `continuation`; false when the outcome came first (it is resumed with it at once).
    func wait(_ continuation: CheckedContinuation<OAuth2Token, any Error>) -> Bool {
        let early = state.withLock { state -> Result<OAuth2Token, any Error>? in
            guard let outcome = state.outcome else {
                state.continuation = continuation
                return nil
            }
            state.resumed = true
            return outcome
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func settle(_ outcome: Result<OAuth2Token, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<OAuth2Token, any Error>? in
            guard !state.resumed, state.outcome == nil else { return nil }
            guard let continuation = state.continuation else {
                state.outcome = outcome
                return nil
            }
            state.continuation = nil
            state.resumed = true
            return continuation
        }
        waiting?.resume(with: outcome)
    }
}
