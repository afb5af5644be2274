import FacegateApp
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateEmulators
import FacegateIdentify
import FacegateOfflineCache
import FacegateQuality
import FacegateTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing

/// Enrolment at the door: `facegate enrol` asks the running daemon (its control socket) to take the
/// next approach, or opens the camera itself (`--device`); the face passes the stricter gate and the
/// liveness stage, is checked against who is enrolled already, and goes to the real emulators over
/// loopback. The enrolled person is then let in by the daemon.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct EnrolmentTests {
    static let facegate = BuiltProducts.executable("facegate")

    @Test func theNextApproachIsEnrolledThroughTheDaemonAndThenLetIn() async throws {
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            rig.configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
            var enrolling: Task<ToolRun, any Error>?
            var enrolled: String?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json"]) }, decisions: 0
            ) { door in
                let run = try await #require(enrolling).value
                #expect(run.status == 0, "\(run.errors)")
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                #expect(outcome.result == .enrolled, "\(outcome.reason)")
                // The rig's liveness stage is off: the installer is told, in one line, that nothing judged it.
                #expect(outcome.livenessChecked == false && outcome.reason.contains("liveness was not checked"), "\(outcome.reason)")
                #expect(run.errors.split(separator: "\n").filter { $0.contains("liveness was not checked") }.count == 1, "\(run.errors)")
                let receipt = try #require(outcome.receipt)
                #expect(receipt.backend == "nec" && receipt.eventId != nil)
                #expect(receipt.registeredUnder == ["staff"], "the door's own tags when the request names none")
                #expect((outcome.quality ?? 0) >= rig.configuration.enrolment.minQuality)
                // The approach was an enrolment, not a visit to decide: the door never moved.
                #expect(door.lines.relayChanges == 0)
                try await door.service.flushJournal()
                #expect(try await rig.journaledDecisions().isEmpty, "nothing decided, and no probe journaled")
                // It gives lasting access: journaled as a door event, with what it made and who asked.
                let journaled = try rig.journaledDoorEvents().filter { $0.kind == .enrolment }
                #expect(journaled.count == 1, "\(journaled)")
                let detail = try #require(journaled.first?.detail)
                #expect(detail.hasPrefix("enrolled as \(receipt.subjectId) (event \(try #require(receipt.eventId)))"), "\(detail)")
                #expect(detail.contains("; asked by uid \(getuid()), pid "), "\(detail)")
                #expect(try await Self.subjects(rig) == [receipt.subjectId])
                #expect(await !door.service.pipeline.enrolmentIsWaiting)
                // Its two cloud calls (the duplicate search, the registration) are counted as the enrolment's.
                let samples = try await StatusEndpointTests.parsePrometheus(try await door.get("/metrics").body)
                #expect(samples["facegate_cloud_calls_total{backend=nec,purpose=enrolment,result=answered}"] == 2)
                #expect(samples["facegate_cloud_calls_total{backend=nec,purpose=decision,result=answered}"] == 0)
                #expect(samples["facegate_door_events_total{kind=enrolment}"] == 1, "counted as journaled")
                enrolled = receipt.subjectId
            }
            // The daemon lets the person in from now on (another photo of him), and nobody else.
            rig.configuration.control.socket = nil
            let run = try await rig.runDoor(visitors: [DoorControllerEndToEndTests.enrolledWalksUp, DoorControllerEndToEndTests.strangerWalksUp])
            #expect(run.outcomes.map(\.record.decision.outcome) == [.granted, .deniedUnknown])
            #expect(run.outcomes.first?.record.decision.subjectId == (try #require(enrolled)))
            // No file of the face was left anywhere in the door's folder.
            #expect(try Self.imageFiles(in: rig.folder).isEmpty)
        }
    }

    /// Under the door's own tag, or under another (a contractor now enrolled as staff would be a second
    /// identity): the duplicate search covers every tag.
    @Test(arguments: [["staff"], ["contractors"]])
    func aFaceAlreadyEnrolledIsRefusedNamingWhomItMatches(existingTags: [String]) async throws {
        try await DoorRig.with { rig in
            for tag in existingTags where try await !rig.client.listTags().contains(tag) { try await rig.client.createTag(tag) }
            let existing = try await rig.client.registerSubject(
                face: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), tags: existingTags
            ).id
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket]) }, decisions: 0
            ) { _ in
                let run = try await #require(enrolling).value
                #expect(run.status == 1)
                #expect(run.errors.contains("not enrolled (duplicate)") && run.errors.contains(existing), "\(run.errors)")
                #expect(try await Self.subjects(rig) == [existing], "nobody new in the gallery")
            }
        }
    }

    /// `--subject`: the face goes to that subject only if it is already theirs. A stranger who steps up
    /// while the installer waits for the subject is refused (`not-the-subject`) and nothing is added; the
    /// subject themselves is added as another face.
    @Test(arguments: [false, true])
    func aFaceIsAddedToASubjectOnlyIfItIsTheirs(theSubjectComes: Bool) async throws {
        try await DoorRig.with { rig in
            let existing = try await rig.client.registerSubject(
                face: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), tags: ["staff"]
            ).id
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            let visitor = theSubjectComes ? DoorControllerEndToEndTests.enrolledWalksUp : DoorControllerEndToEndTests.strangerWalksUp
            try await rig.runHeldDoor(
                visitors: [visitor],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json", "--subject", existing]) },
                decisions: 0
            ) { _ in
                let run = try await #require(enrolling).value
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                if theSubjectComes {
                    #expect(run.status == 0 && outcome.result == .enrolled, "\(outcome.reason)")
                    #expect(outcome.receipt?.subjectId == existing)
                } else {
                    #expect(run.status == 1 && outcome.result == .notTheSubject, "\(outcome.reason)")
                    #expect(outcome.receipt == nil)
                    // The stranger is found as nobody: no face of theirs was added to the subject.
                    let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.strangerWalksUp), quality: nil)
                    let found = try await NECFaceSearch(client: rig.client).search(probe, policy: rig.configuration.doorPolicy)
                    #expect(!found.contains { $0.subjectId == existing && $0.score >= rig.configuration.doorPolicy.threshold })
                }
                let subjects = try await Self.subjects(rig)
                #expect(Set(subjects) == [existing], "nobody new in the gallery: \(subjects)")
            }
        }
    }

    /// `--subject` typed in another case than the cloud's id: the same person to the door (``SubjectIdentity``),
    /// so their face is neither a duplicate of themselves nor refused as not theirs (before, the subject could
    /// never be given another face), and it is added under the cloud's own spelling, which its calls look up.
    @Test func aSubjectTypedInAnotherCaseGetsTheFaceUnderTheCloudsSpelling() async throws {
        try await DoorRig.with { rig in
            let existing = try await rig.client.registerSubject(
                face: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), tags: ["staff"]
            ).id
            let typed = existing.uppercased()
            try #require(typed != existing, "the emulator's ids have letters in lower case")
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json", "--subject", typed]) },
                decisions: 0
            ) { _ in
                let run = try await #require(enrolling).value
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                #expect(run.status == 0 && outcome.result == .enrolled, "\(outcome.reason)")
                #expect(outcome.receipt?.subjectId == existing)
                let subjects = try await Self.subjects(rig)
                #expect(Set(subjects) == [existing], "one subject, under the cloud's spelling: \(subjects)")
                #expect(subjects.count == 2, "listed once for each of its faces: \(subjects)")
            }
        }
    }

    @Test func aPoorFaceIsRefusedAndNothingIsEnrolled() async throws {
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            // Out of focus all the way up to the door.
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto], blurRadius: 6,
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json"]) }, decisions: 0
            ) { _ in
                let run = try await #require(enrolling).value
                #expect(run.status == 1)
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                #expect(outcome.result == .poorFace, "\(outcome.reason)")
                #expect(outcome.reason.contains("quality"), "says which measure failed: \(outcome.reason)")
                #expect(outcome.receipt == nil)
                #expect(try await Self.subjects(rig).isEmpty)
            }
        }
    }

    @Test func aPhotoHeldUpToTheCameraIsNotEnrolled() async throws {
        try await DoorRig.with { rig in
            // The scene's visitors are photos carried up to the camera: what the liveness stage refuses.
            rig.configuration.liveness.enabled = true
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json"]) }, decisions: 0
            ) { _ in
                let run = try await #require(enrolling).value
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                #expect(run.status == 1 && outcome.result == .notLive, "\(outcome.result): \(outcome.reason)")
                #expect(try await Self.subjects(rig).isEmpty)
            }
        }
    }

    @Test func theKioskFollowsTheEnrolmentWithoutNamingAnyone() async throws {
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            let log = KioskEventLog()
            var enrolling: Task<EnrolmentOutcome, Never>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto], watching: { door in try await door.streamEvents(into: log) },
                beforeScene: { door in
                    enrolling = Task { await door.service.pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(120)) }
                    #expect(await log.wait { events in events.contains { $0.name == "enrolment" } }, "the page is told an enrolment waits")
                    // A page that connects (again) meanwhile is told too, right after its `hello`.
                    let late = KioskEventLog()
                    let lateStream = Task { try await door.streamEvents(into: late) }
                    #expect(
                        await late.wait(seconds: 10) { events in events.prefix(2).map(\.name) == ["hello", "enrolment"] },
                        "a page connecting while the enrolment waits is told it waits")
                    lateStream.cancel()
                }, decisions: 0
            ) { door in
                let outcome = try await #require(enrolling).value
                #expect(outcome.enrolled, "\(outcome.reason)")
                // Ended: a page connecting now is not told of it.
                let after = KioskEventLog()
                let afterStream = Task { try await door.streamEvents(into: after) }
                #expect(await after.wait(seconds: 10) { events in events.first?.name == "hello" })
                try await Task.sleep(for: .milliseconds(300))
                #expect(await after.named("enrolment").isEmpty, "an ended enrolment is not replayed")
                afterStream.cancel()
                #expect(await log.wait { events in events.count { $0.name == "enrolment" } == 2 })
                let shown = await log.named("enrolment")
                #expect(shown.map { $0["state"] as? String } == ["waiting", "enrolled"])
                #expect(shown.map { $0["message"] as? String } == ["Enrolment: look at the camera", "Enrolled"])
                // The guidance went on while the person approached, and no subject id reached the page.
                #expect(await log.named("faces").contains { ($0["guidance"] as? String).map { $0 != "null" } ?? false })
                let subject = try #require(outcome.receipt?.subjectId)
                #expect(await !log.events.contains { "\($0.json)".contains(subject) })
            }
        }
    }

    @Test func oneEnrolmentAtATimeAndStatusAnswersMeanwhile() async throws {
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            try await rig.runHeldDoor(visitors: [], decisions: 0) { door in
                let first = try await Self.startEnrolment(door, ["--socket", socket, "--json", "--timeout", "3"])
                // The socket serves other commands while the enrolment waits.
                let status = try await ToolProcess.run(Self.facegate, ["status", "--socket", socket])
                #expect(status.status != 2 && status.output.contains("door:"), "\(status.errors)")
                let second = try await ToolProcess.run(Self.facegate, ["enrol", "--socket", socket, "--json"])
                #expect(second.status == 1 && second.errors.contains("not enrolled (busy)"), "\(second.errors)")
                // NEC ID keeps no names: refused before anyone is asked to approach.
                let named = try await ToolProcess.run(Self.facegate, ["enrol", "--socket", socket, "--name", "Ann"])
                #expect(named.status == 1 && named.errors.contains("invalid-request"), "\(named.errors)")
                // Nobody came.
                let run = try await first.value
                let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8))
                #expect(run.status == 1 && outcome.result == .timedOut && outcome.reason.contains("3 s"), "\(outcome.reason)")
                #expect(await !door.service.pipeline.enrolmentIsWaiting)
            }
        }
    }

    /// `facegate enrol` through the daemon waits as long as its `--timeout` (the client used to give up
    /// after 5 s, leaving the daemon waiting), and an installer's Ctrl-C withdraws the enrolment: left
    /// waiting, it would have enrolled whoever walked up next under the door's tags.
    @Test func anEnrolmentWhoseInstallerGaveUpIsWithdrawn() async throws {
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            try await rig.runHeldDoor(visitors: [], decisions: 0) { door in
                let log = rig.folder.appendingPathComponent("enrol.log")
                let enrol = try ToolProcess.start(Self.facegate, ["enrol", "--socket", socket, "--timeout", "120"], log: log)
                defer { if enrol.isRunning { enrol.terminate() } }
                func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
                let waiting = ContinuousClock.now + .seconds(30)
                while await !door.service.pipeline.enrolmentIsWaiting, ContinuousClock.now < waiting {
                    try await Task.sleep(for: .milliseconds(50))
                }
                try #require(await door.service.pipeline.enrolmentIsWaiting, "never waited: \(logText())")
                try await Task.sleep(for: .seconds(7))
                #expect(enrol.isRunning, "still waiting for the approach after 7 s: \(logText())")
                #expect(await door.service.pipeline.enrolmentIsWaiting)
                kill(enrol.processIdentifier, SIGINT)
                enrol.waitUntilExit()
                let withdrawn = ContinuousClock.now + .seconds(5)
                while await door.service.pipeline.enrolmentIsWaiting, ContinuousClock.now < withdrawn {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(await !door.service.pipeline.enrolmentIsWaiting, "the installer is gone: nobody is enrolled now")
                #expect(try await Self.subjects(rig).isEmpty)
            }
        }
    }

    @Test func aNeoCheckFaceRecordIsEnrolledIntoTheDoorsListAndThenLetIn() async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-enrol")
        defer { scratch.remove() }
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(analyzer: stills) { harness in
            let quiet = Logger.quiet("neocheck-enrol-test")
            let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
            let list = try await admin.createList(name: "front door")
            let configuration = try NeoCheckDoor.configuration(harness: harness, folder: scratch.url)
            let door = NeoCheckDoor(configuration: configuration, stills: stills)

            let request = EnrolmentRequest(name: "Leo", surname1: "Enrolled", externalId: "badge-0042")
            let outcome = try await door.enrol(request, visitor: DoorControllerEndToEndTests.enrolledPhoto)
            #expect(outcome.result == .enrolled, "\(outcome.reason)")
            let receipt = try #require(outcome.receipt)
            #expect(receipt.backend == "neocheck" && receipt.registeredUnder == ["front door"])
            let record = try await admin.record(.identifier(receipt.subjectId))
            #expect(record.name == "Leo" && record.surname1 == "Enrolled" && record.externalIdentifier == "badge-0042")
            #expect(record.faceListId?.lowercased() == list.lowercased(), "in the door's face list")

            // Let in by the daemon from now on, as that record.
            let decided = try await door.decide(visitor: DoorControllerEndToEndTests.enrolledWalksUp)
            #expect(decided.outcome == .granted && decided.subjectId == receipt.subjectId, "\(decided.reason)")

            // The same man again: refused, naming his record.
            let again = try await door.enrol(EnrolmentRequest(name: "Bob", surname1: "Quarrington-Again"), visitor: DoorControllerEndToEndTests.enrolledWalksUp)
            #expect(again.result == .duplicate && again.duplicateOf == receipt.subjectId, "\(again.reason)")
            // NeoCheck needs a name.
            let unnamed = try await door.enrol(EnrolmentRequest(tags: ["staff"]), visitor: nil)
            #expect(unnamed.result == .invalidRequest)
        }
    }

    /// A service that saves the record and then fails (500) before it answers: the record exists, in no
    /// face list, and the door cannot know its identifier. The installer is told the face may have been
    /// enrolled, and how to find the record (its external id), not that nothing was enrolled.
    @Test func aNeoCheckRecordSavedBeforeA500IsReportedAsPerhapsMade() async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-enrol-500")
        defer { scratch.remove() }
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(analyzer: stills) { harness in
            let quiet = Logger.quiet("neocheck-enrol-test")
            let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
            _ = try await admin.createList(name: "front door")
            let door = NeoCheckDoor(configuration: try NeoCheckDoor.configuration(harness: harness, folder: scratch.url), stills: stills)
            await harness.emulator.failRecordCreationsAfterSaving(1)

            let outcome = try await door.enrol(
                EnrolmentRequest(name: "Leo", surname1: "Unanswered", externalId: "badge-0046"), visitor: DoorControllerEndToEndTests.enrolledPhoto)
            #expect(outcome.result == .cloudFailed, "\(outcome.reason)")
            #expect(outcome.reason.contains("may have enrolled the face") && !outcome.reason.contains("did not enrol"), "\(outcome.reason)")
            #expect(outcome.reason.contains("facegate neocheck records get --external-id") && outcome.reason.contains("in no face list"), "\(outcome.reason)")
            #expect(!outcome.reason.contains("badge-0046"), "the external id is the installer's to type, not for the log")
            // It was made, in no list: what the command named finds.
            let made = try await admin.record(.externalIdentifier("badge-0046"))
            #expect(made.faceListId == nil)
        }
    }

    /// A record creation answered 200 with a body that is not the documented reply (a proxy's page, a cut
    /// answer): the service took the request, so the record may exist. The installer is told so and how to
    /// find it, not "did not enrol" (review: an unreadable 2xx was reported as nothing enrolled).
    @Test(arguments: ["<html><body>OK</body></html>", #"{"identifier":"#])
    func aRecordCreationWhoseAnswerCannotBeReadIsReportedAsPerhapsMade(body: String) async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-enrol-unreadable")
        defer { scratch.remove() }
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count >= 2 else { return .close }
            if parts[1].hasSuffix("/connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"unread-token","expires_in":3600}"#)
            }
            switch (parts[0], parts[1]) {
            case ("POST", "/api/v1/face/list/identify"):
                return .reply(status: 200, body: #"{"confidence":0,"result":1,"resultDescription":"The face list has no enabled face records"}"#)
            case ("POST", "/api/v1/face"):
                return .reply(status: 200, body: body)
            default:
                return .reply(status: 404, body: "")
            }
        }
        defer { server.close() }
        let stills = try TestFaceAnalyzers.stills()
        let configuration = try NeoCheckDoor.configuration(endpoint: server.endpoint + "/api", folder: scratch.url)
        let door = NeoCheckDoor(configuration: configuration, stills: stills)
        let outcome = try await door.enrol(
            EnrolmentRequest(name: "Leo", surname1: "Unread", externalId: "badge-0047"), visitor: DoorControllerEndToEndTests.enrolledPhoto)
        #expect(outcome.result == .cloudFailed, "\(outcome.reason)")
        #expect(outcome.reason.contains("may have enrolled the face all the same") && !outcome.reason.contains("did not enrol"), "\(outcome.reason)")
        #expect(outcome.reason.contains("facegate neocheck records get --external-id"), "says how to look: \(outcome.reason)")
        #expect(!server.requestLines.contains { $0.hasPrefix("POST /api/v1/face/list/AddFaceRecord") }, "no identifier, so nothing to add")
    }

    /// A face list that refuses the record (here: gone, as if deleted by an administrator since the
    /// duplicate search) leaves no record behind: a record in no list opens no door and only clutters
    /// the register.
    @Test func aNeoCheckRecordItsListWillNotTakeIsDeletedAgain() async throws {
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(analyzer: stills) { harness in
            let quiet = Logger.quiet("neocheck-enrol-test")
            let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
            let search = NeoCheckFaceSearch(client: admin)
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), quality: nil)
            let policy = DoorPolicy(door: "neocheck door", threshold: 80, scoreUnit: .neoCheckConfidence, faceList: "front door")
            let request = EnrolmentRequest(name: "Leo", surname1: "Listless", externalId: "badge-0043", faceList: "no such list")

            await #expect(throws: (any Error).self, "the list's refusal is the enrolment's failure") {
                _ = try await search.enrol(probe, as: request, policy: policy)
            }
            await #expect(throws: (any Error).self, "the record made before the refusal was deleted again") {
                _ = try await admin.record(.externalIdentifier("badge-0043"))
            }
            // The same request into a list that exists keeps the record: the check above can see one.
            _ = try await admin.createList(name: "front door")
            let receipt = try await search.enrol(probe, as: EnrolmentRequest(name: "Leo", surname1: "Listed", externalId: "badge-0043"), policy: policy)
            #expect(try await admin.record(.externalIdentifier("badge-0043")).identifier == receipt.subjectId)
        }
    }

    /// A face list add that outlasts the enrolment's time limit (the daemon's: the decision deadline and 5 s)
    /// leaves no record behind: the enrolment's task is cancelled by then, and the delete of the record it made
    /// runs all the same, in a task of its own. When that delete fails too, the installer is told the record's
    /// id and the command that deletes it, and the log line does not carry the id.
    @Test(arguments: [true, false])
    func aNeoCheckRecordWhoseListAddOutlastsTheTimeLimitIsDeletedAgain(theDeleteSucceeds: Bool) async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-enrol-stall")
        defer { scratch.remove() }
        let record = UUID().uuidString.lowercased()
        let server = try await HostileServer.start { line in
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count >= 2 else { return .close }
            if parts[1].hasSuffix("/connect/token") {
                return .reply(status: 200, body: #"{"token_type":"Bearer","access_token":"stall-token","expires_in":3600}"#)
            }
            switch (parts[0], parts[1]) {
            // Nobody enrolled yet: the duplicate search names nobody.
            case ("POST", "/api/v1/face/list/identify"):
                return .reply(status: 200, body: #"{"confidence":0,"result":1,"resultDescription":"The face list has no enabled face records"}"#)
            case ("POST", "/api/v1/face"):
                return .reply(status: 200, body: #"{"identifier":"\#(record)"}"#)
            case ("POST", "/api/v1/face/list/AddFaceRecord"):
                return .delayed(.seconds(30), .reply(status: 200, body: "true"))
            case ("DELETE", "/api/v1/face/\(record)"):
                return theDeleteSucceeds ? .reply(status: 200, body: "true") : .reply(status: 500, body: #"{"message":"Internal Error"}"#)
            default:
                return .reply(status: 404, body: "")
            }
        }
        defer { server.close() }
        let stills = try TestFaceAnalyzers.stills()
        var configuration = try NeoCheckDoor.configuration(endpoint: server.endpoint + "/api", folder: scratch.url)
        // Each attempt of the add may take 3 s: the enrolment's limit (3 s + 5 s) cuts off the third.
        configuration.backend.requestTimeout = .seconds(3)
        configuration.backend.decisionDeadline = .seconds(3)
        let logs = CapturedLogs()
        let door = NeoCheckDoor(configuration: configuration, stills: stills, logs: logs)

        let started = ContinuousClock.now
        let outcome = try await door.enrol(
            EnrolmentRequest(name: "Leo", surname1: "Stalled", externalId: "badge-0044"), visitor: DoorControllerEndToEndTests.enrolledPhoto)
        #expect(outcome.result == .cloudFailed, "\(outcome.reason)")
        #expect(
            server.requestLines.contains { $0.hasPrefix("DELETE /api/v1/face/\(record) HTTP/1.1") }, "the record made was deleted again: \(server.requestLines)")
        #expect(ContinuousClock.now - started < .seconds(29), "the enrolment ended by its limit, not the stalled add's reply")
        if theDeleteSucceeds {
            #expect(outcome.reason.contains("deleted again") && !outcome.reason.contains(record), "\(outcome.reason)")
            #expect(outcome.leftInCloud == nil)
        } else {
            #expect(outcome.reason.contains("facegate neocheck records delete \(record)"), "names the record to delete: \(outcome.reason)")
            #expect(outcome.leftInCloud == record)
        }
        #expect(!logs.text.contains(record), "no record id in a log line: \(logs.text)")
        #expect(logs.text.contains("enrolment refused"))
    }

    /// A registration NEC ID makes but answers too late (after the daemon's request timeout) is not reported as
    /// nothing enrolled: the installer is told the face may have been enrolled all the same, and how to look
    /// (`facegate nec subjects list --dir desc`), which lists the subject made.
    @Test func anNECRegistrationAnsweredTooLateIsReportedAsPerhapsMade() async throws {
        try await DoorRig.with { rig in
            await rig.stopCloud()
            try await rig.startCloud(registrationReplyDelay: .seconds(6))
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            var enrolling: Task<ToolRun, any Error>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto],
                beforeScene: { door in enrolling = try await Self.startEnrolment(door, ["--socket", socket, "--json"]) }, decisions: 0
            ) { door in
                let run = try await #require(enrolling).value
                let outcome = try #require(
                    try? JSONDecoder().decode(EnrolmentOutcome.self, from: Data(run.output.utf8)), "status \(run.status): \(run.output) \(run.errors)")
                #expect(run.status == 1 && outcome.result == .cloudFailed, "\(outcome.result): \(outcome.reason)")
                #expect(
                    outcome.reason.contains("may have enrolled the face all the same")
                        && outcome.reason.contains("facegate nec subjects list --dir desc"), "\(outcome.reason)")
                // The journal says so too: not "nothing was made".
                try await door.service.flushJournal()
                let journaled = try rig.journaledDoorEvents().filter { $0.kind == .enrolment }.compactMap(\.detail)
                #expect(
                    journaled.count == 1 && journaled[0].hasPrefix("cloud-failed (the cloud may have enrolled the face all the same); asked by uid "),
                    "\(journaled)")
                // It was made, and the command named finds it.
                let made = try await Self.subjects(rig)
                #expect(made.count == 1, "\(made)")
                var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NEC_ID_") }
                environment["NEC_ID_ENDPOINT"] = rig.cloud.endpoint
                environment["NEC_ID_PORTAL_ENDPOINT"] = rig.cloud.portalEndpoint
                environment["NEC_ID_ACCESS_KEY"] = rig.cloud.credentials.accessKeyID
                environment["NEC_ID_SECRET_KEY"] = rig.cloud.credentials.secretAccessKey
                environment["NEC_ID_API_KEY"] = rig.cloud.apiKey
                let listed = try await ToolProcess.run(
                    Self.facegate, ["nec", "subjects", "list", "--dir", "desc", "--length", "5"], environment: environment)
                #expect(listed.status == 0 && made.allSatisfy(listed.output.contains), "\(listed.errors)")
            }
        }
    }

    /// The hourly call budget spent by the enrolment's own calls does not keep the record it made: the delete
    /// of a record the face list did not take is made over the budget (a clean-up is worth a call).
    @Test func aNeoCheckRecordIsDeletedAgainWhenTheCallBudgetIsSpent() async throws {
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(analyzer: stills) { harness in
            let quiet = Logger.quiet("neocheck-enrol-test")
            let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
            _ = try await admin.createList(name: "front door")
            // One call left this hour: the record's creation spends it, and the add to the list is refused locally.
            let budget = try HourlyCallBudget(callsPerHour: 1)
            let search = NeoCheckFaceSearch(client: try harness.client(budget: budget, logger: quiet))
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo(DoorControllerEndToEndTests.enrolledPhoto), quality: nil)
            let policy = DoorPolicy(door: "neocheck door", threshold: 80, scoreUnit: .neoCheckConfidence, faceList: "front door")
            let request = EnrolmentRequest(name: "Leo", surname1: "Budgeted", externalId: "badge-0045")

            await #expect(throws: (any Error).self, "the budget's refusal is the enrolment's failure") {
                _ = try await search.enrol(probe, as: request, policy: policy)
            }
            #expect(await harness.emulator.apiCalls == 3, "the creation, and the delete made over the budget (plus the list's)")
            await #expect(throws: (any Error).self, "the record made before the refusal was deleted again") {
                _ = try await admin.record(.externalIdentifier("badge-0045"))
            }
        }
    }

    /// Revoking someone by disabling their NeoCheck record is not undone by enrolling them again: the
    /// duplicate check counts a match to a disabled record (here a service whose list identification compares
    /// disabled records, and the client, which never lets one in, would otherwise hide it). The door still
    /// lets him in no more.
    @Test func aDisabledNeoCheckRecordIsADuplicateNotSomeoneToEnrolAgain() async throws {
        let scratch = try TemporaryFolder("facegate-neocheck-enrol-disabled")
        defer { scratch.remove() }
        let stills = try TestFaceAnalyzers.stills()
        try await withNeoCheckEmulator(identifiesDisabledRecords: true, analyzer: stills) { harness in
            let quiet = Logger.quiet("neocheck-enrol-test")
            let admin = try harness.client(policy: CloudHTTPPolicy(requestTimeout: .seconds(20)), logger: quiet)
            _ = try await admin.createList(name: "front door")
            let logs = CapturedLogs()
            let door = NeoCheckDoor(configuration: try NeoCheckDoor.configuration(harness: harness, folder: scratch.url), stills: stills, logs: logs)

            let first = try await door.enrol(EnrolmentRequest(name: "Bob", surname1: "Quarrington"), visitor: DoorControllerEndToEndTests.enrolledPhoto)
            let enrolled = try #require(first.receipt?.subjectId, "\(first.reason)")
            // An administrator takes his access away.
            var update = NeoCheckFaceRecordUpdate(keeping: try await admin.record(.identifier(enrolled)))
            update.enabled = false
            try await admin.updateRecord(update)

            let decided = try await door.decide(visitor: DoorControllerEndToEndTests.enrolledWalksUp)
            #expect(decided.outcome != .granted, "a disabled record opens no door: \(decided.reason)")
            let again = try await door.enrol(EnrolmentRequest(name: "Bob", surname1: "Quarrington-Again"), visitor: DoorControllerEndToEndTests.enrolledWalksUp)
            #expect(again.result == .duplicate && again.duplicateOf == enrolled, "\(again.result): \(again.reason)")
            #expect(again.reason.contains("disabled"), "says a disabled record counts: \(again.reason)")
            #expect(!logs.text.contains("Quarrington"), "no name in a log line")
        }
    }

    @Test func withoutADaemonEnrolOpensTheCameraItselfAndJudgesLiveness() async throws {
        try await DoorRig.with { rig in
            let config = try Self.writeConfiguration(rig)
            let live = SharedTestData.url("pad/bonafide/lestari15__real.mp4").path
            // As under the unit: the journal's folder is the service's user's, and root runs the command.
            let serviceUser: uid_t = 4321
            if getuid() == 0 { #expect(chown(rig.folder.path, serviceUser, serviceUser) == 0) }
            let enrolled = try await ToolProcess.run(
                Self.facegate, ["enrol", "--device", "--config", config, "--camera", live, "--timeout", "120", "--tag", "staff", "--json"])
            #expect(enrolled.status == 0, "\(enrolled.errors)")
            let outcome = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(enrolled.output.utf8))
            let receipt = try #require(outcome.receipt, "\(outcome.result): \(outcome.reason)")
            #expect((outcome.liveness ?? 0) >= 0.5, "judged live by the liveness stage")
            #expect(outcome.livenessChecked == nil && !enrolled.errors.contains("liveness was not checked"), "\(enrolled.errors)")
            #expect(try await Self.subjects(rig) == [receipt.subjectId])
            // Lasting access given with the daemon stopped: journaled as the daemon journals it, with who asked.
            let journaled = try rig.journaledDoorEvents().filter { $0.kind == .enrolment }
            #expect(journaled.count == 1, "\(journaled)")
            let detail = try #require(journaled.first?.detail)
            #expect(detail.hasPrefix("enrolled as \(receipt.subjectId) (event \(try #require(receipt.eventId)))"), "\(detail)")
            #expect(detail.contains("; asked by uid \(getuid()), pid ") && detail.hasSuffix(", enrol --device"), "\(detail)")
            #expect(journaled.first?.door == "enrolment bench")
            if getuid() == 0 {
                // Made by root, given to the folder's owner: the door can still write its journal.
                let owner = try FileManager.default.attributesOfItem(atPath: rig.configuration.journal.path)[.ownerAccountID] as? Int
                #expect(owner == Int(serviceUser))
            }

            // His phone, showing his selfie: not live, not enrolled. (The screen's face is soft enough for
            // the enrolment gate to refuse it first; with the door's own gate, the liveness stage does.)
            let lenient = try Self.writeConfiguration(rig, extra: "enrolment: {min_quality: 0.5}")
            let screen = SharedTestData.url("pad/screen/lestari15__fake.mp4").path
            let attack = try await ToolProcess.run(
                Self.facegate, ["enrol", "--device", "--config", lenient, "--camera", screen, "--timeout", "120", "--json"])
            let refused = try JSONDecoder().decode(EnrolmentOutcome.self, from: Data(attack.output.utf8))
            #expect(attack.status == 1 && refused.result == .notLive, "\(refused.result): \(refused.reason)")

            // He again, live: already enrolled.
            let again = try await ToolProcess.run(Self.facegate, ["enrol", "--device", "--config", config, "--camera", live, "--timeout", "120"])
            #expect(again.status == 1 && again.errors.contains("duplicate") && again.errors.contains(receipt.subjectId), "\(again.errors)")
            #expect(try await Self.subjects(rig).count == 1)
            // The refusals too, as the daemon journals them.
            let details = try rig.journaledDoorEvents().filter { $0.kind == .enrolment }.compactMap(\.detail)
            #expect(details.count == 3 && details[1].hasPrefix("not-live;") && details[2].hasPrefix("duplicate of \(receipt.subjectId);"), "\(details)")

            // A camera that is not there: exit 2, naming the key, not the path's contents.
            let missing = try await ToolProcess.run(Self.facegate, ["enrol", "--device", "--config", config, "--camera", "/dev/video97"])
            #expect(missing.status == 2 && missing.errors.contains("camera"), "\(missing.errors)")
        }
    }

    // MARK: - Helpers

    /// Starts `facegate enrol` and returns once the daemon waits for the approach.
    static func startEnrolment(_ door: HeldDoor, _ arguments: [String]) async throws -> Task<ToolRun, any Error> {
        let enrolling = Task { try await ToolProcess.run(Self.facegate, ["enrol", "--timeout", "120"] + arguments) }
        let deadline = ContinuousClock.now + .seconds(30)
        while await !door.service.pipeline.enrolmentIsWaiting {
            guard ContinuousClock.now < deadline else {
                enrolling.cancel()
                Issue.record("the daemon never started waiting for the enrolment's approach")
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return enrolling
    }

    /// The gallery's subjects (NEC ID answers an empty gallery with 404).
    static func subjects(_ rig: DoorRig) async throws -> [String] {
        do {
            return try await rig.client.listSubjects().subjects.filter(\.isActive).map(\.id)
        } catch {
            // Spelled out rather than `catch where`: that form with typed throws trips the compiler.
            guard error.code == .notFound else { throw error }
            return []
        }
    }

    static func imageFiles(in folder: URL) throws -> [String] {
        let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
        return files.filter { [".jpg", ".jpeg", ".png"].contains(where: $0.lowercased().hasSuffix) }.filter { !$0.hasPrefix("nec/") }
    }

    /// A configuration file for `facegate enrol --device` on the rig's NEC ID emulator.
    static func writeConfiguration(_ rig: DoorRig, extra: String = "") throws -> String {
        let folder = rig.folder.path
        for (name, value) in [("access-key", rig.cloud.credentials.accessKeyID), ("secret-key", rig.cloud.credentials.secretAccessKey), ("api-key", rig.cloud.apiKey)] {
            #expect(FileManager.default.createFile(atPath: "\(folder)/\(name)", contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]))
        }
        let path = "\(folder)/facegate\(extra.isEmpty ? "" : "-lenient").yaml"
        try """
            backend:
              kind: nec
              request_timeout_seconds: 10
              decision_deadline_seconds: 10
              nec:
                endpoint: \(rig.cloud.endpoint)
                access_key: file:\(folder)/access-key
                secret_key: file:\(folder)/secret-key
                api_key: file:\(folder)/api-key
            door: {name: enrolment bench, tags: [staff]}
            offline_cache: {enabled: false}
            journal: {path: \(folder)/journal.sqlite}
            control: {socket: "off"}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A door on the NeoCheck emulator, run over one person's approach at a time.
struct NeoCheckDoor {
    let configuration: FacegateConfiguration
    let stills: DlibFaceAnalyzer
    /// Where the door's log lines go (nil: standard output, warnings and above).
    var logs: CapturedLogs? = nil

    static func configuration(harness: NeoCheckEmulatorHarness, folder: URL) throws -> FacegateConfiguration {
        try configuration(endpoint: harness.endpoint.absoluteString, folder: folder)
    }

    /// A door on the NeoCheck service at `endpoint` (`…/api`), as the test account.
    static func configuration(endpoint: String, folder: URL) throws -> FacegateConfiguration {
        let account = NeoCheckTestAccount.self
        var configuration = FacegateConfiguration()
        configuration.liveness.enabled = false
        configuration.control.socket = nil
        configuration.backend.kind = .neocheck
        configuration.backend.neoCheck.endpoint = endpoint
        configuration.backend.neoCheck.clientId = account.clientID
        configuration.backend.neoCheck.username = account.username
        for (name, value) in [("client-secret", account.clientSecret), ("password", account.password)] {
            let path = folder.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]))
        }
        configuration.backend.neoCheck.clientSecret = .file(folder.appendingPathComponent("client-secret").path)
        configuration.backend.neoCheck.password = .file(folder.appendingPathComponent("password").path)
        configuration.backend.neoCheck.budgetStatePath = folder.appendingPathComponent("budget.json").path
        configuration.door.name = "neocheck door"
        configuration.door.faceList = "front door"
        configuration.door.pulse = .milliseconds(300)
        configuration.journal.path = folder.appendingPathComponent("journal.sqlite").path
        configuration.offlineCache.enabled = false
        return configuration
    }

    /// The daemon over one approach of `visitor` (none: no frames), taken as an enrolment.
    func enrol(_ request: EnrolmentRequest, visitor: String?) async throws -> EnrolmentOutcome {
        let source = HeldSource(DemoScene(visitors: try visitor.map { [DemoScene.Visitor(name: $0, portrait: try portrait($0))] } ?? []))
        let service = try door(over: source)
        let running = Task { try await service.run() }
        defer {
            source.start.finish()
            source.release.finish()
        }
        async let outcome = service.pipeline.enrolNextVisit(request, within: .seconds(120))
        if visitor != nil {
            let deadline = ContinuousClock.now + .seconds(30)
            while await !service.pipeline.enrolmentIsWaiting, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        }
        source.start.finish()
        let result = await outcome
        source.release.finish()
        try await running.value
        return result
    }

    /// The daemon's decision on one approach of `visitor`.
    func decide(visitor: String) async throws -> Decision {
        let service = try door(over: DemoScene(visitors: [DemoScene.Visitor(name: visitor, portrait: try portrait(visitor))]))
        let decisions = await service.pipeline.decisions()
        let running = Task { try await service.run() }
        var outcomes: [GateOutcome] = []
        for await outcome in decisions { outcomes.append(outcome) }
        try await running.value
        return try #require(outcomes.first).record.decision
    }

    private func door(over source: any FrameSource) throws -> DoorControllerService {
        var logger = logs?.logger(label: "neocheck-enrol", level: .trace) ?? Logger(label: "neocheck-enrol")
        if logs == nil { logger.logLevel = .warning }
        let parts = try DoorParts.open(
            configuration,
            overrides: .init(source: source, doorLines: SimulatedDoorLines(logger: logger), faceEngine: try TestFaceAnalyzers.video().engine),
            logger: logger)
        var settings = DoorControllerService.Settings()
        settings.reloadsOnHangup = false
        let configuration = self.configuration
        return DoorControllerService(
            configuration: configuration, parts: parts, settings: settings, notifier: SystemdNotifier(environment: [:]), logger: logger,
            loadConfiguration: { configuration })
    }

    private func portrait(_ photo: String) throws -> PixelImage {
        try TestPortrait.headAndShoulders(try DoorControllerEndToEndTests.photo(photo), analyzer: stills)
    }
}
