import FacegateTesting
import Foundation
import Testing

/// `facegate nec ...` as an installer runs it, against the live emulator.
@Suite(.timeLimit(.minutes(5))) struct NECCommandTests {
    /// The built `facegate`, beside this test bundle.
    static var executable: URL {
        var folder = Bundle.main.bundleURL
        while folder.path != "/", !FileManager.default.fileExists(atPath: folder.appendingPathComponent("facegate").path) {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("facegate")
    }

    struct Run: Sendable {
        var status: Int32
        var output: String
        var error: String

        var json: Any? { try? JSONSerialization.jsonObject(with: Data(output.utf8), options: [.fragmentsAllowed]) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    /// Runs `facegate` off the concurrency pool, with the emulator's settings in the environment.
    func facegate(
        _ arguments: [String], emulator: NECEmulatorHarness, environment extra: [String: String] = [:], input: FileHandle? = nil
    ) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NEC_ID_") }
        environment["NEC_ID_ENDPOINT"] = emulator.endpoint
        environment["NEC_ID_PORTAL_ENDPOINT"] = emulator.portalEndpoint
        environment["NEC_ID_ACCESS_KEY"] = NECEmulatorHarness.accessKey
        environment["NEC_ID_SECRET_KEY"] = NECEmulatorHarness.secretKey
        environment["NEC_ID_API_KEY"] = NECEmulatorHarness.apiKey
        environment.merge(extra) { $1 }
        let run = try await ToolProcess.run(Self.executable, ["nec"] + arguments, environment: environment, input: input)
        return Run(status: run.status, output: run.output, error: run.errors)
    }

    /// `--config` takes the door's account from its configuration and credential files as the daemon reads
    /// them: an installer sets the door up without copying its keys anywhere else. A secret the file names and
    /// the folder lacks is refused by its key, no value said; a flag still wins over the file.
    @Test func theDoorsConfigurationIsTheAccount() async throws {
        let scratch = try TemporaryFolder("nec-config")
        defer { scratch.remove() }
        let credentials = scratch.url.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        for (name, value) in [
            ("nec-access-key", NECEmulatorHarness.accessKey), ("nec-secret-key", NECEmulatorHarness.secretKey), ("nec-api-key", NECEmulatorHarness.apiKey),
        ] {
            try Data(value.utf8).write(to: credentials.appendingPathComponent(name))
        }
        try await withNECEmulator { emulator in
            let config = scratch.url.appendingPathComponent("facegate.yaml").path
            try """
            backend:
              kind: nec
              nec:
                endpoint: \(emulator.endpoint)
                access_key: credential:nec-access-key
                secret_key: credential:nec-secret-key
                api_key: credential:nec-api-key

            """.write(toFile: config, atomically: true, encoding: .utf8)
            let bare = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            func nec(_ arguments: [String]) async throws -> ToolRun {
                try await ToolProcess.run(Self.executable, ["nec"] + arguments + ["--config", config, "--credentials", credentials.path], environment: bare)
            }
            let created = try await nec(["tags", "create", "lobby"])
            #expect(created.status == 0, "\(created.errors)")
            #expect(try await nec(["tags", "list", "--compact"]).output == "[\"lobby\"]\n")
            // A flag wins over the file: an endpoint where nothing listens fails.
            #expect(try await nec(["tags", "list", "--endpoint", "http://127.0.0.1:9"]).status != 0)

            try FileManager.default.removeItem(at: credentials.appendingPathComponent("nec-secret-key"))
            let missing = try await nec(["tags", "list"])
            #expect(missing.status != 0 && missing.errors.contains("backend.nec.secret_key"), "\(missing.errors)")
            for secret in [NECEmulatorHarness.secretKey, NECEmulatorHarness.apiKey] { #expect(!(missing.output + missing.errors).contains(secret)) }
        }
    }

    @Test func everyDayCommandsPrintTheServicesJSON() async throws {
        try await withNECEmulator { emulator in
            let health = try await facegate(["health"], emulator: emulator)
            #expect(health.status == 0)
            #expect(health.output.contains("\n  \"status\""), "pretty by default")
            #expect(health.object["status"] as? String == "OK")
            let compact = try await facegate(["health", "--compact"], emulator: emulator)
            #expect(compact.output == "{\"status\":\"OK\"}\n")

            #expect(try await facegate(["tags", "create", "staff"], emulator: emulator).status == 0)
            #expect(try await facegate(["tags", "rename", "staff", "employees"], emulator: emulator).status == 0)
            #expect(try await facegate(["tags", "list", "--compact"], emulator: emulator).output == "[\"employees\"]\n")

            let photo = TestData.url("faces/bbt_howard/01.png").path
            let registered = try await facegate(["subjects", "register", "--face", photo, "--tag", "employees"], emulator: emulator)
            #expect(registered.status == 0)
            let subjectID = try #require(registered.object["id"] as? String)
            let attributes = try #require(registered.object["attributes"] as? [String: Any])
            #expect(attributes["faceQualityScore"] is String, "attribute numbers stay as the service sent them")

            let probe = TestData.url("faces/bbt_howard/02.png").path
            let search = try await facegate(["search", "--probe", probe, "--threshold", "7000", "--limit", "3", "--tag", "employees"], emulator: emulator)
            #expect(search.status == 0)
            let candidates = try #require(search.object["candidates"] as? [[String: Any]])
            #expect(candidates.first?["id"] as? String == subjectID)

            let stranger = try await facegate(["search", "--probe", TestData.url("faces/bbt_sheldon/01.png").path], emulator: emulator)
            #expect(stranger.status == 0, "no match is a result, not a failure")
            #expect(stranger.object["message"] as? String == "Candidates not found")

            let verified = try await facegate(["verify", "--subject", subjectID, "--probe", probe], emulator: emulator)
            #expect(verified.status == 0)
            #expect((verified.object["score"] as? Int ?? 0) > 7000)
            let both = try await facegate(["verify", "--subject", subjectID, "--face", photo, "--probe", probe], emulator: emulator)
            #expect(both.status != 0)

            let events = try await facegate(["events", "list", subjectID], emulator: emulator)
            #expect((events.object["events"] as? [Any])?.count == 1)
            #expect(try await facegate(["subjects", "unregister", subjectID, "--yes"], emulator: emulator).status == 0)
            #expect(try await facegate(["subjects", "list", "--start", "0", "--length", "10", "--dir", "desc"], emulator: emulator).status == 0)
        }
    }

    @Test func tenancyAndBulkJobs() async throws {
        try await withNECEmulator { emulator in
            let created = try await facegate(["galleries", "create", "--name", "Lobby", "--minimum-quality", "0.5", "--size", "10"], emulator: emulator)
            #expect(created.status == 0)
            let galleryID = try #require(created.object["id"] as? String)
            #expect(created.object["apiKey"] as? String == "(hidden: --show-api-key prints it)", "\(created.output)")
            let galleries = try await facegate(["galleries", "list"], emulator: emulator)
            #expect((galleries.object["galleries"] as? [Any])?.count == 2)
            #expect(try await facegate(["galleries", "update", galleryID, "--size", "20"], emulator: emulator).object["size"] as? Int == 20)
            let application = try await facegate(["applications", "create", "--name", "Side door", "--gallery", galleryID], emulator: emulator)
            let applicationID = try #require(application.object["id"] as? String)
            #expect(try await facegate(["applications", "get", applicationID], emulator: emulator).object["name"] as? String == "Side door")
            #expect(try await facegate(["applications", "delete", applicationID, "--yes"], emulator: emulator).status == 0)
            #expect(try await facegate(["galleries", "delete", galleryID, "--yes"], emulator: emulator).status == 0)
            #expect(try await facegate(["galleries", "get", galleryID], emulator: emulator).status == 1)

            let bucket = emulator.stateDirectory.appendingPathComponent("bucket")
            try Data(try face("bbt_raj/01.png")).write(to: bucket.appendingPathComponent("raj.png"))
            try Data(try face("bbt_amy/01.png")).write(to: bucket.appendingPathComponent("amy.png"))
            #expect(try await facegate(["tags", "create", "night"], emulator: emulator).status == 0)
            let job = try await facegate(["jobs", "bulk-register", "--file", "raj.png", "--tag", "night", "--file", "amy.png"], emulator: emulator)
            #expect(job.status == 0)
            let batchID = try #require(job.object["batchId"] as? String)
            var processed: [[String: Any]] = []
            for _ in 0..<300 {
                let progress = try await facegate(["jobs", "progress", batchID], emulator: emulator)
                processed = progress.object["processed"] as? [[String: Any]] ?? []
                if processed.count == 2, processed.allSatisfy({ $0["status"] as? String == "Processed" }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(processed.map { $0["registerStatus"] as? String } == ["Success", "Success"])

            // A JSON file of registrations works too.
            let file = emulator.stateDirectory.appendingPathComponent("registrations.json")
            try Data(#"[{"filename": "raj.png", "tags": ["night"]}]"#.utf8).write(to: file)
            #expect(try await facegate(["jobs", "bulk-register", "--registrations", file.path], emulator: emulator).status == 0)
        }
    }

    @Test func failuresExitNonZeroWithTheMessageAndNoSecret() async throws {
        try await withNECEmulator { emulator in
            let wrongKey = try await facegate(["tags", "list"], emulator: emulator, environment: ["NEC_ID_API_KEY": "wrong"])
            #expect(wrongKey.status == 1)
            #expect(wrongKey.error.contains("Forbidden"))
            #expect(wrongKey.output.isEmpty)

            // A secret's file beats its environment variable.
            let keyFile = emulator.stateDirectory.appendingPathComponent("api-key")
            #expect(
                FileManager.default.createFile(
                    atPath: keyFile.path, contents: Data((NECEmulatorHarness.apiKey + "\n").utf8), attributes: [.posixPermissions: 0o600]))
            let flag = try await facegate(["tags", "list", "--api-key-file", keyFile.path], emulator: emulator, environment: ["NEC_ID_API_KEY": "wrong"])
            #expect(flag.status == 0, "\(flag.error)")

            let badSecret = try await facegate(["health"], emulator: emulator, environment: ["NEC_ID_SECRET_KEY": "x"])
            #expect(badSecret.status == 0, "health needs no signature")
            let badSignature = try await facegate(["tags", "list"], emulator: emulator, environment: ["NEC_ID_SECRET_KEY": "not-the-secret"])
            #expect(badSignature.status == 1)
            #expect(badSignature.error.contains("signature"))
            #expect(!badSignature.error.contains("not-the-secret"))

            let invalid = try await facegate(["search", "--probe", TestData.url("faces/bbt_amy/01.png").path, "--limit", "51"], emulator: emulator)
            #expect(invalid.status != 0)
            #expect(invalid.error.contains("limit"))
            let noFile = try await facegate(["subjects", "register", "--face", "/nonexistent.png"], emulator: emulator)
            #expect(noFile.status != 0)
            let noFace = try await facegate(["subjects", "register", "--face", TestData.url("faces/_noface/02.jpg").path], emulator: emulator)
            #expect(noFace.status == 1)
            #expect(noFace.error.contains("2001"))
            let noEndpoint = try await facegate(["health"], emulator: emulator, environment: ["NEC_ID_ENDPOINT": ""])
            #expect(noEndpoint.status != 0)
            #expect(noEndpoint.error.contains("NEC_ID_ENDPOINT"))
        }
    }

    /// A reply that carries terminal escapes (an error page, a hostile or broken gateway) cannot rewrite the
    /// installer's terminal: what the command prints of it, on either stream, has them escaped.
    @Test(arguments: [200, 400, 502])
    func aReplysControlCharactersAreEscaped(status: Int) async throws {
        let body = "\u{1B}[2J\u{1B}]0;owned\u{07}{\"status\": \"OK\", \"message\": \"\u{1B}[31mred\u{1B}[0m\"}\r\nforged line"
        let server = try await HostileServer.start(.reply(status: status, contentType: "text/html", body: body))
        defer { Task { await server.stop() } }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NEC_ID_") }
        environment["NEC_ID_ENDPOINT"] = "http://127.0.0.1:\(server.port)"
        environment["NEC_ID_PORTAL_ENDPOINT"] = "http://127.0.0.1:\(server.port)"
        environment["NEC_ID_ACCESS_KEY"] = NECEmulatorHarness.accessKey
        environment["NEC_ID_SECRET_KEY"] = NECEmulatorHarness.secretKey
        environment["NEC_ID_API_KEY"] = NECEmulatorHarness.apiKey
        for command in [["health"], ["tags", "list"], ["subjects", "unregister", "s-1", "--yes"], ["tags", "create", "staff"]] {
            let run = try await ToolProcess.run(Self.executable, ["nec"] + command, environment: environment)
            let printed = run.output + run.errors
            #expect(!printed.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0 == "\r" }, "\(command): \(printed.debugDescription)")
        }
    }

    /// Issue 9, item 17: secrets are never command-line flags (they show in `ps`).
    @Test func secretFlagsAreRefusedAndSecretFilesWork() async throws {
        try await withNECEmulator { emulator in
            for flag in ["--secret-key", "--api-key"] {
                let refused = try await facegate(["tags", "list", flag, "flag-value-in-ps"], emulator: emulator)
                #expect(refused.status != 0, "\(flag)")
                #expect(refused.error.contains("\(flag)-file") && refused.error.contains("ps"), "\(flag): \(refused.error)")
                #expect(!refused.error.contains("flag-value-in-ps"))
                #expect(refused.output.isEmpty)
            }
            // Both secrets from files, none in the environment.
            let folder = emulator.stateDirectory
            func secretFile(_ name: String, _ value: String, mode: Int = 0o600) -> String {
                let path = folder.appendingPathComponent(name).path
                #expect(FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: mode]))
                return path
            }
            let secretPath = secretFile("secret-key", NECEmulatorHarness.secretKey)
            let apiKeyPath = secretFile("api-key", NECEmulatorHarness.apiKey)
            let fromFiles = try await facegate(
                ["tags", "list", "--secret-key-file", secretPath, "--api-key-file", apiKeyPath], emulator: emulator,
                environment: ["NEC_ID_SECRET_KEY": "", "NEC_ID_API_KEY": ""])
            #expect(fromFiles.status == 0, "\(fromFiles.error)")
            // A symlink to the secret is refused, as is a file others can read; neither error shows the secret.
            let link = folder.appendingPathComponent("secret-link").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: secretPath)
            let viaLink = try await facegate(["tags", "list", "--secret-key-file", link], emulator: emulator, environment: ["NEC_ID_SECRET_KEY": ""])
            #expect(viaLink.status != 0)
            #expect(viaLink.error.contains("symbolic link"), "\(viaLink.error)")
            let loose = secretFile("loose-secret", NECEmulatorHarness.secretKey, mode: 0o644)
            let viaLoose = try await facegate(["tags", "list", "--secret-key-file", loose], emulator: emulator, environment: ["NEC_ID_SECRET_KEY": ""])
            #expect(viaLoose.status != 0)
            #expect(viaLoose.error.contains("chmod 600"), "\(viaLoose.error)")
            for run in [viaLink, viaLoose] { #expect(!run.error.contains(NECEmulatorHarness.secretKey)) }
        }
    }

    /// A mistyped id must not delete a gallery or every enrolment of a subject in one call: each delete
    /// asks first. With standard input not a terminal (a script) nobody can be asked, so without `--yes`
    /// it is refused, exit 1, with the way to do it, and nothing is sent; with `--yes` it goes through.
    @Test func deletesAreRefusedWithoutYesWhenNobodyCanBeAsked() async throws {
        try await withNECEmulator { emulator in
            #expect(try await facegate(["tags", "create", "doomed"], emulator: emulator).status == 0)
            let registered = try await facegate(
                ["subjects", "register", "--face", TestData.url("faces/bbt_howard/01.png").path, "--tag", "doomed"], emulator: emulator)
            let subjectID = try #require(registered.object["id"] as? String, "\(registered.error)")
            let second = try await facegate(
                ["events", "register", subjectID, "--face", TestData.url("faces/bbt_howard/02.png").path], emulator: emulator)
            let eventID = try #require(second.object["eventId"] as? String, "\(second.output)\(second.error)")
            let gallery = try await facegate(["galleries", "create", "--name", "Doomed lobby"], emulator: emulator)
            let galleryID = try #require(gallery.object["id"] as? String)
            let application = try await facegate(["applications", "create", "--name", "Doomed door", "--gallery", galleryID], emulator: emulator)
            let applicationID = try #require(application.object["id"] as? String)

            func events() async throws -> Int { (try await facegate(["events", "list", subjectID], emulator: emulator).object["events"] as? [Any])?.count ?? 0 }
            func tags() async throws -> String { try await facegate(["tags", "list", "--compact"], emulator: emulator).output }
            let deletes: [[String]] = [
                ["subjects", "unregister", subjectID], ["events", "unregister", subjectID, eventID], ["tags", "delete", "doomed"],
                ["galleries", "delete", galleryID], ["applications", "delete", applicationID],
            ]
            for arguments in deletes {
                let refused = try await facegate(arguments, emulator: emulator)
                #expect(refused.status == 1, "\(arguments): \(refused.error)")
                #expect(refused.error.contains("not a terminal") && refused.error.contains("pass --yes"), "\(arguments): \(refused.error)")
                #expect(refused.error.contains("'\(arguments[2])'"), "names what it would delete: \(refused.error)")
                #expect(!refused.error.contains(NECEmulatorHarness.apiKey) && !refused.error.contains(NECEmulatorHarness.secretKey))
                #expect(refused.output.isEmpty)
            }
            #expect(try await events() == 2, "the subject and its events are still there")
            #expect(try await tags() == "[\"doomed\"]\n")
            #expect(try await facegate(["galleries", "get", galleryID], emulator: emulator).status == 0)
            #expect(try await facegate(["applications", "get", applicationID], emulator: emulator).status == 0)

            for arguments in [deletes[1], deletes[2], deletes[4]] {
                let deleted = try await facegate(arguments + ["--yes"], emulator: emulator)
                #expect(deleted.status == 0, "\(arguments): \(deleted.error)")
            }
            #expect(try await events() == 1)
            #expect(try await tags() == "[]\n")
            #expect(try await facegate(["applications", "get", applicationID], emulator: emulator).status == 1)
            #expect(try await facegate(["subjects", "unregister", "-y", subjectID], emulator: emulator).status == 0)
            #expect(try await events() == 0)
            #expect(try await facegate(["galleries", "delete", galleryID, "--yes"], emulator: emulator).status == 0)
            #expect(try await facegate(["galleries", "get", galleryID], emulator: emulator).status == 1)
        }
    }

    /// At a terminal the delete asks, naming what it deletes, and goes on only on "y" or "yes".
    @Test func aDeleteAtATerminalAsksFirst() async throws {
        try await withNECEmulator { emulator in
            #expect(try await facegate(["tags", "create", "night"], emulator: emulator).status == 0)
            func delete(answering answer: String) async throws -> Run {
                let terminal = try PseudoTerminal()
                terminal.type(answer)
                return try await facegate(["tags", "delete", "night"], emulator: emulator, input: terminal.terminal)
            }
            for answer in ["n\n", "\n", "delete\n"] {
                let declined = try await delete(answering: answer)
                #expect(declined.status == 1, "\(answer.debugDescription): \(declined.error)")
                #expect(declined.error.contains("This deletes the NEC ID tag 'night'") && declined.error.contains("Delete? [y/N]"), "\(declined.error)")
                #expect(declined.error.contains("nothing deleted"), "\(declined.error)")
            }
            #expect(try await facegate(["tags", "list", "--compact"], emulator: emulator).output == "[\"night\"]\n")
            let confirmed = try await delete(answering: "yes\n")
            #expect(confirmed.status == 0, "\(confirmed.error)")
            #expect(try await facegate(["tags", "list", "--compact"], emulator: emulator).output == "[]\n")
        }
    }

    /// An update replaces the tags as well as the face, and NEC ID cannot read them back: without
    /// `--tag` the subject's "staff" tag was silently dropped, and every door searching by it refused the
    /// person. An update must give the tags again or say `--clear-tags`.
    @Test func anUpdateWithoutTagsIsRefusedUnlessItClearsThem() async throws {
        try await withNECEmulator { emulator in
            #expect(try await facegate(["tags", "create", "staff"], emulator: emulator).status == 0)
            let photo = TestData.url("faces/bbt_howard/01.png").path, newPhoto = TestData.url("faces/bbt_howard/02.png").path
            let probe = TestData.url("faces/bbt_howard/03.png").path
            let registered = try await facegate(["subjects", "register", "--face", photo, "--tag", "staff"], emulator: emulator)
            let subjectID = try #require(registered.object["id"] as? String, "\(registered.error)")
            func foundByStaff() async throws -> Bool {
                let search = try await facegate(["search", "--probe", probe, "--tag", "staff"], emulator: emulator)
                #expect(search.status == 0, "\(search.error)")
                return (search.object["candidates"] as? [[String: Any]])?.contains { $0["id"] as? String == subjectID } == true
            }
            #expect(try await foundByStaff())

            let refused = try await facegate(["subjects", "update", subjectID, "--face", newPhoto], emulator: emulator)
            #expect(refused.status != 0 && refused.output.isEmpty, "\(refused.output)")
            #expect(refused.error.contains("replaces the tags") && refused.error.contains("--clear-tags"), "\(refused.error)")
            #expect(try await foundByStaff(), "the refused update sent nothing: the tag is kept")
            let both = try await facegate(["subjects", "update", subjectID, "--face", newPhoto, "--tag", "staff", "--clear-tags"], emulator: emulator)
            #expect(both.status != 0 && both.error.contains("exclude each other"), "\(both.error)")

            let kept = try await facegate(["subjects", "update", subjectID, "--face", newPhoto, "--tag", "staff", "--yes"], emulator: emulator)
            #expect(kept.status == 0, "\(kept.error)")
            #expect(try await foundByStaff())
            let eventID = try #require(
                ((try await facegate(["events", "list", subjectID], emulator: emulator)).object["events"] as? [[String: Any]])?.first?["id"] as? String)
            let eventRefused = try await facegate(["events", "update", subjectID, eventID, "--face", photo], emulator: emulator)
            #expect(eventRefused.status != 0 && eventRefused.error.contains("--clear-tags"), "\(eventRefused.error)")
            #expect(try await foundByStaff())

            let cleared = try await facegate(["subjects", "update", subjectID, "--face", photo, "--clear-tags", "--yes"], emulator: emulator)
            #expect(cleared.status == 0, "\(cleared.error)")
            #expect(try await foundByStaff() == false, "--clear-tags leaves none")
            let help = try await facegate(["subjects", "update", "--help"], emulator: emulator)
            #expect(help.output.contains("Replace a subject's face and its tags"), "\(help.output)")
        }
    }

    /// An application's API key reaches its gallery: the portal commands print it masked, in clear only
    /// with `--show-api-key` (it was printed in clear by every one of them).
    @Test func apiKeysArePrintedMaskedUnlessAskedFor() async throws {
        try await withNECEmulator { emulator in
            let mask = "(hidden: --show-api-key prints it)"
            let created = try await facegate(["galleries", "create", "--name", "Side"], emulator: emulator)
            let galleryID = try #require(created.object["id"] as? String, "\(created.error)")
            #expect(created.object["apiKey"] as? String == mask)
            let shown = try await facegate(["galleries", "get", galleryID, "--show-api-key"], emulator: emulator)
            let applications = try #require(shown.object["applications"] as? [[String: Any]])
            let key = try #require(applications.first?["apiKey"] as? String)
            #expect(key != mask && !key.isEmpty)
            let application = try await facegate(["applications", "create", "--name", "Gate", "--gallery", galleryID], emulator: emulator)
            let applicationID = try #require(application.object["id"] as? String)
            let applicationKey = try #require(
                try await facegate(["applications", "get", applicationID, "--show-api-key"], emulator: emulator).object["apiKey"] as? String)
            #expect(applicationKey != mask)
            let printed: [[String]] = [
                ["galleries", "get", galleryID], ["galleries", "list"], ["applications", "list"], ["applications", "list", "--compact"],
                ["applications", "get", applicationID], ["applications", "update", applicationID, "--name", "Gate 2"],
            ]
            for arguments in printed {
                let run = try await facegate(arguments, emulator: emulator)
                #expect(run.status == 0, "\(arguments): \(run.error)")
                for secret in [key, applicationKey, NECEmulatorHarness.apiKey] {
                    #expect(!run.output.contains(secret) && !run.error.contains(secret), "\(arguments): \(run.output)")
                }
            }
            #expect(try await facegate(["applications", "list"], emulator: emulator).output.contains(mask))
            #expect(try await facegate(["applications", "list", "--show-api-key"], emulator: emulator).output.contains(NECEmulatorHarness.apiKey))
        }
    }
}
