import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

/// The pipeline's waits on its own clock (issue 10, clocks injected): the decision deadline, the
/// cloud's retry pace and the stuck-stage watch move when a test advances a ``TestClock``, so a
/// 60 s deadline or a 30 s stuck decision is tested without waiting for it.
@Suite(.timeLimit(.minutes(1)))
struct PipelineClockTests {
    static let quiet = Logger.quiet("pipeline-clock")

    static let policy = DoorPolicy(door: "clocked", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])

    /// People in turn at the same spot are each their own visit: no re-identification between them.
    static let eachTheirOwnVisit = ApproachConfiguration(settleFrames: 3, reidentifyWindow: .zero)
    static let alice = [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])]

    static func pipeline(
        source: any FrameSource, analyzer: any FrameAnalyzing = ScriptedAnalyzer(), search: any FaceSearch, journal: MemoryJournal,
        clock: TestClock, policy: DoorPolicy = policy, approach: ApproachConfiguration = ApproachConfiguration(settleFrames: 3),
        decisionDeadline: Duration = .seconds(60), cloudRetryInterval: Duration = .seconds(5), lines doorLines: (any DoorLines)? = nil
    ) throws -> (ClockedGatePipeline<TestClock>, SimulatedDoorLines) {
        let lines = SimulatedDoorLines(logger: quiet)
        let door = try DoorController(lines: doorLines ?? lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: quiet)
        let pipeline = ClockedGatePipeline(
            source: source, analyzer: analyzer, search: search, offline: nil, door: door, journal: journal, policy: policy,
            settings: .init(
                door: "clocked", approach: approach, decisionDeadline: decisionDeadline, cloudRetryInterval: cloudRetryInterval),
            logger: quiet, clock: clock)
        return (pipeline, lines)
    }

    /// Waits until the pipeline has taken `count` frames. The frame loop reads the pipeline's clock too: a
    /// test that moved it while frames still came would be a camera silent for that long (visits cut short).
    static func waitForFrames(_ count: Int, of pipeline: ClockedGatePipeline<TestClock>) async throws {
        while await pipeline.statistics.frames < count { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test("a cloud that never answers: a decision stuck past the watchdog's limit is named, then the deadline decides without the cloud")
    func theDeadlineRunsOnThePipelineClock() async throws {
        let clock = TestClock()
        let cloud = HeldCloud(candidates: [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])])
        let journal = MemoryJournal()
        let (pipeline, lines) = try Self.pipeline(source: SynthesizedApproach(), search: cloud, journal: journal, clock: clock)
        let run = Task { try await pipeline.run() }
        #expect(await cloud.waitUntilCalled(timeout: .seconds(10)))
        #expect(await clock.waitForSleepers(1), "the decision deadline waits on the pipeline's clock")
        // Every frame analysed, so that only the decision can be busy when the clock moves.
        let approach = SynthesizedApproach()
        while await pipeline.statistics.frames < approach.empty + approach.present + approach.after {
            try await Task.sleep(for: .milliseconds(5))
        }

        #expect(await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30)) == nil)
        clock.advance(by: .seconds(31))
        let stuck = await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30))
        #expect(stuck?.hasPrefix("one decision has taken 31") == true, "\(stuck ?? "nil")")
        #expect(journal.decisions.isEmpty, "31 s into a 60 s deadline the cloud is still waited for")

        clock.advance(by: .seconds(29))
        try await run.value
        let decision = try #require(journal.decisions.first?.decision)
        #expect(journal.decisions.count == 1)
        #expect(decision.outcome == .deniedOffline)
        #expect(decision.reason.contains("no answer within the decision deadline"), "\(decision.reason)")
        #expect(lines.relayChanges == 0, "no answer never opens the door")
        #expect(await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30)) == nil, "decided: nothing is stuck")
    }

    @Test("a frame whose analysis hangs is named stuck once the pipeline's clock passes the limit")
    func aHungAnalysisIsNamed() async throws {
        let clock = TestClock()
        let analyzer = HangingAnalyzer()
        let (pipeline, _) = try Self.pipeline(
            source: SynthesizedApproach(), analyzer: analyzer, search: HeldCloud(released: true), journal: MemoryJournal(), clock: clock)
        let run = Task { try await pipeline.run() }
        defer { analyzer.release() }
        #expect(await analyzer.waitUntilHanging(timeout: .seconds(10)))
        #expect(await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30)) == nil)
        clock.advance(by: .seconds(6))
        let stuck = await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30))
        #expect(stuck?.hasPrefix("the analysis of one frame has taken 6") == true, "\(stuck ?? "nil")")
        analyzer.release()
        pipeline.finish()
        try await run.value
    }

    @Test("while the cloud is away it is probed once per retry interval of the pipeline's clock, and used again once it answers")
    func theCloudIsProbedOnThePipelineClock() async throws {
        let clock = TestClock()
        let cloud = SwitchableCloud()
        let journal = MemoryJournal()
        let (pipeline, _) = try Self.pipeline(
            source: SynthesizedApproach(endless: true), search: cloud, journal: journal, clock: clock, cloudRetryInterval: .seconds(5))
        let run = Task { try await pipeline.run() }
        defer { run.cancel() }
        // The approach is decided while the cloud is away: it is then known to be down.
        while journal.decisions.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(journal.decisions.first?.decision.outcome == .deniedOffline)
        #expect(await pipeline.cloudIsDown)
        #expect(cloud.probes == 0)

        #expect(await clock.waitForSleepers(1), "the retry pace waits on the pipeline's clock")
        clock.advance(by: .seconds(4))
        try await Task.sleep(for: .milliseconds(50))
        #expect(cloud.probes == 0, "not probed before the interval has passed")
        clock.advance(by: .seconds(1))
        while cloud.probes < 1 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await pipeline.cloudIsDown, "a probe that finds it away leaves it down")

        cloud.isReachable = true
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(5))
        while await pipeline.cloudIsDown { try await Task.sleep(for: .milliseconds(5)) }
        #expect(cloud.probes == 2)
        pipeline.finish()
        try await run.value
    }

    @Test("a visit that waited behind another gets the whole deadline, counted from when its own decision starts")
    func aWaitingVisitsDeadlineStartsWithItsDecision() async throws {
        #expect(GatePipelineSettings(door: "d", approach: ApproachConfiguration(), decisionDeadline: .seconds(1)).maxWaitingVisits == 16)
        let clock = TestClock()
        let cloud = FirstHeldThenSilentCloud()
        let journal = MemoryJournal()
        let (pipeline, _) = try Self.pipeline(
            source: PeopleInTurn(count: 2), search: cloud, journal: journal, clock: clock, approach: Self.eachTheirOwnVisit)
        let run = Task { try await pipeline.run() }
        // The first visit's search is held; the second visit is made and waits behind it.
        while await pipeline.statistics.visits < 2 { try await Task.sleep(for: .milliseconds(5)) }
        while cloud.calls < 1 { try await Task.sleep(for: .milliseconds(5)) }
        try await Self.waitForFrames(2 * PeopleInTurn.framesPerPerson, of: pipeline)
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(50))
        cloud.releaseFirst()
        // The first is decided 50 s in; the second's search starts then and never answers.
        while cloud.calls < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await clock.waitForSleepers(1))
        #expect(journal.decisions.map(\.decision.outcome) == [.granted])
        // 109 s after both were made: 59 s into the second's own deadline, so it is still waited for
        // (counted from when it was made, it would have run out 49 s ago).
        clock.advance(by: .seconds(59))
        try await Task.sleep(for: .milliseconds(300))
        #expect(journal.decisions.count == 1, "\(journal.decisions.map(\.decision.reason))")
        clock.advance(by: .seconds(1))
        try await run.value
        #expect(journal.decisions.map(\.decision.outcome) == [.granted, .deniedOffline])
        #expect(journal.decisions.last?.decision.reason.contains("no answer within the decision deadline") == true)
    }

    /// `facegate enrol` takes the next approach: a visit already queued when it was asked for (behind a
    /// slow cloud) is someone who walked up before, and is decided, not enrolled under the new name.
    @Test func anEnrolmentTakesNoVisitQueuedBeforeIt() async throws {
        let clock = TestClock()
        let cloud = EachHeldCloud()
        let journal = MemoryJournal()
        let register = CountingRegister()
        let (holdStream, release) = AsyncStream.makeStream(of: Void.self)
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: Self.quiet)
        let pipeline = ClockedGatePipeline(
            source: PeopleInTurn(count: 3, holdBefore: 2, hold: holdStream), analyzer: ScriptedAnalyzer(), search: cloud, offline: nil,
            door: door, journal: journal,
            enrolment: DoorEnrolment(
                gate: EnrolmentGate(minQuality: 0, maxPoseDegrees: 90, minInterEyeDistance: 0), liveness: nil, search: cloud,
                enroller: register, logger: Self.quiet),
            policy: Self.policy,
            settings: .init(door: "clocked", approach: Self.eachTheirOwnVisit, decisionDeadline: .seconds(60)),
            logger: Self.quiet, clock: clock)
        let run = Task { try await pipeline.run() }
        // The first visit is at the cloud, the second queued behind it: then the installer asks.
        while await pipeline.statistics.visits < 2 { try await Task.sleep(for: .milliseconds(5)) }
        while cloud.calls < 1 { try await Task.sleep(for: .milliseconds(5)) }
        let enrolling = Task { await pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(120)) }
        while await !pipeline.enrolmentIsWaiting { try await Task.sleep(for: .milliseconds(5)) }
        cloud.answerOne()
        // The queued visit goes to the cloud (bounded: taken by the enrolment, it never would).
        for _ in 0..<400 where cloud.calls < 2 { try await Task.sleep(for: .milliseconds(5)) }
        cloud.answerOne()
        for _ in 0..<400 where journal.decisions.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(journal.decisions.map(\.decision.outcome) == [.granted, .granted])
        #expect(register.registrations == 0)
        #expect(await pipeline.enrolmentIsWaiting, "the enrolment still waits for the next approach")
        // The next person to walk up is the one enrolled (an answer left for the cloud, should they be decided).
        cloud.answerOne()
        release.finish()
        let outcome = await enrolling.value
        try await run.value
        #expect(outcome.enrolled, "\(outcome.reason)")
        #expect(register.registrations == 1)
        #expect(journal.decisions.count == 2)
    }

    /// A grant too late to open the door does not start the re-entry cooldown: the person it was for
    /// (who never got in) is let in when they come back, not turned away as if they had just entered.
    @Test func aLateGrantStartsNoReentryCooldown() async throws {
        let clock = TestClock()
        let cloud = EachHeldCloud()
        let journal = MemoryJournal()
        let (holdStream, release) = AsyncStream.makeStream(of: Void.self)
        var policy = Self.policy
        policy.reentryCooldown = .seconds(30)
        let (pipeline, _) = try Self.pipeline(
            source: PeopleInTurn(count: 3, holdBefore: 2, hold: holdStream), search: cloud, journal: journal, clock: clock, policy: policy,
            approach: Self.eachTheirOwnVisit)
        let run = Task { try await pipeline.run() }
        while await pipeline.statistics.visits < 2 { try await Task.sleep(for: .milliseconds(5)) }
        while cloud.calls < 1 { try await Task.sleep(for: .milliseconds(5)) }
        try await Self.waitForFrames(2 * PeopleInTurn.framesPerPerson, of: pipeline)
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(10))
        cloud.answerOne()  // alice granted 10 s after her visit: the door opens, her cooldown runs from here
        while cloud.calls < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(56))
        cloud.answerOne()  // granted 66 s after the visit was ready: too late, nothing opens
        while journal.decisions.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        // She comes back at once: 56 s after the grant that let her in, past the 30 s cooldown.
        cloud.answerOne()
        release.finish()
        try await run.value
        #expect(journal.decisions.map(\.decision.outcome) == [.granted, .error, .granted], "\(journal.decisions.map(\.decision.reason))")
        #expect(await pipeline.statistics.unlocks == 2)
    }

    /// A grant whose relay could not be driven let nobody in: it starts no re-entry cooldown, so the
    /// person still at the locked door is let in when they try again, not turned away as just entered.
    @Test func aGrantWhoseDoorDidNotOpenStartsNoReentryCooldown() async throws {
        let clock = TestClock()
        let cloud = EachHeldCloud()
        let journal = MemoryJournal()
        var policy = Self.policy
        policy.reentryCooldown = .seconds(30)
        let lines = RelayFailingOnce()
        let (pipeline, _) = try Self.pipeline(
            source: PeopleInTurn(count: 2), search: cloud, journal: journal, clock: clock, policy: policy,
            approach: Self.eachTheirOwnVisit, lines: lines)
        let run = Task { try await pipeline.run() }
        cloud.answerOne()
        cloud.answerOne()
        try await run.value
        #expect(journal.decisions.map(\.decision.outcome) == [.granted, .granted], "\(journal.decisions.map(\.decision.reason))")
        let statistics = await pipeline.statistics
        #expect(statistics.unlockFailures == 1 && statistics.unlocks == 1)
    }

    /// The re-entry cooldown outlives a restart (a crash, the watchdog, a power cut): the daemon started
    /// again on the same journal turns away someone let in seconds before, unless the door did not open
    /// for them. Before, the cooldown lived in memory alone and a restart let them in again at once.
    @Test func theReentryCooldownOutlivesARestart() async throws {
        var policy = Self.policy
        policy.reentryCooldown = .seconds(60)
        for firstRelayFails in [false, true] {
            let journal = MemoryJournal()
            for run in 0..<2 {
                let (pipeline, _) = try Self.pipeline(
                    source: SynthesizedApproach(), search: HeldCloud(candidates: Self.alice, released: true), journal: journal,
                    clock: TestClock(), policy: policy, lines: run == 0 && firstRelayFails ? RelayFailingOnce() : nil)
                try await pipeline.run()
            }
            let outcomes = journal.decisions.map(\.decision.outcome)
            #expect(outcomes == (firstRelayFails ? [.granted, .granted] : [.granted, .deniedReentry]), "\(journal.decisions.map(\.decision.reason))")
        }
    }

    /// A grant opens the door only while its person can still be there: decided within the decision
    /// deadline and 5 s of the visit being ready. A slow cloud with people queued (or a failing disk)
    /// would otherwise open it for whoever stands there a minute later.
    @Test("a grant decided too long after its visit was ready opens nothing, and a visit past that is not sent to the cloud")
    func aLateGrantOpensNothing() async throws {
        #expect(GatePipelineSettings(door: "d", approach: ApproachConfiguration(), decisionDeadline: .seconds(60)).freshGrantLimit == .seconds(65))
        let clock = TestClock()
        let cloud = EachHeldCloud()
        let journal = MemoryJournal()
        // Three people in turn, each their own visit, all ready before the first is decided.
        let (pipeline, _) = try Self.pipeline(
            source: PeopleInTurn(count: 3), search: cloud, journal: journal, clock: clock, approach: Self.eachTheirOwnVisit)
        let run = Task { try await pipeline.run() }
        while await pipeline.statistics.visits < 3 { try await Task.sleep(for: .milliseconds(5)) }
        while cloud.calls < 1 { try await Task.sleep(for: .milliseconds(5)) }
        try await Self.waitForFrames(3 * PeopleInTurn.framesPerPerson, of: pipeline)
        #expect(await clock.waitForSleepers(1))
        // The first is granted 50 s after the visits were ready: within 65 s, so it opens.
        clock.advance(by: .seconds(50))
        cloud.answerOne()
        while cloud.calls < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await clock.waitForSleepers(1))
        #expect(journal.decisions.map(\.decision.outcome) == [.granted])
        // The second's grant comes 66 s after its visit was ready (within its own deadline): it opens nothing.
        clock.advance(by: .seconds(16))
        cloud.answerOne()
        // The third is journaled without the cloud (or, were it sent, answered so that the run ends).
        while journal.decisions.count < 3, cloud.calls < 3 { try await Task.sleep(for: .milliseconds(5)) }
        if cloud.calls == 3 { cloud.answerOne() }
        try await run.value
        let outcomes = journal.decisions.map(\.decision.outcome)
        #expect(outcomes == [.granted, .error, .error], "\(journal.decisions.map(\.decision.reason))")
        let late = try #require(journal.decisions.dropFirst().first?.decision)
        #expect(late.reason.contains("66 s after the visit was ready") && late.subjectId == "alice", "\(late.reason)")
        // The third waited 66 s for its turn: journaled undecided, the cloud not asked.
        #expect(journal.decisions.last?.decision.reason.contains("waited 66 s for its turn") == true)
        #expect(cloud.calls == 2)
        #expect(await pipeline.statistics.unlocks == 1, "only the first grant opened the door")
    }
}

