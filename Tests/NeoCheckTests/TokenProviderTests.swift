import FacegateIdentify
import FacegateTesting
import Foundation
import Synchronization
import Testing

/// The token provider on its own, with a token service played by an injected fetch and a manual clock:
/// what it does with refusals and with callers that give up.
@Suite("OAuth2 token provider", .timeLimit(.minutes(1)))
struct TokenProviderTests {
    /// The grants asked for, in order: "password" or "refresh".
    final class Grants: Sendable {
        private let asked = Mutex<[String]>([])
        var all: [String] { asked.withLock { $0 } }

        func note(_ grant: OAuth2Grant) {
            asked.withLock { asked in
                switch grant {
                case .password: asked.append("password")
                case .refreshToken: asked.append("refresh")
                }
            }
        }
    }

    @Test(
        "a refresh refused with any 400 or 401 drops the refresh token: a password grant that fails too is not followed by the dead refresh again",
        arguments: [
            NeoCheckError(.badRequest, "token service: no message", status: 401),
            NeoCheckError(.badRequest, "token service: invalid_token", status: 400),
            NeoCheckError(.invalidRefreshToken, "token service: Invalid ticket", status: 400),
        ])
    func refusedRefreshIsDropped(refusal: NeoCheckError) async throws {
        let clock = ManualClock()
        let grants = Grants()
        let provider = OAuth2TokenProvider(now: { clock.monotonicNow }) { grant throws(NeoCheckError) in
            grants.note(grant)
            switch (grant, grants.all.count) {
            case (.password, 1): return OAuth2Token(accessToken: "first-access", refreshToken: "dead-refresh", lifetime: .seconds(60))
            case (.refreshToken, _): throw refusal
            // The password grant right after the refusal meets a service that is briefly away.
            case (.password, 3): throw NeoCheckError(.unreachable, "connection refused")
            case (.password, _): return OAuth2Token(accessToken: "second-access", refreshToken: nil, lifetime: .seconds(60))
            }
        }
        _ = try await provider.token()
        clock.advance(by: 61)
        let failed = await #expect(throws: NeoCheckError.self) { try await provider.token() }
        #expect(failed?.code == .unreachable)
        #expect(grants.all == ["password", "refresh", "password"])
        let token = try await provider.token()
        #expect(token.accessToken == "second-access")
        #expect(grants.all == ["password", "refresh", "password", "password"], "the dead refresh token is not tried again")
    }

    @Test("a refresh refused because the client is unknown is not followed by a password grant (it would be refused alike)")
    func unknownClientIsNotRetriedWithThePassword() async throws {
        let clock = ManualClock()
        let grants = Grants()
        let provider = OAuth2TokenProvider(now: { clock.monotonicNow }) { grant throws(NeoCheckError) in
            grants.note(grant)
            if case .refreshToken = grant { throw NeoCheckError(.invalidClient, "token service: Invalid ClientId", status: 400) }
            return OAuth2Token(accessToken: "first-access", refreshToken: "refresh", lifetime: .seconds(60))
        }
        _ = try await provider.token()
        clock.advance(by: 61)
        let failed = await #expect(throws: NeoCheckError.self) { try await provider.token() }
        #expect(failed?.code == .invalidClient)
        #expect(grants.all == ["password", "refresh"])
    }

    @Test("a caller cancelled while it waits for a shared renewal stops waiting at once; the renewal goes on for the others")
    func cancelledWaiterLeavesTheRenewal() async throws {
        let grants = Grants()
        let (started, startedNow) = AsyncStream<Void>.makeStream()
        let (release, releaseNow) = AsyncStream<Void>.makeStream()
        let provider = OAuth2TokenProvider { grant throws(NeoCheckError) in
            grants.note(grant)
            startedNow.yield()
            // A token service that answers only when the test says so.
            for await _ in release { break }
            return OAuth2Token(accessToken: "shared-access", refreshToken: nil, lifetime: .seconds(3600))
        }
        let cancelled = Task { try await provider.token() }
        for await _ in started { break }
        let other = Task { try await provider.token() }
        cancelled.cancel()
        // Released late enough that a waiter held to the renewal's end is told apart from one let go at once,
        // and released at all so that such a waiter does not hang the test.
        let releaser = Task {
            try await Task.sleep(for: .seconds(3))
            releaseNow.yield()
        }
        let clock = ContinuousClock()
        let waitedFrom = clock.now
        let outcome = await cancelled.result
        let waited = waitedFrom.duration(to: clock.now)
        #expect(throws: NeoCheckError.self) { try outcome.get() }
        #expect((try? outcome.get()) == nil, "the cancelled caller got a token: it waited for the renewal")
        #expect(waited < .seconds(3), "\(waited)")
        if case .failure(let error as NeoCheckError) = outcome { #expect(error.code == .cancelled) }

        // The renewal was not cancelled with it: the other caller gets its token, and it is kept for later ones.
        #expect(try await other.value.accessToken == "shared-access")
        #expect(try await provider.token().accessToken == "shared-access")
        #expect(grants.all == ["password"])
        try await releaser.value
    }
}
