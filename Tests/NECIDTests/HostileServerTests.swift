import AsyncHTTPClient
import FacegateCore
@testable import FacegateIdentify
import Foundation
import Synchronization
import Testing
import FacegateTesting

/// The client against servers that misbehave: every bad reply becomes a typed
/// error within the timeout, never a crash or a hang.
@Suite(.timeLimit(.minutes(5))) struct HostileServerTests {
    static let secret = "hostile-test-secret-0123456789abcdef"
    static let apiKey = "hostile-test-api-key-98765"

    func withClient(
        _ behavior: HostileServer.Behaviour, timeout: Duration = .seconds(2), maxBytes: Int = 64 << 10, cloudClock: CloudClock? = nil,
        apiKey: String = Self.apiKey, _ body: (NECIDClient, HostileServer) async throws -> Void
    ) async throws {
        let server = try await HostileServer.start(behavior)
        let httpClient = NECIDClient.makeHTTPClient()
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: "http://127.0.0.1:\(server.port)", portalEndpoint: "http://127.0.0.1:\(server.port)",
                credentials: AWSCredentials(accessKeyID: "AKIDHOSTILE", secretAccessKey: Self.secret), apiKey: apiKey,
                http: CloudHTTPPolicy(requestTimeout: timeout, maxResponseBytes: maxBytes, maxAttempts: 3, initialBackoff: .milliseconds(20))),
            httpClient: httpClient, cloudClock: cloudClock)
        do {
            try await body(client, server)
        } catch {
            try? await httpClient.shutdown()
            await server.stop()
            throw error
        }
        try await httpClient.shutdown()
        await server.stop()
    }

    /// Runs `call`, expecting a typed error with `code`, and that it came in reasonable time.
    func expectError<T>(_ code: NECIDError.Code, within limit: Duration = .seconds(60), _ call: () async throws(NECIDError) -> T) async {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let value = try await call()
            Issue.record("expected \(code), got \(value)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(!error.message.contains(Self.secret))
            #expect(!error.message.contains(Self.apiKey))
            #expect(!error.message.contains("AKIDHOSTILE"), "the access key id, a credential file's content, is kept out too")
        }
        #expect(clock.now - start < limit)
    }

    /// Every reply's `Date` is the service's clock as the door checks its own against: noted as it came,
    /// carried forward; a `Date` that cannot be read, or none, states nothing.
    @Test func aRepliesDateIsNotedAsTheServicesTime() async throws {
        let stated = try #require(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT"))
        try await withClient(.reply(status: 200, body: #"{"status":"OK"}"#, headers: ["Date: Sun, 06 Nov 1994 08:49:37 GMT"]), cloudClock: CloudClock()) {
            client, _ in
            #expect(client.cloudClock?.cloudTimeNow() == nil)
            _ = try await client.health()
            let cloudNow = try #require(client.cloudClock?.cloudTimeNow())
            #expect(cloudNow >= stated && cloudNow < stated.addingTimeInterval(30), "\(cloudNow)")
        }
        // An error reply states the time too: it came from the same service.
        try await withClient(.reply(status: 403, body: #"{"message":"Forbidden"}"#, headers: ["Date: Sun, 06 Nov 1994 08:49:37 GMT"]), cloudClock: CloudClock()) {
            client, _ in
            await expectError(.apiKeyRejected) { () throws(NECIDError) in try await client.health() }
            #expect(client.cloudClock?.cloudTimeNow() != nil)
        }
        // Kept by a cache on the way for an hour: the origin's `Date` and the `Age` it adds.
        try await withClient(
            .reply(status: 200, body: #"{"status":"OK"}"#, headers: ["Date: Sun, 06 Nov 1994 08:49:37 GMT", "Age: 3600"]), cloudClock: CloudClock()
        ) { client, _ in
            _ = try await client.health()
            let cloudNow = try #require(client.cloudClock?.cloudTimeNow())
            #expect(cloudNow >= stated.addingTimeInterval(3600) && cloudNow < stated.addingTimeInterval(3630), "\(cloudNow)")
        }
        for garbage in [
            "Date: yesterday", "Date: Sun, 06 Nov 1994 25:49:37 GMT", "Date: Sun, 06 Nov 1994 08:61:37 GMT", "Date: Sun, 32 Nov 1994 08:49:37 GMT",
            "Date: Sun, 06 Nov 1994 08:49:37 PST", "Date: Sun, 06 Nov 1994 08:49:37 GMT and more", "Date: \(String(repeating: "9", count: 300))"] {
            try await withClient(.reply(status: 200, body: #"{"status":"OK"}"#, headers: [garbage]), cloudClock: CloudClock()) { client, _ in
                _ = try await client.health()
                #expect(client.cloudClock?.cloudTimeNow() == nil, "\(garbage)")
            }
        }
        try await withClient(.reply(status: 200, body: #"{"status":"OK"}"#), cloudClock: CloudClock()) { client, _ in
            _ = try await client.health()
            #expect(client.cloudClock?.cloudTimeNow() == nil)
        }
        // Without a clock given, a plain http service states no time: its `Date` is this machine's.
        try await withClient(.reply(status: 200, body: #"{"status":"OK"}"#, headers: ["Date: Sun, 06 Nov 1994 08:49:37 GMT"])) {
            client, _ in
            _ = try await client.health()
            #expect(client.cloudClock == nil)
        }
    }

    @Test func garbageJSONIsMalformedResponse() async throws {
        try await withClient(.reply(status: 200, body: "{\"status\": \"OK\"")) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.health() }
        }
        try await withClient(.reply(status: 200, body: "<html>gateway</html>")) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.listTags() }
        }
    }

    @Test func wrongTypesAreMalformedResponse() async throws {
        try await withClient(.reply(status: 200, body: #"{"candidates": "many", "attributes": 7}"#)) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.search(probe: [1, 2, 3]) }
        }
        try await withClient(.reply(status: 200, body: #"{"score": "high"}"#)) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.verify(face: [1], probe: [2]) }
        }
        try await withClient(.reply(status: 200, body: #"{"subjects": [{"id": 5}], "total": 1}"#)) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.listSubjects() }
        }
    }

    @Test func numbersAsStringsDecode() async throws {
        let body = #"{"candidates":[{"id":"s1","score":"8200","events":[{"id":"e1","score":8200}]}],"attributes":{"faceArea":{"left":"161","top":"156","right":"318","bottom":"313"},"headArea":{"left":"131","top":"86","right":"345","bottom":"343"},"rightEyeCenter":{"x":"195","y":"198"},"leftEyeCenter":{"x":"276","y":"191"},"frontalFaceScore":"0.569824","faceRoll":"4.93922","facePan":"-9.34863","faceTilt":"7.613","faceScore":"0.999591","faceQualityScore":"0.86541"}}"#
        try await withClient(.reply(status: 200, body: body)) { client, _ in
            let result = try await client.search(probe: [1])
            #expect(result.candidates.first?.score == 8200)
            #expect(result.attributes?.faceQualityScore == 0.86541)
            #expect(result.attributes?.faceArea.right == 318)
        }
    }

    @Test func hugeBodyIsCutOff() async throws {
        try await withClient(.flood(bytes: 8 << 20)) { client, server in
            await expectError(.responseTooLarge) { () throws(NECIDError) in try await client.health() }
            // Too large is not transient: one attempt only.
            #expect(server.requestCount == 1)
        }
    }

    @Test func silentServerTimesOut() async throws {
        try await withClient(.silence, timeout: .seconds(1)) { client, _ in
            await expectError(.timeout) { () throws(NECIDError) in try await client.health() }
        }
    }

    @Test func stalledAndTricklingBodiesTimeOut() async throws {
        try await withClient(.stallMidBody, timeout: .seconds(1)) { client, _ in
            await expectError(.timeout) { () throws(NECIDError) in try await client.health() }
        }
        try await withClient(.trickle, timeout: .seconds(1)) { client, _ in
            await expectError(.timeout) { () throws(NECIDError) in try await client.health() }
        }
    }

    @Test func connectionResetIsUnreachable() async throws {
        try await withClient(.reset) { client, server in
            await expectError(.unreachable) { () throws(NECIDError) in try await client.health() }
            #expect(server.requestCount == 3, "an idempotent call is retried")
        }
        try await withClient(.reset) { client, server in
            await expectError(.unreachable) { () throws(NECIDError) in try await client.registerSubject(face: [1]) }
            #expect(server.requestCount == 1, "a registration is never sent twice")
        }
    }

    @Test func closedPortIsUnreachable() async throws {
        let refused = try RefusedPort()
        defer { refused.release() }  // held, and so refused, to the end
        let port = refused.port
        let httpClient = NECIDClient.makeHTTPClient()
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: "http://127.0.0.1:\(port)", credentials: AWSCredentials(accessKeyID: "A", secretAccessKey: Self.secret),
                http: CloudHTTPPolicy(requestTimeout: .seconds(2), maxAttempts: 2, initialBackoff: .milliseconds(10))),
            httpClient: httpClient)
        await expectError(.unreachable) { () throws(NECIDError) in try await client.health() }
        try await httpClient.shutdown()
    }

    @Test func transientStatusIsRetriedThenSucceeds() async throws {
        try await withClient(.sequence([.reply(status: 503, body: "{}"), .reply(status: 200, body: #"{"status":"OK"}"#)])) { client, server in
            let health = try await client.health()
            #expect(health.status == "OK")
            #expect(server.requestCount == 2)
        }
    }

    @Test func documentedErrorBodiesBecomeTypedErrors() async throws {
        let cases: [(String, NECIDError.Code)] = [
            (#"{"message":"face property must be provided.","errorCode":1001,"errorType":"InvalidRequest"}"#, .invalidRequest),
            (#"{"message":"Tag x already exists.","errorCode":1002,"errorType":"Duplicate"}"#, .duplicate),
            (#"{"message":"timed out","errorCode":"1003","errorType":"Timeout"}"#, .serviceTimeout),
            (#"{"message":"No face","errorCode":2001,"errorType":"NoFace"}"#, .noFace),
            (#"{"message":"Poor","errorCode":2002,"errorType":"PoorQuality"}"#, .poorQuality),
            (#"{"message":"Many","errorCode":2003,"errorType":"MultipleFaces"}"#, .multipleFaces),
            (#"{"message":"Something new","errorCode":4242,"errorType":"Novel"}"#, .serviceError),
        ]
        for (body, code) in cases {
            try await withClient(.reply(status: 400, body: body)) { client, _ in
                await expectError(code) { () throws(NECIDError) in try await client.registerSubject(face: [1]) }
            }
        }
        try await withClient(.reply(status: 500, body: "<html>oops</html>")) { client, _ in
            await expectError(.serviceError) { () throws(NECIDError) in try await client.registerSubject(face: [1]) }
        }
    }

    @Test func forbiddenRepliesSayWhichCredentialFailed() async throws {
        try await withClient(.reply(status: 403, body: #"{"message":"Forbidden"}"#)) { client, _ in
            await expectError(.apiKeyRejected) { () throws(NECIDError) in try await client.listTags() }
        }
        let mismatch = #"{"message":"The request signature we calculated does not match the signature you provided."}"#
        try await withClient(.reply(status: 403, body: mismatch)) { client, _ in
            await expectError(.signatureRejected) { () throws(NECIDError) in try await client.listTags() }
        }
        // A server echoing secrets back does not get them into the error (the access key id either: API
        // Gateway's messages quote the Credential= of the Authorization header).
        let echo = #"{"message":"bad key \#(Self.secret) and \#(Self.apiKey) Credential=AKIDHOSTILE/20260101 Signature=abcdef"}"#
        try await withClient(.reply(status: 403, body: echo)) { client, _ in
            await expectError(.signatureRejected) { () throws(NECIDError) in try await client.listTags() }
        }
    }

    /// An API key with a character a header cannot carry (a control character pasted into its file) is
    /// refused by the transport before anything is sent, in words that quote the header whole: the error
    /// says what is wrong, never the key (before, the key went into the error, the decision's reason and the log).
    @Test func aKeyAHeaderCannotCarryIsNotQuoted() async throws {
        let pasted = Self.apiKey + "\u{7}"
        try await withClient(.reply(status: 200, body: #"{"tags":[]}"#), apiKey: pasted) { client, server in
            await expectError(.unreachable) { () throws(NECIDError) in try await client.listTags() }
            do {
                _ = try await client.listTags()
            } catch let error as NECIDError {
                #expect(error.message.contains("a header value has a character a header cannot carry"), "\(error.message)")
            }
            #expect(server.requestLines.isEmpty, "nothing was sent")
        }
    }

    /// A secret far longer than any reply's text (a megabyte) is cut out of it as any is, without a pass for
    /// each of its beginnings: before, the redaction built every beginning down to 8 characters, a million
    /// strings of up to a megabyte, and held the cloud call (which no deadline interrupts) for hours.
    /// (On a thread of its own, waited for 30 s at most: a redaction that does not end must fail this test,
    /// not hold the whole run, which a time limit would not stop.)
    @Test func aHugeSecretIsCutOutWithoutAPassPerBeginning() async throws {
        let huge = String(repeating: "k", count: 1 << 20)
        let quoted = "quoted: " + String(huge.prefix(300)) + " end"
        final class Cleaned: Sendable { let texts = Mutex<[String]?>(nil) }
        let cleaned = Cleaned()
        Thread.detachNewThread {
            let both = [quoted, "nothing of it here"].map { SecretRedaction.redact($0, secrets: [huge], marker: "[redacted]") }
            cleaned.texts.withLock { $0 = both }
        }
        let answer = try await askUntil(within: .seconds(30)) { cleaned.texts.withLock { $0 } } until: { $0 != nil }
        #expect(answer == ["quoted: [redacted] end", "nothing of it here"], "not cleaned within 30 s, or wrongly: \(String(describing: answer))")
    }

    /// A message is cut before it is cleaned; a secret begun just before the cut must not leave a piece too
    /// short to recognise (under 8) where the cleaning, dropping 700 control characters, brings it into the
    /// 300 shown (review). And the cut counts scalars: one character of 200,000 combining marks is not a
    /// message of one character.
    @Test func aCutMessageShowsNoPieceOfASecret() async throws {
        let controls = String(repeating: "\\u0001", count: 700)
        let cut = #"{"message":"\#(controls)\#(String(repeating: "x", count: 293))\#(Self.secret)"}"#
        try await withClient(.reply(status: 400, body: cut)) { client, _ in
            do {
                _ = try await client.listTags()
                Issue.record("expected an error")
            } catch let error as NECIDError {
                #expect(!error.message.contains("hostile"), "\(error.message)")
                #expect(error.message.contains("xxxx"), "the message itself is still shown: \(error.message)")
            }
        }
        let marks = #"{"message":"a\#(String(repeating: "\u{301}", count: 200_000))"}"#
        try await withClient(.reply(status: 400, body: marks), maxBytes: 1 << 20) { client, _ in
            do {
                _ = try await client.listTags()
                Issue.record("expected an error")
            } catch let error as NECIDError {
                #expect(error.message.unicodeScalars.count < 2_000, "\(error.message.unicodeScalars.count) scalars")
            }
        }
    }

    /// Printed anywhere (a log line's interpolation), the key pair names neither key.
    @Test func credentialsDescribeThemselvesWithoutEitherKey() {
        let text = "\(AWSCredentials(accessKeyID: "AKIDHOSTILE", secretAccessKey: Self.secret))"
        #expect(!text.contains("AKIDHOSTILE") && !text.contains(Self.secret), "\(text)")
    }

    @Test func notFoundIsNoMatchForSearchAndVerify() async throws {
        // The documented message, however it is cased, ended or worded.
        for body in [#"{"message":"Candidates not found"}"#, #"{"message":" candidates not  found. "}"#, #"{"message":"No candidates found","errorCode":1001}"#] {
            try await withClient(.reply(status: 404, body: body)) { client, _ in
                let result = try await client.search(probe: [1])
                #expect(result.candidates.isEmpty)
                if !body.contains("errorCode") {
                    await expectError(.notFound) { () throws(NECIDError) in try await client.listEvents(subjectID: "s1") }
                }
            }
        }
        for body in [#"{"message":"Subject not verified"}"#, #"{"message":"Subject with id not found"}"#] {
            try await withClient(.reply(status: 404, body: body)) { client, _ in
                let verification = try await client.verify(subjectID: "s1", probe: [1])
                #expect(!verification.isVerified)
            }
        }
        // Each call's own message only: a search's "no candidates" is no word on a verification.
        try await withClient(.reply(status: 404, body: #"{"message":"Candidates not found"}"#)) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.verify(subjectID: "s1", probe: [1]) }
        }
    }

    /// A 404 that is not NEC ID's "no match" (a proxy's or web server's page, or an API gateway's own JSON for
    /// a route it does not have: the endpoint's address or stage is wrong) is an error, not "nobody matched":
    /// otherwise everyone would be denied as unknown, the cloud healthy.
    @Test(arguments: [
        "<html><body><h1>404 Not Found</h1></body></html>", "", "Not Found", #"{"message":"Not Found"}"#, "{}",
        #"{"message":"Subject with id not found"}"#,
        // A web framework's 404 quoting the path names what the call looks for, and is no answer either.
        #"{"message":"No static resource v1.1/face/search."}"#, #"{"message":"candidates"}"#,
    ])
    func aNotFoundPageIsNoAnswer(body: String) async throws {
        try await withClient(.reply(status: 404, body: body)) { client, _ in
            await expectError(.malformedResponse) { () throws(NECIDError) in try await client.search(probe: [1]) }
            if !body.contains("Subject with id") {
                await expectError(.malformedResponse) { () throws(NECIDError) in try await client.verify(subjectID: "s1", probe: [1]) }
            }
        }
    }

    @Test func requestsCarrySignatureAndKeyButNoSecret() async throws {
        try await withClient(.reply(status: 200, body: #"{"status":"OK"}"#)) { client, server in
            _ = try await client.health()
            let head = try #require(server.requestHeads.first)
            #expect(head.hasPrefix("GET /v1.1/health HTTP/1.1"))
            #expect(head.lowercased().contains("authorization: aws4-hmac-sha256 credential=akidhostile/"))
            #expect(head.lowercased().contains("signedheaders=accept;host;x-amz-date;x-api-key"))
            #expect(head.contains("x-api-key: \(Self.apiKey)"))
            #expect(!head.contains(Self.secret))
        }
    }

    @Test func validationHappensBeforeSending() async throws {
        try await withClient(.silence) { client, server in
            await expectError(.validation) { () throws(NECIDError) in try await client.search(probe: [1], threshold: 10000) }
            await expectError(.validation) { () throws(NECIDError) in try await client.search(probe: [1], threshold: -1) }
            await expectError(.validation) { () throws(NECIDError) in try await client.search(probe: [1], limit: 0) }
            await expectError(.validation) { () throws(NECIDError) in try await client.search(probe: [1], limit: 51) }
            await expectError(.validation) { () throws(NECIDError) in try await client.search(probe: [1], tags: [""]) }
            await expectError(.validation) { () throws(NECIDError) in
                try await client.search(probe: [1], tags: (0...64).map { "t\($0)" })
            }
            await expectError(.validation) { () throws(NECIDError) in try await client.listSubjects(length: 1001) }
            await expectError(.validation) { () throws(NECIDError) in try await client.createTag(" ") }
            await expectError(.validation) { () throws(NECIDError) in try await client.registerSubject(face: []) }
            await expectError(.validation) { () throws(NECIDError) in try await client.unregisterSubject(id: "a/b") }
            // Dot segments a proxy may resolve: `…/events/..` would be the whole subject (review).
            await expectError(.validation) { () throws(NECIDError) in try await client.unregisterEvent(subjectID: "s", eventID: "..") }
            await expectError(.validation) { () throws(NECIDError) in try await client.unregisterSubject(id: ".") }
            await expectError(.validation) { () throws(NECIDError) in try await client.deleteTag("..") }
            await expectError(.validation) { () throws(NECIDError) in try await client.renameTag(".", to: "staff") }
            await expectError(.validation) { () throws(NECIDError) in try await client.createTag("..") }
            await expectError(.validation) { () throws(NECIDError) in
                try await client.createGallery(name: "g", faceMinimumQualityScore: 0.3)
            }
            #expect(server.requestCount == 0)
        }
    }

    @Test("the installer's client refuses plain http off this machine and an endpoint with credentials, before sending and without repeating it")
    func anEndpointTheDaemonWouldRefuseIsRefusedHereToo() async throws {
        let httpClient = NECIDClient.makeHTTPClient()
        for (endpoint, portal, expected) in [
            ("http://nec.example/v1.1", nil, "must use https"), ("https://user:pa55word@nec.example", nil, "must not carry"),
            ("https://127.0.0.1:9", "http://portal.nec.example", "the portal endpoint must use https"),
        ] as [(String, String?, String)] {
            let client = NECIDClient(
                configuration: NECIDConfiguration(
                    endpoint: endpoint, portalEndpoint: portal,
                    credentials: AWSCredentials(accessKeyID: "AKIDHOSTILE", secretAccessKey: Self.secret), apiKey: Self.apiKey),
                httpClient: httpClient)
            do {
                if portal == nil { _ = try await client.health() } else { _ = try await client.listGalleries() }
                Issue.record("\(endpoint) was used")
            } catch {
                #expect(error.code == .validation)
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("nec.example") && !error.message.contains("pa55word"), "\(error.message)")
            }
        }
        try await httpClient.shutdown()
    }

    @Test("a cloud that cannot be reached is reported without its host name")
    func anUnreachableCloudIsReportedWithoutItsHost() async throws {
        let refused = try RefusedPort()
        defer { refused.release() }
        let httpClient = NECIDClient.makeHTTPClient()
        // localhost: plain http is allowed, and nothing listens on the port.
        let client = NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: "http://localhost:\(refused.port)", credentials: AWSCredentials(accessKeyID: "AKIDHOSTILE", secretAccessKey: Self.secret),
                apiKey: Self.apiKey, http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
            httpClient: httpClient)
        await expectError(.unreachable) { () throws(NECIDError) in try await client.health() }
        do {
            _ = try await client.health()
        } catch {
            #expect(!error.message.lowercased().contains("localhost"), "\(error.message)")
            #expect(error.message.contains("the cloud's host"), "\(error.message)")
            // Nor what it resolved to, nor the port.
            #expect(!error.message.contains("127.0.0.1") && !error.message.contains("::1"), "\(error.message)")
            #expect(!error.message.contains(String(refused.port)), "\(error.message)")
        }
        try await httpClient.shutdown()
        // A one-word host is taken out where it is a name, not from the middle of other words.
        struct Failure: Error, CustomStringConvertible {
            var description = "connection to nec failed: host nec, port 443 (nec.example is another)"
        }
        let text = CloudHTTP.withoutAddress(Failure(), of: HTTPClientRequest(url: "https://nec/v1.1/health"))
        #expect(text == "connection to the cloud's host failed: host the cloud's host, its port (nec.example is another)", "\(text)")
        // A name that resolved to IPv4 and IPv6 addresses, on its port; the errno's number stays.
        struct Resolved: Error, CustomStringConvertible {
            var description =
                "[IPv4]nec.example.com/203.0.113.7:8443 refused (errno: 111); [IPv6]nec.example.com/::ffff:203.0.113.8:8443 reset; "
                + "no address for host nec.example.com, port 8443; OID 2.5.29.17"
        }
        let resolved = CloudHTTP.withoutAddress(Resolved(), of: HTTPClientRequest(url: "https://nec.example.com:8443/v1.1/health"))
        #expect(
            resolved == "[IPv4]the cloud's host/its address refused (errno: 111); [IPv6]the cloud's host/its address reset; "
                + "no address for host the cloud's host, its port; OID 2.5.29.17", "\(resolved)")
    }

    /// Issue 9, item 9: a 429 or 5xx, whatever its body, keeps its HTTP status in the error, which is
    /// what makes the door treat it as the cloud unavailable (see `CloudUnavailableStatusTests`).
    @Test func overloadAndServerErrorsKeepTheirStatus() async throws {
        let replies: [(Int, String)] = [
            (429, #"{"message":"Too Many Requests"}"#),
            (500, #"{"message":"Internal server error"}"#),
            (500, #"{"message":"bad","errorCode":1001,"errorType":"InvalidRequest"}"#),
            (502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
            (503, ""),
            (504, "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
        ]
        for (status, body) in replies {
            try await withClient(.reply(status: status, body: body)) { client, _ in
                do throws(NECIDError) {
                    _ = try await client.search(probe: [1])
                    Issue.record("HTTP \(status) was taken as a success")
                } catch {
                    #expect(error.httpStatus == status, "\(error)")
                    #expect(!error.message.contains("<html"), "a gateway's page is not quoted: \(error)")
                }
            }
        }
    }
}
