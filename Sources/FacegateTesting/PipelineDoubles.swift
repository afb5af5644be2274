import FacegateCore
import Foundation
import Synchronization

// Stand-ins for the pipeline's ports, for tests that exercise the pipeline or the door's services
// without dlib models, a camera or a cloud: synthesized frames, a scripted analyser, a cloud held or
// scripted by the test, and a journal in memory.

/// A synthesized approach: frames with nobody, then someone in view, then nobody. The first pixel
/// says who is there (255: someone), which is all ``ScriptedAnalyzer`` looks at; what a motion gate
/// sees of the person is the `arrival`'s. With `endless`, the empty corridor goes on (at `interval`)
/// until the consumer stops, as a camera does.
public struct SynthesizedApproach: FrameSource {
    /// How the person shows in the frame's middle (a 60x60 square, where ``ScriptedAnalyzer`` puts the face).
    public enum Arrival: Sendable {
        /// 40 levels darker at once: motion, as a person walking in is.
        case sudden
        /// Darker by this many levels a frame, up to 40: a change the gate sees, too slow to be motion.
        case gradual(levelsPerFrame: Double)
        /// Not at all (only the first pixel says): an arrival no motion gate can see.
        case unseen
    }

    public var empty: Int
    public var present: Int
    public var after: Int
    public var endless: Bool
    public var interval: Duration
    public var arrival: Arrival
    /// The camera sends nothing for this long after the frame at this index (unplugged, stalled): the
    /// frames after it are that much later, and come that much later.
    public var silence: (afterFrame: Int, duration: Duration)?
    /// The frame times jump by this much after the frame at this index, but the frames come at once: a
    /// camera whose frames in between were dropped while the analysis was busy.
    public var jump: (afterFrame: Int, duration: Duration)?

    public init(
        empty: Int = 4, present: Int = 12, after: Int = 8, endless: Bool = false, interval: Duration = .milliseconds(10),
        arrival: Arrival = .sudden, silence: (afterFrame: Int, duration: Duration)? = nil,
        jump: (afterFrame: Int, duration: Duration)? = nil
    ) {
        self.empty = empty
        self.present = present
        self.after = after
        self.endless = endless
        self.interval = interval
        self.arrival = arrival
        self.silence = silence
        self.jump = jump
    }

    /// How much darker the person is, `framesIn` frames after they came (1 on their first frame).
    func darkening(framesIn: Int) -> Int {
        switch arrival {
        case .sudden: 40
        case .gradual(let levelsPerFrame): min(40, Int(Double(framesIn) * levelsPerFrame))
        case .unseen: 0
        }
    }

    static let width = 160, height = 120

    public func frames() -> AsyncThrowingStream<Frame, any Error> {
        let script = self
        return AsyncThrowingStream { continuation in
            let producer = Task {
                var index = 0
                while !Task.isCancelled, script.endless || index < script.empty + script.present + script.after {
                    var pixels = [UInt8](repeating: 96, count: Self.width * Self.height * 3)
                    let present = (script.empty..<(script.empty + script.present)).contains(index)
                    let darkening = present ? script.darkening(framesIn: index - script.empty + 1) : 0
                    if darkening > 0 {
                        let level = UInt8(96 - darkening)
                        for y in 30..<90 {
                            for x in 50..<110 {
                                let at = (y * Self.width + x) * 3
                                pixels[at] = level
                                pixels[at + 1] = level
                                pixels[at + 2] = level
                            }
                        }
                    }
                    pixels[0] = present ? 255 : 0
                    do {
                        let image = try PixelImage(width: Self.width, height: Self.height, layout: .rgb24, pixels: pixels)
                        // Frame times as a 10 fps camera's, whatever the pace they are delivered at.
                        var timestamp = Duration.milliseconds(100 * index)
                        for gap in [script.silence, script.jump].compactMap({ $0 }) where index > gap.afterFrame { timestamp += gap.duration }
                        continuation.yield(Frame(sequence: UInt64(index), timestamp: timestamp, image: image))
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                    if let silence = script.silence, index == silence.afterFrame { try? await Task.sleep(for: silence.duration) }
                    index += 1
                    if script.endless { try? await Task.sleep(for: script.interval) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in producer.cancel() }
        }
    }
}

/// Finds one face, of the given quality, wherever the frame says someone is there.
public struct ScriptedAnalyzer: FrameAnalyzing {
    public var faceQuality: Double

    public init(faceQuality: Double = 0.9) {
        self.faceQuality = faceQuality
    }

    public func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
        guard image.pixels[0] == 255 else { return ImageAnalysis(width: image.width, height: image.height, faces: []) }
        return ImageAnalysis(width: image.width, height: image.height, faces: [Self.face(quality: faceQuality)])
    }

    public func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
        try FaceDescriptor([Float](repeating: 0.05, count: FaceDescriptor.dimension))
    }

    /// A frontal face in the middle of a 160x120 frame, every measure at its best but the overall quality.
    public static func face(quality: Double) -> DetectedFace {
        let box = PixelBox(left: 50, top: 30, right: 110, bottom: 90)
        let measure = QualityMeasure(raw: 1, score: 100)
        return DetectedFace(
            detectionScore: 1, box: box,
            landmarks: FaceLandmarks(
                rightEyeOuter: PixelPoint(x: 60, y: 50), rightEyeInner: PixelPoint(x: 70, y: 50),
                leftEyeOuter: PixelPoint(x: 100, y: 50), leftEyeInner: PixelPoint(x: 90, y: 50), noseBase: PixelPoint(x: 80, y: 70)),
            attributes: FaceAttributes(
                faceArea: box, headArea: box, rightEyeCenter: PixelPoint(x: 65, y: 50), leftEyeCenter: PixelPoint(x: 95, y: 50),
                faceScore: 1, frontalFaceScore: 1, faceRoll: 0, facePan: 0, faceTilt: 0, faceQualityScore: quality),
            quality: QualityMeasures(
                interEyeDistance: QualityMeasure(raw: 30, score: 100), headSize: measure, headPosition: measure, yaw: measure,
                roll: measure, pitch: measure, sharpness: measure, luminanceMean: measure, underExposure: measure,
                // Alone in view, as the analyzer measures a lone face (100: no other face).
                overExposure: measure, dynamicRange: measure, singleFaceDominance: QualityMeasure(raw: 100, score: 100),
                faceQualityScore: quality))
    }
}

/// A cloud whose searches wait until the test calls ``release()``, then answer `candidates`; searches
/// made after the release answer at once. It counts the searches and says when one has arrived.
public final class HeldCloud: FaceSearch, CloudDirectory {
    private struct State {
        var calls = 0
        var released = false
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var emptyProbes = 0
    }
    private let state = Mutex(State())
    private let arrivals: AsyncStream<Void>.Continuation
    private let arrived: AsyncStream<Void>
    public let candidates: [MatchCandidate]
    public let backendName: String
    /// The cloud's time its replies state (the test notes it); nil: they state none.
    public let cloudClock: CloudClock?

