import FacegateCore
import FacegateImageCodec
import FacegateJournal
import FacegatePolicy
import FacegateQuality
import Foundation
import Logging
import Synchronization

/// Running totals of a pipeline, for status lines, tests and benchmarks.
public struct PipelineStatistics: Sendable, Hashable {
    public var frames = 0
    /// Frames the quality core could not analyse (dropped, with a warning).
    public var framesRejected = 0
    /// Frames the motion gate let go without analysis (nothing moving, nobody followed).
    public var framesSkipped = 0
    /// Frames the face detector ran on.
    public var framesAnalysed = 0
    /// Of those, the frames scanned whole, and the regions scanned in the others (around the faces
    /// followed, where the scene moved).
    public var wholeFrameScans = 0
    public var regionScans = 0
    public var framesWithFaces = 0
    public var visits = 0
    /// Faces that reappeared where a person was lost and continued their visit (no new visit).
    public var reidentifications = 0
    /// People sent under the quality gate whose face then passed it: their one second visit.
    public var retries = 0
    public var cloudCalls = 0
    public var decisions: [Decision.Outcome: Int] = [:]
    public var unlocks = 0
    /// Grants whose relay could not be driven.
    public var unlockFailures = 0
    /// Grants a reload refused while they were being committed: the relay was not driven.
    public var grantsWithheld = 0
    /// Visits journaled undecided because too many were already waiting.
    public var visitsDropped = 0
    /// Visits the liveness stage judged (each before any cloud call), those it refused, and those it could not
    /// judge because it failed (an `error` decision: a fault of the box, not an attack wave).
    public var livenessChecks = 0
    public var livenessRefusals = 0
    public var livenessErrors = 0

    public init() {}
}

/// What the pipeline last saw of the parts it uses, for `/health` (wall-clock times, shown; ages on the
/// pipeline's steady clock, judged).
public struct PipelineHealthFacts: Sendable, Equatable {
    /// When the newest frame arrived (analysed or not).
    public internal(set) var lastFrame: Date?
    /// How long ago the newest frame arrived, on the steady clock: a wall clock set back or ahead
    /// neither keeps a silent camera ok nor fails one that sends.
    public internal(set) var lastFrameAge: Duration?
    /// When the frame being analysed arrived; nil while the pipeline waits for the camera.
    public internal(set) var frameInAnalysisSince: Date?
    /// How long the frame being analysed has been, on the steady clock; nil while the pipeline waits.
    public internal(set) var frameInAnalysisFor: Duration?
    /// How long the decision now in progress (or an enrolment's work on the box) has run, on the steady
    /// clock, and when it began; nil while none is.
    public internal(set) var decisionUnderWayFor: Duration?
    public internal(set) var decisionUnderWaySince: Date?
    /// Whether that is an enrolment's liveness check, crop or encoding rather than a visit's decision.
    public internal(set) var decisionIsEnrolment = false
    /// Why the camera last failed (the pipeline then runs again after a pause).
    var cameraFailure: HealthProblem?
    /// Set while the cloud is away: since when, and why.
    var cloudOutage: HealthProblem?
    /// The cloud's last answer that was not a result (a refused request, a bad reply).
    var cloudRefusal: HealthProblem?
    /// Searches the cloud refused in a row, none answered since (an outage between them neither counts
    /// nor resets): from ``persistentRefusal`` on, the door cannot identify anyone (a rotated secret,
    /// a revoked key), and the offline cache does not stand in for a refusal.
    var cloudRefusalsInARow = 0
    /// Refused searches in a row that mean the cloud refuses the door itself, not one bad request.
    static let persistentRefusal = 3
    var offlineCacheProblem: HealthProblem?
    /// Why the wall clock cannot be trusted (schedules and offline grants refused), since when.
    var clockProblem: HealthProblem?
}

/// A gate pipeline's limits (from the door's configuration).
public struct GatePipelineSettings: Sendable {
    public var door: String
    public var approach: ApproachConfiguration
    /// Which frames are analysed (off: every one).
    public var motion: MotionGateConfiguration
    /// From the start of a decision, how long the cloud may take before the offline cache decides.
    public var decisionDeadline: Duration
    /// Visits waiting for the decision loop; one more is journaled undecided, never silently lost.
    public var maxWaitingVisits: Int
    /// While the cloud is away, how often it is probed (or, without a probe, tried by a visit).
    public var cloudRetryInterval: Duration
    /// How long a grant may wait for the journal's commit before the door opens regardless.
    public var grantCommitLimit: Duration
    /// The latest a visit may be decided, after it was ready, and still open the door: its own decision
    /// deadline and 5 s more (a visit or two decided before it). A grant later than this (a slow cloud
    /// and a queue, a failing disk) would open the door for whoever stands there by then.
    public var freshGrantLimit: Duration { Self.freshGrantLimit(decisionDeadline: decisionDeadline) }

    /// ``freshGrantLimit`` for a decision deadline.
    public static func freshGrantLimit(decisionDeadline: Duration) -> Duration { decisionDeadline + .seconds(5) }
    /// How far the clock may read behind the newest decision (or a cached face) before offline
    /// grants are refused as decided on a wrong clock; small steps (NTP) stay within it.
    public var clockTolerance: TimeInterval = 300
    /// What a visit the liveness stage could not judge gets (when the pipeline has a liveness stage).
    public var uncertainLiveness = UncertainLivenessPolicy.deny
    /// Where the detector looks in the frames the motion gate lets through (with the gate off, every
    /// frame is scanned whole).
    public var detection = DetectionPlanner.Settings()
    /// Where the pipeline counts and times what it does (`/metrics`); nothing by default.
    public var metrics = DoorMetrics.disabled
    /// Told each frame and the faces found in it (none when the motion gate let it go unanalysed): the
    /// kiosk's preview and guidance. Called on the frame path: it must return at once.
    public var frameObserver: (@Sendable (PixelImage, [DetectedFace]) -> Void)?
    /// How long each of an enrolment's cloud calls (the duplicate search, the registration) may take.
    public var enrolmentCloudTimeout: Duration = .seconds(10)

    public init(
        door: String, approach: ApproachConfiguration, motion: MotionGateConfiguration = .off, decisionDeadline: Duration,
        maxWaitingVisits: Int = 16, cloudRetryInterval: Duration = .seconds(5), grantCommitLimit: Duration = .seconds(1)
    ) {
        self.door = door
        self.approach = approach
        self.motion = motion
        self.decisionDeadline = decisionDeadline
        self.maxWaitingVisits = max(1, maxWaitingVisits)
        self.cloudRetryInterval = cloudRetryInterval
        self.grantCommitLimit = grantCommitLimit
    }
}

