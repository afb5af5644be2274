import FacegateCore
import Foundation

/// What the policy remembers between decisions at one door.
public struct PolicyState: Sendable, Hashable {
    /// When each subject was last let in, by `SubjectIdentity.key` (one person whatever the id's case).
    public var lastGranted: [String: Date] = [:]
    /// The same on the caller's steady clock (`steady`), which does not step with the wall clock; the
    /// re-entry cooldown is measured on it when both visits have a reading.
    public var lastGrantedSteady: [String: Duration] = [:]

    public init() {}

    /// Forgets grants `age` or longer ago, so the state holds only those a cooldown of `age` still counts.
    /// A grant with a steady reading is aged on the steady clock (`steady`), like the cooldown itself; one
    /// dated later than `time` (the clock stepped back) is kept, as the cooldown counts it.
    public mutating func forget(olderThan age: Duration, at time: Date, steady: Duration?) {
        for (person, granted) in lastGranted {
            let stale: Bool
            if let steady, let grantedSteady = lastGrantedSteady[person] {
                stale = steady - grantedSteady >= age
            } else {
                stale = time.timeIntervalSince(granted) >= age.timeInterval
            }
            if stale {
                lastGranted[person] = nil
                lastGrantedSteady[person] = nil
            }
        }
    }

    /// Takes back the grant a decision just recorded for `subject`, leaving what `earlier` remembered of
    /// them: a grant whose door did not open let nobody in, so it starts no re-entry cooldown.
    public mutating func withdrawGrant(of subject: String, restoring earlier: PolicyState) {
        let person = SubjectIdentity.key(subject)
        lastGranted[person] = earlier.lastGranted[person]
        lastGrantedSteady[person] = earlier.lastGrantedSteady[person]
    }
}

/// The door's decision: pure, synchronous, no I/O and no clock of its own.
public enum AccessPolicy {
    /// Decides one visit.
    /// - Parameters:
    ///   - identification: what the identify stage found; nil when no search was made.
    ///   - passedQualityGate: whether the visit's best face was good enough to search with.
    ///   - state: grants remembered for the re-entry cooldown; updated on a grant.
    ///   - time: the time of the visit, for schedules and the cooldown.
    ///   - clockProblem: why `time` cannot be trusted (it disagrees with the cloud's time, or reads earlier
    ///     than decisions already made), nil when it can. While it is set nobody a schedule applies to is let in: whether their schedule admits them
    ///     now is unknown.
    ///   - steady: the time of the visit on a clock that never steps (the pipeline's, from its start),
    ///     for the re-entry cooldown; nil measures it on `time`.
    public static func evaluate(
        _ identification: Identification?, passedQualityGate: Bool, policy: DoorPolicy, state: inout PolicyState,
        at time: Date, clockProblem: String? = nil, steady: Duration? = nil
    ) -> Decision {
        guard passedQualityGate else {
            return Decision(outcome: .deniedQuality, reason: "no face of the approach passed the quality gate")
        }
        switch identification {
        case nil:
            return Decision(outcome: .error, reason: "no identification was made for a face that passed the gate")
        case .failed(let cause):
            return Decision(outcome: .error, reason: "the face search failed: \(cause)")
        case .unavailable(let failure):
            return Decision(
                // Why no offline decision was made (no cache, a wrong clock, a cache that cannot be read) is the
                // caller's to say, in `failure`: it alone knows which.
                outcome: .deniedOffline, reason: "the cloud is unreachable (\(failure)) and no offline decision could be made",
                offline: true)
        case .cloud(let candidates, let unit):
            return decideOnline(candidates, unit: unit, policy: policy, state: &state, at: time, clockProblem: clockProblem, steady: steady)
        case .offline(let candidates, let failure):
            return decideOffline(candidates, cloudFailure: failure, policy: policy, state: &state, at: time, clockProblem: clockProblem, steady: steady)
        }
    }