/// A register that takes every face at once, counting them.
final class CountingRegister: FaceEnrolling {
    private let count = Mutex(0)
    var registrations: Int { count.withLock { $0 } }
    func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String? { nil }
    func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy { policy }
    func enrolledMatches(
        of probe: ProbeFace, for request: EnrolmentRequest, door policy: DoorPolicy, search: any FaceSearch
    ) async throws -> [MatchCandidate] { [] }
    func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt {
        let number = count.withLock { $0 += 1; return $0 }
        return EnrolmentReceipt(backend: "counting", subjectId: "enrolled-\(number)", registeredUnder: [])
    }
}

/// A cloud whose every search waits for the test's word, then grants alice.
final class EachHeldCloud: FaceSearch {
    let backendName = "each-held"
    var scoreUnit: ScoreUnit { .necScore }
    private let count = Mutex(0)
    private let answers: AsyncStream<Void>
    private let answer: AsyncStream<Void>.Continuation

    init() { (answers, answer) = AsyncStream.makeStream() }

    var calls: Int { count.withLock { $0 } }
    /// Lets the search waiting (or the next one to come) answer.
    func answerOne() { answer.yield() }

    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        count.withLock { $0 += 1 }
        for await _ in answers { return [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])] }
        throw CancellationError()
    }
}

