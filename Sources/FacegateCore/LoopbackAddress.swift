import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Whether a host, as a server is told to listen on it or a request names it, is this machine's loopback.
public enum LoopbackAddress {
    /// `localhost`, or an address in 127.0.0.0/8 or `::1` however it is written. Judged by what the address is,
    /// not how it is spelt: `127.1`, `2130706433`, `[::ffff:127.0.0.1]` and `0:0:0:0:0:0:0:1` bind loopback too
    /// (the resolver reads IPv4 as `inet_aton` does), and a server bound there and taken for a network one would
    /// go without its check of the request's name.
    public static func names(_ host: String) -> Bool {
        var name = host.lowercased()
        if name == "localhost" { return true }
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_aton(name, &v4) != 0 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, name, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
        return bytes == loopback || (Array(bytes.prefix(12)) == mappedPrefix && bytes[12] == 127)
    }
}
