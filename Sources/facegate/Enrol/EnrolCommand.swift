import ArgumentParser
import FacegateApp
import FacegateCore
import FacegateJournal
import Foundation
import Logging

/// `facegate enrol`: the next person to approach the door's camera becomes a new subject (NEC ID) or
/// face record (NeoCheck), through the running daemon or, with --device, the camera opened here.
struct EnrolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol",
        abstract: "Enrols the next person to approach the door's camera: an NEC ID subject (or another face of one), or a NeoCheck face record.",
        discussion: """
            Asks the running daemon (its control socket) to take the next approach as an enrolment: the door \
            stays locked for it, and the kiosk shows the person how to stand. With --device, opens the camera \
            itself instead (stop the daemon first: it holds the camera). The face must pass the enrolment gate \
            (the configuration's enrolment section: size, pose, quality, nobody else in view) and, when the \
            liveness stage is on, be judged live; a face that matches someone already enrolled is refused with \
            whom it matches. The face is sent to the cloud and never stored on the box. \
            Prints the new subject or record id. Exits 0 when enrolled, 1 when refused or nobody came, \
            2 when the daemon or the camera cannot be used.
            """,
        aliases: ["enroll"])

    @Option(name: .customLong("tag"), help: "NEC ID: a tag to register against (repeatable; default: the door's tags).")
    var tags: [String] = []

    @Option(help: ArgumentHelp("NEC ID: add the face to this existing subject as another event.", valueName: "id"))
    var subject: String?

    @Option(help: "NeoCheck: the person's name.")
    var name: String?

    @Option(help: "NeoCheck: the person's first surname.")
    var surname1: String?

    @Option(help: "NeoCheck: the person's second surname.")
    var surname2: String?

    @Option(name: .customLong("external-id"), help: "NeoCheck: your own identifier for the record.")
    var externalID: String?

    @Option(help: ArgumentHelp("NeoCheck: the face list to enrol into (default: the door's face_list).", valueName: "list"))
    var list: String?

    @Option(help: "Seconds to wait for someone to approach (1-600).")
    var timeout = 60

    @Flag(help: "Print how it ended as JSON.")
    var json = false

    @OptionGroup var control: ControlSocketOption

    @Flag(help: "Open the camera here instead of asking the running daemon.")
    var device = false

    @Option(help: ArgumentHelp("With --device: the configuration file.", valueName: "path"))
    var config = "/etc/facegate/facegate.yaml"

    @Option(
        help: ArgumentHelp(
            "With --device: the camera instead of the configured one (a /dev path), or a video file or folder of frames to replay.",
            valueName: "path"))
    var camera: String?

    @Option(
        help: ArgumentHelp(
            "With --device: where credential:NAME secrets are read (default: $CREDENTIALS_DIRECTORY, else /etc/facegate/credentials).",
            valueName: "dir"))
    var credentials: String?

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 600 seconds") }
        if !device, camera != nil || credentials != nil {
            throw ValidationError("--camera and --credentials go with --device (the daemon uses its own camera and secrets)")
        }
    }

    var request: EnrolmentRequest {
        EnrolmentRequest(
            tags: tags, subject: subject, name: name, surname1: surname1, surname2: surname2, externalId: externalID, faceList: list)
    }

    func run() async throws {
        let outcome = device ? try await enrolHere() : try throughDaemon()
        report(outcome)
        if !outcome.enrolled { throw ExitCode(1) }
    }

    private func throughDaemon() throws -> EnrolmentOutcome {
        FileHandle.standardError.write(Data("facegate enrol: waiting up to \(timeout) s for someone to approach the camera\n".utf8))
        let response: ControlResponse
        do {
            // The daemon answers once the approach is enrolled: the wait, its work, then the cloud's two calls,
            // for as long as its limits allow whatever its configuration.
            response = try ControlClient.send(
                ControlRequest(command: .enrol, enrolment: request, timeoutSeconds: timeout), to: control.socket,
                timeout: DoorControllerService.longestEnrolmentAnswer(waiting: timeout))
        } catch let late as ControlAnswerLate {
            // Past every limit the daemon has: something is wrong there, and the face may be enrolled already.
            FileHandle.standardError.write(
                Data(
                    ("error: \(late): the enrolment may still be under way and the face may have been enrolled all the same; "
                        + "see `facegate status` and the daemon's log, and before enrolling again look in the cloud's register "
                        + "(enrolling again is refused as a duplicate naming it)\n").utf8))
            throw ExitCode(2)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let outcome = response.enrolment else {
            FileHandle.standardError.write(
                Data("error: \(TerminalText.printable(response.error ?? "the daemon did not say how the enrolment ended"))\n".utf8))
            throw ExitCode(2)
        }
        return outcome
    }

    private func enrolHere() async throws -> EnrolmentOutcome {
        var configuration: FacegateConfiguration
        do {
            configuration = try FacegateConfiguration.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        if let camera {
            if camera.hasPrefix("/dev/") {
                configuration.camera.source = .v4l2
                configuration.camera.device = camera
            } else {
                configuration.camera.source = .replay
                configuration.camera.replayPath = camera
                configuration.camera.replayLoops = false
            }
        }
        // Outside systemd there are no credentials passed in: read them where the unit loads them from.
        let environment = DoorAccountOptions.secretsEnvironment(ProcessInfo.processInfo.environment, credentials: credentials)
        var logger = Logger(label: "facegate.enrol") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        let enrolment: CameraEnrolment
        do {
            enrolment = try await CameraEnrolment.open(configuration, overrides: .init(environment: environment), logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        FileHandle.standardError.write(Data("facegate enrol: waiting up to \(timeout) s for someone to approach the camera\n".utf8))
        let outcome: EnrolmentOutcome
        do {
            outcome = try await enrolment.enrolFirstApproach(request, within: .seconds(timeout))
        } catch {
            FileHandle.standardError.write(Data("error: the camera failed: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // Journaled as the daemon journals the enrolments it takes on: who asked, as the kernel says and as sudo states.
        let asker = DoorControllerService.asker(uid: getuid(), pid: getpid(), stated: ProcessInfo.processInfo.environment["SUDO_USER"])
        do {
            try await enrolment.journal(outcome, askedBy: asker + ", enrol --device")
        } catch {
            // Said, not fatal: the cloud has the enrolment either way, and the outcome below says what it made.
            FileHandle.standardError.write(
                Data("warning: the enrolment is not in the journal (journal.path: \(error.code.rawValue)); note what it made by hand\n".utf8))
        }
        return outcome
    }

    private func report(_ outcome: EnrolmentOutcome) {
        if outcome.livenessChecked == false {
            FileHandle.standardError.write(Data("warning: \(DoorEnrolment.livenessNotChecked)\n".utf8))
        }
        if json {
            // The reason and the receipt may quote the cloud: escaped where JSON itself would leave them raw.
            print((try? JSONLine.encode(outcome)) ?? "{}")
        }
        guard let receipt = outcome.receipt, outcome.enrolled else {
            // The reason may quote the cloud (a duplicate's subject id, its error's words): shown, never obeyed.
            FileHandle.standardError.write(Data("not enrolled (\(outcome.result.rawValue)): \(TerminalText.printable(outcome.reason))\n".utf8))
            return
        }
        guard !json else { return }
        var line = "enrolled: \(receipt.backend == "nec" ? "subject" : "face record") \(TerminalText.printable(receipt.subjectId))"
        if let event = receipt.eventId { line += ", event \(TerminalText.printable(event))" }
        if !receipt.registeredUnder.isEmpty {
            line += receipt.backend == "nec" ? ", tags \(receipt.registeredUnder.joined(separator: ","))" : ", list \(receipt.registeredUnder.joined(separator: ","))"
        }
        if let quality = outcome.quality { line += String(format: " (quality %.2f", quality) + (outcome.liveness.map { String(format: ", liveness %.2f)", $0) } ?? ")") }
        print(line)
    }
}
