import FacegateApp
import FacegateCore
import FacegateDoor
import Foundation
import Synchronization
import Testing
import FacegateTesting

/// The kiosk page in a real browser: Debian's chromium, headless, driven over the DevTools protocol
/// (`Tests/kiosk-browser/kiosk_browser.py`) while a running door decides real photos walking up. The
/// driver saves a screenshot of each state in `.build/artefacts/kiosk/`.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct KioskBrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let driver = packageRoot.appendingPathComponent("Tests/kiosk-browser/kiosk_browser.py")

    /// What the driver reported.
    struct BrowserReport: Decodable {
        var seen: [String: Bool]
        var screenshots: [String]
        var bannerTexts: [String: String?]?
        var consoleErrors: [String]?

        enum CodingKeys: String, CodingKey {
            case seen, screenshots, bannerTexts = "banner_texts", consoleErrors = "console_errors"
        }
    }

    /// The folder, emptied, where the driver saves this test's screenshots.
    static func artefacts(_ name: String) throws -> URL {
        let artefacts = packageRoot.appendingPathComponent(".build/artefacts/kiosk/\(name)")
        try? FileManager.default.removeItem(at: artefacts)
        try FileManager.default.createDirectory(at: artefacts, withIntermediateDirectories: true)
        return artefacts
    }

    /// The driver against the door's kiosk, saving its screenshots in `artefacts`.
    static func drive(_ door: HeldDoor, _ artefacts: URL, _ arguments: [String]) async throws -> ToolRun {
        try await ToolProcess.run(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [driver.path, "http://127.0.0.1:\(door.port)/", artefacts.path, "--timeout", "90"] + arguments)
    }

    /// Waits (up to 100 s) for the driver to report: once it has seen every state it looks for.
    static func waitForDriver(_ browser: borrowing Mutex<ToolRun?>) async throws {
        let deadline = ContinuousClock.now + .seconds(100)
        while browser.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
    }

    /// The driver's run and its report line.
    static func report(_ browser: borrowing Mutex<ToolRun?>) throws -> (ToolRun, BrowserReport) {
        let run = try #require(browser.withLock { $0 }, "the browser driver did not finish")
        try #require(run.status != 2, "chromium could not be started: \(run.errors)")
        let line = try #require(run.output.split(separator: "\n").last, "no report: \(run.errors)")
        return (run, try JSONDecoder().decode(BrowserReport.self, from: Data(line.utf8)))
    }

    @Test(arguments: [(800, 480), (480, 800)])
    func thePageShowsThePictureTheFacesTheGuidanceAndEachDecision(width: Int, height: Int) async throws {
        let artefacts = try Self.artefacts("\(width)x\(height)")
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            rig.configuration.kiosk.displayNames = [subject: "Leo"]
            let browser = Mutex<ToolRun?>(nil)
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp, DoorControllerEndToEndTests.strangerWalksUp],
                watching: { door in
                    let run = try await Self.drive(door, artefacts, ["--width", "\(width)", "--height", "\(height)"])
                    browser.withLock { $0 = run }
                }
            ) { _ in
                // The door has decided both; the browser reports once it has seen every state.
                try await Self.waitForDriver(browser)
            }
            let (run, report) = try Self.report(browser)
            for state in ["preview-updates", "face-box", "guidance", "granted", "denied"] {
                #expect(report.seen[state] == true, "the page never showed \(state)")
                #expect(FileManager.default.fileExists(atPath: artefacts.appendingPathComponent("\(state).png").path), "no screenshot of \(state)")
            }
            #expect(report.bannerTexts?["granted"]??.contains("Welcome, Leo") == true)
            #expect(report.bannerTexts?["denied"]??.isEmpty == false)
            #expect(report.consoleErrors ?? [] == [], "the page threw")
            #expect(run.status == 0, "\(run.errors)")
        }
    }

    /// The page shows the truth after its stream is lost: a door alarm (and an enrolment waiting, which the
    /// old daemon's stop ends on the page), then the daemon restarted (on the same address, with neither):
    /// once the page is connected again the enrolment's banner and the alarm are gone (the banner idle, or
    /// "Door out of service": this daemon has no frame yet). Before, `hello` reset the picture but left
    /// both standing for good.
    @Test func afterTheDaemonRestartsThePageDropsTheBannerAndAlarmItShowed() async throws {
        let artefacts = try Self.artefacts("restart")
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            let browser = DriverRun()
            var driver: Task<Void, Never>?
            var enrolling: Task<EnrolmentOutcome, Never>?
            var port = 0
            func shown(_ state: String) -> Bool { FileManager.default.fileExists(atPath: artefacts.appendingPathComponent("\(state).png").path) }
            // The driver outlives the first daemon: it watches the page across the restart.
            let startDriver: @Sendable (HeldDoor) -> Task<Void, Never> = { door in
                Task {
                    let run = try? await Self.drive(
                        door, artefacts, ["--width", "800", "--height", "480", "--expect", "enrolling,alarm,unavailable,reconnected-clear"])
                    browser.run.withLock { $0 = run }
                }
            }
            // The first daemon: an enrolment waits, the door is forced open; the page shows both.
            try await rig.runHeldDoor(
                visitors: [],
                beforeScene: { door in
                    port = door.port
                    driver = startDriver(door)
                    let deadline = ContinuousClock.now + .seconds(30)
                    while door.service.kioskWatchers == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                    enrolling = Task { await door.service.pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(300)) }
                    door.lines.setContact(open: true)
                }, decisions: 0
            ) { _ in
                let deadline = ContinuousClock.now + .seconds(60)
                while !(shown("enrolling") && shown("alarm")), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                #expect(shown("enrolling") && shown("alarm"), "the page showed the enrolment and the alarm")
            }
            // Stopped with the enrolment still waiting: the stop ends it (the page is sent `ended`), so here the
            // alarm is what the page still shows from the old daemon when its stream drops.
            enrolling?.cancel()
            // Away for longer than the page waits (3 s): it says the door is out of service, not "Look at the camera".
            let away = ContinuousClock.now + .seconds(20)
            while !shown("unavailable"), ContinuousClock.now < away { try await Task.sleep(for: .milliseconds(100)) }
            #expect(shown("unavailable"), "the page did not say the door is out of service while its daemon was away")
            // Restarted where the page looks for it, with no enrolment and the door shut.
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: port)
            try await rig.runHeldDoor(visitors: [], decisions: 0) { _ in
                try await Self.waitForDriver(browser.run)
            }
            driver?.cancel()
            let (run, report) = try Self.report(browser.run)
            #expect(report.seen["reconnected-clear"] == true, "after the restart the page still showed the old banner or alarm")
            #expect(report.bannerTexts?["unavailable"]??.contains("out of service") == true)
            // The browser's own notes of its stream refused while no daemon listened are the gap this test makes.
            let refusedWhileAway = { (line: String) in line.hasPrefix("network: ") && line.contains("ERR_CONNECTION_REFUSED") && line.hasSuffix("/events") }
            #expect((report.consoleErrors ?? []).filter { !refusedWhileAway($0) } == [], "the page threw")
            #expect(run.status == 0, "\(run.errors)")
        }
    }

    /// A daemon that runs but cannot decide (its camera silent past the limit) says so on the page, its
    /// stream up: "Door out of service", not "Look at the camera". Before, only a lost stream did.
    @Test func aDoorThatCannotDecideSaysSoOnThePage() async throws {
        let artefacts = try Self.artefacts("cannot-decide")
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            let browser = Mutex<ToolRun?>(nil)
            try await rig.runHeldDoor(
                visitors: [],
                watching: { door in
                    let run = try await Self.drive(door, artefacts, ["--width", "800", "--height", "480", "--expect", "unavailable-connected"])
                    browser.withLock { $0 = run }
                }, decisions: 0, cameraSilenceLimit: .seconds(1)
            ) { _ in
                try await Self.waitForDriver(browser)
            }
            let (run, report) = try Self.report(browser)
            #expect(report.seen["unavailable-connected"] == true, "the page never said the door is out of service with its stream up")
            #expect(report.bannerTexts?["unavailable"]??.contains("out of service") == true)
            #expect(report.consoleErrors ?? [] == [], "the page threw")
            #expect(run.status == 0, "\(run.errors)")
        }
    }

    @Test func thePageShowsAnEnrolmentWaitingAndItsEnd() async throws {
        let artefacts = try Self.artefacts("enrolment")
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            let browser = Mutex<ToolRun?>(nil)
            var enrolling: Task<EnrolmentOutcome, Never>?
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledPhoto],
                watching: { door in
                    let run = try await Self.drive(
                        door, artefacts, ["--width", "480", "--height", "800", "--expect", "enrolling,granted"])
                    browser.withLock { $0 = run }
                },
                beforeScene: { door in
                    enrolling = Task { await door.service.pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(120)) }
                }, decisions: 0
            ) { _ in
                let outcome = try await #require(enrolling).value
                #expect(outcome.enrolled, "\(outcome.reason)")
                try await Self.waitForDriver(browser)
            }
            let (run, report) = try Self.report(browser)
            // The guidance is `thePageShowsThePictureTheFacesTheGuidanceAndEachDecision`'s: here it may come and
            // go between two looks of a loaded machine's browser (a CI run missed it), and is not what is tested.
            for state in ["enrolling", "granted"] {
                #expect(report.seen[state] == true, "the page never showed \(state)")
            }
            #expect(report.bannerTexts?["enrolling"]??.contains("Enrolment") == true)
            #expect(report.bannerTexts?["granted"] == "Enrolled", "no name, no id on the screen")
            #expect(run.status == 0, "\(run.errors)")
        }
    }
}

/// The driver's run, shared with a task that outlives the closure that started it.
final class DriverRun: Sendable {
    let run = Mutex<ToolRun?>(nil)
}
