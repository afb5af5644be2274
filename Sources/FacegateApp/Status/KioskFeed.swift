import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Synchronization

/// What the kiosk pages connected to the door are told, as server-sent events (the contract
/// `KioskPage` reads): `hello`, `preview` (the camera picture, a few a second), `faces` (boxes and
/// the quality core's guidance), `decision` and `door` (alarms).
///
/// Nobody watching costs the frame path one lock and a check: frames are handed over only while a
/// page is connected, newest first (an older frame not yet shown is dropped), and encoded off the
/// frame path by the kiosk service.
final class KioskFeed: Sendable {
    struct Event: Sendable, Equatable {
        var name: String
        /// One line of JSON.
        var data: String

        /// The event in the `text/event-stream` format.
        var serverSent: String { "event: \(name)\ndata: \(data)\n\n" }
    }

    struct Observation: Sendable {
        var image: PixelImage
        var faces: [DetectedFace]
    }

    private struct State {
        var watchers: [Int: AsyncStream<Event>.Continuation] = [:]
        var nextWatcher = 0
        var closed = false
        /// The door's alarm as last shown: a page that connects (again) starts from it.
        var lastAlarm: Event?
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

    /// A frame and its faces from the pipeline; dropped at once when no page is connected.
    func observe(_ image: PixelImage, faces: [DetectedFace]) {
        guard watchers > 0 else { return }
        observationSink.yield(Observation(image: image, faces: faces))
    }

    /// The events for one page, starting with `hello`, then the alarm and a waiting enrolment as they
    /// stand (the page clears both on `hello`); they end when the page goes or the feed closes.
    func subscribe(hello: Event) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(16))
        continuation.yield(hello)
        let id: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            if let alarm = state.lastAlarm { continuation.yield(alarm) }
            if let enrolment = state.waitingEnrolment { continuation.yield(enrolment) }
            defer { state.nextWatcher += 1 }
            state.watchers[state.nextWatcher] = continuation
            return state.nextWatcher
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    func broadcast(_ event: Event) {
        let watchers = state.withLock { state in
            if event.name == "door" { state.lastAlarm = event }
            if event.name == "enrolment" { state.waitingEnrolment = event == .enrolment(.waiting) ? event : nil }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield(event) }
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
            let name = decision.subjectId.flatMap { names[$0] }
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