/// A cloud that is away (every search and probe fails as unreachable) until the test says otherwise.
final class SwitchableCloud: FaceSearch, CloudReachability {
    private struct State {
        var reachable = false
        var probes = 0
    }
    private let state = Mutex(State())

    var backendName: String { "switchable" }
    var scoreUnit: ScoreUnit { .necScore }
    var probes: Int { state.withLock { $0.probes } }
    var isReachable: Bool {
        get { state.withLock { $0.reachable } }
        set { state.withLock { $0.reachable = newValue } }
    }

    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        guard isReachable else { throw CloudUnavailable(.unreachable, "connection refused") }
        return []
    }

    func checkReachable() async throws {
        let reachable = state.withLock { state in
            state.probes += 1
            return state.reachable
        }
        guard reachable else { throw CloudUnavailable(.unreachable, "connection refused") }
    }

}

/// Analyses like ``ScriptedAnalyzer``, but the first frame with someone in it hangs until released.
final class HangingAnalyzer: FrameAnalyzing {
    private let scripted = ScriptedAnalyzer()
    private let gate = DispatchSemaphore(value: 0)
    private let hanging = Atomic<Bool>(false)
    private let released = Atomic<Bool>(false)

    func analyze(_ image: PixelImage, plan: DetectionPlan, descriptorLimit: Int) throws -> ImageAnalysis {
        if image.pixels[0] == 255, !released.load(ordering: .acquiring), hanging.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            gate.wait()
        }
        return try scripted.analyze(image, plan: plan, descriptorLimit: descriptorLimit)
    }

    func descriptor(of face: DetectedFace, in image: PixelImage) throws -> FaceDescriptor {
        try scripted.descriptor(of: face, in: image)
    }

    func waitUntilHanging(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hanging.load(ordering: .acquiring) {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { gate.signal() }
    }
}

