import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Synchronization

/// What the kiosk pages connected to the door are told, as server-sent events (the contract
/// `KioskPage` reads): `hello`, `preview` (the camera picture, a few a second), `faces` (boxes and
/// the quality core's guidance), `decision`, `door` (alarms) and `availability` (whether the door can
/// decide, as `/health` says).
///
/// Nobody watching costs the frame path one lock and a check: frames are handed over only while a
/// page is connected, newest first (an older frame not yet shown is dropped), and encoded off the
/// frame path by the kiosk service.
final class KioskFeed: Sendable {
    struct Event: Sendable, Equatable {
        var name: String
        /// One line of JSON.
        var data: String

        /// The event in the `text/event-stream` format (the keep-alive as a comment, which a page ignores).
        var serverSent: String { self == .keepAlive ? ":\n\n" : "event: \(name)\ndata: \(data)\n\n" }

        /// Sent to every page at a steady interval (queued last, behind anything else waiting): a page gone (a
        /// closed browser; a tablet off the Wi-Fi once TCP gives up on it) is found by its write failing, and
        /// its connection given back. Without it, while the camera sends nothing, such a stream held its
        /// connection until the next door event.
        static let keepAlive = Self(name: "keepalive", data: "")

        /// Whether the door can decide (`/health`'s `can_decide`): a page shows "Door out of service" while it
        /// cannot (a camera gone, neither cloud nor cache to identify), though its stream is up.
        static func availability(canDecide: Bool) -> Self { .json("availability", ["can_decide": canDecide]) }
    }

    struct Observation: Sendable {
        var image: PixelImage
        var faces: [DetectedFace]
    }

    private struct State {
        var watchers: [Int: PageEvents] = [:]
        var nextWatcher = 0
        var closed = false
        /// The door's alarm as last shown: a page that connects (again) starts from it.
        var lastAlarm: Event?
        /// Whether the door can decide, as last said (nil: not asked yet); a page that connects starts from it.
        var availability: Event?
        /// The enrolment waiting for its approach, if one is: a page that connects (again) shows it too.
        var waitingEnrolment: Event?
    }

    private let state = Mutex(State())
    let observations: AsyncStream<Observation>
    private let observationSink: AsyncStream<Observation>.Continuation

