import Crypto
import Foundation

/// AWS access key pair. Neither key appears in `description`, logs or errors (the access key id is not
/// secret to AWS, but it is a credential file's content here, and the door's logs carry none).
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Temporary-credential token, sent as `x-amz-security-token` when present.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "AWSCredentials(redacted)" }
}

/// AWS Signature Version 4 (header form), as API Gateway's `execute-api` checks it.
///
/// Pure computation: the caller supplies the request as it will go on the wire
/// and the signing time, and gets back every intermediate string so tests can
/// compare them with the official vectors byte for byte.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String
    /// Remove `.`/`..` segments and repeated slashes from the path before encoding
    /// (every service but S3 does).
    public var normalizesPath: Bool
    /// Add a signed `x-amz-content-sha256` header with the payload hash.
    public var signsBodyHashHeader: Bool
    /// Leave `x-amz-security-token` out of the signature (added after signing).
    public var omitsSessionTokenFromSignature: Bool

    public init(
        credentials: AWSCredentials, region: String = "ap-southeast-2", service: String = "execute-api",
        normalizesPath: Bool = true, signsBodyHashHeader: Bool = false, omitsSessionTokenFromSignature: Bool = false
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizesPath = normalizesPath
        self.signsBodyHashHeader = signsBodyHashHeader
        self.omitsSessionTokenFromSignature = omitsSessionTokenFromSignature
    }

    /// A request as it goes on the wire.
    public struct Request: Sendable {
        public var method: String
        /// The path exactly as sent (already percent-encoded where it needs to be).
        public var path: String
        /// The raw query string without `?`, empty for none.
        public var query: String
        /// Headers in order; repeated names allowed. Must include `host`.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// Everything signing produced. `headersToAdd` go on the request as they are.
    public struct Signature: Sendable {
        public var amzDate: String
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        public var authorization: String
        public var headersToAdd: [(name: String, value: String)]
    }

    /// Signs `request` as of `date`.
    public func sign(_ request: Request, at date: Date) -> Signature {
        let amzDate = SigV4Format.amzDate(date)
        let day = String(amzDate.prefix(8))
        let payloadHash = SigV4Format.hexSHA256(request.body)

        var headers = request.headers.filter { $0.name.lowercased() != "x-amz-date" }
        var added: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if signsBodyHashHeader {
            added.append(("x-amz-content-sha256", payloadHash))
        }
        var unsignedAdded: [(name: String, value: String)] = []
        if let token = credentials.sessionToken, !headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            if omitsSessionTokenFromSignature {
                unsignedAdded.append(("X-Amz-Security-Token", token))
            } else {
                added.append(("X-Amz-Security-Token", token))
            }
        }
        headers += added

        let (canonicalHeaders, signedHeaders) = SigV4Format.canonicalHeaders(headers)
        let canonicalRequest = [
            request.method.uppercased(),
            SigV4Format.canonicalURI(request.path, normalize: normalizesPath),
            SigV4Format.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, SigV4Format.hexSHA256(Array(canonicalRequest.utf8)),
        ].joined(separator: "\n")

        let signature = SigV4Format.hex(
            SigV4Format.hmac(key: signingKey(day: day), Array(stringToSign.utf8)))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(
            amzDate: amzDate, canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            signedHeaders: signedHeaders, authorization: authorization,
            headersToAdd: added + unsignedAdded + [("Authorization", authorization)])
    }

    private func signingKey(day: String) -> [UInt8] {
        var key = SigV4Format.hmac(key: Array(("AWS4" + credentials.secretAccessKey).utf8), Array(day.utf8))
        key = SigV4Format.hmac(key: key, Array(region.utf8))
        key = SigV4Format.hmac(key: key, Array(service.utf8))
        return SigV4Format.hmac(key: key, Array("aws4_request".utf8))
    }
}

/// The string rules of SigV4: encoding, canonical forms and timestamps.
enum SigV4Format {
    static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    static func hexSHA256(_ bytes: [UInt8]) -> String { hex(Array(SHA256.hash(data: bytes))) }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 encoding of everything but the unreserved characters (and `/` when asked).
    static func percentEncode(_ text: some Sequence<UInt8>, keepingSlash: Bool = false) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for byte in text {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes; a malformed escape is kept literally.
    static func percentDecode(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out = [UInt8]()
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
                let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2])
            {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The wire path encoded once more (so `%` becomes `%25`, as API Gateway expects),
    /// after optional dot-segment and double-slash removal.
    static func canonicalURI(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize {
            var segments: [Substring] = []
            for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
                switch segment {
                case ".": continue
                case "..": if !segments.isEmpty { segments.removeLast() }
                default: segments.append(segment)
                }
            }
            let keepsTrailingSlash = path.hasSuffix("/") && !segments.isEmpty
            path = "/" + segments.joined(separator: "/") + (keepsTrailingSlash ? "/" : "")
        }
        return percentEncode(path.utf8, keepingSlash: true)
    }

    /// Parameters decoded, re-encoded and sorted by key, then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { parameter -> (String, String) in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentEncode(percentDecode(parts[0]))
            let value = parts.count > 1 ? percentEncode(percentDecode(parts[1])) : ""
            return (key, value)
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lower-cased names, sorted; values trimmed with inner runs of whitespace
    /// collapsed; repeated names joined with commas in their order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (canonical: String, signed: String) {
        var byName: [String: [String]] = [:]
        var order: [String] = []
        for (name, value) in headers {
            let key = name.lowercased()
            if byName[key] == nil { order.append(key) }
            byName[key, default: []].append(collapseWhitespace(value))
        }
        let names = order.sorted()
        let canonical = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    static func collapseWhitespace(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .joined(separator: " ")
    }
}
