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
        guard let components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false),
            let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil
        else {
            throw NeoCheckError(.invalidConfiguration, "endpoint \(endpoint.absoluteString.prefix(200)) is not an http(s) URL with a host")
        }
        guard components.user == nil, components.password == nil else {
            throw NeoCheckError(.invalidConfiguration, "the endpoint must not carry credentials")
        }
        // The same loopback rule as the configuration check of both clouds' endpoints.
        let loopback = CloudEndpoint.isLoopback(host: host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw NeoCheckError(
                .invalidConfiguration, "endpoint must use https (plain http is allowed only to this machine), got \(scheme)://\(host)")
        }
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
