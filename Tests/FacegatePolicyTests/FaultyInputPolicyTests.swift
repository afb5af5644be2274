import FacegateCore
import FacegatePolicy
import Foundation
import Testing

/// Scores that are not numbers and clocks that step back: the door stays locked.
@Suite(.timeLimit(.minutes(5)))
struct FaultyInputPolicyTests {
    static let now = AccessPolicyTests.wednesdayMorning
    static let notFinite: [Double] = [.nan, .infinity, -.infinity, .signalingNaN]

    func decide(_ identification: Identification, policy: DoorPolicy, state: inout PolicyState, at time: Date = now) -> Decision {
        AccessPolicy.evaluate(identification, passedQualityGate: true, policy: policy, state: &state, at: time)
    }

    func decide(_ identification: Identification, policy: DoorPolicy) -> Decision {
        var state = PolicyState()
        return decide(identification, policy: policy, state: &state)
    }

    static let nec = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, minimumMargin: 500)

    func cloud(_ candidates: (String, Double)...) -> Identification {
        .cloud(candidates: candidates.map { MatchCandidate(subjectId: $0.0, score: $0.1, stillSearched: true) }, unit: .necScore)
    }

    func offline(_ candidates: (String, Double)...) -> Identification {
        .offline(candidates: candidates.map { MatchCandidate(subjectId: $0.0, score: $0.1, stillSearched: true) }, cloudFailure: "timeout")
    }

    @Test(arguments: notFinite) func notFiniteBestScoreIsAnError(score: Double) {
        var state = PolicyState()
        let decision = decide(cloud(("alice", score)), policy: Self.nec, state: &state)
        #expect(decision.outcome == .error)
        #expect(!decision.outcome.opensDoor && decision.subjectId == nil)
        #expect(state.lastGranted.isEmpty)
        // Alone or beside a good candidate: one broken score makes the whole answer untrustworthy.
        #expect(decide(cloud(("alice", 9500), ("bob", score)), policy: Self.nec).outcome == .error)
        #expect(decide(cloud(("bob", score), ("alice", 9500)), policy: Self.nec).outcome == .error)
    }

    @Test(arguments: notFinite) func notFiniteSecondScoreIsAnErrorNotAPassedMargin(score: Double) {
        // Without the check a NaN second score made `best - second < margin` false: granted.
        let decision = decide(cloud(("alice", 9500), ("bob", score)), policy: Self.nec)
        #expect(decision.outcome == .error)
        #expect(!decision.outcome.opensDoor)
    }

    @Test(arguments: notFinite) func notFiniteOfflineDistanceIsAnError(distance: Double) {
        var state = PolicyState()
        let decision = decide(offline(("alice", distance)), policy: Self.nec, state: &state)
        #expect(decision.outcome == .error)
        #expect(decision.offline && !decision.outcome.opensDoor && decision.subjectId == nil)
        #expect(state.lastGranted.isEmpty)
        // As the second cached candidate it would otherwise have passed the offline margin check.
        #expect(decide(offline(("alice", 0.30), ("bob", distance)), policy: Self.nec).outcome == .error)
    }

    @Test func negativeOfflineDistanceIsAnError() {
        #expect(decide(offline(("alice", -0.1)), policy: Self.nec).outcome == .error)
    }

    @Test(arguments: notFinite) func notFiniteLimitsNeverGrant(value: Double) {
        var threshold = Self.nec
        threshold.threshold = value
        #expect(decide(cloud(("alice", 9500)), policy: threshold).outcome == .error)
        var margin = Self.nec
        margin.minimumMargin = value
        #expect(decide(cloud(("alice", 9500), ("bob", 3000)), policy: margin).outcome == .error)
        var limit = Self.nec
        limit.offlineMaxDistance = value
        #expect(decide(offline(("alice", 0.30)), policy: limit).outcome == .error)
        var offlineMargin = Self.nec
        offlineMargin.offlineMinimumMargin = value
        #expect(decide(offline(("alice", 0.30), ("bob", 0.9)), policy: offlineMargin).outcome == .error)
    }

    @Test func finiteScoresStillDecideAsBefore() {
        #expect(decide(cloud(("alice", 9500), ("bob", 3000)), policy: Self.nec).outcome == .granted)
        #expect(decide(cloud(("alice", 9500), ("bob", 9400)), policy: Self.nec).outcome == .deniedAmbiguous)
        #expect(decide(offline(("alice", 0.30), ("bob", 0.9)), policy: Self.nec).outcome == .grantedOffline)
        #expect(decide(offline(("alice", 0.0)), policy: Self.nec).outcome == .grantedOffline)
    }

    @Test func clockSteppedBackKeepsTheReentryCooldown() {
        var door = Self.nec
        door.reentryCooldown = .seconds(30)
        var state = PolicyState()
        let granted = Self.now
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: granted).outcome == .granted)
        // The clock steps back an hour: the grant seems to be in the future.
        let stepped = granted - 3600
        let refused = decide(cloud(("alice", 9000)), policy: door, state: &state, at: stepped)
        #expect(refused.outcome == .deniedReentry)
        #expect(refused.reason.contains("clock stepped back"))
        #expect(!refused.reason.contains("30"), "the reason must not carry the configured cooldown")
        // Still within one cooldown of the refused visit on the new clock: refused.
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: stepped + 20).outcome == .deniedReentry)
        // One cooldown after the refused visit, not an hour: let in.
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: stepped + 31).outcome == .granted)
        // Other people are not affected.
        #expect(decide(cloud(("bob", 9000)), policy: door, state: &state, at: stepped).outcome == .granted)
    }

    /// The wall clock stepped an hour forward (NTP spoofed, say): on it, the last grant was an hour ago
    /// and the cooldown over. Measured on the steady clock the pipeline gives, it is 10 s ago.
    @Test func clockSteppedForwardKeepsTheReentryCooldownOnTheSteadyClock() {
        var door = Self.nec
        door.reentryCooldown = .seconds(30)
        var state = PolicyState()
        func visit(at wall: Date, steady seconds: Int64) -> Decision.Outcome {
            AccessPolicy.evaluate(
                cloud(("alice", 9000)), passedQualityGate: true, policy: door, state: &state, at: wall, steady: .seconds(seconds)
            ).outcome
        }
        #expect(visit(at: Self.now, steady: 100) == .granted)
        #expect(visit(at: Self.now + 3600, steady: 110) == .deniedReentry)
        #expect(visit(at: Self.now - 3600, steady: 120) == .deniedReentry, "nor a step back")
        #expect(visit(at: Self.now + 3600, steady: 131) == .granted)
    }

    @Test func clockSteppedBackWithoutACooldownChangesNothing() {
        var state = PolicyState()
        #expect(decide(cloud(("alice", 9000)), policy: Self.nec, state: &state, at: Self.now).outcome == .granted)
        #expect(decide(cloud(("alice", 9000)), policy: Self.nec, state: &state, at: Self.now - 3600).outcome == .granted)
    }
}

