import AsyncHTTPClient
import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

@Suite("NeoCheck OAuth token lifecycle against the emulator", .timeLimit(.minutes(5)))
struct TokenLifecycleTests {
    /// An API call that needs a token and nothing else: reading a list that does not exist.
    private func probeCall(_ client: NeoCheckClient) async throws {
        do {
            _ = try await client.list(identifier: "00000000-0000-0000-0000-000000000000")
            Issue.record("an unknown list was found")
        } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test("one password grant serves many calls")
    func tokenIsReused() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            for _ in 0..<3 { try await probeCall(client) }
            #expect(await harness.emulator.tokenRequests == ["password": 1])
            #expect(await harness.emulator.apiCalls == 3)
        }
    }

    @Test("a token that expires mid-run is renewed with the refresh token")
    func expiryMidRun() async throws {
        // On a manual clock both sides share: the client renews 1.5 s (a tenth) before the end.
        let clock = ManualClock()
        try await withNeoCheckEmulator(tokenLifetime: .seconds(15), clock: clock) { harness in
            let client = try harness.client()
            try await probeCall(client)
            clock.advance(by: 13)
            try await probeCall(client)
            #expect(await harness.emulator.tokenRequests == ["password": 1], "still fresh 2 s before the end")
            clock.advance(by: 1)
            try await probeCall(client)
            #expect(await harness.emulator.tokenRequests == ["password": 1, "refresh_token": 1])
            #expect(await harness.emulator.apiCalls == 3)
        }
    }

    @Test("a 401 before expiry renews the token and repeats the call once")
    func unauthorizedRenews() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            try await probeCall(client)
            await harness.emulator.revokeAccessTokens()
            try await probeCall(client)
            #expect(await harness.emulator.tokenRequests == ["password": 1, "refresh_token": 1])
        }
    }

    @Test("a rejected refresh token falls back to a password grant")
    func refreshRejectedFallsBackToPassword() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            try await probeCall(client)
            await harness.emulator.revokeAccessTokens()
            await harness.emulator.revokeRefreshTokens()
            try await probeCall(client)
            #expect(await harness.emulator.tokenRequests == ["password": 2, "refresh_token": 1])
        }
    }

    /// A refresh grant that works but whose tokens the API refuses (a user's rights changed server-side):
    /// the call that meets it fails, and the next signs in afresh with the password grant. Before, the refresh
    /// token was kept, every later call refreshed into a refused token, and the door was refused until a restart.
    @Test("tokens a refresh gives that the service refuses lead to a password grant at the next call")
    func refusedRefreshedTokensLeadToAPasswordGrant() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            try await probeCall(client)
            await harness.emulator.revokeAccessTokens()
            await harness.emulator.refuseTokensFromRefreshGrants()
            await #expect(throws: NeoCheckError(.unauthorized, "")) {
                _ = try await client.list(identifier: "00000000-0000-0000-0000-000000000000")
            }
            try await probeCall(client)
            let requests = await harness.emulator.tokenRequests
            #expect(requests["password"] == 2, "\(requests)")
            try await probeCall(client)
            #expect(await harness.emulator.tokenRequests == requests, "the new token holds")
        }
    }

    @Test("concurrent callers share one token request", arguments: [false, true])
    func concurrentCallersShareOneRenewal(afterRevocation: Bool) async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            if afterRevocation {
                try await probeCall(client)
                await harness.emulator.revokeAccessTokens()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<24 {
                    group.addTask { try await probeCall(client) }
                }
                try await group.waitForAll()
            }
            let expected = afterRevocation ? ["password": 1, "refresh_token": 1] : ["password": 1]
            #expect(await harness.emulator.tokenRequests == expected)
        }
    }

    @Test("concurrent callers share one renewal when the token expires")
    func concurrentCallersAtExpiry() async throws {
        // On a manual clock both sides share: the client renews 1.5 s (a tenth) before the end.
        let clock = ManualClock()
        try await withNeoCheckEmulator(tokenLifetime: .seconds(15), clock: clock) { harness in
            let client = try harness.client()
            try await probeCall(client)
            clock.advance(by: 14)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<24 {
                    group.addTask { try await probeCall(client) }
                }
                try await group.waitForAll()
            }
            #expect(await harness.emulator.tokenRequests == ["password": 1, "refresh_token": 1])
        }
    }

    @Test("a wrong password or client secret is a typed error that quotes no secret")
    func badCredentials() async throws {
        try await withNeoCheckEmulator { harness in
            var wrongPassword = NeoCheckTestAccount.credentials
            wrongPassword.password = "not-the-password-42"
            do {
                _ = try await harness.client(credentials: wrongPassword).tokens.token()
                Issue.record("a wrong password was accepted")
            } catch let error as NeoCheckError {
                #expect(error.code == .invalidCredentials)
                #expect(!"\(error)".contains("not-the-password-42"))
            }

            var wrongSecret = NeoCheckTestAccount.credentials
            wrongSecret.clientSecret = "wrong-secret-1234"
            do {
                _ = try await harness.client(credentials: wrongSecret).tokens.token()
                Issue.record("a wrong client secret was accepted")
            } catch let error as NeoCheckError {
                #expect(error.code == .invalidClient)
                #expect(!"\(error)".contains("wrong-secret-1234"))
            }
            #expect(await harness.emulator.apiCalls == 0)
        }
    }

    @Test("the token service refuses an unsupported grant and a body that is not a form")
    func tokenServiceRefusals() async throws {
        try await withNeoCheckEmulator { harness in
            let url = harness.endpoint.absoluteString + "/connect/token"
            func post(_ body: String, contentType: String) async throws -> (Int, String) {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let bytes = try await response.body.collect(upTo: 1 << 16)
                return (Int(response.status.code), String(buffer: bytes))
            }
            let form = "grant_type=client_credentials&client_id=\(NeoCheckTestAccount.clientID)&client_secret=x"
            let unsupported = try await post(form, contentType: "application/x-www-form-urlencoded")
            #expect(unsupported.0 == 400)
            #expect(unsupported.1.contains("\"error\""))
            let notForm = try await post("{}", contentType: "application/json")
            #expect(notForm.0 == 400)
        }
    }

    @Test("no secret or token reaches a log line, even at trace level")
    func secretsStayOutOfLogs() async throws {
        let logs = CapturedLogs()
        let token = try await withNeoCheckEmulator { harness in
            let client = try harness.client(logger: logs.logger())
            try await probeCall(client)
            await harness.emulator.revokeAccessTokens()
            try await probeCall(client)
            return try await client.tokens.token()
        }
        let text = logs.all.joined(separator: "\n")
        for secret in [NeoCheckTestAccount.clientSecret, NeoCheckTestAccount.password, token.accessToken] + (token.refreshToken.map { [$0] } ?? []) {
            #expect(!text.contains(secret))
        }
        #expect(!token.description.contains(token.accessToken))
        #expect(!NeoCheckTestAccount.credentials.description.contains(NeoCheckTestAccount.password))
    }

    @Test("plain http is refused for any host but this machine")
    func insecureEndpointRefused() throws {
        let configuration = NeoCheckConfiguration(endpoint: URL(string: "http://neocheck.example/api")!, credentials: NeoCheckTestAccount.credentials)
        let error = #expect(throws: NeoCheckError.self) {
            try NeoCheckClient(
                configuration: configuration, http: CloudHTTP(client: HTTPClient.shared, policy: CloudHTTPPolicy(), logger: .init(label: "t")))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains("must use https") == true && error?.description.contains("neocheck.example") == false)
    }
}
