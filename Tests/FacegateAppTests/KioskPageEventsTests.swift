import FacegateCore
import Foundation
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

    /// A page that keeps up gets each event as it comes.
    @Test func aPageThatKeepsUpGetsEveryEvent() async throws {
        let feed = KioskFeed()
        let events = try await feed.watch(hello: .init(name: "hello", data: "{}")) { events in
            var read: [KioskFeed.Event] = []
            var iterator = events.makeAsyncIterator()
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
