import FacegateIdentify
import FacegateTesting
import Foundation
import Synchronization
import Testing

/// The token provider on its own, with a token service played by an injected fetch and a manual clock:
/// what it does with refusals.
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
}
