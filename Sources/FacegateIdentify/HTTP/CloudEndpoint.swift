import FacegateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The rule both clouds' endpoints follow: https, or plain http only to this machine (the emulators),
/// because keys, passwords, tokens and face images travel in the requests.
public enum CloudEndpoint {
    /// Why an endpoint is refused. The messages never repeat the endpoint: it may carry credentials.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// Not an absolute http(s) URL with a host (or it has a query or fragment).
        case notAnHTTPURL
        /// `user:password@` in the URL.
        case carriesCredentials
        /// Plain http to another machine.
        case plainHTTPOffLoopback

        public var description: String {
            switch self {
            case .notAnHTTPURL: "must be an http(s) URL with a host, without query or fragment"
            case .carriesCredentials: "must not carry a user name or password"
            case .plainHTTPOffLoopback:
                "must use https; plain http is allowed only to this machine (127.0.0.0/8, ::1, localhost)"
            }
        }
    }

    /// Where the replies of a service at these endpoints may state the cloud's time: only when every
    /// one is https to another machine. A service on this machine (a forwarder, a proxy, an emulator;
    /// plain http is only ever that) states this machine's own clock, which would vouch for any time
    /// it reads.
    public static func clock(for endpoints: String?...) -> CloudClock? {
        let all = endpoints.compactMap { $0 }
        guard !all.isEmpty,
            all.allSatisfy({ endpoint in
                guard let components = URLComponents(string: endpoint), let host = components.host else { return false }
                return components.scheme?.lowercased() == "https" && !isLoopback(host: host)
            })
        else { return nil }
        return CloudClock()
    }

    /// Checks an endpoint; nil when it is acceptable.
    public static func refusal(_ text: String) -> Refusal? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil
        else { return .notAnHTTPURL }
        guard components.user == nil, components.password == nil else { return .carriesCredentials }
        guard scheme == "https" || isLoopback(host: host) else { return .plainHTTPOffLoopback }
        return nil
    }

    /// Whether a URL's host is this machine: `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`.
    /// Addresses are parsed strictly (inet_pton), so `127.0.0.1.example.com` is not loopback.
    public static func isLoopback(host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            // s_addr is in network order: its first byte in memory is the first octet.
            return withUnsafeBytes(of: &v4) { $0[0] } == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        }
        return false
    }
}