    public init(candidates: [MatchCandidate] = [], backendName: String = "held", released: Bool = false, cloudClock: CloudClock? = nil) {
        self.candidates = candidates
        self.backendName = backendName
        self.cloudClock = cloudClock
        (arrived, arrivals) = AsyncStream.makeStream()
        state.withLock { $0.released = released }
    }

    public var scoreUnit: ScoreUnit { .necScore }
    public var calls: Int { state.withLock { $0.calls } }
    /// Searches sent without a face crop (the pipeline must always send one).
    public var emptyProbes: Int { state.withLock { $0.emptyProbes } }

    /// Waits for the release; a cancelled search (a decision's deadline) stops waiting and throws.
    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        let waiter = state.withLock { state in
            state.calls += 1
            if probe.jpeg.isEmpty { state.emptyProbes += 1 }
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        arrivals.yield()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let goOn = state.withLock { state in
                    if state.released || Task.isCancelled { return true }
                    state.waiting[waiter] = continuation
                    return false
                }
                if goOn { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: waiter) }?.resume()
        }
        try Task.checkCancellation()
        return candidates
    }

    /// Lets every waiting search answer, and every later one at once.
    public func release() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.waiting = [:] }
            return state.waiting.values
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Whether a search arrived (or had already) within `timeout`.
    public func waitUntilCalled(timeout: Duration) async -> Bool {
        if calls > 0 { return true }
        let arrived = self.arrived
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in arrived { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || calls > 0
        }
    }

    public func revokedSubjects(among subjects: [String: Date], policy: DoorPolicy) async throws -> Set<String> { [] }
}

extension HeldCloud: CloudClockWitness {
    public func cloudTime(at instant: RawMonotonicInstant) -> Date? { cloudClock?.cloudTime(at: instant) }
}

/// The journal in memory. It notes a relay record that came before its decision's record (the
/// pipeline journals a grant before it moves the relay); tests expect none.
public final class MemoryJournal: GateJournal {
    private struct Records {
        var decisions: [DecisionRecord] = []
        var relays: [RelayRecord] = []
        var events: [DoorEventRecord] = []
        var rechecks: [RecheckRecord] = []
        var relaysBeforeTheirDecision = 0
    }
    private let records = Mutex(Records())

    public init() {}

    public var decisions: [DecisionRecord] { records.withLock { $0.decisions } }
    public var relays: [RelayRecord] { records.withLock { $0.relays } }
    public var events: [DoorEventRecord] { records.withLock { $0.events } }
    public var rechecks: [RecheckRecord] { records.withLock { $0.rechecks } }
    public var relaysBeforeTheirDecision: Int { records.withLock { $0.relaysBeforeTheirDecision } }

    public func record(_ decision: DecisionRecord) -> Bool {
        records.withLock { $0.decisions.append(decision) }
        return true
    }

    public func record(_ event: DoorEventRecord) -> Bool {
        records.withLock { $0.events.append(event) }
        return true
    }

    public func recordRecheck(_ recheck: RecheckRecord) -> Bool {
        records.withLock { $0.rechecks.append(recheck) }
        return true
    }

    public func recordRelay(_ relay: RelayRecord) -> Bool {
        records.withLock { records in
            if !records.decisions.contains(where: { $0.id == relay.decisionId }) { records.relaysBeforeTheirDecision += 1 }
            records.relays.append(relay)
        }
        return true
    }

    public func flush() async throws {}
    public func newestRecordTime() async throws -> Date? { nil }

    public func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] {
        records.withLock { records in
            let newest = records.decisions.filter { $0.door == door }.map(\.time).max()
            let since = max(now, newest ?? now).addingTimeInterval(-window.timeInterval)
            let failed = Set(records.relays.filter { !$0.opened }.map(\.decisionId))
            var latest: [String: Date] = [:]
            for record in records.decisions
            where record.door == door && record.time >= since && record.decision.outcome.opensDoor && !failed.contains(record.id) {
                guard let subject = record.decision.subjectId else { continue }
                latest[subject] = max(latest[subject] ?? record.time, record.time)
            }
            return latest.map { JournaledGrant(subjectId: $0.key, time: $0.value) }
        }
    }
}