/// Replies that no real search gives: a score off the backend's scale, a match without a subject.
@Suite(.timeLimit(.minutes(1)))
struct ImpossibleReplyPolicyTests {
    func decide(_ candidates: [MatchCandidate], unit: ScoreUnit, threshold: Double) -> Decision {
        var state = PolicyState()
        return AccessPolicy.evaluate(
            .cloud(candidates: candidates, unit: unit), passedQualityGate: true,
            policy: DoorPolicy(door: "front", threshold: threshold, scoreUnit: unit, minimumMargin: unit == .necScore ? 500 : 5),
            state: &state, at: Date())
    }

    @Test("a score off the scale is an error, whichever candidate has it", arguments: [
        (ScoreUnit.necScore, 12_000.0, 9000.0), (.necScore, 8000, -5000), (.necScore, 10_000, 0),
        (.neoCheckConfidence, 101, 90), (.neoCheckConfidence, 95, -1),
    ])
    func aScoreOffTheScaleIsAnError(unit: ScoreUnit, best: Double, second: Double) {
        let threshold: Double = unit == .necScore ? 7000 : 80
        let decision = decide([MatchCandidate(subjectId: "alice", score: best), MatchCandidate(subjectId: "bob", score: second)], unit: unit, threshold: threshold)
        #expect(decision.outcome == .error)
        #expect(decision.reason == "the cloud returned a score outside its scale")
    }

    @Test func theEndsOfTheScaleAreScores() {
        #expect(decide([MatchCandidate(subjectId: "alice", score: 9999)], unit: .necScore, threshold: 7000).outcome == .granted)
        #expect(decide([MatchCandidate(subjectId: "alice", score: 100)], unit: .neoCheckConfidence, threshold: 80).outcome == .granted)
        #expect(decide([MatchCandidate(subjectId: "alice", score: 8000), MatchCandidate(subjectId: "bob", score: 0)], unit: .necScore, threshold: 7000).outcome == .granted)
    }

    @Test func aMatchWithoutASubjectIsAnError() {
        let decision = decide([MatchCandidate(subjectId: "", score: 9000)], unit: .necScore, threshold: 7000)
        #expect(decision.outcome == .error)
        #expect(decision.reason == "the cloud returned a match without a subject")
    }
}