/// A cloud whose first search waits for ``releaseFirst()`` and then names alice; every later search
/// never answers (only a decision's deadline ends it).
final class FirstHeldThenSilentCloud: FaceSearch {
    let backendName = "held-then-silent"
    var scoreUnit: ScoreUnit { .necScore }
    private let count = Mutex(0)
    private let released: AsyncStream<Void>
    private let release: AsyncStream<Void>.Continuation

    init() { (released, release) = AsyncStream.makeStream() }

    var calls: Int { count.withLock { $0 } }
    func releaseFirst() { release.finish() }

    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        let call = count.withLock { count in
            count += 1
            return count
        }
        if call == 1 {
            for await _ in released {}
            try Task.checkCancellation()
            return [MatchCandidate(subjectId: "alice", score: 9100, tags: ["staff"])]
        }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// ``SynthesizedApproach``'s person, `count` times in turn, with frame numbers and times running on.
struct PeopleInTurn: FrameSource {
    /// Each person's frames: a few empty, the face, then long enough gone that their visit ends.
    static let approach = SynthesizedApproach(empty: 4, present: 12, after: 30)
    static var framesPerPerson: Int { approach.empty + approach.present + approach.after }

    var count: Int
    /// The person (0-based) whose frames wait for `hold`'s first element, or the end of it.
    var holdBefore: Int? = nil
    var hold: AsyncStream<Void>? = nil