/// Capture → quality → one visit per approach → identify → policy → door → journal.
///
/// Frames go through their own loop that only analyses faces and never waits on the network or the
/// disk; completed visits are handed to a decision loop, which makes at most one cloud call each.
/// A slow cloud delays decisions, never frames; a frame the analysis cannot keep up with is dropped
/// by the source, never a decision.
///
/// Its deadlines, the cloud's retry pace and the stuck-stage watch run on `PipelineClock`, so a test
/// can move them on a manual clock; the daemon uses ``GatePipeline``, on the continuous clock.
public actor ClockedGatePipeline<PipelineClock: Clock> where PipelineClock.Duration == Duration {
    public typealias Settings = GatePipelineSettings

    private let source: any FrameSource
    private let analyzer: any FrameAnalyzing
    private let search: any FaceSearch
    /// The cloud's time, when the search's replies state it: the witness the wall clock is checked against.
    private let cloudClock: (any CloudClockWitness)?
    private let liveness: (any PresentationAttackDetecting)?
    private let offline: (any OfflineFaceStore)?
    private let door: any DoorActuator
    private let journal: any GateJournal
    private let enrolment: DoorEnrolment?
    private let settings: Settings
    private let logger: Logger
    private let qualityQueue = BlockingWorkQueue(label: "facegate.quality")
    private let descriptorQueue = BlockingWorkQueue(label: "facegate.descriptor")
    private let now: @Sendable () -> Date
    private let clock: PipelineClock
    /// Where the policy's steady clock starts: the re-entry cooldown is measured on `clock`, which does
    /// not step when the wall clock does.
    private let steadyOrigin: PipelineClock.Instant
    private var policy: DoorPolicy
    private var policyState = PolicyState()
    /// Whether the journal's grants a re-entry cooldown still counts have been read into `policyState`.
    private var loadedJournaledGrants = false
    private var journalUnreadForGrants = false
    private var cloudHealth: CloudHealth<PipelineClock.Instant>
    /// The newest decision time known (from the journal at start, then each decision's): a clock that
    /// reads earlier has been set back, and offline grants wait until it is right again.
    private var newestDecisionTime: Date?
    private var loadedNewestDecisionTime = false
    private var journalUnreadForTheClock = false
    /// When the newest face in the offline cache was remembered: read from the cache once, then kept here
    /// (every face is remembered through this pipeline), so a decision does not wait on the disk for it.
    private var newestRememberedFace: Date?
    private var loadedNewestRememberedFace = false
    private var clockProblem: String?
    /// Whether that problem is the wall clock's disagreement with the cloud's time (which `/health`
    /// reads afresh), rather than the stored dates or the cache.
    private var clockProblemIsTheCloudsDisagreement = false
    /// Why the offline cache may grant nothing though the clock is right: it holds faces dated ahead of
    /// the cloud's time (a clock that ran ahead cached them) that it could not forget. Nil when clean.
    private var cacheDatedAhead: String?
    public private(set) var statistics = PipelineStatistics()
    /// What the pipeline last saw of its parts; ``healthFacts`` adds the frame in analysis.
    private var seenFacts = PipelineHealthFacts()
    /// What `/health` reads: the newest frame, the one in analysis, and the last problem of each part the
    /// pipeline uses.
    public var healthFacts: PipelineHealthFacts {
        var facts = seenFacts
        facts.lastFrameAge = lastFrameArrived.map { elapsed(since: $0) }
        facts.frameInAnalysisFor = analysisStarted.map { elapsed(since: $0) }
        facts.frameInAnalysisSince = facts.frameInAnalysisFor.map { now().addingTimeInterval(-$0.timeInterval) }
        facts.decisionUnderWayFor = decisionStarted.map { elapsed(since: $0) }
        facts.decisionUnderWaySince = facts.decisionUnderWayFor.map { now().addingTimeInterval(-$0.timeInterval) }
        facts.decisionIsEnrolment = decisionStarted != nil && enrolmentJudging
        // The clock against the cloud's time as it reads now, not as the last decision found it: a
        // clock set wrong, or put right, shows before anyone walks up. (Faces that could not be
        // forgotten, and the stored dates, are as the last decision found them.)
        if let cloudNow = cloudClock?.cloudTimeNow() {
            if let wrong = ClockCheck.disagreement(wall: now(), cloud: cloudNow, tolerance: settings.clockTolerance) {
                facts.clockProblem = HealthProblem(detail: wrong, at: seenFacts.clockProblem?.at ?? now())
            } else if clockProblemIsTheCloudsDisagreement {
                facts.clockProblem = nil
            }
        }
        return facts
    }
    /// Every `interval` while it runs, the wall clock's reading is kept in the journal when the cloud's time
    /// vouches for it (within the tolerance). At the next start, with the cloud away and the newest record
    /// hours old (a quiet door), that reading is what a clock set back since is caught against: without
    /// it, a clock set back into the gap after the last record was trusted. Only the cloud's time vouches
    /// here, not a synchronised system clock: plain NTP can be spoofed, and the reading refuses offline
    /// grants to any clock earlier than it. A clock the cloud disagrees with keeps nothing.
    public func keepClockWitness(every interval: Duration) async {
        while !Task.isCancelled {
            if let cloudNow = cloudClock?.cloudTimeNow() {
                let wall = now()
                if ClockCheck.disagreement(wall: wall, cloud: cloudNow, tolerance: settings.clockTolerance) == nil {
                    journal.recordClockSeenRight(at: wall)
                }
            }
            guard (try? await clock.sleep(for: interval)) != nil else { return }
        }
    }

    /// Whether the wall clock reading `wall` (default: now) may be believed for deleting records for their
    /// age (the journal's retention, the offline cache's expiry): the door sees nothing wrong with it and
    /// ``WallClockEvidence`` vouches for it (the cloud's time, or a synchronised system clock). Not
    /// merely no problem seen: before the first decision nothing has been checked.
    public func clockIsVouchedFor(reading wall: Date? = nil) -> Bool {
        guard healthFacts.clockProblem == nil else { return false }
        return WallClockEvidence.vouches(for: wall ?? now(), cloud: cloudClock, tolerance: settings.clockTolerance)
    }
    private var decisionObservers: [AsyncStream<GateOutcome>.Continuation] = []
    /// The enrolment waiting for the next approach (`facegate enrol`), or being carried out.
    private var enrolmentSlot: EnrolmentSlot?
    /// Set by ``endEnrolments()``: no approach will be taken again.
    private var enrolmentsEnded = false
    private var enrolmentObservers: [AsyncStream<EnrolmentProgress>.Continuation] = []

    /// - Parameters:
    ///   - liveness: the presentation-attack stage, judging each visit before the cloud is asked; nil
    ///     decides without it (the door's `liveness.enabled: false`).
    ///   - enrolment: how an approach is enrolled when ``enrolNextVisit(_:within:)`` asks; nil: never.
    public init(
        source: any FrameSource, analyzer: any FrameAnalyzing, liveness: (any PresentationAttackDetecting)? = nil,
        search: any FaceSearch, offline: (any OfflineFaceStore)?, door: any DoorActuator, journal: any GateJournal,
        enrolment: DoorEnrolment? = nil, policy: DoorPolicy, settings: Settings, logger: Logger, clock: PipelineClock,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.enrolment = enrolment
        self.liveness = liveness
        self.source = source
        self.analyzer = analyzer
        self.search = search
        cloudClock = search as? any CloudClockWitness
        self.offline = offline
        self.door = door
        self.journal = journal
        self.policy = policy
        self.settings = settings
        self.logger = logger
        self.now = now
        self.clock = clock
        steadyOrigin = clock.now
        cloudHealth = CloudHealth(retryInterval: settings.cloudRetryInterval, hasProbe: search is any CloudReachability)
    }

    /// Whether the decisions currently skip the cloud (it failed and has not been seen back).
    public var cloudIsDown: Bool { cloudHealth.isDown }

    /// The camera failed and the pipeline will be run again: `/health` says so until frames come back.
    public func noteCameraFailure(_ detail: String) {
        seenFacts.cameraFailure = HealthProblem(detail: detail, at: now())
    }

    /// An operator's unlock (the control socket): journaled as a manual decision with its reason and who
    /// asked (`by`: the caller as the socket knows it), committed before the relay moves, like a grant.
    public func unlockManually(reason: String, by asker: String? = nil) async -> DecisionRecord {
        let started = clock.now
        let decision = Decision(outcome: .manualUnlock, reason: "manual unlock" + (asker.map { " (\($0))" } ?? "") + ": " + reason)
        statistics.decisions[.manualUnlock, default: 0] += 1
        settings.metrics.decision(.manualUnlock)
        var latencies = StageLatencies()
        latencies.total = .zero
        let record = await act(
            on: DecisionRecord(time: now(), door: settings.door, decision: decision, backend: search.backendName, quality: nil, latencies: latencies),
            visitReady: started)
        settings.metrics.record(record.latencies)
        for observer in decisionObservers {
            observer.yield(GateOutcome(record: record, visitNumber: 0, bestFrameSequence: 0, cloudCalled: false, probeJPEG: nil, approach: .zero))
        }
        logger.notice("manual unlock", metadata: ["door": "\(settings.door)", "relay": "\(record.relay?.rawValue ?? "-")"])
        return record
    }

    /// Takes a new policy (a reloaded configuration) from the next decision on. A decision already
    /// searching stands only if the new policy would make it too (``AccessPolicy/evaluate(_:passedQualityGate:searchedUnder:current:state:at:clockProblem:)``).
    public func update(policy: DoorPolicy) {
        self.policy = policy
    }

    public var currentPolicy: DoorPolicy { policy }

    /// When the frame analysis and the decision now in progress started (nil when idle): a stage
    /// that stays busy far longer than it ever should is hung, and the watchdog stops vouching.
    private var analysisStarted: PipelineClock.Instant?
    private var decisionStarted: PipelineClock.Instant?
    /// Whether that decision is an enrolment's work on the box.
    private var enrolmentJudging = false
    /// When the newest frame arrived, on the steady clock (the camera's health is judged on it).
    private var lastFrameArrived: PipelineClock.Instant?

    /// Nil when both loops are idle or working within their limits; otherwise what is stuck.
    public func stuckStage(analysisLimit: Duration, decisionLimit: Duration) -> String? {
        if let analysisStarted, elapsed(since: analysisStarted) > analysisLimit {
            return "the analysis of one frame has taken \(elapsed(since: analysisStarted))"
        }
        if let decisionStarted, elapsed(since: decisionStarted) > decisionLimit {
            let what = enrolmentJudging ? "an enrolment's liveness check, crop or encoding" : "one decision"
            return "\(what) has taken \(elapsed(since: decisionStarted))"
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
        var emittedAt: PipelineClock.Instant
        var analysis: Duration
        /// The quality core's and the capture stage's time on the visit's best frame (capture when the source measures it).
        var capture: Duration?
        /// From the face's first frame to the frame that completed the visit, in the source's time.
        var approach: Duration
        /// Its place among the visits made (1 for the first), set when it is queued.
        var ordinal = 0
    }

    /// Whether ``finish()`` was called, and the frame loop it stops. Outside the actor's isolation so
    /// that a signal handler or graceful shutdown can stop the frames at once, without a task.
    private struct Finishing {
        var requested = false
        var frames: Task<Void, any Error>?
    }
    private nonisolated let finishing = Mutex(Finishing())

    /// Set by ``finish()``: no new frames are taken.
    public nonisolated var isFinishing: Bool { finishing.withLock { $0.requested } }

    /// Stops taking frames; the visits already made are still decided, then ``run()`` returns.
    public nonisolated func finish() {
        finishing.withLock { state in
            state.requested = true
            return state.frames
        }?.cancel()
    }

    /// Runs until the frame source ends, ``finish()`` is called (then every pending visit is still
    /// decided) or the task is cancelled. Throws when the frame source fails; it may be run again.
    public func run() async throws {
        guard !isFinishing else { return }
        let (visits, visitSink) = AsyncStream<PendingVisit>.makeStream(bufferingPolicy: .bufferingOldest(settings.maxWaitingVisits))
        // The frame loop is its own task so that finish() can stop it alone while the decisions go on.
        let frames = Task { try await self.runFrames(into: visitSink) }
        let finishedMeanwhile = finishing.withLock { state in
            state.frames = frames
            return state.requested
        }
        if finishedMeanwhile { frames.cancel() }
        // Cancelled and awaited when run() returns.
        async let _ = watchCloudWhileDown()
        await withTaskCancellationHandler {
            for await pending in visits { await self.decide(pending) }
        } onCancel: {
            frames.cancel()
        }
        finishing.withLock { $0.frames = nil }
        do {
            try await frames.value
        } catch is CancellationError {
            // finish() or the caller's cancellation: a normal end.
        } catch {
            if !isFinishing { throw error }
        }
        closeObservers()
    }

    /// Ends every ``decisions()`` and ``enrolments()`` stream (the pipeline will not run again).
    public func closeObservers() {
        for observer in decisionObservers { observer.finish() }
        decisionObservers.removeAll()
        for observer in enrolmentObservers { observer.finish() }
        enrolmentObservers.removeAll()
    }

    private func runFrames(into visits: AsyncStream<PendingVisit>.Continuation) async throws {
        defer { visits.finish() }
        var approach = settings.approach
        // The six sightings a visit waits for are the parallax cue's: without the liveness stage one will do.
        if liveness == nil { approach.earlyMinFrames = 1 }
        var selector = ApproachSelector(configuration: approach)
        var retriesCounted = 0
        var motionGate = MotionGate(configuration: settings.motion)
        var planner = DetectionPlanner(settings: settings.detection)
        // Stage times of recent frames with faces, so a visit's best frame can be looked up when it is emitted.
        var stageTimes: [UInt64: (capture: Duration?, analysis: Duration)] = [:]
        let analyzer = self.analyzer
        // Where (in frame time) the camera last kept the pipeline waiting for a frame for longer than
        // frames come (unplugged, stalled). A slow analysis keeps frames waiting, not the pipeline.
        var cameraSilenceEnded: Duration?
        var waitingSince = clock.now
        var lastFrameTime: Duration?
        // The frame time of the last frame the selector was shown, and whether frames arrived since that could not
        // be analysed (each dropped): to the faces followed, a run of them is a silence, though the camera is prompt.
        var lastObserved: Duration?
        var unanalysedSinceObserved = false
        /// Whether frames that could not be analysed have kept the selector blind, until `frameTime`, for longer
        /// than leaving takes.
        func blindedByUnanalysedFrames(until frameTime: Duration) -> Bool {
            guard unanalysedSinceObserved, let lastObserved else { return false }
            return frameTime - lastObserved > settings.approach.cooldown + Self.cameraSilenceAllowance
        }
        /// Visits the selector completed at the frame of `frameTime`, to the decision loop.
        func dispatch(_ completed: [Visit], at frameTime: Duration, analysis: Duration, cutBy cut: UnseenCause? = nil) {
            for visit in completed {
                let pending = PendingVisit(
                    visit: visit, emittedAt: clock.now, analysis: stageTimes[visit.bestFrameSequence]?.analysis ?? analysis,
                    capture: stageTimes[visit.bestFrameSequence]?.capture, approach: frameTime - visit.firstSeen)
                // A visit that ends this long after its face was last seen, because the camera sent nothing
                // in between (unplugged, stalled), opens nothing: whoever it was may be long gone.
                let unseen = frameTime - visit.lastSeen
                if let cut {
                    recordUnseen(pending, for: unseen, because: cut)
                } else if unseen > settings.approach.cooldown + Self.cameraSilenceAllowance && cameraSilenceEnded.map({ $0 > visit.lastSeen }) == true {
                    recordUnseen(pending, for: unseen, because: .cameraSilent)
                } else {
                    hand(pending, to: visits)
                }
            }
        }
        // A source that fails (a replay of a damaged video) ends the frames as their end does: the visits
        // followed are decided below, then the failure is the caller's. Not when cancelled: nothing is decided then.
        var frames = source.frames().makeAsyncIterator()
        var failure: (any Error)?
        while true {
            let frame: Frame
            do {
                guard let next = try await frames.next() else { break }
                frame = next
            } catch {
                if Task.isCancelled || error is CancellationError { throw error }
                failure = error
                break
            }
            let started = clock.now
            lastFrameTime = frame.timestamp
            defer { waitingSince = clock.now }
            let waited = waitingSince.duration(to: started)
            if waited > Self.cameraSilenceAllowance { cameraSilenceEnded = frame.timestamp }
            if waited > settings.approach.cooldown + Self.cameraSilenceAllowance {
                // Silent for longer than leaving takes: the faces followed before are not known to be the ones
                // seen now. Their visits end as last seen, and open nothing (more than the cooldown and the
                // allowance ago): none is decided and then decided again on the frames after the silence.
                dispatch(selector.cameraWasSilent(), at: frame.timestamp, analysis: .zero, cutBy: .cameraSilent)
            }
            if blindedByUnanalysedFrames(until: frame.timestamp) {
                // Frames came, but none could be analysed (a detector failing under memory pressure, say) for longer
                // than leaving takes: the faces followed are not known to be there still, as after a silence. Unlike
                // a hung analysis, quick failures trip no watchdog, so the gap has no other bound.
                dispatch(selector.cameraWasSilent(), at: frame.timestamp, analysis: .zero, cutBy: .framesUnanalysed)
                lastObserved = frame.timestamp
            }
            let image = frame.image
            analysisStarted = started
            // The camera is judged by the frames it delivers; how long one takes to analyse is the
            // quality core's time (``stuckStage``), not the camera's silence.
            lastFrameArrived = started
            seenFacts.lastFrame = now()
            // A frame: whatever stopped the camera before is over (else a silence weeks later showed it).
            seenFacts.cameraFailure = nil
            // The thumbnail is the only cost of a frame nobody is in; it is made where blocking work goes.
            let thumbnail: MotionGate.Thumbnail? =
                if motionGate.configuration.enabled { try await qualityQueue.run { MotionGate.thumbnail(of: image) } } else { nil }
            if let thumbnail {
                if case .skip = motionGate.judge(frame, thumbnail: thumbnail, following: selector.activeTracks > 0) {
                    // Skipped on purpose (nothing moved, nobody followed): the scene is known as it was, which is
                    // not being blind to it.
                    lastObserved = frame.timestamp
                    unanalysedSinceObserved = false
                    analysisStarted = nil
                    statistics.frames += 1
                    statistics.framesSkipped += 1
                    settings.metrics.count("frames")
                    settings.metrics.count("frames_skipped")
                    settings.frameObserver?(image, [])
                    continue
                }
            }
            statistics.framesAnalysed += 1
            settings.metrics.count("frames_analysed")
            let plan: DetectionPlan =
                motionGate.configuration.enabled
                ? planner.plan(
                    width: image.width, height: image.height, at: frame.timestamp, followed: selector.expectedFaces(at: frame.timestamp),
                    motion: motionGate.motion, minMovingCells: motionGate.minMovingCells)
                : .wholeFrame
            switch plan {
            case .wholeFrame:
                statistics.wholeFrameScans += 1
                settings.metrics.count("detector_runs", [("scan", "whole_frame")])
            case .regions(let regions):
                statistics.regionScans += regions.count
                settings.metrics.count("detector_runs", [("scan", "region")], by: regions.count)
            }
            let faces: [DetectedFace]
            let completed: [Visit]
            do {
                // The selector follows the faces in the same hop: when a face reappears where a person
                // was lost it compares descriptors, blocking work like the analysis.
                let current = selector
                (faces, selector, completed) = try await qualityQueue.run {
                    let faces = try analyzer.analyze(image, plan: plan, descriptorLimit: 0).faces
                    var selector = current
                    let visits = selector.observe(frame: frame, faces: faces, describe: { try analyzer.descriptor(of: $0, in: $1) })
                    return (faces, selector, visits)
                }
            } catch {
                // One bad frame is dropped; the camera's next one is analysed as usual.
                analysisStarted = nil
                unanalysedSinceObserved = true
                statistics.framesRejected += 1
                settings.metrics.count("frames")
                settings.metrics.count("frames_rejected")
                logger.warning("frame dropped: it cannot be analysed", metadata: ["sequence": "\(frame.sequence)", "error": "\(error)"])
                continue
            }
            analysisStarted = nil
            let analysis = elapsed(since: started)
            if let thumbnail, case .wholeFrame = plan {
                motionGate.noteWholeFrameScan(at: frame.timestamp, thumbnail: thumbnail, foundFaces: !faces.isEmpty)
            }
            if !faces.isEmpty {
                stageTimes[frame.sequence] = (frame.captureTime, analysis)
                if stageTimes.count > 2048 { stageTimes = stageTimes.filter { $0.key + 1024 > frame.sequence } }
            }
            statistics.frames += 1
            settings.metrics.count("frames")
            settings.frameObserver?(image, faces)
            statistics.reidentifications = selector.reidentifications
            if selector.retries > retriesCounted {
                settings.metrics.count("visit_retries", by: selector.retries - retriesCounted)
                statistics.retries += selector.retries - retriesCounted
                retriesCounted = selector.retries
            }
            if !faces.isEmpty { statistics.framesWithFaces += 1 }
            lastObserved = frame.timestamp
            unanalysedSinceObserved = false
            dispatch(completed, at: frame.timestamp, analysis: analysis)
        }
        // The frames ended (a stop, the end of a replay, a source that failed). If the camera had gone silent before they did (a stop
        // while it was unplugged or stalled), a visit still followed is judged as a frame arriving now would judge it.
        let silentAtEnd = waitingSince.duration(to: clock.now)
        for visit in selector.finish() {
            let pending = PendingVisit(
                visit: visit, emittedAt: clock.now, analysis: stageTimes[visit.bestFrameSequence]?.analysis ?? .zero,
                capture: stageTimes[visit.bestFrameSequence]?.capture, approach: visit.lastSeen - visit.firstSeen)
            let unseen = (lastFrameTime ?? visit.lastSeen) - visit.lastSeen + silentAtEnd
            if silentAtEnd > Self.cameraSilenceAllowance, unseen > settings.approach.cooldown + Self.cameraSilenceAllowance {
                recordUnseen(pending, for: unseen, because: .cameraSilent)
            } else if let lastFrameTime, blindedByUnanalysedFrames(until: lastFrameTime) {
                recordUnseen(pending, for: unseen, because: .framesUnanalysed)
            } else {
                hand(pending, to: visits)
            }
        }
        if let failure { throw failure }
    }

    /// Queues a visit for the decision loop; one the bounded queue has no room for is journaled as such.
    private func hand(_ pending: PendingVisit, to visits: AsyncStream<PendingVisit>.Continuation) {
        statistics.visits += 1
        settings.metrics.count("visits")
        var pending = pending
        pending.ordinal = statistics.visits
        if case .dropped = visits.yield(pending) { recordDropped(pending) }
    }

    /// While the cloud is away, probes it every retry interval and lets the decisions use it again once
    /// it answers. Backends without a probe are tried by the next visit instead (see ``CloudHealth``).
    private func watchCloudWhileDown() async {
        guard let probe = search as? any CloudReachability else { return }
        let interval = settings.cloudRetryInterval, limit = settings.decisionDeadline, clock = self.clock
        var next = clock.now.advanced(by: interval)
        while (try? await clock.sleep(until: next, tolerance: nil)) != nil {
            // At a fixed rate: a probe that waits out its deadline does not push the next one later, so
            // the cloud's return is seen within one interval (plus that probe's own round trip).
            next = max(next.advanced(by: interval), clock.now)
            guard cloudHealth.isDown else { continue }
            do {
                try await withDeadline(clock.now.advanced(by: limit), on: clock) { try await probe.checkReachable() }
                noteCloudAnswer(.cloud(candidates: [], unit: search.scoreUnit), searched: false)
            } catch is CancellationError {
                return
            } catch let error as CloudUnavailable {
                cloudHealth.failed(error.description, at: clock.now)
            } catch is DeadlineExceeded {
                cloudHealth.failed("no answer to the reachability probe", at: clock.now)
            } catch {
                // It answered, if only to refuse: the searches will say what is wrong.
                noteCloudAnswer(.failed(cause: "\(error)"), searched: false)
            }
        }
    }

    /// Keeps the cloud's health from what a search (or, not `searched`, a probe) found. Only searches
    /// count refusals in a row: a probe sends no face and may need no credentials.
    private func noteCloudAnswer(_ answer: Identification, searched: Bool = true) {
        let now = clock.now
        if case .unavailable(let failure) = answer {
            if !cloudHealth.isDown {
                logger.warning(
                    "cloud unavailable: deciding from the offline cache until it is back",
                    metadata: ["door": "\(settings.door)", "reason": "\(failure)"])
            }
            cloudHealth.failed(failure, at: now)
            if seenFacts.cloudOutage == nil { seenFacts.cloudOutage = HealthProblem(detail: failure, at: self.now()) }
            seenFacts.cloudOutage?.detail = failure
        } else {
            seenFacts.cloudOutage = nil
            if case .failed(let cause) = answer {
                // Since the first refusal of those in a row.
                let since = seenFacts.cloudRefusalsInARow > 0 ? seenFacts.cloudRefusal?.at : nil
                seenFacts.cloudRefusal = HealthProblem(detail: cause, at: since ?? self.now())
                if searched { seenFacts.cloudRefusalsInARow += 1 }
            } else if searched {
                seenFacts.cloudRefusal = nil
                seenFacts.cloudRefusalsInARow = 0
            } else if seenFacts.cloudRefusalsInARow < PipelineHealthFacts.persistentRefusal {
                // A probe that answers says the cloud is there, not that it takes the door's searches.
                seenFacts.cloudRefusal = nil
            }
            if let away = cloudHealth.answered(at: now) {
                logger.notice("cloud back", metadata: ["door": "\(settings.door)", "away_s": "\(Int(away.timeInterval))"])
            }
        }
    }

    /// What the identify stage made of one visit.
    private struct Lookup {
        var identification: Identification?
        var probe: ProbeFace?
        var descriptor: FaceDescriptor?
        var cloudCalled = false
        /// Why the clock could not be trusted when the visit was identified (no offline grant, no
        /// schedule applied, no face cached); nil when it could.
        var clockProblem: String?
    }

    /// A visit in, a decision record out: identify, decide, act (a grant committed, then the door
    /// opened), learn, keep for re-check, announce. A visit an enrolment waits for is enrolled instead.
    private func decide(_ pending: PendingVisit) async {
        if await enrolIfWaiting(pending) { return }
        let started = clock.now
        // It could no longer open the door: the cloud is not asked (its budget is not spent) for it.
        let waited = pending.emittedAt.duration(to: started)
        if waited > settings.freshGrantLimit {
            recordStale(pending, waited: waited)
            return
        }
        decisionStarted = started
        defer { decisionStarted = nil }
        let visit = pending.visit
        // The decision's date, and when it was read on the clock the cloud's time is carried on.
        let time = now(), timeRead = RawMonotonicInstant.now
        // The policy this visit is searched under. A reload meanwhile can still refuse it (``evaluate``).
        let policy = self.policy
        var latencies = StageLatencies()
        latencies.quality = pending.analysis
        latencies.capture = pending.capture

        // A photo or a screen held up to the camera is refused here, before any cloud call.
        let (assessment, refusal) = visit.passedQualityGate ? await judgeLiveness(of: visit) : (nil, nil)
        // The deadline runs from the decision's start (the liveness check, some milliseconds, is part
        // of it), not from when the visit was ready: a visit that waited behind another one's
        // decision still gets its full time with the cloud.
        let searching = visit.passedQualityGate && refusal == nil
        let lookup =
            searching
            ? await identify(
                visit, under: policy, deadline: started.advanced(by: settings.decisionDeadline), at: time, readAt: timeRead,
                latencies: &latencies)
            : Lookup()
        await rememberJournaledGrants(at: time)
        let remembered = policyState
        let decidedUnder = self.policy
        let decision = evaluate(
            lookup, of: visit, searchedUnder: policy, refusal: refusal, untrustedClock: lookup.clockProblem, at: time,
            latencies: &latencies, visitReady: pending.emittedAt)
        let record = await act(
            on: DecisionRecord(
                time: time, door: settings.door, decision: decision, backend: search.backendName,
                quality: visit.bestFace.quality, latencies: latencies, probeCrop: lookup.probe?.jpeg,
                // Pending only when it can be re-checked (a cache to keep its probe in): an offline denial with no cache
                // was journaled `recheck pending` for ever (review).
                awaitsRecheck: decision.offline && offline != nil && lookup.probe != nil, liveness: assessment),
            visitReady: pending.emittedAt,
            refusedSinceDecided: {
                // A reload that came while the grant was being committed (up to a second) is the door's
                // word too: a deny-list edit made then must not let that visit in.
                guard self.policy != decidedUnder else { return nil }
                var state = remembered
                let now = self.clock.now
                let again = AccessPolicy.evaluate(
                    lookup.identification, passedQualityGate: visit.passedQualityGate, searchedUnder: policy, current: self.policy,
                    state: &state, at: time, clockProblem: lookup.clockProblem, steady: self.steadyOrigin.duration(to: now))
                return again.outcome.opensDoor ? nil : again
            })
        if let relay = record.relay, !relay.opened, let subject = decision.subjectId {
            // The door did not open: nobody went in, so the person may try again at once.
            policyState.withdrawGrant(of: subject, restoring: remembered)
        }
        settings.metrics.record(record.latencies)
        if record.relay != .withheld {
            await learn(from: decision, lookup: lookup, searchedUnder: policy, at: time)
        }
        await keepForRecheck(record, probe: lookup.probe, at: time)
        announce(record, of: pending, lookup: lookup)
    }

    /// Reads once the grants of the door's earlier runs that the re-entry cooldown still counts: a restart
    /// (a crash, the watchdog, a power cut, `systemctl restart`) must not let someone in again at once who
    /// was let in seconds before it. They carry no steady reading, so the cooldown counts them on the wall
    /// clock, and one dated later than now (the clock set back since) counts as within it. A journal that
    /// cannot be read is read again at the next decision.
    private func rememberJournaledGrants(at time: Date) async {
        let cooldown = policy.reentryCooldown
        guard !loadedJournaledGrants, cooldown > .zero else { return }
        do {
            // Bounded: the read is on the decision's path, and a stalled disk must not hold the door.
            let journal = self.journal, door = settings.door
            let grants = try await withDeadline(clock.now.advanced(by: .milliseconds(250)), on: clock) {
                try await journal.grants(atDoor: door, within: cooldown, of: time)
            }
            var latest: [String: Date] = [:]
            for grant in grants {
                // One person whatever the case of their id: the latest of their grants counts.
                let person = SubjectIdentity.key(grant.subjectId)
                latest[person] = max(latest[person] ?? grant.time, grant.time)
            }
            // This run's own grants are the newer, and carry a steady reading.
            for (person, time) in latest where policyState.lastGranted[person] == nil { policyState.lastGranted[person] = time }
            loadedJournaledGrants = true
        } catch {
            if !journalUnreadForGrants {
                logger.warning(
                    "the journal cannot be read for the grants the re-entry cooldown counts; read again at the next decision",
                    metadata: ["error": "\(error)"])
            }
            journalUnreadForGrants = true
        }
    }

    /// The liveness stage's judgement of a visit, and the door's denial when it refuses it; a stage
    /// that fails is an error decision (the door stays locked), never a visit let through unjudged.
    private func judgeLiveness(of visit: Visit) async -> (LivenessAssessment?, Decision?) {
        guard let liveness else { return (nil, nil) }
        statistics.livenessChecks += 1
        do {
            // Off the actor: the texture models take tens of milliseconds.
            let assessment = try await descriptorQueue.run { try liveness.assess(visit) }
            let refusal = AccessPolicy.livenessDenial(assessment, uncertain: settings.uncertainLiveness)
            if refusal != nil {
                statistics.livenessRefusals += 1
                settings.metrics.count("liveness_refusals")
            }
            return (assessment, refusal)
        } catch {
            logger.error("liveness check failed", metadata: ["door": "\(settings.door)", "error": "\(error)"])
            statistics.livenessErrors += 1
            settings.metrics.count("liveness_errors")
            return (nil, Decision(outcome: .error, reason: "the liveness check failed: \(error)"))
        }
    }

    /// The door's policy applied to what the identify stage found (or the liveness stage's refusal): the
    /// policy it was searched under, and the door's current one if a reload came meanwhile.
    private func evaluate(
        _ lookup: Lookup, of visit: Visit, searchedUnder searched: DoorPolicy, refusal: Decision?, untrustedClock: String?, at time: Date,
        latencies: inout StageLatencies, visitReady: PipelineClock.Instant
    ) -> Decision {
        let policyStart = clock.now
        // Evaluated on a copy: a grant too late to open the door must not start the re-entry cooldown.
        var state = policyState
        let steady = steadyOrigin.duration(to: policyStart)
        // Grants no cooldown counts any more are dropped: the map would otherwise hold everyone ever let in.
        state.forget(olderThan: max(searched.reentryCooldown, policy.reentryCooldown), at: time, steady: steady)
        var decision =
            refusal
            ?? AccessPolicy.evaluate(
                lookup.identification, passedQualityGate: visit.passedQualityGate, searchedUnder: searched, current: policy,
                state: &state, at: time, clockProblem: untrustedClock, steady: steady)
        let sinceReady = visitReady.duration(to: policyStart)
        if !decision.outcome.opensDoor || sinceReady <= settings.freshGrantLimit {
            policyState = state
        } else {
            let seconds = Int(sinceReady.timeInterval.rounded())
            decision = Decision(
                outcome: .error, reason: "a grant decided \(seconds) s after the visit was ready opens nothing: the person may have gone",
                subjectId: decision.subjectId, bestScore: decision.bestScore, secondScore: decision.secondScore,
                threshold: decision.threshold, scoreUnit: decision.scoreUnit, offline: decision.offline)
            logger.error(
                "grant too late to open the door: the person may have gone; the door stays locked",
                metadata: ["door": "\(settings.door)", "since_ready_s": "\(seconds)"])
        }
        latencies.policy = elapsed(since: policyStart)
        latencies.total = elapsed(since: visitReady)
        statistics.decisions[decision.outcome, default: 0] += 1
        settings.metrics.decision(decision.outcome)
        // A clock set back stays suspect until it passes the newest decision again.
        if clockProblem == nil { newestDecisionTime = max(newestDecisionTime ?? time, time) }
        return decision
    }

    /// Journals the decision; a grant is committed first, then the door is opened and the relay's
    /// result journaled too.
    private func act(
        on record: DecisionRecord, visitReady: PipelineClock.Instant, refusedSinceDecided: () -> Decision? = { nil }
    ) async -> DecisionRecord {
        guard record.decision.outcome.opensDoor else {
            journal.record(record)
            return record
        }
        await commit(record)
        if let refusal = refusedSinceDecided() {
            logger.notice(
                "a reload while the grant was being journaled refuses it; the door stays locked",
                metadata: ["door": "\(settings.door)", "decision": "\(record.id)", "now": "\(refusal.outcome.rawValue)"])
            return withhold(record, visitReady: visitReady)
        }
        // A stop past its grace cancelled the decision while the grant was being committed (nobody is let in
        // by a door that is stopping; the commit's wait ended with the cancellation, not the disk), or the
        // asker of a manual unlock hung up meanwhile (nobody may be at the door to go through it).
        if Task.isCancelled {
            logger.notice(
                "a grant still being journaled was cancelled (the door stopping, or a manual unlock's asker gone); the door stays locked",
                metadata: ["door": "\(settings.door)", "decision": "\(record.id)"])
            return withhold(record, visitReady: visitReady)
        }
        return await open(for: record, visitReady: visitReady)
    }

    static var abandonedByTheStop: String { "the search was abandoned: the door is stopping" }

    /// A committed grant refused before the relay moves (a reload, the stop): the door stays locked, and the
    /// journal says so beside the grant (it is on disk already, and stays as it was decided).
    private func withhold(_ granted: DecisionRecord, visitReady: PipelineClock.Instant) -> DecisionRecord {
        var record = granted
        record.relay = .withheld
        record.latencies.total = elapsed(since: visitReady)
        statistics.grantsWithheld += 1
        settings.metrics.count("grants_withheld")
        journal.recordRelay(RelayRecord(decisionId: record.id, result: .withheld, total: record.latencies.total))
        return record
    }

    /// Tells the observers (demo, tests) and the log what was decided.
    private func announce(_ record: DecisionRecord, of pending: PendingVisit, lookup: Lookup) {
        let visit = pending.visit, decision = record.decision
        let outcome = GateOutcome(
            record: record, visitNumber: visit.number, bestFrameSequence: visit.bestFrameSequence, cloudCalled: lookup.cloudCalled,
            probeJPEG: lookup.probe?.jpeg, approach: pending.approach)
        for observer in decisionObservers { observer.yield(outcome) }
        let totalMilliseconds = record.latencies.total.map { String(format: "%.0f", $0.milliseconds) } ?? "-"
        logger.notice(
            "decision",
            metadata: [
                "door": "\(settings.door)", "visit": "\(visit.number)", "outcome": "\(decision.outcome.rawValue)",
                "subject": "\(decision.subjectId ?? "-")", "score": "\(decision.bestScore.map { "\($0)" } ?? "-")",
                "offline": "\(decision.offline)", "total_ms": "\(totalMilliseconds)",
                "approach_ms": "\(String(format: "%.0f", pending.approach.milliseconds))",
                "liveness": "\(record.liveness.map { String(format: "%.2f", $0.liveness) } ?? "-")",
            ])
    }

    /// The best face's crop to the cloud (or, while the cloud is known to be down, straight to the
    /// offline cache), with the local descriptor computed meanwhile for the cache.
    private func identify(
        _ visit: Visit, under policy: DoorPolicy, deadline: PipelineClock.Instant, at time: Date, readAt timeRead: RawMonotonicInstant,
        latencies: inout StageLatencies
    ) async -> Lookup {
        var lookup = Lookup()
        let probe: ProbeFace
        do {
            probe = try Self.probe(of: visit)
        } catch {
            lookup.identification = .failed(cause: "the probe crop could not be made: \(error)")
            return lookup
        }
        lookup.probe = probe
        // The descriptor is only needed for the offline cache: compute it while the cloud answers.
        let analyzer = self.analyzer, face = visit.bestFace, frame = visit.bestFrame
        async let localDescriptor = try? descriptorQueue.run { try analyzer.descriptor(of: face, in: frame) }
        lookup.identification = await askCloud(probe, under: policy, deadline: deadline, latencies: &latencies)
        lookup.cloudCalled = latencies.cloud != nil
        lookup.descriptor = await localDescriptor
        // A stop past its grace cancelled this decision: a visit still queued, or one whose cloud was known to
        // be away, is not granted from the offline cache either (as an abandoned search is not).
        if Task.isCancelled {
            lookup.identification = .failed(cause: Self.abandonedByTheStop)
            return lookup
        }
        // Checked after the cloud was asked: its reply states its time, the freshest witness there is.
        lookup.clockProblem = await clockDistrust(at: time, readAt: timeRead)
        if case .unavailable(let failure) = lookup.identification {
            // The decision's reason says why the cache did not decide: an installer told "there is no offline
            // cache" when the clock was the cause went looking at the cache's settings (review).
            if let offline, let descriptor = lookup.descriptor {
                lookup.identification =
                    await askOfflineCache(
                        offline, descriptor, under: policy, refusal: lookup.clockProblem ?? cacheDatedAhead, cloudFailure: failure, at: time)
                    ?? .unavailable(cloudFailure: failure + "; the offline cache cannot be read")
            } else if offline != nil {
                lookup.identification = .unavailable(cloudFailure: failure + "; the offline cache was not asked: no descriptor of the face")
            } else {
                lookup.identification = .unavailable(cloudFailure: failure + "; there is no offline cache")
            }
        }
        return lookup
    }

    /// The visit's best face, cropped to the head and encoded, as the cloud is sent it.
    private static func probe(of visit: Visit) throws -> ProbeFace {
        let crop = try visit.bestFrame.cropped(to: visit.bestFace.attributes.headArea)
        return ProbeFace(jpeg: try ImageCodec.encodeJPEG(crop), quality: visit.bestFace.quality)
    }

    /// The cloud's answer, or `.unavailable` at once while it is known to be away: a person at the
    /// door does not wait for a cloud already known to be down. Sets the cloud latency when it asked.
    private func askCloud(
        _ probe: ProbeFace, under policy: DoorPolicy, deadline: PipelineClock.Instant, latencies: inout StageLatencies
    ) async -> Identification {
        if let outage = cloudHealth.outageToSkip(at: clock.now) { return .unavailable(cloudFailure: outage) }
        let cloudStart = clock.now
        statistics.cloudCalls += 1
        let answer = await searchCloud(probe, under: policy, deadline: deadline)
        latencies.cloud = elapsed(since: cloudStart)
        if case .failed = answer, Task.isCancelled {
            // Abandoned by a stop past its grace: neither an answer nor a refusal, so the cloud's
            // health and failure count are left as they were.
            settings.metrics.cloudCall(backend: search.backendName, .abandoned)
            return answer
        }
        settings.metrics.cloudCall(backend: search.backendName, answer)
        noteCloudAnswer(answer)
        return answer
    }

    /// The offline cache's candidates for a face the cloud could not be asked about; a refusal (a wrong
    /// clock) keeps the door's decision `.unavailable`; nil when the cache cannot be read.
    private func askOfflineCache(
        _ offline: any OfflineFaceStore, _ descriptor: FaceDescriptor, under policy: DoorPolicy, refusal: String?,
        cloudFailure failure: String, at time: Date
    ) async -> Identification? {
        if let refusal {
            // The cache's lifetimes and the door's schedules all read the clock: no offline grant on a
            // wrong one, nor from a cache still holding faces a wrong one dated.
            return .unavailable(cloudFailure: failure + "; offline grants refused: " + refusal)
        }
        do {
            let candidates = try await offline.match(descriptor, at: time, policy: policy)
            seenFacts.offlineCacheProblem = nil
            if !candidates.isEmpty { settings.metrics.count("offline_cache_hits") }
            return .offline(candidates: candidates, cloudFailure: failure)
        } catch {
            logger.error("offline cache unusable", metadata: ["error": "\(error)"])
            seenFacts.offlineCacheProblem = HealthProblem(detail: "the offline cache cannot be read: \(error)", at: now())
            return nil
        }
    }

    /// Why the wall clock cannot be trusted for an offline grant or a schedule, or nil when it can.
    ///
    /// The cloud's clock decides while one of its replies has stated it (``CloudClock``): the wall clock
    /// must read within the tolerance of it, both for the decision's date `time` (read at `timeRead`)
    /// and now (a clock stepped during the search must not pass on the corrected reading). A clock
    /// that does is trusted even where the journal or the cache hold later dates: they were made while
    /// it ran ahead. The faces among them are forgotten, since their offline life would run from those
    /// dates; while they cannot be, the cache grants nothing offline (``cacheDatedAhead``), though the
    /// clock is trusted for schedules online. Without the cloud's time the stored
    /// dates are the witness: the clock must not read earlier than this facegate's release, the newest
    /// journaled decision or door event, or a face the cache remembered.
    private func clockDistrust(at time: Date, readAt timeRead: RawMonotonicInstant) async -> String? {
        // One decision at a time (the decision loop), so nothing else runs this between its awaits.
        // Read until it has been read once: a journal that cannot be read (busy, or on a failing disk) is
        // not one without decisions, and must not leave the clock unchecked for the rest of the run. Until
        // it reads, the cache's newest face and this run's decisions are the stored witnesses (a broken
        // journal alone does not keep the door shut: see `commit`).
        if !loadedNewestDecisionTime {
            do {
                // Bounded: the read is on the decision's path, and a stalled disk must not hold the door.
                let journal = self.journal
                let journaled = try await withDeadline(clock.now.advanced(by: .milliseconds(250)), on: clock) {
                    try await journal.newestRecordTime()
                }
                if let journaled { newestDecisionTime = max(newestDecisionTime ?? journaled, journaled) }
                loadedNewestDecisionTime = true
            } catch {
                if !journalUnreadForTheClock {
                    logger.warning("the journal cannot be read to check the clock against it; read again at the next decision", metadata: ["error": "\(error)"])
                }
                journalUnreadForTheClock = true
            }
        }
        let tolerance = settings.clockTolerance
        var problem: String?
        let checkedAt = RawMonotonicInstant.now, wallNow = now()
        clockProblemIsTheCloudsDisagreement = false
        if let cloudNow = cloudClock?.cloudTime(at: checkedAt), let cloudThen = cloudClock?.cloudTime(at: timeRead) {
            problem =
                ClockCheck.disagreement(wall: time, cloud: cloudThen, tolerance: tolerance)
                ?? ClockCheck.disagreement(wall: wallNow, cloud: cloudNow, tolerance: tolerance)
            clockProblemIsTheCloudsDisagreement = problem != nil
            // The clock is right; the cache may still hold faces a wrong one dated, which only offline
            // grants read.
            if problem == nil { await forgetFacesCachedAhead(of: cloudNow.addingTimeInterval(tolerance)) }
        } else if time < ClockCheck.earliestPlausibleTime {
            // A box without a real-time clock that booted without a clock epoch reads 1970; with an empty
            // journal and cache (a new box, a journal set aside) no stored date would catch it.
            problem = "the clock reads earlier than this facegate was released (has it been reset?)"
        } else if let newest = [newestDecisionTime, journal.newestHandedTime].compactMap({ $0 }).max(),
            time < newest.addingTimeInterval(-tolerance)
        {
            problem = "the clock reads earlier than the newest journaled record (has it been set back?)"
        } else if let remembered = await newestCachedFace(), remembered > time.addingTimeInterval(tolerance),
            await newestCachedFace(reread: true).map({ $0 > time.addingTimeInterval(tolerance) }) ?? false
        {
            problem = "the offline cache holds a face remembered later than the clock reads (has it been set back?)"
        }
        note(clockProblem: problem)
        return problem
    }

    /// Logs a change between a clock that can be trusted and one that cannot (not each change of the
    /// reason's wording: the size of an error near a whole minute may read either way), and keeps the
    /// reason for `/health`, with since when the clock has been wrong.
    private func note(clockProblem problem: String?) {
        if (problem == nil) != (clockProblem == nil) {
            if let problem {
                logger.critical(
                    "offline grants refused until the clock is right, and so are grants to anyone a schedule applies to",
                    metadata: ["door": "\(settings.door)", "reason": "\(problem)"])
            } else {
                logger.notice("the clock reads right again; offline and scheduled grants resume", metadata: ["door": "\(settings.door)"])
            }
        }
        let since = clockProblem == nil ? now() : seenFacts.clockProblem?.at ?? now()
        clockProblem = problem
        seenFacts.clockProblem = problem.map { HealthProblem(detail: $0, at: since) }
    }

    /// Forgets the cached faces remembered later than `limit` (the cloud's time and the tolerance): a
    /// clock that ran ahead dated them, and each would otherwise open the door offline for as long
    /// past its true date as the clock was ahead. Their people are cached again at their next grant.
    /// While any is left (the cache could not forget them, or cannot be read), ``cacheDatedAhead`` says
    /// so and the cache grants nothing offline.
    private func forgetFacesCachedAhead(of limit: Date) async {
        guard let offline else { return }
        let newest = await newestCachedFace()
        guard loadedNewestRememberedFace else {
            return noteCacheDatedAhead("the offline cache could not be read to find faces dated ahead of the cloud's time")
        }
        guard let newest, newest > limit else { return noteCacheDatedAhead(nil) }
        do {
            let forgotten = try await offline.forgetFaces(rememberedAfter: limit)
            if forgotten > 0 {
                logger.warning(
                    "cached faces dated ahead of the cloud's clock forgotten (a clock that ran ahead dated them)",
                    metadata: ["door": "\(settings.door)", "faces": "\(forgotten)"])
            }
        } catch {
            logger.error("offline cache faces dated ahead of the cloud's clock could not be forgotten", metadata: ["error": "\(error)"])
        }
        // Read again: what is left decides, whatever the purge said (an empty cache is clean, an
        // unreadable one is not).
        let newestLeft = await newestCachedFace(reread: true)
        let clean = loadedNewestRememberedFace && newestLeft.map { $0 <= limit } ?? true
        noteCacheDatedAhead(clean ? nil : "the offline cache holds faces dated ahead of the cloud's time, and they could not be forgotten")
    }

    private func noteCacheDatedAhead(_ problem: String?) {
        if problem != cacheDatedAhead { seenFacts.offlineCacheProblem = problem.map { HealthProblem(detail: $0, at: now()) } }
        cacheDatedAhead = problem
    }

    /// When the newest cached face was remembered (read from the cache until that succeeds once, or again
    /// when `reread`: a purge may have taken the face that date came from).
    private func newestCachedFace(reread: Bool = false) async -> Date? {
        if reread { loadedNewestRememberedFace = false }
        if !loadedNewestRememberedFace, let offline {
            do {
                newestRememberedFace = try await offline.newestRememberedAt()
                loadedNewestRememberedFace = true
            } catch {
                // Read again at the next decision.
            }
        }
        return newestRememberedFace
    }

    /// Puts a grant on disk before the relay moves, so that no opening goes unrecorded. A journal
    /// that cannot commit in time (a full or failing disk) does not keep the person out: the record
    /// stays queued and the failure is logged. One that cannot even queue it (its backlog full after a
    /// long failure, or stopped) does not either, and the log says the opening goes unrecorded.
    private func commit(_ record: DecisionRecord) async {
        guard journal.record(record) else {
            logger.critical(
                "grant cannot be journaled (the journal's backlog is full or it has stopped); opening the door anyway, unrecorded",
                metadata: ["door": "\(settings.door)", "decision": "\(record.id)"])
            return
        }
        let journal = self.journal
        do {
            try await withDeadline(clock.now.advanced(by: settings.grantCommitLimit), on: clock) { try await journal.flush() }
        } catch {
            // Cancelled (a stop, a manual unlock's asker gone): the caller withholds the grant; the log says nothing
            // of opening.
            guard !Task.isCancelled else { return }
            logger.error(
                "grant not yet on disk; opening the door anyway, the record stays queued",
                metadata: ["door": "\(settings.door)", "error": "\(error)"])
        }
    }

    /// Drives the relay for a committed grant and journals what it did.
    private func open(for granted: DecisionRecord, visitReady: PipelineClock.Instant) async -> DecisionRecord {
        var record = granted
        let relayStart = clock.now
        do {
            // Said as what it is: the door's own log and its subscribers tell an operator's unlock from a face's.
            try await door.unlock(because: granted.decision.outcome == .manualUnlock ? .manual : .grant)
            statistics.unlocks += 1
            record.relay = .unlocked
        } catch is CancellationError {
            // Cancelled while it waited for the door: the relay never moved, and it is no relay failure.
            logger.notice(
                "a grant cancelled while it waited for the door (the door stopping, or a manual unlock's asker gone); the door stays locked",
                metadata: ["door": "\(settings.door)", "decision": "\(record.id)"])
            return withhold(granted, visitReady: visitReady)
        } catch {
            // The relay's health is the door's to judge (`DoorController.failedUnlocks`): it sees every unlock.
            statistics.unlockFailures += 1
            settings.metrics.count("unlock_failures")
            record.relay = .failed
            logger.error("relay did not unlock", metadata: ["door": "\(settings.door)", "error": "\(error)"])
        }
        record.latencies.relay = elapsed(since: relayStart)
        record.latencies.total = elapsed(since: visitReady)
        journal.recordRelay(
            RelayRecord(decisionId: record.id, result: record.relay ?? .failed, latency: record.latencies.relay, total: record.latencies.total))
        return record
    }

    /// A face the cloud just granted goes to the offline cache.
    private func learn(from decision: Decision, lookup: Lookup, searchedUnder policy: DoorPolicy, at time: Date) async {
        guard decision.outcome == .granted, let subject = decision.subjectId, let score = decision.bestScore, let descriptor = lookup.descriptor,
            let offline, case .cloud(let candidates, let unit) = lookup.identification
        else { return }
        // A face's offline life runs from when it was cached: not from a date a wrong clock gave it.
        guard lookup.clockProblem == nil else { return }
        // The tags travel with the face so that per-tag schedules hold offline too.
        let tags = candidates.first { $0.subjectId == subject }?.tags ?? []
        do {
            // The score goes with it: a threshold raised later must stop this face offline as it would online.
            try await offline.remember(
                subjectId: subject, tags: tags, grantedUnder: policy, score: score, unit: unit, descriptor: descriptor, at: time)
            newestRememberedFace = max(newestRememberedFace ?? time, time)
        } catch {
            logger.warning("offline cache did not take the face", metadata: ["error": "\(error)"])
        }
    }

    /// An offline decision's probe waits in the cache for the cloud to re-check it.
    private func keepForRecheck(_ record: DecisionRecord, probe: ProbeFace?, at time: Date) async {
        guard record.decision.offline, let offline, let probe else { return }
        // A grant withheld let nobody in: its re-check has no one to answer for.
        let granted = record.decision.outcome.opensDoor && record.relay != .withheld ? record.decision.subjectId : nil
        do {
            try await offline.addPendingRecheck(
                decisionId: record.id, door: settings.door, grantedSubject: granted, probe: probe.jpeg, at: time)
        } catch {
            // It will never be re-checked: the journal says so rather than `recheck pending` for ever.
            journal.recordRecheck(
                RecheckRecord(
                    decisionId: record.id, time: now(), outcome: .error,
                    reason: "the offline cache could not keep its probe for the cloud's re-check"))
            guard let granted else {
                logger.warning("offline decision cannot be kept for its re-check", metadata: ["error": "\(error)"])
                return
            }
            // The re-check is what catches a look-alike let in offline: a grant that cannot have one does not
            // stand again. Its subject's faces go (the cache withdraws them when the disk refuses that too),
            // and the next online grant caches them again.
            let forgotten: String
            do {
                forgotten = "\(try await offline.forget(subjects: [granted]))"
            } catch {
                forgotten = "withdrawn"
            }
            logger.error(
                "offline grant cannot be kept for its re-check; that subject's faces are taken out of the offline cache",
                metadata: ["error": "\(error)", "faces": "\(forgotten)"])
        }
    }

    /// How long the camera may keep the pipeline waiting for a frame, and a visit may end later than the
    /// cooldown after its last sighting, and still be decided: frames a few tenths of a second apart fit
    /// in it; a camera that sent nothing for longer does not. (A slow analysis makes visits end late too,
    /// but never makes the pipeline wait: those are decided.)
    static var cameraSilenceAllowance: Duration { .seconds(1) }

    /// Why a visit's person has not been seen for longer than leaving takes.
    enum UnseenCause {
        /// The camera sent nothing (unplugged, stalled).
        case cameraSilent
        /// Frames came but none could be analysed.
        case framesUnanalysed
    }

    /// A visit whose person the camera has not shown for longer than leaving explains: the door stays
    /// locked, and the journal says why (the enrolment waiting for a visit does not take it either).
    private func recordUnseen(_ pending: PendingVisit, for unseen: Duration, because cause: UnseenCause) {
        statistics.visits += 1
        settings.metrics.count("visits")
        let seconds = Int(unseen.timeInterval.rounded())
        switch cause {
        case .cameraSilent:
            journalUndecided(
                pending, because: "the camera sent no frame for \(seconds) s after the person was last seen, so they may have gone",
                log: "visit not decided: the camera was silent after the person was last seen; the door stays locked",
                ["unseen_s": "\(seconds)"])
        case .framesUnanalysed:
            journalUndecided(
                pending, because: "no frame could be analysed for \(seconds) s after the person was last seen, so they may have gone",
                log: "visit not decided: no frame could be analysed after the person was last seen; the door stays locked",
                ["unseen_s": "\(seconds)"])
        }
    }

    /// A visit that waited so long for its turn that no grant could open the door any more.
    private func recordStale(_ pending: PendingVisit, waited: Duration) {
        let seconds = Int(waited.timeInterval.rounded())
        journalUndecided(
            pending, because: "it waited \(seconds) s for its turn, so the person may have gone",
            log: "visit not decided: it waited too long for its turn; the door stays locked", ["waited_s": "\(seconds)"])
    }

    /// A visit the decision loop had no room for: the door stays locked, and the journal says why.
    private func recordDropped(_ pending: PendingVisit) {
        statistics.visitsDropped += 1
        journalUndecided(
            pending, because: "\(settings.maxWaitingVisits) visits were already waiting for a decision",
            log: "visit dropped: too many visits waiting for a decision; the door stays locked",
            ["waiting": "\(settings.maxWaitingVisits)"])
    }

    /// Journals a visit as the `error` decision "the visit was not decided: `reason`", counts it, and
    /// logs `message` at error level; nothing is asked of the cloud and the door is not touched.
    private func journalUndecided(_ pending: PendingVisit, because reason: String, log message: Logger.Message, _ metadata: Logger.Metadata) {
        let decision = Decision(outcome: .error, reason: "the visit was not decided: " + reason)
        journal.record(
            DecisionRecord(time: now(), door: settings.door, decision: decision, backend: search.backendName, quality: pending.visit.bestFace.quality))
        statistics.decisions[.error, default: 0] += 1
        settings.metrics.decision(.error)
        logger.error(
            message, metadata: ["door": "\(settings.door)", "visit": "\(pending.visit.number)"].merging(metadata) { _, given in given })
    }

    /// One cloud search under the decision deadline; what cannot reach the cloud becomes `.unavailable`.
    private func searchCloud(_ probe: ProbeFace, under policy: DoorPolicy, deadline: PipelineClock.Instant) async -> Identification {
        let search = self.search
        do {
            let candidates = try await withDeadline(deadline, on: clock) { try await search.search(probe, policy: policy) }
            return .cloud(candidates: candidates, unit: search.scoreUnit)
        } catch {
            // Abandoned by a stop past its grace: not the cloud's absence, so no offline decision either.
            if Task.isCancelled { return .failed(cause: Self.abandonedByTheStop) }
            switch error {
            case let unavailable as CloudUnavailable: return .unavailable(cloudFailure: unavailable.description)
            case is DeadlineExceeded: return .unavailable(cloudFailure: "no answer within the decision deadline")
            default: return .failed(cause: "\(error)")
            }
        }
    }

    /// Time on the pipeline's clock since `start`.
    private nonisolated func elapsed(since start: PipelineClock.Instant) -> Duration {
        start.duration(to: clock.now)
    }
}

// MARK: - Enrolment at the door

extension ClockedGatePipeline {
    /// An enrolment waiting for its approach, or being carried out.
    struct EnrolmentSlot {
        let id: UUID
        let request: EnrolmentRequest
        let outcome: AsyncStream<EnrolmentOutcome>.Continuation
        /// Visits made before it was asked for: those are someone else's, waiting for their decision.
        let visitsBefore: Int
        /// Who asked (the control socket's uid and pid), for the journal.
        let asker: String
        /// An approach was taken for it: it ends with that approach's outcome, however long the cloud takes.
        var taken = false
    }

    /// Whether an enrolment is waiting for the next approach.
    public var enrolmentIsWaiting: Bool { enrolmentSlot.map { !$0.taken } ?? false }

    /// Enrolments as they start waiting and end, for the kiosk.
    public func enrolments() -> AsyncStream<EnrolmentProgress> {
        let (stream, continuation) = AsyncStream<EnrolmentProgress>.makeStream(bufferingPolicy: .bufferingNewest(8))
        enrolmentObservers.append(continuation)
        return stream
    }

    private func announce(_ progress: EnrolmentProgress) {
        for observer in enrolmentObservers { observer.yield(progress) }
    }

    /// Takes the next approach as an enrolment (the door stays locked for it, and no decision is
    /// journaled) and returns how it ended; nobody approaching within `limit` ends it `timedOut`.
    /// One at a time: another request meanwhile is answered `busy`.
    /// Every request is journaled as it ends (a door event `enrolment`): it gives lasting access, so the
    /// journal says who asked (`askedBy`: the control socket's uid and pid) and what it made. One whose
    /// approach was taken ends with that approach, and is journaled then, even if its asker has gone.
    public func enrolNextVisit(_ request: EnrolmentRequest, within limit: Duration, askedBy asker: String = "this process") async
        -> EnrolmentOutcome
    {
        await enrolNext(request, within: limit, askedBy: asker)
    }

    private func journalEnrolment(_ outcome: EnrolmentOutcome, askedBy asker: String) {
        journal.record(DoorEventRecord(time: now(), door: settings.door, kind: .enrolment, detail: Self.journaled(outcome, askedBy: asker)))
        settings.metrics.count("door_events", [("kind", DoorEventKind.enrolment.rawValue)])
    }

    /// An enrolment as the journal keeps it: how it ended, the subject (or record) and event it made, who
    /// asked. No name, tag or reason (they are the installer's words).
    static func journaled(_ outcome: EnrolmentOutcome, askedBy asker: String) -> String {
        var detail = outcome.result.rawValue
        if let receipt = outcome.receipt {
            detail += " as \(receipt.subjectId)"
            if let event = receipt.eventId { detail += " (event \(event))" }
        }
        if let duplicate = outcome.duplicateOf { detail += " of \(duplicate)" }
        // A registration sent without a result: an auditor reading "cloud-failed" alone would take it that
        // nothing was made (review).
        if outcome.mayHaveBeenEnrolled == true { detail += " (the cloud may have enrolled the face all the same)" }
        return detail + "; asked by \(asker)"
    }

    /// The pipeline will not run again (the door is stopping): an enrolment still waiting for an approach is
    /// answered now, not left to wait out its timeout or the control socket's close, and none is taken after.
    public func endEnrolments() {
        enrolmentsEnded = true
        if let slot = enrolmentSlot, !slot.taken { withdrawEnrolment(slot.id, because: Self.stoppedBeforeApproach) }
    }

    private static var stoppedBeforeApproach: EnrolmentOutcome { EnrolmentOutcome(.timedOut, reason: "the door stopped before anyone approached") }

    private func enrolNext(_ request: EnrolmentRequest, within limit: Duration, askedBy asker: String) async -> EnrolmentOutcome {
        func refused(_ outcome: EnrolmentOutcome) -> EnrolmentOutcome {
            journalEnrolment(outcome, askedBy: asker)
            return outcome
        }
        guard let enrolment else { return refused(EnrolmentOutcome(.invalidRequest, reason: "this door cannot enrol: its backend has no register")) }
        guard !enrolmentsEnded else { return refused(Self.stoppedBeforeApproach) }
        if let invalid = enrolment.problem(with: request, policy: policy) { return refused(invalid) }
        guard enrolmentSlot == nil else { return refused(EnrolmentOutcome(.busy, reason: "another enrolment is waiting for its approach")) }
        let id = UUID()
        let (outcomes, sink) = AsyncStream<EnrolmentOutcome>.makeStream(bufferingPolicy: .bufferingNewest(1))
        enrolmentSlot = EnrolmentSlot(id: id, request: request, outcome: sink, visitsBefore: statistics.visits, asker: asker)
        logger.notice("enrolment: waiting for the next approach", metadata: ["door": "\(settings.door)"])
        announce(.waiting)
        // Cancelled when this returns: only an enrolment still waiting is ended by it.
        async let _ = expireEnrolment(id, after: limit)
        for await outcome in outcomes { return outcome }
        // The caller was cancelled: an approach not yet taken is no longer waited for. One taken goes on,
        // and is journaled as it ends (the registration may still be made).
        let cancelled = EnrolmentOutcome(.timedOut, reason: "the enrolment was cancelled")
        if let slot = enrolmentSlot, slot.id == id, slot.taken {
            return EnrolmentOutcome(.timedOut, reason: "the enrolment was cancelled after its approach was taken: it goes on, and the journal says how it ends")
        }
        withdrawEnrolment(id, because: cancelled)
        return cancelled
    }

    private func expireEnrolment(_ id: UUID, after limit: Duration) async {
        guard (try? await clock.sleep(for: limit)) != nil else { return }
        withdrawEnrolment(id, because: EnrolmentOutcome(.timedOut, reason: "nobody approached within \(Int(limit.timeInterval.rounded())) s"))
    }

    private func withdrawEnrolment(_ id: UUID, because outcome: EnrolmentOutcome) {
        guard let slot = enrolmentSlot, slot.id == id, !slot.taken else { return }
        enrolmentSlot = nil
        journalEnrolment(outcome, askedBy: slot.asker)
        slot.outcome.yield(outcome)
        slot.outcome.finish()
        announce(.finished(outcome.result))
    }

    /// The enrolment begun at `started` has done its work on the box: only its bounded cloud calls are left.
    private func enrolmentJudged(since started: PipelineClock.Instant) {
        guard decisionStarted == started else { return }
        decisionStarted = nil
        enrolmentJudging = false
    }

    /// Enrols `visit` when an enrolment waits for it; false when none does (the visit is decided).
    /// Only a visit made after the request: one queued before it (behind a slow cloud) belongs to someone
    /// who walked up before the installer asked, and is decided as it would have been.
    private func enrolIfWaiting(_ pending: PendingVisit) async -> Bool {
        guard var slot = enrolmentSlot, !slot.taken, pending.ordinal > slot.visitsBefore, let enrolment else { return false }
        slot.taken = true
        enrolmentSlot = slot
        // The enrolment's liveness check, crop and encoding have no deadline of their own and hold the decision
        // loop: they count as a decision in progress, so a hung model is named by ``stuckStage`` (the watchdog,
        // /health). Its cloud calls, each bounded by the enrolment's timeout, do not.
        let started = clock.now
        decisionStarted = started
        enrolmentJudging = true
        defer { enrolmentJudged(since: started) }
        let outcome = await enrolment.enrol(
            pending.visit, as: slot.request, policy: policy, cloudTimeout: settings.enrolmentCloudTimeout,
            judged: { await self.enrolmentJudged(since: started) }, metrics: settings.metrics)
        enrolmentSlot = nil
        journalEnrolment(outcome, askedBy: slot.asker)
        slot.outcome.yield(outcome)
        slot.outcome.finish()
        announce(.finished(outcome.result))
        return true
    }
}

/// The gate pipeline as the daemon runs it, on the continuous clock.
public typealias GatePipeline = ClockedGatePipeline<ContinuousClock>

extension ClockedGatePipeline where PipelineClock == ContinuousClock {
    public init(
        source: any FrameSource, analyzer: any FrameAnalyzing, liveness: (any PresentationAttackDetecting)? = nil,
        search: any FaceSearch, offline: (any OfflineFaceStore)?, door: any DoorActuator, journal: any GateJournal,
        enrolment: DoorEnrolment? = nil, policy: DoorPolicy, settings: Settings, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(
            source: source, analyzer: analyzer, liveness: liveness, search: search, offline: offline, door: door, journal: journal,
            enrolment: enrolment, policy: policy, settings: settings, logger: logger, clock: ContinuousClock(), now: now)
    }
}