    /// Decides a visit searched under `searched` when the door's policy has since become `current` (the
    /// configuration was reloaded while the cloud searched). A grant stands only if `current` grants it
    /// too, and only if `current` still searches everything that was searched: the cloud was asked about
    /// the old scope, so a match there proves nothing under a narrower or other one. NEC ID was asked for
    /// candidates down to the threshold less the margin: a new policy that needs lower ones (to see a close
    /// second) cannot judge an answer that left them out.
    public static func evaluate(
        _ identification: Identification?, passedQualityGate: Bool, searchedUnder searched: DoorPolicy, current: DoorPolicy,
        state: inout PolicyState, at time: Date, clockProblem: String? = nil, steady: Duration? = nil
    ) -> Decision {
        let before = state
        let decision = evaluate(
            identification, passedQualityGate: passedQualityGate, policy: searched, state: &state, at: time, clockProblem: clockProblem, steady: steady)
        guard decision.outcome.opensDoor, current != searched else { return decision }
        state = before
        // Only a cloud answer was cut at the floor; an offline match is judged by distance.
        var answeredByCloud = false
        if case .cloud = identification { answeredByCloud = true }
        let floorHolds = !answeredByCloud || searched.scoreUnit != .necScore || current.searchFloor >= searched.searchFloor
        // An offline match's cached faces were judged against the old threshold (each face counts only while
        // the threshold is at or below the cloud score it was granted at): a raised one cannot be judged here.
        let offlineThresholdHolds = answeredByCloud || current.threshold <= searched.threshold
        guard current.stillSearches(grantedUnder: searched.searchScope), floorHolds, offlineThresholdHolds else {
            return Decision(
                outcome: .error,
                reason: "not decided: the door's search changed (the configuration was reloaded) while this face was searched",
                subjectId: decision.subjectId, bestScore: decision.bestScore, offline: decision.offline)
        }
        return evaluate(
            identification, passedQualityGate: passedQualityGate, policy: current, state: &state, at: time, clockProblem: clockProblem, steady: steady)
    }

    /// The liveness stage's verdict as the door's rule: the denial of a visit judged a presentation
    /// attack (no cloud call is made for it), or nil when the visit may go on to be identified.
    public static func livenessDenial(_ assessment: LivenessAssessment, uncertain: UncertainLivenessPolicy) -> Decision? {
        switch assessment.verdict {
        case .live:
            return nil
        case .attack:
            return Decision(outcome: .deniedPresentationAttack, reason: assessment.reason)
        case .uncertain:
            guard uncertain == .deny else { return nil }
            return Decision(
                outcome: .deniedPresentationAttack,
                reason: assessment.reason + "; the door denies what it cannot judge (liveness.uncertain: deny): try again")
        }
    }

    // Every comparison below is written in the grant direction ("grant only if ... holds"): a NaN makes
    // every comparison false, so a value that slipped past the finiteness checks still cannot open the door.

