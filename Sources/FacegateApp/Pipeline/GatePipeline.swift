import FacegateCore
import FacegateImageCodec
import FacegateJournal
import FacegatePolicy
import FacegateQuality
import Foundation
import Logging

/// Running totals of a pipeline, for status lines, tests and benchmarks.
public struct PipelineStatistics: Sendable, Hashable {
    public var frames = 0
    /// Frames the quality core could not analyse (dropped, with a warning).
    public var framesRejected = 0
    public var framesWithFaces = 0
    public var visits = 0
    public var cloudCalls = 0
    public var decisions: [Decision.Outcome: Int] = [:]
    public var unlocks = 0

    public init() {}
}

/// Capture → quality → one visit per approach → identify → policy → door → journal.
///
/// Frames go through their own loop that only analyses faces and never waits on the network or the
/// disk; completed visits are handed to a decision loop, which makes at most one cloud call each.
/// A slow cloud delays decisions, never frames; a frame the analysis cannot keep up with is dropped
/// by the source, never a decision.
public actor GatePipeline {
    public struct Settings: Sendable {
        public var door: String
        public var approach: ApproachConfiguration
        public var decisionDeadline: Duration

        public init(door: String, approach: ApproachConfiguration, decisionDeadline: Duration) {
            self.door = door
            self.approach = approach
            self.decisionDeadline = decisionDeadline
        }
    }

    private let source: any FrameSource
    private let analyzer: DlibFaceAnalyzer
    private let search: any FaceSearch
    private let offline: (any OfflineFaceStore)?
    private let door: any DoorActuator
    private let journal: any GateJournal
    private let settings: Settings
    private let logger: Logger
    private let qualityQueue = BlockingWorkQueue(label: "facegate.quality")
    private let descriptorQueue = BlockingWorkQueue(label: "facegate.descriptor")
    private let now: @Sendable () -> Date
    private var policy: DoorPolicy
    private var policyState = PolicyState()
    public private(set) var statistics = PipelineStatistics()
    private var decisionObservers: [AsyncStream<GateOutcome>.Continuation] = []

    public init(
        source: any FrameSource, analyzer: DlibFaceAnalyzer, search: any FaceSearch, offline: (any OfflineFaceStore)?,
        door: any DoorActuator, journal: any GateJournal, policy: DoorPolicy, settings: Settings, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.source = source
        self.analyzer = analyzer
        self.search = search
        self.offline = offline
        self.door = door
        self.journal = journal
        self.policy = policy
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    /// Takes a new policy (a reloaded configuration) from the next decision on.
    public func update(policy: DoorPolicy) {
        self.policy = policy
    }

    public var currentPolicy: DoorPolicy { policy }

    /// When the frame analysis and the decision now in progress started (nil when idle): a stage
    /// that stays busy far longer than it ever should is hung, and the watchdog stops vouching.
    private var analysisStarted: ContinuousClock.Instant?
    private var decisionStarted: ContinuousClock.Instant?

    /// Nil when both loops are idle or working within their limits; otherwise what is stuck.
    public func stuckStage(analysisLimit: Duration, decisionLimit: Duration) -> String? {
        let now = ContinuousClock.now
        if let analysisStarted, now - analysisStarted > analysisLimit {
            return "the analysis of one frame has taken \(now - analysisStarted)"
        }
        if let decisionStarted, now - decisionStarted > decisionLimit {
            return "one decision has taken \(now - decisionStarted)"
        }
        return nil
    }

    /// Decisions as they are made, for the demo and tests.
    public func decisions() -> AsyncStream<GateOutcome> {
        let (stream, continuation) = AsyncStream<GateOutcome>.makeStream()
        decisionObservers.append(continuation)
        return stream
    }

    private struct PendingVisit: Sendable {
        var visit: Visit
        var emittedAt: ContinuousClock.Instant
        var analysis: Duration
        /// The quality core's and the capture stage's time on the visit's best frame (capture when the source measures it).
        var capture: Duration?
        /// From the face's first frame to the frame that completed the visit, in the source's time.
        var approach: Duration
    }

    /// Set by ``finish()``: no new frames are taken.
    public private(set) var isFinishing = false
    private var framesTask: Task<Void, any Error>?

    /// Stops taking frames; the visits already made are still decided, then ``run()`` returns.
    public func finish() {
        isFinishing = true
        framesTask?.cancel()
    }

    /// Runs until the frame source ends, ``finish()`` is called (then every pending visit is still
    /// decided) or the task is cancelled. Throws when the frame source fails; it may be run again.
    public func run() async throws {
        guard !isFinishing else { return }
        let (visits, visitSink) = AsyncStream<PendingVisit>.makeStream()
        let frames = Task { try await self.runFrames(into: visitSink) }
        framesTask = frames
        await withTaskCancellationHandler {
            for await pending in visits { await self.decide(pending) }
        } onCancel: {
            frames.cancel()
        }
        framesTask = nil
        do {
            try await frames.value
        } catch is CancellationError {
            // finish() or the caller's cancellation: a normal end.
        } catch {
            if !isFinishing { throw error }
        }
        closeObservers()
    }

    /// Ends every ``decisions()`` stream (the pipeline will not run again).
    public func closeObservers() {
        for observer in decisionObservers { observer.finish() }
        decisionObservers.removeAll()
    }

    private func runFrames(into visits: AsyncStream<PendingVisit>.Continuation) async throws {
        defer { visits.finish() }
        var selector = ApproachSelector(configuration: settings.approach)
        let clock = ContinuousClock()
        // Stage times of recent frames with faces, so a visit's best frame can be looked up when it is emitted.
        var stageTimes: [UInt64: (capture: Duration?, analysis: Duration)] = [:]
        let analyzer = self.analyzer
        for try await frame in source.frames() {
            let started = clock.now
            let image = frame.image
            analysisStarted = started
            let faces: [DetectedFace]
            do {
                faces = try await qualityQueue.run { try analyzer.analyze(image).faces }
            } catch {
                // One bad frame is dropped; the camera's next one is analysed as usual.
                analysisStarted = nil
                statistics.framesRejected += 1
                logger.warning("frame dropped: it cannot be analysed", metadata: ["sequence": "\(frame.sequence)", "error": "\(error)"])
                continue
            }
            analysisStarted = nil
            let analysis = clock.now - started
            if !faces.isEmpty {
                stageTimes[frame.sequence] = (frame.captureTime, analysis)
                if stageTimes.count > 2048 { stageTimes = stageTimes.filter { $0.key + 1024 > frame.sequence } }
            }
            statistics.frames += 1
            if !faces.isEmpty { statistics.framesWithFaces += 1 }
            for visit in selector.observe(frame: frame, faces: faces) {
                statistics.visits += 1
                visits.yield(
                    PendingVisit(
                        visit: visit, emittedAt: clock.now, analysis: stageTimes[visit.bestFrameSequence]?.analysis ?? analysis,
                        capture: stageTimes[visit.bestFrameSequence]?.capture, approach: frame.timestamp - visit.firstSeen))
            }
        }
        for visit in selector.finish() {
            statistics.visits += 1
            visits.yield(
                PendingVisit(
                    visit: visit, emittedAt: clock.now, analysis: stageTimes[visit.bestFrameSequence]?.analysis ?? .zero,
                    capture: stageTimes[visit.bestFrameSequence]?.capture, approach: visit.lastSeen - visit.firstSeen))
        }
    }

    private func decide(_ pending: PendingVisit) async {
        let clock = ContinuousClock()
        decisionStarted = clock.now
        defer { decisionStarted = nil }
        let visit = pending.visit
        let time = now()
        var latencies = StageLatencies()
        latencies.quality = pending.analysis
        latencies.capture = pending.capture
        var identification: Identification?
        var probe: ProbeFace?
        var descriptor: FaceDescriptor?
        var cloudCalled = false

        if visit.passedQualityGate {
            do {
                let crop = try visit.bestFrame.cropped(to: visit.bestFace.attributes.headArea)
                probe = ProbeFace(jpeg: try ImageCodec.encodeJPEG(crop), quality: visit.bestFace.quality)
            } catch {
                identification = .failed(cause: "the probe crop could not be made: \(error)")
            }
            if let probe {
                // The descriptor is only needed for the offline cache: compute it while the cloud answers.
                let analyzer = self.analyzer, face = visit.bestFace, frame = visit.bestFrame
                async let localDescriptor = try? descriptorQueue.run { try analyzer.descriptor(of: face, in: frame) }
                let cloudStart = clock.now
                cloudCalled = true
                statistics.cloudCalls += 1
                identification = await identify(probe, deadline: pending.emittedAt + settings.decisionDeadline)
                latencies.cloud = clock.now - cloudStart
                descriptor = await localDescriptor
                if case .unavailable(let failure) = identification, let offline, let descriptor {
                    do {
                        identification = .offline(candidates: try await offline.match(descriptor, at: time), cloudFailure: failure)
                    } catch {
                        logger.error("offline cache unusable", metadata: ["error": "\(error)"])
                    }
                }
            }
        }

        let policyStart = clock.now
        let decision = AccessPolicy.evaluate(
            identification, passedQualityGate: visit.passedQualityGate, policy: policy, state: &policyState, at: time)
        latencies.policy = clock.now - policyStart

        if decision.outcome.opensDoor {
            let relayStart = clock.now
            do {
                try await door.unlock(because: .grant)
                statistics.unlocks += 1
            } catch {
                logger.error("relay did not unlock", metadata: ["door": "\(settings.door)", "error": "\(error)"])
            }
            latencies.relay = clock.now - relayStart
        }
        latencies.total = clock.now - pending.emittedAt
        statistics.decisions[decision.outcome, default: 0] += 1

        if decision.outcome == .granted, let subject = decision.subjectId, let descriptor, let offline,
            case .cloud(let candidates, _) = identification
        {
            // The tags travel with the face so that per-tag schedules hold offline too.
            let tags = candidates.first { $0.subjectId == subject }?.tags ?? []
            do {
                try await offline.remember(subjectId: subject, tags: tags, descriptor: descriptor, at: time)
            } catch {
                logger.warning("offline cache did not take the face", metadata: ["error": "\(error)"])
            }
        }

        let record = DecisionRecord(
            time: time, door: settings.door, decision: decision, backend: search.backendName,
            quality: visit.bestFace.quality, latencies: latencies,
            probeCrop: probe?.jpeg)
        journal.record(record)
        if decision.offline, let offline, let probe {
            do {
                try await offline.addPendingRecheck(decisionId: record.id, door: settings.door, probe: probe.jpeg, at: time)
            } catch {
                logger.warning("offline decision cannot be kept for its re-check", metadata: ["error": "\(error)"])
            }
        }
        let outcome = GateOutcome(
            record: record, visitNumber: visit.number, bestFrameSequence: visit.bestFrameSequence, cloudCalled: cloudCalled,
            probeJPEG: probe?.jpeg, approach: pending.approach)
        for observer in decisionObservers { observer.yield(outcome) }
        logger.notice(
            "decision",
            metadata: [
                "door": "\(settings.door)", "visit": "\(visit.number)", "outcome": "\(decision.outcome.rawValue)",
                "subject": "\(decision.subjectId ?? "-")", "score": "\(decision.bestScore.map { "\($0)" } ?? "-")",
                "offline": "\(decision.offline)", "total_ms": "\(latencies.total.map { String(format: "%.0f", Self.milliseconds($0)) } ?? "-")",
            ])
    }

    /// One cloud search under the decision deadline; what cannot reach the cloud becomes `.unavailable`.
    private func identify(_ probe: ProbeFace, deadline: ContinuousClock.Instant) async -> Identification {
        let search = self.search, policy = self.policy
        do {
            let candidates = try await withDeadline(deadline) { try await search.search(probe, policy: policy) }
            return .cloud(candidates: candidates, unit: search.scoreUnit)
        } catch let error as CloudUnavailable {
            return .unavailable(cloudFailure: error.description)
        } catch is DeadlineExceeded {
            return .unavailable(cloudFailure: "no answer within the decision deadline")
        } catch {
            return .failed(cause: "\(error)")
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) * 1000
    }
}