    func frames() -> AsyncThrowingStream<Frame, any Error> {
        let count = self.count, holdBefore = self.holdBefore, hold = self.hold
        return AsyncThrowingStream { continuation in
            let producer = Task {
                var offset = 0
                for person in 0..<count {
                    if person == holdBefore, let hold { for await _ in hold { break } }
                    var frames = 0
                    do {
                        for try await frame in Self.approach.frames() {
                            continuation.yield(
                                Frame(
                                    sequence: frame.sequence + UInt64(offset), timestamp: frame.timestamp + .milliseconds(100 * offset),
                                    image: frame.image))
                            frames += 1
                        }
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                    offset += frames
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in producer.cancel() }
        }
    }
}

extension PipelineClockTests {
    /// An enrolment's liveness check, crop and encoding have no deadline and hold the decision loop: a
    /// model hung there is a decision stuck, named by ``stuckStage`` (the watchdog, `/health`) past the
    /// limit. Before, the enrolment ran before the decision's start was set, and nothing was named.
    /// A pipeline on the test clock whose enrolments' liveness check hangs until released (then fails), with
    /// one synthesized approach held until `source.start` finishes; the cloud answers nobody and is never asked.
    struct HungEnrolmentRig {
        let clock = TestClock()
        let journal = MemoryJournal()
        let liveness = HungLiveness()
        let cloud = HeldCloud(candidates: [])
        let approach = SynthesizedApproach()
        let source: HeldSource
        let pipeline: ClockedGatePipeline<TestClock>

        init() throws {
            let enrolment = DoorEnrolment(
                gate: EnrolmentGate(minInterEyeDistance: 20), liveness: liveness, search: cloud, enroller: UnreachedEnroller(),
                logger: PipelineClockTests.quiet)
            let door = try DoorController(
                lines: SimulatedDoorLines(logger: PipelineClockTests.quiet), timing: DoorTiming(unlockDuration: .milliseconds(200)),
                logger: PipelineClockTests.quiet)
            source = HeldSource(approach)
            pipeline = ClockedGatePipeline(
                source: source, analyzer: ScriptedAnalyzer(), search: cloud, offline: nil, door: door, journal: journal, enrolment: enrolment,
                policy: PipelineClockTests.policy,
                settings: .init(door: "clocked", approach: ApproachConfiguration(settleFrames: 3), decisionDeadline: .seconds(60)),
                logger: PipelineClockTests.quiet, clock: clock)
        }
    }

    @Test func anEnrolmentHungInItsLivenessCheckIsNamedStuck() async throws {
        let rig = try HungEnrolmentRig()
        let (clock, journal, liveness, cloud, approach, source, pipeline) = (rig.clock, rig.journal, rig.liveness, rig.cloud, rig.approach, rig.source, rig.pipeline)
        defer { liveness.release() }
        let run = Task { try await pipeline.run() }
        let enrolling = Task { await pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(600)) }
        while await !pipeline.enrolmentIsWaiting { try await Task.sleep(for: .milliseconds(5)) }
        source.start.finish()
        while !liveness.called { try await Task.sleep(for: .milliseconds(5)) }
        try await Self.waitForFrames(approach.empty + approach.present + approach.after, of: pipeline)

        #expect(await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30)) == nil)
        clock.advance(by: .seconds(31))
        let stuck = await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30))
        #expect(stuck?.hasPrefix("an enrolment's liveness check, crop or encoding has taken 31") == true, "\(stuck ?? "nil")")