    init() {
        (observations, observationSink) = AsyncStream.makeStream(of: Observation.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Pages connected now.
    var watchers: Int { state.withLock { $0.watchers.count } }

    /// Whether a page would be given a stream now: fewer than `limit` watch, or one of them is stuck.
    func hasRoom(limit: Int, stuckAfter: Duration) -> Bool {
        state.withLock { state in state.watchers.count < limit || state.watchers.values.contains { $0.isStuck(for: stuckAfter) } }
    }

    /// A frame and its faces from the pipeline; dropped at once when no page is connected.
    func observe(_ image: PixelImage, faces: [DetectedFace]) {
        guard watchers > 0 else { return }
        observationSink.yield(Observation(image: image, faces: faces))
    }

    /// One page's events for as long as `body` reads them, starting with `hello`, then the alarm and a
    /// waiting enrolment as they stand (the page clears both on `hello`); they end when the feed closes.
    /// With `limit` pages watching already, a page stuck for `stuckAfter` (``PageEvents/isStuck(for:)``)
    /// gives its place up, its events ended; with none stuck they end at once (the page tries again): the
    /// kiosk's check before it answers is not atomic, and this is.
    func watch<Result>(
        hello: Event, limit: Int = .max, stuckAfter: Duration = .seconds(35), _ body: (PageEvents) async throws -> Result
    ) async rethrows -> Result {
        let events = PageEvents()
        events.push(hello)
        var givenUp: [PageEvents] = []
        let id: Int? = state.withLock { state in
            if !state.closed, state.watchers.count >= limit {
                for (id, watcher) in state.watchers where watcher.isStuck(for: stuckAfter) {
                    state.watchers[id] = nil
                    givenUp.append(watcher)
                }
            }
            guard !state.closed, state.watchers.count < limit else { return nil }
            if let alarm = state.lastAlarm { events.push(alarm) }
            if let enrolment = state.waitingEnrolment { events.push(enrolment) }
            // Only a door that cannot decide is said (a page starts from one that can), last: it has the banner.
            if let availability = state.availability, availability != .availability(canDecide: true) { events.push(availability) }
            defer { state.nextWatcher += 1 }
            state.watchers[state.nextWatcher] = events
            return state.nextWatcher
        }
        for watcher in givenUp { watcher.finish() }
        if id == nil { events.finish() }
        defer {
            if let id { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        }
        return try await body(events)
    }

    func broadcast(_ event: Event) {
        let watchers = state.withLock { state in
            if event.name == "door" { state.lastAlarm = event }
            if event.name == "availability" { state.availability = event }
            if event.name == "enrolment" { state.waitingEnrolment = event == .enrolment(.waiting) ? event : nil }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.push(event) }
    }

    /// Ends every page's events and the observations (the door is stopping).
    func close() {
        let watchers = state.withLock { state in
            state.closed = true
            defer { state.watchers = [:] }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.finish() }
        observationSink.finish()
    }
}

/// One page's events not yet sent. The picture and the face boxes wait as the newest of each only (a page
/// that falls behind, a tablet on a weak Wi-Fi, skips frames as a screen would); a decision, an alarm or
/// an enrolment is never pushed out by them, and each is sent in order before any picture. Before, one
/// buffer of the newest 16 events held all of them, and a page a second or so behind lost the welcome,
/// or the all-clear that takes a "door forced" banner down.
final class PageEvents: AsyncSequence, Sendable {
    typealias Element = KioskFeed.Event

    /// Decisions, alarms and enrolments a page may fall behind by; past it the oldest goes.
    static let lastingLimit = 64

    private struct State {
        var lasting: [KioskFeed.Event] = []
        var faces: KioskFeed.Event?
        var preview: KioskFeed.Event?
        var keepAlive = false
        var finished = false
        var waiter: CheckedContinuation<KioskFeed.Event?, Never>?
        /// When the page last asked for an event: a page whose write is backed up asks no more.
        var lastAsked = ContinuousClock.now

        mutating func take() -> KioskFeed.Event? {
            if !lasting.isEmpty { return lasting.removeFirst() }
            if let faces {
                self.faces = nil
                return faces
            }
            if let preview {
                self.preview = nil
                return preview
            }
            defer { keepAlive = false }
            return keepAlive ? .keepAlive : nil
        }
    }

    private let state = Mutex(State())

    func push(_ event: KioskFeed.Event) {
        let waiter: CheckedContinuation<KioskFeed.Event?, Never>? = state.withLock { state in
            guard !state.finished else { return nil }
            // Someone waits only when nothing is queued: handed over at once.
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            switch event.name {
            case "preview": state.preview = event
            case "faces": state.faces = event
            case KioskFeed.Event.keepAlive.name: state.keepAlive = true
            default:
                if state.lasting.count >= Self.lastingLimit { state.lasting.removeFirst() }
                state.lasting.append(event)
            }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Whether the page has not asked for an event for `limit` and is not waiting for one: its last write
    /// waits on a client that reads nothing (a page that reads is sent a keep-alive every 15 s, and asks).
    func isStuck(for limit: Duration) -> Bool {
        state.withLock { $0.waiter == nil && !$0.finished && ContinuousClock.now - $0.lastAsked > limit }
    }

    /// No more events: what is queued is still sent, then the page's stream ends.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event to send, waiting for one; nil once finished (or the reading task is cancelled).
    func next() async -> KioskFeed.Event? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: KioskFeed.Event?? = state.withLock { state in
                    state.lastAsked = .now
                    if let event = state.take() { return .some(event) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let events: PageEvents
        func next() async -> KioskFeed.Event? { await events.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: self) }
}

extension KioskFeed.Event {
    static func json(_ name: String, _ object: some Encodable) -> Self {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain values only: encoding cannot fail.
        let data = (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return Self(name: name, data: data)
    }

    struct Hello: Encodable {
        var preview: Bool
        var door: String
    }

    struct Preview: Encodable {
        var seq: Int
        var width: Int
        var height: Int
        var jpeg: String
    }

    struct Faces: Encodable {
        struct Face: Encodable { var box: [Double] }
        var width: Int
        var height: Int
        var faces: [Face]
        var guidance: String?
        var message: String?

        enum CodingKeys: String, CodingKey { case width, height, faces, guidance, message }

        /// No guidance is `null`, not a missing key: the page clears what it showed.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
            try container.encode(faces, forKey: .faces)
            try container.encode(guidance, forKey: .guidance)
            try container.encode(message, forKey: .message)
        }
    }

    struct DecisionShown: Encodable {
        var outcome: String
        var message: String
    }

    struct Alarm: Encodable {
        var alarm: String?
        var message: String?

        enum CodingKeys: String, CodingKey { case alarm, message }

        /// A cleared alarm is `null`, not a missing key.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(alarm, forKey: .alarm)
            try container.encode(message, forKey: .message)
        }
    }

    static func faces(in image: PixelImage, _ faces: [DetectedFace], minInterEyeDistance: Double, maxPoseDegrees: Double) -> Self {
        let guidance = ApproachGuidance.advice(for: faces, minInterEyeDistance: minInterEyeDistance, maxPoseDegrees: maxPoseDegrees)
        return .json(
            "faces",
            Faces(
                width: image.width, height: image.height,
                faces: faces.map { Faces.Face(box: [$0.box.left, $0.box.top, $0.box.right, $0.box.bottom].map { ($0 * 10).rounded() / 10 }) },
                guidance: guidance?.rawValue, message: guidance?.message))
    }

    /// A decision as the person at the door sees it: a welcome (by name only where the installer gave
    /// one) or a short, neutral refusal that does not say why. A grant whose relay could not be driven
    /// (or was withheld, a reload refusing it) left the door locked: a welcome would have the person push
    /// a locked door, so they are asked to try again (the grant was withdrawn, so their next approach is
    /// decided afresh).
    static func decision(_ record: DecisionRecord, names: [String: String]) -> Self {
        let decision = record.decision
        if decision.outcome.opensDoor, let relay = record.relay, !relay.opened {
            return .json("decision", DecisionShown(outcome: "denied", message: "Please try again"))
        }
        if decision.outcome.opensDoor {
            // Looked up as the door compares ids (case and invisible characters aside): the cloud may answer
            // a UUID in lower case that the installer wrote in upper case.
            let name = decision.subjectId.flatMap { id in
                names[id] ?? names.first { SubjectIdentity.key($0.key) == SubjectIdentity.key(id) }?.value
            }
            return .json("decision", DecisionShown(outcome: "granted", message: name.map { "Welcome, \($0)" } ?? "Welcome"))
        }
        let retry = decision.outcome == .deniedQuality || decision.outcome == .error
        return .json("decision", DecisionShown(outcome: "denied", message: retry ? "Please try again" : "Not recognised"))
    }

    /// An enrolment at the door: who was enrolled is the installer's to see (`facegate enrol`), not
    /// the screen's; a poor face is asked to try again.
    static func enrolment(_ progress: EnrolmentProgress) -> Self {
        let shown: EnrolmentShown =
            switch progress {
            case .waiting: EnrolmentShown(state: "waiting", message: "Enrolment: look at the camera")
            case .finished(.enrolled): EnrolmentShown(state: "enrolled", message: "Enrolled")
            case .finished(.poorFace): EnrolmentShown(state: "refused", message: "Please try again")
            case .finished(.timedOut), .finished(.busy), .finished(.invalidRequest): EnrolmentShown(state: "ended", message: nil)
            case .finished: EnrolmentShown(state: "refused", message: "Not enrolled")
            }
        return .json("enrolment", shown)
    }

    struct EnrolmentShown: Encodable {
        var state: String
        var message: String?

        enum CodingKeys: String, CodingKey { case state, message }

        // A null message is sent as null, not left out: the page reads one shape.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(state, forKey: .state)
            try container.encode(message, forKey: .message)
        }
    }

    /// The door's alarms: raised while held open or forced, cleared when it closes.
    static func door(_ event: DoorEvent) -> Self? {
        switch event {
        case .heldOpen: .json("door", Alarm(alarm: "held-open", message: "Door held open: please close it"))
        case .forcedOpen: .json("door", Alarm(alarm: "forced", message: "Door forced open"))
        case .fault: .json("door", Alarm(alarm: "fault", message: "Door out of service"))
        case .closed: .json("door", Alarm(alarm: nil, message: nil))
        default: nil
        }
    }
}