    private static func decideOnline(
        _ candidates: [MatchCandidate], unit: ScoreUnit, policy: DoorPolicy, state: inout PolicyState, at time: Date,
        clockProblem: String?, steady: Duration?
    ) -> Decision {
        guard unit == policy.scoreUnit else {
            return Decision(outcome: .error, reason: "scores in \(unit.rawValue) cannot be judged against a threshold in \(policy.scoreUnit.rawValue)")
        }
        guard policy.threshold.isFinite, policy.minimumMargin?.isFinite ?? true else {
            return Decision(outcome: .error, reason: "the door's threshold or margin is not a finite number", scoreUnit: unit)
        }
        // Checked before ranking: sorting with a NaN in the list gives no meaningful order.
        guard candidates.allSatisfy({ $0.score.isFinite }) else {
            return Decision(outcome: .error, reason: "the cloud returned a score that is not a finite number", scoreUnit: unit)
        }
        // A score off the backend's scale (NEC 0...9999, NeoCheck 0...100) is a broken reply: it would
        // clear any threshold, or make any margin.
        guard candidates.allSatisfy({ unit.validScores.contains($0.score) }) else {
            return Decision(outcome: .error, reason: "the cloud returned a score outside its scale", scoreUnit: unit)
        }
        // Nobody can be checked against the deny list or a schedule without a name.
        guard candidates.allSatisfy({ !$0.subjectId.isEmpty }) else {
            return Decision(outcome: .error, reason: "the cloud returned a match without a subject", scoreUnit: unit)
        }
        let ranked = candidates.sorted { $0.score > $1.score }
        guard let best = ranked.first else {
            return Decision(outcome: .deniedUnknown, reason: "nobody matched", threshold: policy.threshold, scoreUnit: unit)
        }
        let second = ranked.dropFirst().first?.score
        var decision = Decision(
            outcome: .granted, reason: "", subjectId: best.subjectId, bestScore: best.score, secondScore: second,
            threshold: policy.threshold, scoreUnit: unit)
        guard best.score >= policy.threshold else {
            decision.outcome = .deniedBelowThreshold
            decision.reason = "best score \(format(best.score)) is below the threshold \(format(policy.threshold))"
            decision.subjectId = nil
            return decision
        }
        // Two people the cloud scores alike cannot be told apart, margin or none: which of them the ranking
        // puts first says nothing, and the one let in could be on the deny list's side of the tie.
        if ranked.dropFirst().contains(where: { !(best.score > $0.score) && !SubjectIdentity.same(best.subjectId, $0.subjectId) }) {
            decision.outcome = .deniedAmbiguous
            decision.reason = "two people share the best score \(format(best.score))"
            decision.subjectId = nil
            return decision
        }
        if let margin = policy.minimumMargin, let second {
            guard best.score - second >= margin else {
                decision.outcome = .deniedAmbiguous
                decision.reason = "best and second scores \(format(best.score)) and \(format(second)) are closer than the margin \(format(margin))"
                decision.subjectId = nil
                return decision
            }
        }
        return applyRules(
            to: decision, candidate: best, granted: .granted, policy: policy, state: &state, at: time, clockProblem: clockProblem, steady: steady)
    }

    private static func decideOffline(
        _ candidates: [MatchCandidate], cloudFailure: String, policy: DoorPolicy, state: inout PolicyState, at time: Date,
        clockProblem: String?, steady: Duration?
    ) -> Decision {
        var decision = Decision(
            outcome: .deniedOffline, reason: "", threshold: policy.offlineMaxDistance, scoreUnit: .descriptorDistance,
            offline: true)
        guard policy.offlineMaxDistance.isFinite, policy.offlineMinimumMargin?.isFinite ?? true else {
            decision.outcome = .error
            decision.reason = "the cloud is unreachable (\(cloudFailure)); the door's offline limit or margin is not a finite number"
            return decision
        }
        // A descriptor distance is never negative; NaN or a negative one means a broken cache entry or probe.
        guard candidates.allSatisfy({ $0.score.isFinite && $0.score >= 0 }) else {
            decision.outcome = .error
            decision.reason = "the cloud is unreachable (\(cloudFailure)); the offline cache gave a distance that is not a finite, non-negative number"
            return decision
        }
        let ranked = candidates.sorted { $0.score < $1.score }
        guard let best = ranked.first else {
            decision.reason = "the cloud is unreachable (\(cloudFailure)) and nobody in the offline cache matches"
            return decision
        }
        let second = ranked.dropFirst().first?.score
        decision.bestScore = best.score
        decision.secondScore = second
        guard best.score <= policy.offlineMaxDistance else {
            decision.reason = "the cloud is unreachable (\(cloudFailure)); the closest cached face is at distance \(format(best.score)), over the offline limit \(format(policy.offlineMaxDistance))"
            return decision
        }
        if let margin = policy.offlineMinimumMargin, let second {
            guard second - best.score >= margin else {
                decision.reason = "the cloud is unreachable (\(cloudFailure)); two cached people are too close to tell apart offline"
                return decision
            }
        }
        // The closest face is of someone the cloud has since contradicted or revoked, whose faces the disk
        // would not let go: a purge that failed must not leave them opening the door offline, and nobody
        // further away is let in instead.
        guard !best.withdrawn else {
            decision.reason = "the cloud is unreachable (\(cloudFailure)); the closest cached face is of a subject the cloud no longer confirms, whose faces could not yet be deleted from the offline cache"
            return decision
        }
        // The closest face was granted under a search this door no longer makes (a tag or face list
        // removed since, or a threshold raised above its cloud score): that person is not let in offline,
        // and nobody further away is let in instead.
        guard best.stillSearched == true else {
            decision.reason =
                "the cloud is unreachable (\(cloudFailure)); the closest cached face was granted under tags or a face list this door no longer searches, or at a score under its threshold now"
            return decision
        }
        decision.subjectId = best.subjectId
        var decided = applyRules(
            to: decision, candidate: best, granted: .grantedOffline, policy: policy, state: &state, at: time, clockProblem: clockProblem, steady: steady)
        // Why the door decided offline belongs in the record of every offline decision.
        decided.reason = "the cloud is unreachable (\(cloudFailure)); " + decided.reason
        return decided
    }

