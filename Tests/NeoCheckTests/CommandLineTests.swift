import AsyncHTTPClient
import FacegateEmulators
import FacegateIdentify
import FacegateTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import Testing

/// The built `facegate` and `facegate-emulator` executables, beside the test bundle.
enum BuiltTools {
    static var facegate: URL { BuiltProducts.facegate }
    static var emulator: URL { BuiltProducts.emulator }
    static var built: Bool { BuiltProducts.built("facegate", "facegate-emulator") }
}

@Suite("facegate neocheck and facegate-emulator neocheck, run as commands", .enabled(if: BuiltTools.built, "the executables are built"), .timeLimit(.minutes(5)))
struct CommandLineTests {
    private func environment(_ harness: NeoCheckEmulatorHarness) -> [String: String] {
        environment(endpoint: harness.endpoint.absoluteString)
    }

    /// The test account's settings for a service at `endpoint` (the emulator, a loopback server).
    private func environment(endpoint: String) -> [String: String] {
        [
            "NEOCHECK_ENDPOINT": endpoint,
            "NEOCHECK_CLIENT_ID": NeoCheckTestAccount.clientID,
            "NEOCHECK_CLIENT_SECRET": NeoCheckTestAccount.clientSecret,
            "NEOCHECK_USERNAME": NeoCheckTestAccount.username,
            "NEOCHECK_PASSWORD": NeoCheckTestAccount.password,
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
    }

    @Test("every operation through the command tree, settings from the environment")
    func everyOperation() async throws {
        let photos = TestFaces.folder
        let scratch = try TemporaryFolder("cli").url
        let dataFile = scratch.appendingPathComponent("badge.txt")
        try Data("badge 4711".utf8).write(to: dataFile)
        try await withNeoCheckEmulator { harness in
            let env = environment(harness)
            func neocheck(_ arguments: String...) async throws -> ToolRun {
                let run = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + arguments, environment: env)
                #expect(run.status == 0, "\(arguments): \(run.errors)")
                return run
            }

            let token = try await neocheck("token").json()
            #expect(token["expiresIn"] as? Double == 3600)
            #expect(token["accessToken"] == nil)
            let shown = try await neocheck("token", "--show").json()
            #expect((shown["accessToken"] as? String)?.isEmpty == false)

            let list = try #require(
                try await neocheck("lists", "create", "--name", "staff", "--description", "day staff").json()["identifier"] as? String)
            #expect(try await neocheck("lists", "get", list).json()["name"] as? String == "staff")
            let renamed = try await neocheck("lists", "update", list, "--name", "all staff").json()
            #expect(renamed["name"] as? String == "all staff")
            #expect(renamed["description"] as? String == "day staff")

            let record = try #require(
                try await neocheck(
                    "records", "create", "--face", photos.appendingPathComponent("angelina_jolie/01.jpg").path, "--name", "Angelina",
                    "--surname1", "Jolie", "--external-id", "emp-1", "--data-file", dataFile.path, "--disabled"
                ).json()["identifier"] as? String)
            // Under the usual umask (022), as under sudo: the portrait and data file are still the owner's alone.
            let umaskBefore = umask(0o022)
            let created: [String: any Sendable]
            do {
                defer { umask(umaskBefore) }
                created = try await neocheck(
                    "records", "get", "--external-id", "emp-1", "--face-out", scratch.appendingPathComponent("face.jpg").path,
                    "--data-out", scratch.appendingPathComponent("data.txt").path
                ).json()
            }
            #expect(created["identifier"] as? String == record)
            #expect(created["enabled"] as? Bool == false)
            #expect(created["additionalDataFileName"] as? String == "badge.txt")
            #expect(try Data(contentsOf: scratch.appendingPathComponent("face.jpg")) == Data(try TestFaces.photo("angelina_jolie", "01.jpg")))
            #expect(try Data(contentsOf: scratch.appendingPathComponent("data.txt")) == Data("badge 4711".utf8))
            for file in ["face.jpg", "data.txt"] {
                let mode = try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent(file).path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["badge.txt", "data.txt", "face.jpg"])
            // A portrait that cannot be written is a failure of the run (1), not of its usage (64), and
            // leaves nothing behind.
            let unwritable = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "records", "get", "--external-id", "emp-1", "--face-out", scratch.appendingPathComponent("none/face.jpg").path],
                environment: env)
            #expect(unwritable.status == 1, "\(unwritable.errors)")
            #expect(unwritable.errors.contains("cannot write") && !unwritable.errors.contains("Usage"), "\(unwritable.errors)")
            // A special file named as the output (a FIFO here; /dev/stdout under sudo) is refused, not replaced by a
            // file holding the face.
            let fifo = scratch.appendingPathComponent("fifo").path
            #expect(mkfifo(fifo, 0o600) == 0)
            let special = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "records", "get", "--external-id", "emp-1", "--face-out", fifo], environment: env)
            #expect(special.status == 1 && special.errors.contains("not a regular file"), "\(special.errors)")
            #expect(isFIFO(fifo), "the FIFO is still there")
            // So is a symbolic link to one (/dev/stdout is a link to the terminal or pipe): not replaced either.
            let link = scratch.appendingPathComponent("stdout").path
            #expect(symlink(fifo, link) == 0)
            let linked = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "records", "get", "--external-id", "emp-1", "--face-out", link], environment: env)
            #expect(linked.status == 1 && linked.errors.contains("not a regular file"), "\(linked.errors)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == fifo, "the link is still there")

            let updated = try await neocheck("records", "update", record, "--name", "Angie", "--enable", "--surname2", "Voight").json()
            #expect(updated["name"] as? String == "Angie")
            #expect(updated["enabled"] as? Bool == true)
            #expect(updated["surname2"] as? String == "Voight")
            #expect(updated["externalIdentifier"] as? String == "emp-1")

            #expect(
                try await neocheck("lists", "add-record", "--record-external-id", "emp-1", "--list-name", "all staff").json()["added"] as? Bool
                    == true)

            let probe = photos.appendingPathComponent("angelina_jolie/03.jpg").path
            let viaRecord = try await neocheck("identify", "record", "--probe", probe, "--record", record).json()
            #expect(viaRecord["result"] as? String == "ok")
            #expect(viaRecord["faceQA"] == nil)
            let viaList = try await neocheck("identify", "list", "--probe", probe, "--list", list, "--qa").json()
            #expect(viaList["result"] as? String == "ok")
            #expect((viaList["match"] as? [String: Any])?["identifier"] as? String == record)
            #expect(viaList["faceQA"] != nil)
            let viaReference = try await neocheck(
                "identify", "reference", "--probe", probe, "--reference", photos.appendingPathComponent("katy_perry/01.jpg").path
            ).json()
            #expect(viaReference["result"] as? String == "failed")

            #expect(try await neocheck("records", "delete", record, "--yes").json()["deleted"] as? Bool == true)
            #expect(try await neocheck("lists", "delete", list, "--yes").json()["deleted"] as? Bool == true)
        }
    }

    @Test("failures exit non-zero with the message and no secret")
    func failures() async throws {
        try await withNeoCheckEmulator { harness in
            var env = environment(harness)
            let missing = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "records", "get", "no-such-record"], environment: env)
            #expect(missing.status != 0)
            #expect(missing.errors.contains("notFound"))

            env["NEOCHECK_PASSWORD"] = "wrong-password-for-test"
            let refused = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "token"], environment: env)
            #expect(refused.status != 0)
            #expect(refused.errors.contains("invalidCredentials"))
            for secret in ["wrong-password-for-test", NeoCheckTestAccount.clientSecret] {
                #expect(!refused.errors.contains(secret) && !refused.output.contains(secret))
            }

            env["NEOCHECK_CLIENT_SECRET"] = nil
            let unset = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "token"], environment: env)
            #expect(unset.status != 0)
            #expect(unset.errors.contains("NEOCHECK_CLIENT_SECRET"))

            let both = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "records", "get", "x", "--external-id", "y"], environment: env)
            #expect(both.status != 0)
        }
    }

    /// A mistyped id must not delete a face record or a list unasked. With standard input not a terminal
    /// (a script) nobody can be asked: without `--yes` the delete is refused, exit 1, saying to pass it,
    /// and no call is made; with `--yes` it is deleted.
    /// `--config` takes the door's account from its configuration and credential files as the daemon reads
    /// them, and the door's hourly budget file with it: the installer's calls count in the door's hour.
    /// A secret the file names and the folder lacks is refused by its key, no value said.
    @Test("--config signs in as the door, and counts in the door's budget")
    func theDoorsConfigurationIsTheAccount() async throws {
        let scratch = try TemporaryFolder("cli-config")
        defer { scratch.remove() }
        let credentials = scratch.url.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        for (name, value) in [("neocheck-client-secret", NeoCheckTestAccount.clientSecret), ("neocheck-password", NeoCheckTestAccount.password)] {
            try Data(value.utf8).write(to: credentials.appendingPathComponent(name))
        }
        let budget = scratch.url.appendingPathComponent("budget.json").path
        try await withNeoCheckEmulator { harness in
            let config = scratch.url.appendingPathComponent("facegate.yaml").path
            try """
            backend:
              kind: neocheck
              neocheck:
                endpoint: \(harness.endpoint.absoluteString)
                client_id: \(NeoCheckTestAccount.clientID)
                username: \(NeoCheckTestAccount.username)
                client_secret: credential:neocheck-client-secret
                password: credential:neocheck-password
                calls_per_hour: 100
                budget_state: \(budget)

            """.write(toFile: config, atomically: true, encoding: .utf8)
            // Nothing of the account in the environment.
            let bare = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            let run = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "lists", "create", "--name", "lobby", "--config", config, "--credentials", credentials.path], environment: bare)
            #expect(run.status == 0, "\(run.errors)")
            #expect(FileManager.default.fileExists(atPath: budget), "the call was counted in the door's budget file")
            let state = try String(contentsOfFile: budget, encoding: .utf8)
            #expect(!state.isEmpty)

            try FileManager.default.removeItem(at: credentials.appendingPathComponent("neocheck-password"))
            let missing = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "lists", "create", "--name", "lobby", "--config", config, "--credentials", credentials.path], environment: bare)
            #expect(missing.status != 0 && missing.errors.contains("backend.neocheck.password"), "\(missing.errors)")
            for secret in [NeoCheckTestAccount.clientSecret, NeoCheckTestAccount.password] { #expect(!(missing.output + missing.errors).contains(secret)) }
        }
    }

    @Test("records delete and lists delete are refused without --yes when nobody can be asked")
    func deletesNeedYesWithoutATerminal() async throws {
        try await withNeoCheckEmulator { harness in
            let env = environment(harness)
            func neocheck(_ arguments: String...) async throws -> ToolRun {
                try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + arguments, environment: env)
            }
            let list = try #require(try await neocheck("lists", "create", "--name", "night shift").json()["identifier"] as? String)
            let record = try #require(
                try await neocheck(
                    "records", "create", "--face", TestFaces.folder.appendingPathComponent("angelina_jolie/01.jpg").path, "--name", "Angelina",
                    "--surname1", "Jolie", "--external-id", "emp-7"
                ).json()["identifier"] as? String)
            let callsBefore = await harness.emulator.apiCalls
            for arguments in [["records", "delete", record], ["records", "delete", "--external-id", "emp-7"], ["lists", "delete", list]] {
                let refused = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + arguments, environment: env)
                #expect(refused.status == 1, "\(arguments): \(refused.errors)")
                #expect(refused.errors.contains("not a terminal") && refused.errors.contains("pass --yes"), "\(arguments): \(refused.errors)")
                #expect(refused.errors.contains("'\(arguments.last ?? "")'"), "names what it would delete: \(refused.errors)")
                #expect(refused.output.isEmpty)
                for secret in [NeoCheckTestAccount.clientSecret, NeoCheckTestAccount.password] { #expect(!refused.errors.contains(secret)) }
            }
            #expect(await harness.emulator.apiCalls == callsBefore, "nothing was sent")
            #expect(try await neocheck("records", "get", record).status == 0)
            #expect(try await neocheck("lists", "get", list).status == 0)

            #expect(try await neocheck("records", "delete", "--external-id", "emp-7", "--yes").json()["deleted"] as? Bool == true)
            #expect(try await neocheck("lists", "delete", list, "-y").json()["deleted"] as? Bool == true)
            #expect(try await neocheck("records", "get", record).status != 0)
            #expect(try await neocheck("lists", "get", list).status != 0)
        }
    }

    /// A delete whose first attempt got no answer (a gateway's 502, which may come after the service deleted
    /// it) and whose retry finds nothing is done, with a note (before: "not found", exit 1); a "not found" at
    /// the first attempt is still a failure.
    @Test(arguments: [["records", "delete"], ["lists", "delete"]])
    func aDeleteWhoseRetryFindsNothingIsDone(command: [String]) async throws {
        let attempts = CallCounter()
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ")
            let target = parts.dropFirst().first ?? ""
            if target.hasSuffix("connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#)
            }
            guard parts.first == "DELETE" else { return .reply(status: 400) }
            return attempts.next() == 1 ? .gatewayPage(502) : .reply(status: 404, contentType: nil)
        }
        defer { server.close() }
        let id = "2b1d6c1e-0000-4000-8000-000000000009"
        let done = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + command + [id, "--yes"], environment: environment(endpoint: server.endpoint))
        #expect(done.status == 0, "\(done.output) \(done.errors)")
        #expect(done.errors.contains("may have been what deleted it: it is not there now"), "\(done.errors)")
        #expect(server.requestLines.filter { $0.hasPrefix("DELETE") }.count == 2, "\(server.requestLines)")

        let missing = try await HostileServer.start { line in
            line.contains("connect/token")
                ? .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#) : .reply(status: 404, contentType: nil)
        }
        defer { missing.close() }
        let mistyped = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + command + [id, "--yes"], environment: environment(endpoint: missing.endpoint))
        #expect(mistyped.status == 1, "\(mistyped.output) \(mistyped.errors)")
        #expect(!mistyped.errors.contains("may have been what deleted it"), "\(mistyped.errors)")
    }

    /// A redirect is not followed: a 307 keeps the method and the body, so following it re-sent the
    /// password form (and, for a record, the face) to wherever it pointed, plain http included (review:
    /// the command built its own HTTP client, which followed up to five). Now the door's rule: the 307 is
    /// the answer, a failure, and nothing reaches the other host.
    @Test("a redirect is not followed: the sign-in and the faces go nowhere else")
    func aRedirectIsNotFollowed() async throws {
        let elsewhere = try await HostileServer.start(
            .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"elsewhere-token","expires_in":3600}"#))
        defer { elsewhere.close() }
        let server = try await HostileServer.start { line in
            let target = line.split(separator: " ").dropFirst().first ?? ""
            return .reply(status: 307, body: "", headers: ["Location: \(elsewhere.endpoint)\(target)"])
        }
        defer { server.close() }
        let env = environment(endpoint: server.endpoint)
        let face = TestFaces.folder.appendingPathComponent("angelina_jolie/01.jpg").path
        for arguments in [["token"], ["records", "create", "--face", face, "--name", "A", "--surname1", "B"]] {
            let run = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + arguments, environment: env)
            #expect(run.status != 0, "\(arguments): \(run.output)")
            #expect(!run.output.contains("elsewhere-token"), "\(arguments)")
        }
        #expect(server.requestCount >= 2)
        #expect(elsewhere.requestCount == 0, "followed to: \(elsewhere.requestLines)")
    }

    /// NeoCheck answers a delete or an add-to-list with a boolean (§3.3, §4.3, §4.5): `false` is the
    /// service declining it. The command exited 0 printing `{"deleted": false}`, and a script went on as
    /// if the person were gone (or in the list); now it fails, exit 1, saying which operation was declined
    /// and no value of the settings.
    @Test("a delete or add-record the service answers false exits non-zero saying which operation it declined")
    func aFalseAnswerIsAFailure() async throws {
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ")
            let target = parts.dropFirst().first ?? ""
            if target.hasSuffix("connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#)
            }
            if parts.first == "DELETE" || (parts.first == "POST" && target.hasSuffix("v1/face/list/AddFaceRecord")) {
                return .reply(status: 200, body: "false")
            }
            return .reply(status: 400)
        }
        defer { server.close() }
        let env = environment(endpoint: server.endpoint)
        let record = "2b1d6c1e-0000-4000-8000-000000000007", list = "9a1d6c1e-0000-4000-8000-000000000008"
        let cases: [(arguments: [String], declined: String)] = [
            (["records", "delete", record, "--yes"], "declined to delete the face record"),
            (["lists", "delete", list, "--yes"], "declined to delete the face list"),
            (["lists", "add-record", "--record", record, "--list", list], "declined to add the face record to the face list"),
        ]
        for (arguments, declined) in cases {
            let run = try await ToolProcess.run(BuiltTools.facegate, ["neocheck"] + arguments, environment: env)
            #expect(run.status == 1, "\(arguments): \(run.output) \(run.errors)")
            #expect(run.errors.contains(declined) && run.errors.contains("answered false"), "\(arguments): \(run.errors)")
            #expect(run.output.isEmpty, "\(arguments): \(run.output)")
            let said = run.output + run.errors
            for value in [NeoCheckTestAccount.clientID, NeoCheckTestAccount.clientSecret, NeoCheckTestAccount.username, NeoCheckTestAccount.password] {
                #expect(!said.contains(value), "\(arguments): \(said)")
            }
        }
        #expect(server.requestLines.filter { $0.hasPrefix("DELETE") || $0.contains("AddFaceRecord") }.count == 3, "\(server.requestLines)")
    }

    /// An update sends the record's state as read: a reply that leaves `enabled` out (a serialiser that skips
    /// default values drops exactly `false`) would have the edit send none, and the service takes none as
    /// enabled. The update is refused unless it says which; with `--disable` it goes through.
    @Test("an update of a record whose reply does not say whether it is enabled must say which")
    func updateOfARecordOfUnknownState() async throws {
        let record = "2b1d6c1e-0000-4000-8000-000000000001"
        let updates = Mutex<[String]>([])
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ")
            let target = parts.dropFirst().first ?? ""
            if target.hasSuffix("connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#)
            }
            if parts.first == "PUT", target.hasSuffix("v1/face") {
                updates.withLock { $0.append(String(line)) }
                return .reply(status: 200, body: #"{"result":true}"#)
            }
            if target.hasSuffix("v1/face/\(record)") {
                return .reply(status: 200, body: #"{"identifier":"\#(record)","name":"Leo","surname1":"M","faceListId":null}"#)
            }
            return .reply(status: 400)
        }
        defer { server.close() }
        let env = environment(endpoint: server.endpoint)
        let refused = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "records", "update", record, "--name", "Leon"], environment: env)
        #expect(refused.status != 0 && refused.errors.contains("--enable or --disable"), "\(refused.errors)")
        #expect(updates.withLock { $0.isEmpty }, "the record was updated with no word on its state")
        let disabled = try await ToolProcess.run(
            BuiltTools.facegate, ["neocheck", "records", "update", record, "--name", "Leon", "--disable"], environment: env)
        #expect(disabled.status == 0, "\(disabled.errors)")
        #expect(updates.withLock { $0.count } == 1)
    }

    /// A create that may have been carried out without an answer (no reply in time, a 5xx, a 2xx that is
    /// not the documented one) says the record or list may have been created and how to look, before an
    /// installer creates the person twice; a refusal (a 400 listing errors) and a failed sign-in do not.
    @Test("records create and lists create without a readable answer say it may have been created")
    func aCreateWithoutAnAnswerSaysItMayHaveBeenMade() async throws {
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ")
            let target = parts.dropFirst().first ?? ""
            if target.hasSuffix("connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#)
            }
            if target.hasSuffix("v1/face") { return .silence }
            if target.hasSuffix("v1/face/list") { return .reply(status: 500, body: #"{"message":"boom"}"#) }
            return .reply(status: 400)
        }
        defer { server.close() }
        let env = environment(endpoint: server.endpoint)
        let face = TestFaces.folder.appendingPathComponent("angelina_jolie/01.jpg").path
        let record = try await ToolProcess.run(
            BuiltTools.facegate,
            ["neocheck", "records", "create", "--face", face, "--name", "A", "--surname1", "J", "--external-id", "emp-9", "--timeout", "3"],
            environment: env)
        #expect(record.status == 1, "\(record.errors)")
        #expect(record.errors.contains("The face record may have been created all the same (no answer came in time)"), "\(record.errors)")
        #expect(record.errors.contains("`facegate neocheck records get --external-id 'emp-9'`"), "\(record.errors)")
        let list = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "lists", "create", "--name", "night"], environment: env)
        #expect(list.status == 1, "\(list.errors)")
        #expect(list.errors.contains("The face list 'night' may have been created all the same (the service failed"), "\(list.errors)")
        for run in [record, list] {
            for secret in [NeoCheckTestAccount.clientSecret, NeoCheckTestAccount.password] { #expect(!(run.output + run.errors).contains(secret)) }
        }
        #expect(server.requestLines.filter { $0.hasPrefix("POST /v1/face") }.count == 2, "each create sent once: \(server.requestLines)")

        // A refusal made nothing; nor did a sign-in that got no answer (the create was never sent).
        let refusing = try await HostileServer.start { line in
            if line.contains("connect/token") { return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#) }
            return .reply(status: 400, body: #"{"errors":[{"code":"E1","description":"duplicate name"}]}"#)
        }
        defer { refusing.close() }
        let silentSignIn = try await HostileServer.start(.silence)
        defer { silentSignIn.close() }
        for server in [refusing, silentSignIn] {
            let run = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "lists", "create", "--name", "night", "--timeout", "3"], environment: environment(endpoint: server.endpoint))
            #expect(run.status == 1 && !run.errors.contains("may have been"), "nothing was made: \(run.errors)")
        }
        #expect(silentSignIn.requestLines.allSatisfy { $0.contains("connect/token") }, "\(silentSignIn.requestLines)")
    }

    /// A new portrait replaces the record's face for good (the service keeps no copy), and a mistyped id
    /// puts one person's face on another's record: `records update --face` asks first, as a delete does.
    /// With no terminal it is refused without `--yes`, and no call is made; an update without `--face` does
    /// not ask.
    @Test("records update --face asks first, and without a terminal needs --yes")
    func replacingARecordsFaceAsksFirst() async throws {
        let record = "2b1d6c1e-0000-4000-8000-000000000003"
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ")
            let target = parts.dropFirst().first ?? ""
            if target.hasSuffix("connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#)
            }
            if parts.first == "PUT", target.hasSuffix("v1/face") { return .reply(status: 200, body: #"{"result":true}"#) }
            if target.hasSuffix("v1/face/\(record)") {
                return .reply(status: 200, body: #"{"identifier":"\#(record)","name":"Leo","surname1":"M","enabled":true}"#)
            }
            return .reply(status: 400)
        }
        defer { server.close() }
        var puts: Int { server.requestLines.filter { $0.hasPrefix("PUT ") }.count }
        let env = environment(endpoint: server.endpoint)
        let face = TestFaces.folder.appendingPathComponent("angelina_jolie/01.jpg").path
        let refused = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "records", "update", record, "--face", face], environment: env)
        #expect(refused.status == 1, "\(refused.errors)")
        #expect(
            refused.errors.contains("not replacing the face of the NeoCheck face record '\(record)' without confirmation")
                && refused.errors.contains("pass --yes"), "\(refused.errors)")
        #expect(server.requestCount == 0, "no call was made: \(server.requestLines)")
        let renamed = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "records", "update", record, "--name", "Leon"], environment: env)
        #expect(renamed.status == 0, "no face, no question: \(renamed.errors)")
        #expect(puts == 1)
        let replaced = try await ToolProcess.run(
            BuiltTools.facegate, ["neocheck", "records", "update", record, "--face", face, "--yes"], environment: env)
        #expect(replaced.status == 0, "\(replaced.errors)")
        #expect(puts == 2)
    }

    /// C1 controls (U+009B is a terminal's CSI) and bidirectional overrides in the service's text are printed
    /// as `\uXXXX` escapes, the same JSON still (before: JSONEncoder, which escapes only C0, printed them raw),
    /// and dropped from an error's message.
    @Test("C1 controls and bidi overrides from the service reach the terminal escaped")
    func c1ControlsAndBidiOverridesAreEscaped() async throws {
        let server = try await HostileServer.start { line in
            if line.contains("connect/token") { return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"t","expires_in":3600}"#) }
            if line.contains("v1/face/list/L1") { return .reply(status: 200, body: #"{"identifier":"L1","name":"a\u009b2Jb","description":"\u202eevil"}"#) }
            return .reply(status: 500, body: #"{"message":"boom \u009b2J \u2066x"}"#)
        }
        defer { server.close() }
        let env = environment(endpoint: server.endpoint)
        let unsafe: (Unicode.Scalar) -> Bool = { (0x80...0x9F).contains($0.value) || [0x202E, 0x2066].contains($0.value) }
        let list = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "lists", "get", "L1"], environment: env)
        #expect(list.status == 0, "\(list.errors)")
        #expect(!list.output.unicodeScalars.contains(where: unsafe), "\(list.output.debugDescription)")
        #expect(try list.json()["name"] as? String == "a\u{9B}2Jb", "still the same JSON: \(list.output)")
        #expect(try list.json()["description"] as? String == "\u{202E}evil")
        let failed = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "lists", "get", "L2"], environment: env)
        #expect(failed.status != 0 && failed.errors.contains("boom"), "\(failed.errors)")
        #expect(!failed.errors.unicodeScalars.contains(where: unsafe), "\(failed.errors.debugDescription)")
    }

    @Test("secrets are never flags: --client-secret and --password are refused, and their files work")
    func secretsFromFilesOnly() async throws {
        let scratch = try TemporaryFolder("cli-secrets").url
        defer { try? FileManager.default.removeItem(at: scratch) }
        func secretFile(_ name: String, _ value: String, mode: Int = 0o600) throws -> String {
            let path = scratch.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: mode]))
            return path
        }
        let secretPath = try secretFile("client-secret", NeoCheckTestAccount.clientSecret)
        let passwordPath = try secretFile("password", NeoCheckTestAccount.password)
        let loosePath = try secretFile("loose-password", NeoCheckTestAccount.password, mode: 0o644)
        try await withNeoCheckEmulator { harness in
            var env = environment(harness)
            for flag in ["--client-secret", "--password"] {
                let refused = try await ToolProcess.run(BuiltTools.facegate, ["neocheck", "token", flag, "flag-value-in-ps"], environment: env)
                #expect(refused.status != 0, "\(flag)")
                #expect(refused.errors.contains("\(flag)-file") && refused.errors.contains("ps"), "\(flag): \(refused.errors)")
                #expect(!refused.errors.contains("flag-value-in-ps"))
            }
            // The files alone sign in: the environment holds neither secret.
            env["NEOCHECK_CLIENT_SECRET"] = nil
            env["NEOCHECK_PASSWORD"] = nil
            let fromFiles = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "token", "--client-secret-file", secretPath, "--password-file", passwordPath], environment: env)
            #expect(fromFiles.status == 0, "\(fromFiles.errors)")
            // A file others can read is refused, naming the file but not its content.
            let loose = try await ToolProcess.run(
                BuiltTools.facegate, ["neocheck", "token", "--client-secret-file", secretPath, "--password-file", loosePath], environment: env)
            #expect(loose.status != 0)
            #expect(loose.errors.contains(loosePath) && loose.errors.contains("chmod 600"), "\(loose.errors)")
            #expect(!loose.errors.contains(NeoCheckTestAccount.password))
        }
    }

    @Test("the emulators take their secrets from files or the environment too: a secret flag is refused, unrepeated")
    func emulatorSecretsAreNeverFlags() async throws {
        let scratch = try TemporaryFolder("cli-emulator-secrets").url
        defer { try? FileManager.default.removeItem(at: scratch) }
        var environment = ProcessInfo.processInfo.environment
        for variable in ["NEOCHECK_CLIENT_SECRET", "NEOCHECK_PASSWORD", "NEC_ID_SECRET_KEY", "NEC_ID_API_KEY"] { environment[variable] = nil }
        let state = scratch.appendingPathComponent("state").path
        let cases: [(flag: String, arguments: [String])] = [
            ("--client-secret", ["neocheck", "--port", "0", "--client-id", "c", "--username", "u", "--state", state]),
            ("--password", ["neocheck", "--port", "0", "--client-id", "c", "--username", "u", "--state", state]),
            ("--secret-key", ["nec", "--port", "0", "--portal-port", "0", "--access-key", "AKID", "--state", state]),
            ("--api-key", ["nec", "--port", "0", "--portal-port", "0", "--access-key", "AKID", "--state", state]),
        ]
        for (flag, arguments) in cases {
            let refused = try await ToolProcess.run(BuiltTools.emulator, arguments + [flag, "flag-value-in-ps"], environment: environment)
            #expect(refused.status != 0, "\(flag)")
            #expect(refused.errors.contains("\(flag)-file") && refused.errors.contains("ps"), "\(flag): \(refused.errors)")
            #expect(!refused.errors.contains("flag-value-in-ps"))
            // Without the flag, the file or variable is asked for by name.
            let missing = try await ToolProcess.run(BuiltTools.emulator, arguments, environment: environment)
            #expect(missing.status != 0)
            #expect(missing.errors.contains("-file PATH"), "\(flag): \(missing.errors)")
        }
        // A secret file others can read is refused, naming the file but not what it holds.
        let loose = scratch.appendingPathComponent("secret-key").path
        #expect(FileManager.default.createFile(atPath: loose, contents: Data("emulator-loose-secret".utf8), attributes: [.posixPermissions: 0o644]))
        let refusedFile = try await ToolProcess.run(
            BuiltTools.emulator,
            ["nec", "--port", "0", "--portal-port", "0", "--access-key", "AKID", "--state", state, "--secret-key-file", loose, "--api-key-file", loose],
            environment: environment)
        #expect(refusedFile.status != 0)
        #expect(refusedFile.errors.contains(loose) && !refusedFile.errors.contains("emulator-loose-secret"), "\(refusedFile.errors)")
    }

    @Test("--budget-file carries the hourly budget from one run to the next")
    func budgetAcrossRuns() async throws {
        let budgetFile = try TemporaryFolder("cli-budget").url.appendingPathComponent("budget.json").path
        try await withNeoCheckEmulator { harness in
            let env = environment(harness)
            let arguments = ["neocheck", "lists", "create", "--budget-file", budgetFile, "--calls-per-hour", "1", "--name"]
            let first = try await ToolProcess.run(BuiltTools.facegate, arguments + ["first"], environment: env)
            #expect(first.status == 0, "\(first.errors)")
            let second = try await ToolProcess.run(BuiltTools.facegate, arguments + ["second"], environment: env)
            #expect(second.status != 0)
            #expect(second.errors.contains("callBudgetExhausted"))
            #expect(await harness.emulator.apiCalls == 1)
        }
    }

    @Test("the emulator command serves the API on the port it prints, and stops on SIGTERM")
    func emulatorCommand() async throws {
        let state = try TemporaryFolder("cli-emulator").url
        let process = Process()
        process.executableURL = BuiltTools.emulator
        process.arguments = [
            "neocheck", "--port", "0", "--client-id", NeoCheckTestAccount.clientID, "--username", NeoCheckTestAccount.username, "--state", state.path,
            "--calls-per-hour", "2", "--token-ttl", "60", "--credits", "3",
        ]
        // The secrets from the environment (the other way is a file; never a flag).
        var environment = ProcessInfo.processInfo.environment
        environment["NEOCHECK_CLIENT_SECRET"] = NeoCheckTestAccount.clientSecret
        environment["NEOCHECK_PASSWORD"] = NeoCheckTestAccount.password
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let firstLine = Mutex("")
        let announced = AsyncStream<String>.makeStream()
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            let line: String? = firstLine.withLock { text in
                guard !text.contains("\n") else { return nil }
                text += String(decoding: data, as: UTF8.self)
                return text.contains("\n") || data.isEmpty ? text : nil
            }
            if let line { announced.continuation.yield(line) }
        }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var lines = announced.stream.makeAsyncIterator()
        let line = try #require(await lines.next())
        let address = try #require(line.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(address.hasPrefix("http://127.0.0.1:"))

        let client = try NeoCheckClient(
            configuration: NeoCheckConfiguration(endpoint: try #require(URL(string: address)), credentials: NeoCheckTestAccount.credentials),
            http: CloudHTTP(client: .shared, policy: CloudHTTPPolicy(requestTimeout: .seconds(30)), logger: .init(label: "cli-emulator")))
        let token = try await client.tokens.token()
        #expect(token.lifetime == .seconds(60))
        let list = try await client.createList(name: "from the command")
        #expect(try await client.list(identifier: list).name == "from the command")
        await #expect(throws: NeoCheckError(.hourlyLimitReached, "")) { _ = try await client.list(identifier: list) }

        let status: Int32 = await withCheckedContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            process.terminate()
        }
        output.fileHandleForReading.readabilityHandler = nil
        #expect(status == 0)
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("neocheck.json").path))
    }
}

/// Whether `path` is a FIFO (FileManager reports it as neither file nor folder).
private func isFIFO(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO
}