        liveness.release()
        let outcome = await enrolling.value
        #expect(outcome.result == .notLive, "\(outcome.reason)")
        #expect(await pipeline.stuckStage(analysisLimit: .seconds(5), decisionLimit: .seconds(30)) == nil, "ended: nothing is stuck")
        #expect(cloud.calls == 0 && journal.decisions.isEmpty)
        source.release.finish()
        try await run.value
    }
}

extension PipelineClockTests {
    /// An installer who gives up once the approach is taken (Ctrl-C while the liveness check or the cloud
    /// works) does not leave the journal saying the enrolment timed out while it goes on and may register
    /// someone: it is journaled as it ends, with what it made and who asked. Before, `timed-out` was
    /// journaled at the hang-up and the real ending never.
    @Test func anEnrolmentWhoseAskerLeftAfterItsApproachIsJournaledAsItEnds() async throws {
        let rig = try HungEnrolmentRig()
        let (journal, liveness, source, pipeline) = (rig.journal, rig.liveness, rig.source, rig.pipeline)
        defer { liveness.release() }
        let run = Task { try await pipeline.run() }
        let enrolling = Task { await pipeline.enrolNextVisit(EnrolmentRequest(), within: .seconds(600), askedBy: "uid 0 pid 42") }
        while await !pipeline.enrolmentIsWaiting { try await Task.sleep(for: .milliseconds(5)) }
        source.start.finish()
        while !liveness.called { try await Task.sleep(for: .milliseconds(5)) }

        // The installer gives up: told the enrolment goes on; nothing journaled yet.
        enrolling.cancel()
        let told = await enrolling.value
        #expect(told.result == .timedOut && told.reason.contains("it goes on"), "\(told.reason)")
        #expect(journal.events.filter { $0.kind == .enrolment }.isEmpty, "journaled before it ended: \(journal.events.map(\.detail))")

        // It ends (the liveness check fails): journaled then, once.
        liveness.release()
        let journaled = try await askUntil { journal.events.filter { $0.kind == .enrolment } } until: { !$0.isEmpty }
        #expect(journaled.map(\.detail) == ["not-live; asked by uid 0 pid 42"])
        source.release.finish()
        try await run.value
        #expect(journal.events.filter { $0.kind == .enrolment }.count == 1)
    }
}

