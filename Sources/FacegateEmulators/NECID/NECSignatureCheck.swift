import Crypto
import Foundation

/// The emulator's own SigV4 check, written apart from the client's signer so a
/// mistake in one cannot hide the same mistake in the other.
///
/// Messages are the ones API Gateway sends with its 403 replies.
struct NECSignatureCheck: Sendable {
    var accessKeyID: String
    var secretAccessKey: String
    var region: String
    var service: String
    /// How far the request time may be from the emulator's clock.
    var allowedSkew: TimeInterval = 300

    struct Failure: Error, Equatable {
        let message: String
    }

    static let mismatchMessage =
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

    /// - Parameters:
    ///   - header: looks a header up by lower-case name, giving all its values in order.
    ///   - rawPath: the path as it arrived, still percent-encoded.
    func verify(
        method: String, rawPath: String, rawQuery: String, header: (String) -> [String], body: [UInt8], now: Date
    ) -> Failure? {
        guard let authorization = header("authorization").first else {
            return Failure(message: "Missing Authentication Token")
        }
        guard let parsed = ParsedAuthorization(authorization) else {
            return Failure(
                message:
                    "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=\(authorization.prefix(24))...")
        }
        guard let amzDate = header("x-amz-date").first, let requestTime = Self.parseAMZDate(amzDate) else {
            return Failure(
                message:
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=\(authorization.prefix(24))...")
        }
        if requestTime < now.addingTimeInterval(-allowedSkew) {
            return Failure(
                message:
                    "Signature expired: \(amzDate) is now earlier than \(Self.amzDate(now.addingTimeInterval(-allowedSkew))) (\(Self.amzDate(now)) - 5 min.)")
        }
        if requestTime > now.addingTimeInterval(allowedSkew) {
            return Failure(
                message:
                    "Signature not yet current: \(amzDate) is still later than \(Self.amzDate(now.addingTimeInterval(allowedSkew))) (\(Self.amzDate(now)) + 5 min.)")
        }
        let scope = parsed.credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            return Failure(message: "Credential should be scoped to a valid region. ")
        }
        guard scope[0] == accessKeyID else {
            return Failure(message: "The security token included in the request is invalid.")
        }
        guard scope[1] == String(amzDate.prefix(8)) else {
            return Failure(message: "Credential should be scoped to a valid date: '\(String(amzDate.prefix(8)))'. ")
        }
        guard scope[2] == region else {
            return Failure(message: "Credential should be scoped to a valid region. ")
        }
        guard scope[3] == service else {
            return Failure(message: "Credential should be scoped to correct service: '\(service)'. ")
        }
        let signedNames = parsed.signedHeaders.split(separator: ";").map(String.init)
        guard signedNames.contains("host"), signedNames == signedNames.sorted(),
            signedNames.allSatisfy({ $0 == $0.lowercased() })
        else {
            return Failure(message: Self.mismatchMessage)
        }

        var canonicalHeaders = ""
        for name in signedNames {
            let values = header(name).map(Self.trimmed)
            canonicalHeaders += name + ":" + values.joined(separator: ",") + "\n"
        }
        let canonicalRequest = [
            method, Self.canonicalPath(rawPath), Self.canonicalQuery(rawQuery), canonicalHeaders, parsed.signedHeaders,
            Self.hex(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        let credentialScope = scope[1...4].joined(separator: "/")
        let stringToSign =
            "AWS4-HMAC-SHA256\n\(amzDate)\n\(credentialScope)\n\(Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))))"

        var key = SymmetricKey(data: Array("AWS4\(secretAccessKey)".utf8))
        for part in [scope[1], region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let expected = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        // Constant-time comparison: the emulator should not teach timing attacks by example.
        guard expected.utf8.count == parsed.signature.utf8.count,
            zip(expected.utf8, parsed.signature.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else {
            return Failure(message: Self.mismatchMessage)
        }
        return nil
    }

    private struct ParsedAuthorization {
        var credential: String
        var signedHeaders: String
        var signature: String

        init?(_ header: String) {
            let prefix = "AWS4-HMAC-SHA256 "
            guard header.hasPrefix(prefix) else { return nil }
            var fields: [String: String] = [:]
            for part in header.dropFirst(prefix.count).split(separator: ",") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
                let signature = fields["Signature"]
            else { return nil }
            self.credential = credential
            self.signedHeaders = signedHeaders
            self.signature = signature
        }
    }

    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// API Gateway encodes the received (already encoded) path once more, segment by segment.
    static func canonicalPath(_ rawPath: String) -> String {
        let path = rawPath.isEmpty ? "/" : rawPath
        return path.split(separator: "/", omittingEmptySubsequences: false).map { encode(Array($0.utf8)) }
            .joined(separator: "/")
    }

    static func canonicalQuery(_ rawQuery: String) -> String {
        rawQuery.split(separator: "&").map { item -> (String, String) in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = encode(decode(pair[0]))
            return (name, pair.count == 2 ? encode(decode(pair[1])) : "")
        }
        .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        .map { "\($0.0)=\($0.1)" }
        .joined(separator: "&")
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            if unreserved.contains(byte) {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += String(format: "%%%02X", byte)
            }
        }
        return text
    }

    static func decode(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func parseAMZDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: text)
    }

    static func amzDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
