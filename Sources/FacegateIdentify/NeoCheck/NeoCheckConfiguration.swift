import Foundation

/// The account a NeoCheck client signs in with. `description` shows no secret.
public struct NeoCheckCredentials: Sendable, CustomStringConvertible {
    public var clientID: String
    public var clientSecret: String
    public var username: String
    public var password: String

    public init(clientID: String, clientSecret: String, username: String, password: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.username = username
        self.password = password
    }

    public var description: String { "client \(clientID), user \(username) (secret and password redacted)" }
}

/// Where and how a `NeoCheckClient` reaches the service.
public struct NeoCheckConfiguration: Sendable {
    /// The production endpoint from the API document.
    public static let production = URL(string: "https://neocheck.net/api")!

    /// The API's base address; `connect/token` and `v1/...` are resolved under it.
    public var endpoint: URL
    public var credentials: NeoCheckCredentials
    /// Renew the access token this long before it expires, at most (see `OAuth2TokenProvider`).
    public var refreshLeeway: Duration

    public init(endpoint: URL = Self.production, credentials: NeoCheckCredentials, refreshLeeway: Duration = .seconds(60)) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.refreshLeeway = refreshLeeway
    }

    /// Checks the endpoint: https, or plain http to this machine only (the emulator),
    /// because the password and tokens travel in the requests.
    func validatedBase() throws(NeoCheckError) -> String {
        // The rule, and the words, of the configuration check of both clouds' endpoints; the endpoint
        // itself is not repeated (it may carry credentials).
        if let refusal = CloudEndpoint.refusal(endpoint.absoluteString) {
            throw NeoCheckError(.invalidConfiguration, "the endpoint \(refusal)")
        }
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
