import FacegateIdentify
import Foundation
import Testing

/// The official AWS SigV4 vectors, both layouts, compared byte for byte.
@Suite(.timeLimit(.minutes(5))) struct SigV4VectorTests {
    static let vectorTime = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    /// A raw request file: request line, `Name:value` headers (continuation lines folded in), blank line, body.
    static func parseRequest(_ text: String) -> SigV4Signer.Request {
        let (head, body): (Substring, Substring)
        if let blank = text.range(of: "\n\n") {
            head = text[..<blank.lowerBound]
            body = text[blank.upperBound...]
        } else {
            head = text[...]
            body = ""
        }
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        let firstSpace = requestLine.firstIndex(of: " ")!
        let lastSpace = requestLine.lastIndex(of: " ")!
        let method = String(requestLine[..<firstSpace])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        let path: String
        let query: String
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = String(target[target.index(after: mark)...])
        } else {
            path = String(target)
            query = ""
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return SigV4Signer.Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    // MARK: Classic layout (.req / .creq / .sts / .authz)

    static let classicRoot = TestData.url("sigv4/aws-sig-v4-test-suite")

    static func classicCases() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: classicRoot.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".req") }.map { String($0.dropLast(4)) }.sorted()
    }

    @Test func bothSuitesArePresent() {
        #expect(Self.classicCases().count == 34)
        #expect(Self.cAuthCases().count == 38)
    }

    @Test(arguments: classicCases())
    func classicVector(_ name: String) throws {
        let base = Self.classicRoot.appendingPathComponent(name)
        let request = Self.parseRequest(try TestData.text(base.appendingPathExtension("req")))
        var credentials = Self.credentials
        // The suite signs this one case with a session token it names outside the files.
        if name.hasSuffix("get-vanilla-with-session-token") {
            credentials.sessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        }
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        let signature = signer.sign(request, at: Self.vectorTime)
        #expect(signature.canonicalRequest == (try TestData.text(base.appendingPathExtension("creq"))))
        #expect(signature.stringToSign == (try TestData.text(base.appendingPathExtension("sts"))))
        #expect(signature.authorization == (try TestData.text(base.appendingPathExtension("authz"))))
    }

    // MARK: aws-c-auth layout (request.txt / context.json / header-*.txt)

    static let cAuthRoot = TestData.url("sigv4/aws-c-auth-signing-test-suite/v4")

    static func cAuthCases() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cAuthRoot.path)) ?? []).sorted()
    }

    struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }

        var credentials: Credentials
        var region: String
        var service: String
        var timestamp: String
        var normalize: Bool
        var sign_body: Bool
        var omit_session_token: Bool?
    }

    // The query-* files (presigned URLs) are not checked: facegate signs with the
    // Authorization header only, and NEC ID documents no presigned requests.
    @Test(arguments: cAuthCases())
    func cAuthVector(_ name: String) throws {
        let folder = Self.cAuthRoot.appendingPathComponent(name)
        let context = try JSONDecoder().decode(Context.self, from: Data(contentsOf: folder.appendingPathComponent("context.json")))
        #expect(context.timestamp == "2015-08-30T12:36:00Z")
        let request = Self.parseRequest(try TestData.text(folder.appendingPathComponent("request.txt")))
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: context.credentials.access_key_id, secretAccessKey: context.credentials.secret_access_key,
                sessionToken: context.credentials.token),
            region: context.region, service: context.service, normalizesPath: context.normalize,
            signsBodyHashHeader: context.sign_body, omitsSessionTokenFromSignature: context.omit_session_token ?? false)
        let signature = signer.sign(request, at: Self.vectorTime)
        #expect(signature.canonicalRequest == (try TestData.text(folder.appendingPathComponent("header-canonical-request.txt"))))
        #expect(signature.stringToSign == (try TestData.text(folder.appendingPathComponent("header-string-to-sign.txt"))))
        #expect(signature.signature == (try TestData.text(folder.appendingPathComponent("header-signature.txt"))))
        let signed = try TestData.text(folder.appendingPathComponent("header-signed-request.txt"))
        let expectedAuthorization = signed.split(separator: "\n").first { $0.hasPrefix("Authorization:") }.map { String($0.dropFirst(14)) }
        #expect(signature.authorization == expectedAuthorization)
        // Headers the signed request carries must be the ones the signer adds.
        for (name, value) in signature.headersToAdd {
            #expect(signed.contains("\(name):\(value)") || signed.lowercased().contains("\(name.lowercased()):\(value.lowercased())"))
        }
    }

    @Test func executeAPIScopeUsesRegionAndService() {
        let request = SigV4Signer.Request(method: "GET", path: "/v1.1/health", headers: [("host", "api.id.nec.com.au")])
        let signature = SigV4Signer(credentials: Self.credentials).sign(request, at: Self.vectorTime)
        #expect(signature.stringToSign.contains("20150830/ap-southeast-2/execute-api/aws4_request"))
        #expect(signature.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/ap-southeast-2/execute-api/aws4_request, "))
        #expect(!signature.authorization.contains(Self.credentials.secretAccessKey))
        #expect(!"\(Self.credentials)".contains(Self.credentials.secretAccessKey))
    }
}