    /// Deny list, schedules and re-entry, the same online and offline.
    private static func applyRules(
        to identified: Decision, candidate: MatchCandidate, granted: Decision.Outcome, policy: DoorPolicy,
        state: inout PolicyState, at time: Date, clockProblem: String?, steady: Duration?
    ) -> Decision {
        var decision = identified
        let subject = candidate.subjectId
        if policy.denyListKeys.contains(SubjectIdentity.key(subject)) {
            decision.outcome = .deniedDenyList
            decision.reason = "subject \(subject) is on the door's deny list"
            return decision
        }
        let schedules = policy.schedules.filter { $0.applies(toSubject: subject, tags: candidate.tags) }
        if !schedules.isEmpty, let clockProblem {
            decision.outcome = .deniedSchedule
            decision.reason = "subject \(subject) has schedule \(schedules.map(\.name).joined(separator: ", ")), and the clock cannot be trusted: \(clockProblem)"
            return decision
        }
        if !schedules.isEmpty, !schedules.contains(where: { $0.admits(at: time) }) {
            decision.outcome = .deniedSchedule
            decision.reason = "subject \(subject) is outside schedule \(schedules.map(\.name).joined(separator: ", "))"
            return decision
        }
        // On the steady clock when the caller reads one: the wall clock may have stepped either way (a
        // step forward, NTP spoofed say, would otherwise end the cooldown at once).
        let person = SubjectIdentity.key(subject)
        if policy.reentryCooldown > .zero, let steady, let last = state.lastGrantedSteady[person] {
            let since = steady - last
            guard since >= policy.reentryCooldown else {
                decision.outcome = .deniedReentry
                decision.reason = "subject \(subject) was let in \(format(max(0, since.timeInterval))) s ago, within the re-entry cooldown"
                return decision
            }
        } else if policy.reentryCooldown > .zero, let last = state.lastGranted[person] {
            let cooldown = policy.reentryCooldown.timeInterval
            let since = time.timeIntervalSince(last)
            // A last grant in the future means the clock stepped back: how long ago it really was is
            // unknown, so it counts as within the cooldown. The grant is re-dated to now, so the wait is
            // one cooldown from this visit rather than the size of the clock's step.
            guard since >= 0 else {
                state.lastGranted[person] = time
                decision.outcome = .deniedReentry
                decision.reason = "subject \(subject) was last let in at a time later than now (the clock stepped back); counted as within the re-entry cooldown"
                return decision
            }
            guard since >= cooldown else {
                decision.outcome = .deniedReentry
                decision.reason = "subject \(subject) was let in \(format(since)) s ago, within the re-entry cooldown"
                return decision
            }
        }
        decision.outcome = granted
        decision.reason =
            granted == .grantedOffline
            ? "subject \(subject) matched the offline cache at distance \(format(candidate.score))"
            : "subject \(subject) matched with score \(format(candidate.score))"
        state.lastGranted[person] = time
        state.lastGrantedSteady[person] = steady
        return decision
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format: "%.3f", value)
    }
}
