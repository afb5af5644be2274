import FacegateCore
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import FacegateTesting
import Testing

@testable import FacegateApp

/// A kiosk page that falls behind (a tablet on a weak Wi-Fi, a loaded box) while the camera's picture
/// and face boxes keep coming: it skips pictures, never a decision or an alarm.
@Suite(.timeLimit(.minutes(1)))
struct KioskPageEventsTests {
    static func preview(_ number: Int) -> KioskFeed.Event { .init(name: "preview", data: "{\"seq\":\(number)}") }
    static func faces(_ number: Int) -> KioskFeed.Event { .init(name: "faces", data: "{\"n\":\(number)}") }

    /// Everything queued for the page, read without waiting once the feed has closed.
    static func drained(_ events: PageEvents) async -> [KioskFeed.Event] {
        var read: [KioskFeed.Event] = []
        for await event in events { read.append(event) }
        return read
    }

    @Test func aPageBehindSkipsPicturesButNotTheDoorsAlarmsOrDecisions() async throws {
        let feed = KioskFeed()
        let forced = try #require(KioskFeed.Event.door(.forcedOpen))
        let cleared = try #require(KioskFeed.Event.door(.closed))
        let welcome = KioskFeed.Event.json("decision", ["outcome": "granted", "message": "Welcome"])
        let read = await feed.watch(hello: .init(name: "hello", data: "{}")) { events in
            // The page reads nothing for a while: pictures and boxes four times a second or more, the door
            // forced open and shut in between, a visitor let in.
            for frame in 0..<40 {
                feed.broadcast(Self.preview(frame))
                feed.broadcast(Self.faces(frame))
                if frame == 5 { feed.broadcast(forced) }
                if frame == 20 { feed.broadcast(welcome) }
                if frame == 30 { feed.broadcast(cleared) }
            }
            feed.close()
            return await Self.drained(events)
        }
        #expect(read.map(\.name) == ["hello", "door", "decision", "door", "faces", "preview"], "\(read.map(\.name))")
        #expect(read[1] == forced && read[3] == cleared, "the alarm raised and taken down, in order")
        #expect(read.last == Self.preview(39), "the newest picture only")
        #expect(read[4] == Self.faces(39))
    }