extension PipelineClockTests {
    /// A stop past its grace cancels the pipeline while the cloud is away: the visit whose offline match
    /// was under way, and the one queued behind it, open nothing. The cache's match does not heed the
    /// cancellation (nor does a cloud known to be away, asked not at all), so before, the first was granted
    /// offline and the door opened ("opening the door anyway" once the cancelled commit gave up), and
    /// the queued one was granted offline in the cancelled task too (review).
    @Test func aStopPastItsGraceGrantsNothingFromTheOfflineCache() async throws {
        let clock = TestClock()
        let journal = MemoryJournal()
        let cache = HeldOfflineStore(candidates: [MatchCandidate(subjectId: "alice", score: 0.2, tags: ["staff"], stillSearched: true)])
        let lines = SimulatedDoorLines(logger: Self.quiet)
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(200)), logger: Self.quiet)
        let pipeline = ClockedGatePipeline(
            source: PeopleInTurn(count: 2), analyzer: ScriptedAnalyzer(), search: SwitchableCloud(), offline: cache, door: door, journal: journal,
            policy: Self.policy, settings: .init(door: "clocked", approach: Self.eachTheirOwnVisit, decisionDeadline: .seconds(60)),
            logger: Self.quiet, clock: clock)
        let run = Task { try await pipeline.run() }
        // The first visit is at the offline cache (the cloud refused the connection), the second queued.
        _ = try await askUntil { cache.matches } until: { $0 >= 1 }
        _ = try await askUntil { await pipeline.statistics.visits } until: { $0 >= 2 }
        #expect(cache.matches == 1 && journal.decisions.isEmpty)

        // The stop's grace runs out: the pipeline alone is cancelled. Then the cache answers.
        run.cancel()
        cache.release()
        _ = try? await run.value
        #expect(lines.relayChanges == 0, "the door opened after the stop abandoned its decisions")
        #expect(!journal.relays.contains { $0.result == .unlocked }, "\(journal.relays)")
        // The first was granted before the cancellation; the queued one, decided in the cancelled task, is not.
        let decisions = journal.decisions.map(\.decision)
        #expect(decisions.map(\.outcome) == [.grantedOffline, .error], "\(decisions)")
        #expect(decisions.last?.reason.contains("abandoned") == true, "\(decisions)")
        // A grant decided before the cancellation, not carried out: journaled withheld beside it.
        for decision in journal.decisions where decision.decision.outcome == .grantedOffline {
            #expect(journal.relays.contains { $0.decisionId == decision.id && $0.result == .withheld }, "\(journal.relays)")
        }
    }
}

