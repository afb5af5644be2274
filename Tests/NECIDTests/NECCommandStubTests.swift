import FacegateTesting
import Foundation
import Testing

/// `facegate nec ...` against a loopback server answering as chosen: replies the Swagger allows, and
/// creates that may have been carried out without an answer to show for it. Its tests run in
/// `NECCommandTests`, whose suite carries the time limit (`.timeLimit(.minutes(5))`).
extension NECCommandTests {
    /// Runs `facegate nec` against `server` (both hosts), with the emulator's credentials.
    func facegate(_ arguments: [String], server: HostileServer, input: FileHandle? = nil) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NEC_ID_") }
        environment["NEC_ID_ENDPOINT"] = server.endpoint
        environment["NEC_ID_PORTAL_ENDPOINT"] = server.endpoint
        environment["NEC_ID_ACCESS_KEY"] = NECEmulatorHarness.accessKey
        environment["NEC_ID_SECRET_KEY"] = NECEmulatorHarness.secretKey
        environment["NEC_ID_API_KEY"] = NECEmulatorHarness.apiKey
        let run = try await ToolProcess.run(Self.executable, ["nec"] + arguments, environment: environment, input: input)
        return Run(status: run.status, output: run.output, error: run.errors)
    }

    static var photo: String { TestData.url("faces/bbt_howard/01.png").path }

    /// The Swagger requires no field of a registration's reply (`Subject` {id, eventId, attributes}): a 201
    /// without the attributes, or with only some, is a subject made, and its id is printed (before: "the
    /// reply is not the documented JSON", exit 1, and an installer registered the person again).
    @Test func aRegistrationsReplyWithoutAttributesIsASubjectMade() async throws {
        let server = try await HostileServer.start { line in
            if line.hasPrefix("POST /v1.1/subjects/s1/events ") {
                return .reply(status: 201, body: #"{"id":"s1","eventId":"e2","attributes":{"faceQualityScore":"0.9"}}"#)
            }
            return .reply(status: 201, body: #"{"id":"s1","eventId":"e1"}"#)
        }
        defer { server.close() }
        let subject = try await facegate(["subjects", "register", "--face", Self.photo], server: server)
        #expect(subject.status == 0, "\(subject.error)")
        #expect(subject.object["id"] as? String == "s1" && subject.object["eventId"] as? String == "e1", "\(subject.output)")
        let event = try await facegate(["events", "register", "s1", "--face", Self.photo], server: server)
        #expect(event.status == 0, "\(event.error)")
        #expect(event.object["eventId"] as? String == "e2", "\(event.output)")
        #expect(server.requestLines.filter { $0.hasPrefix("POST") }.count == 2, "one request each: \(server.requestLines)")
    }

    /// A create that may have been carried out without an answer to show for it (a 2xx that cannot be read,
    /// a 5xx, no reply in time) says the subject may have been created and how to look, and prints the
    /// reply and the ids it names; a refusal (a 400) does not.
    @Test func aCreateWithoutAReadableAnswerSaysItMayHaveBeenMade() async throws {
        let cases: [(HostileServer.Behaviour, String)] = [
            (.reply(status: 201, body: #"{"id": 7, "eventId": "e9"}"#), "HTTP 201"),
            (.gatewayPage(502), "failed after it was asked"),
            (.silence, "no answer came in time"),
            // Past the 4 MiB a reply may be (review): it came, so the subject may have been made.
            (.reply(status: 201, body: #"{"id":"s1","pad":"\#(String(repeating: "x", count: 5 << 20))"}"#), "too large to read"),
        ]
        for (behaviour, why) in cases {
            let server = try await HostileServer.start(behaviour)
            defer { server.close() }
            // A short wait only where nothing will answer: a loaded machine may take more than 1 s to reply.
            let timeout = why == "no answer came in time" ? "1" : "15"
            let run = try await facegate(["subjects", "register", "--face", Self.photo, "--timeout", timeout], server: server)
            #expect(run.status == 1, "\(behaviour): \(run.error)")
            #expect(run.error.contains("The subject may have been created all the same (") && run.error.contains(why), "\(behaviour): \(run.error)")
            #expect(run.error.contains("`facegate nec subjects list --dir desc --length 5`"), "\(behaviour): \(run.error)")
            for secret in [NECEmulatorHarness.secretKey, NECEmulatorHarness.apiKey] { #expect(!(run.output + run.error).contains(secret)) }
            #expect(server.requestLines.count == 1, "a create is sent once: \(server.requestLines)")
        }
        let unread = try await HostileServer.start(.reply(status: 201, body: #"{"id": 7, "eventId": "e9"}"#))
        defer { unread.close() }
        let event = try await facegate(["events", "register", "s1", "--face", Self.photo], server: unread)
        #expect(event.object["eventId"] as? String == "e9", "the reply is printed: \(event.output)")
        #expect(event.error.contains("The reply names eventId e9"), "\(event.error)")
        #expect(event.error.contains("`facegate nec events list 's1'`"), "\(event.error)")

        // A bulk registration job is a create too: a lost answer may hide a job registering everyone (review:
        // a plain error, and running it again registered each person twice).
        let job = try await HostileServer.start(.gatewayPage(502))
        defer { job.close() }
        let bulk = try await facegate(["jobs", "bulk-register", "--file", "a.jpg", "--file", "b.jpg"], server: job)
        #expect(bulk.status == 1)
        #expect(bulk.error.contains("The bulk registration job may have been created all the same ("), "\(bulk.error)")
        #expect(bulk.error.contains("`facegate nec subjects list --dir desc --length 5`"), "\(bulk.error)")
        #expect(job.requestLines.count == 1, "sent once: \(job.requestLines)")

        let refused = try await HostileServer.start(.reply(status: 400, body: #"{"message":"Invalid request","errorCode":1001}"#))
        defer { refused.close() }
        let run = try await facegate(["subjects", "register", "--face", Self.photo], server: refused)
        #expect(run.status == 1 && run.error.contains("1001"), "\(run.error)")
        #expect(!run.error.contains("may have been"), "a refusal made nothing: \(run.error)")
    }

    /// A delete whose first attempt got no answer (a gateway's 502, which may come after the service deleted
    /// it) and whose retry finds nothing is done: the subject is not there, as asked, and a note says the
    /// first attempt may have deleted it (before: "not found", exit 1, and a script treated the removal of
    /// someone's access as failed). A "not found" at the first attempt is still a failure (a mistyped id).
    @Test func aDeleteWhoseRetryFindsNothingIsDone() async throws {
        let attempts = CallCounter()
        let retried = try await HostileServer.start { line in
            guard line.hasPrefix("DELETE /v1.1/subjects/s1 ") else { return .reply(status: 400, body: #"{"message":"unexpected"}"#) }
            return attempts.next() == 1 ? .gatewayPage(502) : .reply(status: 404, body: #"{"message":"Subject with id not found"}"#)
        }
        defer { retried.close() }
        let done = try await facegate(["subjects", "unregister", "s1", "--yes"], server: retried)
        #expect(done.status == 0, "\(done.error)")
        #expect(done.error.contains("may have been what deleted it: it is not there now"), "\(done.error)")
        #expect(retried.requestLines.filter { $0.hasPrefix("DELETE") }.count == 2, "\(retried.requestLines)")

        let missing = try await HostileServer.start(.reply(status: 404, body: #"{"message":"Subject with id not found"}"#))
        defer { missing.close() }
        let mistyped = try await facegate(["subjects", "unregister", "s1", "--yes"], server: missing)
        #expect(mistyped.status == 1 && mistyped.error.contains("not found"), "\(mistyped.error)")
        #expect(!mistyped.error.contains("may have been what deleted it"), "\(mistyped.error)")

        // A 503 first: the service did not take the request, so the retry's "not found" is a failure (review).
        let unavailable = CallCounter()
        let refusedFirst = try await HostileServer.start { line in
            unavailable.next() == 1 ? .gatewayPage(503) : .reply(status: 404, body: #"{"message":"Subject with id not found"}"#)
        }
        defer { refusedFirst.close() }
        let notDone = try await facegate(["subjects", "unregister", "s1", "--yes"], server: refusedFirst)
        #expect(notDone.status == 1 && !notDone.error.contains("may have been what deleted it"), "\(notDone.error)")
    }

    /// Replacing an enrolled face cannot be undone (NEC ID keeps no copy), and a mistyped id puts one person's
    /// face on another's enrolment: `subjects update` and `events update` ask first, as a delete does. With
    /// no terminal they are refused without `--yes`, and nothing is sent.
    @Test func replacingAnEnrolledFaceAsksFirst() async throws {
        let server = try await HostileServer.start(.reply(status: 200, body: #"{"id":"s1","eventId":"e1"}"#))
        defer { server.close() }
        var puts: Int { server.requestLines.filter { $0.hasPrefix("PUT ") }.count }
        let updates: [(arguments: [String], what: String)] = [
            (["subjects", "update", "s1", "--face", Self.photo, "--tag", "staff"], "the enrolled face of the NEC ID subject 's1'"),
            (["events", "update", "s1", "e1", "--face", Self.photo, "--clear-tags"], "the enrolled face of event 'e1' of the NEC ID subject 's1'"),
        ]
        for (arguments, what) in updates {
            let refused = try await facegate(arguments, server: server)
            #expect(refused.status == 1, "\(arguments): \(refused.error)")
            #expect(refused.error.contains("not replacing \(what) without confirmation") && refused.error.contains("pass --yes"), "\(refused.error)")
            #expect(refused.output.isEmpty)
        }
        #expect(server.requestCount == 0, "nothing was sent: \(server.requestLines)")
        for (arguments, _) in updates {
            let replaced = try await facegate(arguments + ["--yes"], server: server)
            #expect(replaced.status == 0, "\(arguments): \(replaced.error)")
        }
        #expect(puts == 2)

        func update(answering answer: String) async throws -> Run {
            let terminal = try PseudoTerminal()
            terminal.type(answer)
            return try await facegate(updates[0].arguments, server: server, input: terminal.terminal)
        }
        let declined = try await update(answering: "n\n")
        #expect(declined.status == 1, "\(declined.error)")
        #expect(declined.error.contains("This replaces \(updates[0].what)") && declined.error.contains("Replace? [y/N]"), "\(declined.error)")
        #expect(declined.error.contains("nothing replaced"), "\(declined.error)")
        #expect(puts == 2)
        let confirmed = try await update(answering: "y\n")
        #expect(confirmed.status == 0, "\(confirmed.error)")
        #expect(puts == 3)
    }

    /// The list commands read what the Swagger defines: `SubjectList` rows are `Subject` {id, eventId,
    /// attributes} (no `status`, no `lastUpdated`), `Events` is {events} (no subject id), and `GET /tags`
    /// answers one `Tag` {id, name}. Each was refused as "not the documented JSON" (exit 1).
    @Test(arguments: [
        (["subjects", "list"], #"{"subjects":[{"id":"s1","eventId":"e1","attributes":{"faceQualityScore":"0.8"}}],"total":1}"#),
        (["events", "list", "s1"], #"{"events":[{"id":"e1","score":0}]}"#),
        (["tags", "list"], #"{"id":1,"name":"staff"}"#),
        (["tags", "list"], #"[{"id":1,"name":"staff"},{"id":2,"name":"night"}]"#),
    ])
    func swaggerShapedListingsAreRead(arguments: [String], body: String) async throws {
        let server = try await HostileServer.start(.reply(status: 200, body: body))
        defer { server.close() }
        let run = try await facegate(arguments + ["--compact"], server: server)
        #expect(run.status == 0, "\(arguments): \(run.error)")
        #expect(run.json != nil && run.error.isEmpty, "\(arguments): \(run.output) \(run.error)")
    }

    /// A tag listing whose tags have no name is not an empty list (review): `{}`, `{"message":"x"}` and
    /// `[{"id":1}]` answered 200 are refused as not the documented JSON (before: exit 0, no tags).
    @Test(arguments: ["{}", #"{"message":"x"}"#, #"[{"id":1}]"#])
    func aTagListingWithoutNamesIsRefused(body: String) async throws {
        let server = try await HostileServer.start(.reply(status: 200, body: body))
        defer { server.close() }
        let run = try await facegate(["tags", "list"], server: server)
        #expect(run.status == 1, "\(body): \(run.output) \(run.error)")
    }

    /// The Swagger's `/jobs/bulkregister/{batchId}/{pagingId}` declares `pagingId` `in: query, required: true`:
    /// the page's key goes in the query, percent-encoded, as well as in the path (before: the path alone).
    @Test func theNextPagesKeyGoesInTheQueryToo() async throws {
        let server = try await HostileServer.start(.reply(status: 200, body: #"{"batchId":"b1","processed":[],"lastEvaluatedKey":""}"#))
        defer { server.close() }
        let key = "k 1+=&é"
        let run = try await facegate(["jobs", "progress", "b1", "--paging-id", key], server: server)
        #expect(run.status == 0, "\(run.error)")
        let encoded = "k%201%2B%3D%26%C3%A9"
        // The request line alone (`requestLines` keeps the whole head: "\r\n" is one Character).
        var targets: [String] { server.requestHeads.map { String($0.split(separator: "\r\n").first ?? "") } }
        #expect(targets == ["GET /v1.1/jobs/bulkregister/b1/\(encoded)?pagingId=\(encoded) HTTP/1.1"], "\(targets)")
        let first = try await facegate(["jobs", "progress", "b1"], server: server)
        #expect(first.status == 0, "\(first.error)")
        #expect(targets.last == "GET /v1.1/jobs/bulkregister/b1 HTTP/1.1", "no key, no query: \(targets)")
    }

    /// NEC ID names an existing gallery's key in its Duplicate message: the key is taken out however the
    /// message spells it (before: only `apiKey K`, case-sensitive, so JSON's `"apiKey":"K"` and the others
    /// printed the key).
    @Test(arguments: [
        #"Gallery exists, \"apiKey\":\"K1234567890\""#, "Gallery exists, ApiKey: K1234567890", "Gallery exists, API key K1234567890",
        "Gallery exists, x-api-key=K1234567890", "Gallery exists, apiKey K1234567890",
        // A Python backend's dict, a list of keys, JSON quoted twice (review).
        "Gallery exists, {'apiKey': 'K1234567890'}", #"Gallery exists, \"apiKeys\":[\"K1234567890\"]"#,
        #"Gallery exists, apiKey\\\":\\\"K1234567890\\\""#,
    ])
    func anotherGallerysKeyIsNotPrinted(message: String) async throws {
        let server = try await HostileServer.start(.reply(status: 400, body: #"{"message":"\#(message)","errorCode":1002}"#))
        defer { server.close() }
        let run = try await facegate(["galleries", "create", "--name", "Lobby"], server: server)
        #expect(run.status == 1, "\(run.error)")
        #expect(run.error.contains("Gallery exists") && run.error.contains("<redacted>"), "\(run.error)")
        #expect(!(run.output + run.error).contains("K1234567890"), "\(run.error)")
    }

    /// A key of lowercase letters only is a key too, however word-like: only a plain word under 20 letters is
    /// kept (review: "apiKey" followed by a lowercase-only key printed it).
    @Test func aLowercaseOnlyKeyIsNotPrinted() async throws {
        let key = "kqzjwmvbxrtplsnhdyfgcuea"
        let server = try await HostileServer.start(.reply(status: 400, body: #"{"message":"Gallery exists, apiKey \#(key)","errorCode":1002}"#))
        defer { server.close() }
        let run = try await facegate(["galleries", "create", "--name", "Lobby"], server: server)
        #expect(run.status == 1 && run.error.contains("<redacted>"), "\(run.error)")
        #expect(!(run.output + run.error).contains(key), "\(run.error)")
    }

    /// The pattern that takes keys out keeps plain words ("API key provided is invalid"), and a reply of a
    /// million spaces after "apikey" is answered at once: the message is cut to 1,000 characters before
    /// it is cleaned, and no part of the pattern can split a run of spaces two ways (before, it ran in
    /// time growing with the square of the run, on the door's own search path too: hours for a 4 MiB body,
    /// past this suite's time limit).
    @Test func keysAreTakenOutWithoutTakingWordsOrTime() async throws {
        let plain = try await HostileServer.start(.reply(status: 400, body: #"{"message":"The API key provided is invalid","errorCode":1002}"#))
        defer { plain.close() }
        let refused = try await facegate(["galleries", "create", "--name", "Lobby"], server: plain)
        #expect(refused.status == 1 && refused.error.contains("The API key provided is invalid"), "\(refused.error)")
        let spaces = String(repeating: " ", count: 1_000_000)
        let long = try await HostileServer.start(.reply(status: 400, body: #"{"message":"apikey\#(spaces)x","errorCode":1001}"#))
        defer { long.close() }
        let answered = try await facegate(["galleries", "create", "--name", "Lobby"], server: long)
        #expect(answered.status == 1, "\(answered.error.prefix(200))")
    }

    /// C1 controls (U+009B is a terminal's CSI, as ESC [ is) and bidirectional overrides in the service's
    /// text reach neither stream raw: the printed JSON has them as `\uXXXX` (the same JSON still), and an
    /// error message drops them (before: the serialiser, which escapes only C0, printed them raw).
    @Test(arguments: [#"{"id":"a\u009b2Jb","eventId":"e\u202ex\u2066"}"#, "{\"id\":\"a\u{9B}2Jb\",\"eventId\":\"e\u{202E}x\u{2066}\"}"])
    func c1ControlsAndBidiOverridesAreEscaped(body: String) async throws {
        let unsafe: (Unicode.Scalar) -> Bool = { (0x80...0x9F).contains($0.value) || [0x202E, 0x2066].contains($0.value) }
        for compact in [false, true] {
            let server = try await HostileServer.start(.reply(status: 201, body: body))
            defer { server.close() }
            let run = try await facegate(["subjects", "register", "--face", Self.photo] + (compact ? ["--compact"] : []), server: server)
            #expect(run.status == 0, "\(run.error)")
            #expect(!run.output.unicodeScalars.contains(where: unsafe), "\(run.output.debugDescription)")
            #expect(run.output.contains(#"a\u009b2Jb"#), "\(run.output)")
            #expect(run.object["id"] as? String == "a\u{9B}2Jb", "still the same JSON: \(run.output)")
            #expect(run.object["eventId"] as? String == "e\u{202E}x\u{2066}")
        }
        let refusing = try await HostileServer.start(.reply(status: 400, body: #"{"message":"bad \u009b2J \u202eevil","errorCode":1001}"#))
        defer { refusing.close() }
        let refused = try await facegate(["subjects", "register", "--face", Self.photo], server: refusing)
        #expect(refused.status == 1 && refused.error.contains("bad"), "\(refused.error)")
        #expect(!refused.error.unicodeScalars.contains(where: unsafe), "\(refused.error.debugDescription)")
    }
}