    /// Streams at the limit whose pages stopped asking for events (their writes backed up on clients that
    /// read nothing) give their places up to a page that connects: it is given a stream, and theirs end.
    /// Streams whose pages still ask keep theirs, and the newcomer is refused, as before. Before, such
    /// streams held their places for as long as TCP kept the connection, and the screen got 503 for ever
    /// (review).
    @Test func streamsStuckOnAClientThatReadsNothingGiveTheirPlacesUp() async throws {
        let feed = KioskFeed()
        let hello = KioskFeed.Event(name: "hello", data: "{}")
        let stuck = Duration.milliseconds(200)
        // Two pages at the limit that read their hello and are then stuck in a write that never returns.
        let stuckPages = (0..<2).map { _ in
            Task {
                await feed.watch(hello: hello, limit: 2, stuckAfter: stuck) { events -> Bool in
                    var reading = events.makeAsyncIterator()
                    _ = await reading.next()
                    try? await Task.sleep(for: .seconds(3))
                    // Its events were ended meanwhile: nothing more is waiting.
                    return await reading.next() == nil
                }
            }
        }
        while feed.watchers < 2 { try await Task.sleep(for: .milliseconds(10)) }
        // At once, both still count: the newcomer is refused.
        #expect(!feed.hasRoom(limit: 2, stuckAfter: stuck))
        let refused = await feed.watch(hello: hello, limit: 2, stuckAfter: stuck) { await Self.drained($0) }
        #expect(refused == [hello], "its stream ends at once")
        #expect(feed.watchers == 2)
        try await Task.sleep(for: .milliseconds(400))
        #expect(feed.hasRoom(limit: 2, stuckAfter: stuck))
        let screen = Task {
            await feed.watch(hello: hello, limit: 2, stuckAfter: stuck) { events -> [KioskFeed.Event] in
                var read: [KioskFeed.Event] = []
                for await event in events {
                    read.append(event)
                    if read.count == 2 { break }
                }
                return read
            }
        }
        while feed.watchers != 1 { try await Task.sleep(for: .milliseconds(10)) }
        feed.broadcast(KioskFeed.Event.json("decision", ["outcome": "granted"]))
        #expect(await screen.value.map(\.name) == ["hello", "decision"])
        for page in stuckPages { #expect(await page.value, "the stuck page's events were ended") }
    }

    /// Whether the door can decide, once said, is told again to a page that connects after it, right after
    /// its hello: a page does not say "Look at the camera" until the next time it is asked (review).
    @Test func aPageThatConnectsIsToldWhetherTheDoorCanDecide() async throws {
        let feed = KioskFeed()
        let hello = KioskFeed.Event(name: "hello", data: "{}")
        feed.broadcast(.availability(canDecide: false))
        let first = await feed.watch(hello: hello) { events in
            feed.close()
            return await Self.drained(events)
        }
        #expect(first.map(\.name) == ["hello", "availability"])
        #expect(first.last?.data == #"{"can_decide":false}"#)
    }

    /// A welcome name is found as the door finds the person (SubjectIdentity): an id written in upper case or
    /// with a stray space in `kiosk.names` still names the person the cloud answers in lower case (review: the
    /// door let them in and the page said only "Welcome").
    @Test func aWelcomeNameIsFoundAsTheDoorComparesIds() throws {
        let names = ["8F14E45F-CEEA-467F-A8E6-0A7C1E9B2C44 ": "Ada"]
        let granted = Decision(outcome: .granted, reason: "matched", subjectId: "8f14e45f-ceea-467f-a8e6-0a7c1e9b2c44")
        let event = KioskFeed.Event.decision(DecisionRecord(time: Date(), door: "front", decision: granted, backend: "nec"), names: names)
        #expect(event.data.contains("Welcome, Ada"), "\(event.data)")
        let other = Decision(outcome: .granted, reason: "matched", subjectId: "someone-else")
        #expect(!KioskFeed.Event.decision(DecisionRecord(time: Date(), door: "front", decision: other, backend: "nec"), names: names).data.contains("Ada"))
    }

    /// A page that stops reading (a tablet gone from the Wi-Fi, a hung browser, a client that never reads) does
    /// not hold up the door's stop: the kiosk's server waits for every request under way, and the page's write
    /// waits for its client; 2 s after the stop begins the server is cancelled, and that write with it (review:
    /// the stop waited for it: every stop, restart and upgrade took the whole 12 s shutdown limit).
    @Test func aPageThatStopsReadingDoesNotHoldUpTheStop() async throws {
        let feed = KioskFeed()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let quiet = Logger.quiet("kiosk-stuck-page")
        let health = DoorHealthReport(
            camera: .init(status: .ok), cloud: .init(status: .ok), relay: .init(status: .ok), journal: .init(status: .ok),
            offlineCache: .init(status: .ok))
        let kiosk = KioskService(
            settings: .init(
                host: "127.0.0.1", port: 0, preview: true, displayNames: [:], doorName: "front", minInterEyeDistance: 40, maxPoseDegrees: 15),
            feed: feed, decisions: { AsyncStream { _ in } }, enrolments: { AsyncStream { _ in } }, doorEvents: { AsyncStream { _ in } },
            metrics: { [] }, health: { health }, onListening: { portSink.yield($0) }, logger: quiet)
        try await testGracefulShutdown { trigger in
            let finished = SetOnceFlag()
            let running = Task {
                defer { finished.set() }
                try await kiosk.run()
            }
            var listening = ports.makeAsyncIterator()
            let port = try #require(await listening.next())
            // A window of a few kilobytes, never read.
            let page = try SilentConnection(port: port, receiveBuffer: 2048)
            page.write("GET /events HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
            let connected = ContinuousClock.now + .seconds(10)
            while feed.watchers == 0, ContinuousClock.now < connected { try await Task.sleep(for: .milliseconds(20)) }
            try #require(feed.watchers == 1)
            // Decisions are never skipped for a page behind: 60 of 200 KB, more than the socket's and the channel's
            // buffers take, so the page's write waits.
            let long = String(repeating: "x", count: 200_000)
            for _ in 0..<60 { feed.broadcast(.json("decision", ["outcome": "granted", "message": long])) }
            try await Task.sleep(for: .milliseconds(500))
            trigger.triggerGracefulShutdown()
            let limit = ContinuousClock.now + .seconds(8)
            while !finished.isSet, ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(50)) }
            #expect(finished.isSet, "the kiosk still waited for the page 8 s after the stop began")
            running.cancel()
            _ = try? await running.value
            withExtendedLifetime(page) {}
        }
    }

    /// A page that keeps up gets each event as it comes.
    @Test func aPageThatKeepsUpGetsEveryEvent() async throws {
        let feed = KioskFeed()
        let events = try await feed.watch(hello: .init(name: "hello", data: "{}")) { events in
            var read: [KioskFeed.Event] = []
            let iterator = events.makeAsyncIterator()
            read.append(try #require(await iterator.next()))
            for frame in 0..<5 {
                feed.broadcast(Self.preview(frame))
                read.append(try #require(await iterator.next()))
            }
            return read
        }
        #expect(events.map(\.data) == ["{}"] + (0..<5).map { "{\"seq\":\($0)}" })
        #expect(feed.watchers == 0, "the page's events go when it does")
    }

    /// A page waiting for its next event when the door stops is let go.
    @Test func aWaitingPageIsLetGoWhenTheFeedCloses() async {
        let feed = KioskFeed()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let read = await feed.watch(hello: .init(name: "hello", data: "{}")) { await Self.drained($0) }
                #expect(read.map(\.name) == ["hello"])
            }
            while feed.watchers == 0 { await Task.yield() }
            feed.close()
        }
    }
}
