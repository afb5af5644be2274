import AsyncHTTPClient
import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateImageCodec
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import FacegateTesting

/// The kiosk's events from a running door, over HTTP as a page receives them: real photos walking up,
/// the NEC ID emulator deciding, the simulated door forced open. (The page itself, in a real browser,
/// is `KioskBrowserTests`.)
@Suite(.serialized, .timeLimit(.minutes(5)))
struct KioskFeedTests {
    @Test func aPageSeesThePictureTheFacesTheGuidanceEachDecisionAndTheAlarm() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            rig.configuration.kiosk.displayNames = [subject: "Leo"]
            let log = KioskEventLog()
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp, DoorControllerEndToEndTests.strangerWalksUp],
                watching: { door in try await door.streamEvents(into: log) }
            ) { door in
                #expect(await log.wait { events in events.count { $0.name == "decision" } == 2 }, "both decisions shown")
                let (status, contentType) = (await log.status, await log.contentType)
                #expect(status == 200 && contentType == "text/event-stream")
                let events = await log.events
                #expect(events.first?.name == "hello")
                #expect(events.first?.json["preview"] as? Double == 1)

                let decisions = await log.named("decision")
                #expect(decisions.map { $0["outcome"] as? String } == ["granted", "denied"])
                #expect(decisions.first?["message"] as? String == "Welcome, Leo", "the installer's name for the subject")
                #expect(decisions.last?["message"] as? String == "Not recognised", "a stranger is told nothing more")

                // The picture: real JPEGs of the frame, a few a second, numbered in order.
                let previews = await log.named("preview")
                #expect(previews.count >= 3)
                let numbers = previews.compactMap { $0["seq"] as? Double }
                #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count)
                let jpeg = try #require(Data(base64Encoded: previews.last?["jpeg"] as? String ?? ""))
                let picture = try ImageCodec.decode([UInt8](jpeg))
                #expect(picture.width == 640 && picture.height == 480)

                // Boxes where the face is, and the quality core's advice while the person approaches.
                let faces = await log.named("faces")
                let boxes = faces.compactMap { $0["faces"] as? [any Sendable] }.filter { !$0.isEmpty }
                #expect(!boxes.isEmpty)
                let guidance = Set(faces.compactMap { $0["guidance"] as? String }).subtracting(["null"])
                #expect(!guidance.isEmpty && guidance.isSubset(of: ["one-at-a-time", "come-closer", "face-the-camera", "more-light", "hold-still"]))
                #expect(faces.contains { ($0["message"] as? String)?.isEmpty == false })

                // The door forced open, then shut: an alarm banner raised and cleared.
                door.lines.setContact(open: true)
                #expect(await log.wait(seconds: 10) { events in events.contains { $0.name == "door" && $0.json["alarm"] as? String == "forced" } })
                door.lines.setContact(open: false)
                #expect(await log.wait(seconds: 10) { events in events.last { $0.name == "door" }?.json["alarm"] as? String == "null" })

                // The page itself comes from the binary, and may load nothing from elsewhere.
                let page = try await door.httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(door.port)/"), timeout: .seconds(10))
                #expect(page.status == .ok)
                #expect(page.headers.first(name: "content-security-policy")?.contains("default-src 'none'") == true)
                let html = String(buffer: try await page.body.collect(upTo: 1 << 20))
                #expect(html.lowercased().hasPrefix("<!doctype html>"))
                #expect(!html.contains("http://") && !html.contains("https://"), "nothing from a CDN")
                // The name is for the page only: not in the metrics or the health report.
                for path in ["/metrics", "/health"] { #expect(try await !door.get(path).body.contains("Leo")) }
            }
        }
    }

    /// A page that connects to a door that cannot decide (its camera silent from the start) is told so right
    /// after its hello, though no page watched before: the daemon asks whatever watches (here every 30 s,
    /// first as it starts), and the page is told the last answer. Before, nobody watching meant nobody
    /// asked, and the page said "Look at the camera" until the next time it was asked (review).
    @Test func aPageThatConnectsIsToldAtOnceThatTheDoorCannotDecide() async throws {
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            let log = KioskEventLog()
            try await rig.runHeldDoor(visitors: [], decisions: 0, kioskAvailability: .seconds(30)) { door in
                let reader = Task { try await door.streamEvents(into: log) }
                defer { reader.cancel() }
                let arrived = await log.wait(seconds: 5) { $0.count >= 2 }
                let events = await log.events
                #expect(arrived, "\(events.map(\.name))")
                #expect(events.prefix(2).map(\.name) == ["hello", "availability"], "\(events.map(\.name))")
                #expect(await log.named("availability").first?["can_decide"] as? Double == 0, "can_decide: false")
            }
        }
    }

    /// A grant whose relay could not be driven left the door locked: the page asks the person to try
    /// again (a welcome would have them push a locked door), and `/metrics` counts the failed unlock.
    @Test func aGrantWhoseRelayFailedAsksThePersonToTryAgain() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            rig.configuration.kiosk.displayNames = [subject: "Leo"]
            let log = KioskEventLog()
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp], watching: { door in try await door.streamEvents(into: log) },
                lines: RelayFailingOnce()
            ) { door in
                #expect(await log.wait { events in events.contains { $0.name == "decision" } })
                let shown = await log.named("decision")
                #expect(shown.map { $0["outcome"] as? String } == ["denied"], "\(shown)")
                #expect(shown.first?["message"] as? String == "Please try again", "\(shown)")
                #expect(!(await log.events.contains { $0.json.values.contains { "\($0)".contains("Leo") } }), "no welcome by name")
                let samples = try await StatusEndpointTests.parsePrometheus(try await door.get("/metrics").body)
                #expect(samples["facegate_unlock_failures_total"] == 1)
                // Counted as decided, before the relay moved: the journal's grant, whose relay failed.
                #expect(samples["facegate_decisions_total{outcome=granted}"] == 1)
                let journaled = try await rig.journaledDecisions()
                #expect(journaled.map(\.record.relay) == [.failed])
            }
        }
    }

    /// On its loopback address the kiosk serves only requests named for this machine: a page on another
    /// site in a browser on the box, its name pointed at 127.0.0.1 (DNS rebinding), gets 421 and nothing
    /// of the picture, the faces or the names; the kiosk's own browser (`127.0.0.1`, `localhost`) is served.
    @Test func aRequestNamedForAnotherSiteIsRefused() async throws {
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            try await rig.runHeldDoor(visitors: []) { door in
                func status(_ path: String, host: String) async throws -> (Int, String) {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(door.port)\(path)")
                    request.headers.replaceOrAdd(name: "Host", value: host)
                    let response = try await door.httpClient.execute(request, timeout: .seconds(10))
                    // /events never ends by itself: its first bytes are enough.
                    var body = ""
                    for try await chunk in response.body {
                        body += String(buffer: chunk)
                        break
                    }
                    return (Int(response.status.code), body)
                }
                for path in ["/", "/events", "/metrics", "/health"] {
                    let (code, body) = try await status(path, host: "rebound.example:\(door.port)")
                    #expect(code == 421 && body.isEmpty, "\(path): \(code)")
                }
                #expect(try await status("/events", host: "127.0.0.1:\(door.port)").0 == 200)
                #expect(try await status("/", host: "localhost:\(door.port)").0 == 200)
                #expect(try await status("/", host: "[::1]:\(door.port)").0 == 200)
            }
        }
    }

    /// On a network address (a screen on another box) the same: a page of another site, its name pointed at
    /// the box's address, gets 421 and nothing, while the box named by its address or its host name is
    /// served, fully qualified (`name.local.`) too. Before, the check was on loopback only, and any site
    /// opened in a browser on the network could read the picture and the names; and a name written with its
    /// final dot was refused 421.
    @Test func onANetworkAddressARequestNamedForAnotherSiteIsRefused() async throws {
        var buffer = [CChar](repeating: 0, count: 256)
        #expect(gethostname(&buffer, 255) == 0)
        let hostName = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try #require(!hostName.isEmpty)
        try await DoorRig.with { rig in
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "0.0.0.0", port: 0)
            try await rig.runHeldDoor(visitors: []) { door in
                func status(_ path: String, host: String) async throws -> Int {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(door.port)\(path)")
                    request.headers.replaceOrAdd(name: "Host", value: host)
                    let response = try await door.httpClient.execute(request, timeout: .seconds(10))
                    for try await _ in response.body { break }
                    return Int(response.status.code)
                }
                for path in ["/", "/events", "/metrics", "/health"] {
                    let code = try await status(path, host: "rebound.example:\(door.port)")
                    #expect(code == 421, "\(path)")
                }
                // A fully qualified name (its final dot) is still the other site's.
                for path in ["/", "/events"] {
                    let code = try await status(path, host: "rebound.example.:\(door.port)")
                    #expect(code == 421, "\(path)")
                }
                for host in ["192.0.2.7:\(door.port)", "[2001:db8::7]:\(door.port)", "\(hostName):\(door.port)", "\(hostName).local", "localhost",
                    "\(hostName).local.:\(door.port)", "localhost."] {
                    let code = try await status("/", host: host)
                    #expect(code == 200, "\(host)")
                }
            }
        }
    }

    @Test func withThePreviewOffThePageGetsGuidanceAndDecisionsButNoPicture() async throws {
        try await DoorRig.with { rig in
            _ = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            rig.configuration.kiosk.enabled = true
            rig.configuration.kiosk.listen = ListenAddress(host: "127.0.0.1", port: 0)
            rig.configuration.kiosk.preview = false
            let log = KioskEventLog()
            try await rig.runHeldDoor(
                visitors: [DoorControllerEndToEndTests.enrolledWalksUp], watching: { door in try await door.streamEvents(into: log) }
            ) { _ in
                #expect(await log.wait { events in events.contains { $0.name == "decision" } })
                #expect(await log.events.first?.json["preview"] as? Double == 0)
                #expect(await log.named("preview").isEmpty, "no picture leaves the box")
                #expect(await log.named("faces").contains { ($0["faces"] as? [any Sendable])?.isEmpty == false })
                #expect(await log.named("decision").first?["message"] as? String == "Welcome", "no name given: none shown")
            }
        }
    }
}