/// An offline cache whose first match waits for ``release()`` (heedless of cancellation, as the real one's
/// read is), then names `candidates`; later matches answer at once. Nothing else is kept.
final class HeldOfflineStore: OfflineFaceStore {
    private struct State {
        var matches = 0
        var released = false
        var waiting: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())
    let candidates: [MatchCandidate]
    init(candidates: [MatchCandidate]) { self.candidates = candidates }

    var matches: Int { state.withLock { $0.matches } }

    func release() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume()
    }

    func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate] {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let go = state.withLock { state in
                state.matches += 1
                if state.released { return true }
                state.waiting = continuation
                return false
            }
            if go { continuation.resume() }
        }
        return candidates
    }

    func remember(
        subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, score: Double, unit: ScoreUnit, descriptor: FaceDescriptor,
        at time: Date
    ) async throws {}
    func addPendingRecheck(decisionId: UUID, door: String, grantedSubject: String?, probe: [UInt8], at time: Date) async throws -> UUID { UUID() }
    func pendingRechecks(limit: Int?, at time: Date) async throws -> [PendingRecheck] { [] }
    func completeRecheck(_ id: UUID) async throws {}
    func noteRecheckAttempt(_ id: UUID) async throws {}
    func cachedSubjectsSince() async throws -> [String: Date] { [:] }
    func newestRememberedAt() async throws -> Date? { nil }
    func forget(subjects: Set<String>) async throws -> Int { 0 }
    func forgetFaces(rememberedAfter time: Date) async throws -> Int { 0 }
    func forgetExpired(at time: Date) async throws -> Int { 0 }
}

/// A liveness model that hangs until released, then fails.
final class HungLiveness: PresentationAttackDetecting {
    private let gate = DispatchSemaphore(value: 0)
    private let entered = Mutex(false)
    private let released = Mutex(false)

    var called: Bool { entered.withLock { $0 } }

    func assess(_ visit: Visit) throws -> LivenessAssessment {
        entered.withLock { $0 = true }
        gate.wait()
        throw DoorError(.ioFailed, "the liveness model hung (test)")
    }

    /// Lets the hung check go (once).
    func release() {
        let first = released.withLock { done in
            defer { done = true }
            return !done
        }
        if first { gate.signal() }
    }
}

/// An enroller the test never lets the enrolment reach.
struct UnreachedEnroller: FaceEnrolling {
    func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String? { nil }
    func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy { policy }
    func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt {
        Issue.record("the enrolment reached the cloud")
        throw DoorError(.ioFailed, "not reached (test)")
    }
}

/// Door lines whose relay cannot be driven the first time it is asked to unlock, then can.
final class RelayFailingOnce: DoorLines {
    private let failed = Mutex(false)
    private let simulated = SimulatedDoorLines()

    func driveRelay(unlocked: Bool) throws {
        if unlocked, failed.withLock({ already in
            defer { already = true }
            return !already
        }) {
            throw DoorError(.ioFailed, "the relay line cannot be driven (test)")
        }
        try simulated.driveRelay(unlocked: unlocked)
    }

    func contactIsOpen() throws -> Bool? { nil }
    func inputs() -> AsyncThrowingStream<DoorInput, any Error> { simulated.inputs() }
    func release() { simulated.release() }
}
