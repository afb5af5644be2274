import FacegateCore
import FacegatePolicy
import Foundation
import Testing

@Suite(.timeLimit(.minutes(5)))
struct AccessPolicyTests {
    /// Wednesday 2026-11-18 10:00 in Sydney.
    static let sydney = TimeZone(identifier: "Australia/Sydney")!
    static let wednesdayMorning = date(2026, 11, 18, 10, 0, in: sydney)

    static func date(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ min: Int, in zone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.date(from: DateComponents(year: y, month: m, day: d, hour: h, minute: min))!
    }

    func policy(_ change: (inout DoorPolicy) -> Void = { _ in }) -> DoorPolicy {
        var policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, minimumMargin: 500)
        change(&policy)
        return policy
    }

    func decide(
        _ identification: Identification?, passed: Bool = true, policy: DoorPolicy, state: inout PolicyState,
        at time: Date = wednesdayMorning
    ) -> Decision {
        AccessPolicy.evaluate(identification, passedQualityGate: passed, policy: policy, state: &state, at: time)
    }

    func decide(_ identification: Identification?, passed: Bool = true, policy: DoorPolicy, at time: Date = wednesdayMorning)
        -> Decision
    {
        var state = PolicyState()
        return decide(identification, passed: passed, policy: policy, state: &state, at: time)
    }

    func cloud(_ candidates: (String, Double)...) -> Identification {
        .cloud(candidates: candidates.map { MatchCandidate(subjectId: $0.0, score: $0.1, tags: ["staff"]) }, unit: .necScore)
    }

    @Test func grantsAClearMatch() {
        let decision = decide(cloud(("alice", 9100), ("bob", 3000)), policy: policy())
        #expect(decision.outcome == .granted)
        #expect(decision.outcome.opensDoor)
        #expect(decision.subjectId == "alice")
        #expect(decision.bestScore == 9100 && decision.secondScore == 3000 && decision.threshold == 7000)
        #expect(!decision.offline)
    }

    @Test func candidatesAreRankedWhateverTheirOrder() {
        #expect(decide(cloud(("bob", 3000), ("alice", 9100)), policy: policy()).subjectId == "alice")
    }

    @Test func poorFaceIsDeniedForQualityWithoutLookingFurther() {
        let decision = decide(cloud(("alice", 9999)), passed: false, policy: policy())
        #expect(decision.outcome == .deniedQuality)
        #expect(!decision.outcome.opensDoor)
        #expect(decision.subjectId == nil)
    }

    @Test func nobodyIsUnknown() {
        #expect(decide(cloud(), policy: policy()).outcome == .deniedUnknown)
    }

    @Test func belowThresholdAndExactlyAtIt() {
        let below = decide(cloud(("alice", 6999)), policy: policy())
        #expect(below.outcome == .deniedBelowThreshold)
        #expect(below.subjectId == nil)
        #expect(decide(cloud(("alice", 7000)), policy: policy()).outcome == .granted)
    }

    @Test func closeSecondCandidateIsAmbiguous() {
        #expect(decide(cloud(("alice", 9000), ("bob", 8600)), policy: policy()).outcome == .deniedAmbiguous)
        #expect(decide(cloud(("alice", 9000), ("bob", 8500)), policy: policy()).outcome == .granted)
        #expect(decide(cloud(("alice", 9000), ("bob", 8900)), policy: policy { $0.minimumMargin = nil }).outcome == .granted)
    }

    /// Two people scored alike cannot be told apart, margin or none: the ranking's order would pick one,
    /// perhaps the enrolled twin of someone on the deny list. The same person listed twice is no tie.
    @Test func twoPeopleSharingTheBestScoreAreAmbiguousWithoutAMargin() {
        let noMargin = policy { $0.minimumMargin = nil }
        let tie = decide(cloud(("alice", 9000), ("mallory", 9000)), policy: noMargin)
        #expect(tie.outcome == .deniedAmbiguous && tie.subjectId == nil, "\(tie)")
        #expect(tie.reason == "two people share the best score 9000", "\(tie.reason)")
        #expect(decide(cloud(("mallory", 9000), ("alice", 9000)), policy: policy {
            $0.minimumMargin = nil
            $0.denyList = ["mallory"]
        }).outcome == .deniedAmbiguous)
        // A third at the same score behind the same person under another case: still two people.
        #expect(decide(cloud(("alice", 9000), ("ALICE", 9000), ("bob", 9000)), policy: noMargin).outcome == .deniedAmbiguous)
        // One point apart, and the same person twice: granted as before.
        #expect(decide(cloud(("alice", 9001), ("mallory", 9000)), policy: noMargin).outcome == .granted)
        #expect(decide(cloud(("alice", 9000), ("Alice", 9000)), policy: noMargin).outcome == .granted)
    }

    @Test func denyListWinsOverAGoodMatch() {
        let decision = decide(cloud(("mallory", 9900)), policy: policy { $0.denyList = ["mallory"] })
        #expect(decision.outcome == .deniedDenyList)
        #expect(decision.subjectId == "mallory")
    }

    @Test func scoresInAnotherUnitAreAnError() {
        let neo = Identification.cloud(candidates: [MatchCandidate(subjectId: "a", score: 99)], unit: .neoCheckConfidence)
        #expect(decide(neo, policy: policy()).outcome == .error)
    }

    @Test func searchFailureIsAnErrorAndDoesNotOpen() {
        let decision = decide(.failed(cause: "reply was not JSON"), policy: policy())
        #expect(decision.outcome == .error)
        #expect(!decision.outcome.opensDoor)
        #expect(decide(nil, policy: policy()).outcome == .error)
    }

    @Test func unreachableCloudWithoutCacheIsDeniedOffline() {
        let decision = decide(.unavailable(cloudFailure: "timeout"), policy: policy())
        #expect(decision.outcome == .deniedOffline)
        #expect(decision.offline)
    }

    @Test func offlineMatchIsStricterAndMarked() {
        func offline(_ candidates: (String, Double)...) -> Identification {
            .offline(candidates: candidates.map { MatchCandidate(subjectId: $0.0, score: $0.1, stillSearched: true) }, cloudFailure: "connection refused")
        }
        let granted = decide(offline(("alice", 0.35), ("bob", 0.8)), policy: policy())
        #expect(granted.outcome == .grantedOffline)
        #expect(granted.offline && granted.subjectId == "alice" && granted.scoreUnit == .descriptorDistance)
        #expect(decide(offline(("alice", 0.45)), policy: policy()).outcome == .deniedOffline)
        #expect(decide(offline(("alice", 0.42)), policy: policy()).outcome == .grantedOffline)
        #expect(decide(offline(("alice", 0.35), ("bob", 0.38)), policy: policy()).outcome == .deniedOffline)
        #expect(decide(offline(), policy: policy()).outcome == .deniedOffline)
        #expect(decide(offline(("alice", 0.3)), policy: policy { $0.denyList = ["alice"] }).outcome == .deniedDenyList)
    }

    @Test func anOfflineFaceNoLongerSearchedIsDeniedAndNobodyElseStandsIn() {
        let removed = MatchCandidate(subjectId: "alice", score: 0.2, stillSearched: false)
        let searched = MatchCandidate(subjectId: "bob", score: 0.36, stillSearched: true)
        let decision = decide(.offline(candidates: [removed, searched], cloudFailure: "timeout"), policy: policy())
        #expect(decision.outcome == .deniedOffline)
        #expect(decision.subjectId == nil)
        #expect(decision.reason.contains("no longer searches"))
        // Unknown (a store that does not say) is not "still searched".
        let unknown = MatchCandidate(subjectId: "alice", score: 0.2)
        #expect(decide(.offline(candidates: [unknown], cloudFailure: "timeout"), policy: policy()).outcome == .deniedOffline)
    }

    @Test func anOfflineFaceWithdrawnIsDeniedAndNobodyElseStandsIn() {
        let withdrawn = MatchCandidate(subjectId: "alice", score: 0.2, stillSearched: true, withdrawn: true)
        let next = MatchCandidate(subjectId: "bob", score: 0.36, stillSearched: true)
        let decision = decide(.offline(candidates: [withdrawn, next], cloudFailure: "timeout"), policy: policy())
        #expect(decision.outcome == .deniedOffline)
        #expect(decision.subjectId == nil)
        #expect(decision.reason.contains("no longer confirms"))
        #expect(decide(.offline(candidates: [next], cloudFailure: "timeout"), policy: policy()).outcome == .grantedOffline)
    }

    /// NeoCheck's ids are GUIDs: the same id in either case. A deny list or a subject's schedule written
    /// in one case must hold for the cloud's reply in the other (before: granted, at any hour).
    @Test func theDenyListAndASubjectsScheduleHoldWhateverTheCaseOfTheCloudsId() {
        let id = "2b1d6c1e-0000-4000-8000-00000000000a"
        let returned = cloud((id.uppercased(), 9000))
        #expect(decide(returned, policy: policy { $0.denyList = [id] }).outcome == .deniedDenyList)
        let nights = AccessSchedule(
            name: "nights", scope: .subject(id), timeZone: TimeZone(identifier: "UTC")!,
            windows: [.init(weekdays: Set(1...7), start: 22 * 60, end: 23 * 60)])
        #expect(decide(returned, policy: policy { $0.schedules = [nights] }, at: Self.wednesdayMorning).outcome == .deniedSchedule)
        // One person to the re-entry cooldown too.
        let door = policy { $0.reentryCooldown = .seconds(30) }
        var state = PolicyState()
        #expect(decide(returned, policy: door, state: &state, at: Self.wednesdayMorning).outcome == .granted)
        #expect(decide(cloud((id, 9000)), policy: door, state: &state, at: Self.wednesdayMorning + 10).outcome == .deniedReentry)
    }

    /// An id typed through an input method comes out in full-width forms (`１２３４`, `ＡＢＣ－１`): the same id to
    /// a person, and to the door. Before, only the case was folded: the deny-list entry matched nobody and the
    /// person it named was let in; a subject's schedule never held.
    @Test func aDenyListOrScheduleIdTypedInFullWidthFormsIsTheCloudsId() {
        #expect(decide(cloud(("1234", 9000)), policy: policy { $0.denyList = ["１２３４"] }).outcome == .deniedDenyList)
        #expect(decide(cloud(("abc-1", 9000)), policy: policy { $0.denyList = ["ＡＢＣ－１"] }).outcome == .deniedDenyList)
        #expect(decide(cloud(("１２３４", 9000)), policy: policy { $0.denyList = ["1234"] }).outcome == .deniedDenyList)
        #expect(decide(cloud(("12345", 9000)), policy: policy { $0.denyList = ["１２３４"] }).outcome == .granted)
        let nights = AccessSchedule(
            name: "nights", scope: .subject("ｓｔａｆｆ７"), timeZone: TimeZone(identifier: "UTC")!,
            windows: [.init(weekdays: Set(1...7), start: 22 * 60, end: 23 * 60)])
        #expect(decide(cloud(("Staff7", 9000)), policy: policy { $0.schedules = [nights] }, at: Self.wednesdayMorning).outcome == .deniedSchedule)
        #expect(SubjectIdentity.key(SubjectIdentity.key("ＡＢＣ－１ ")) == SubjectIdentity.key("abc-1"))
    }

    @Test func reentryCooldownRefusesASecondGrantThenLetsIn() {
        let door = policy { $0.reentryCooldown = .seconds(30) }
        var state = PolicyState()
        let t0 = Self.wednesdayMorning
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: t0).outcome == .granted)
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: t0 + 10).outcome == .deniedReentry)
        #expect(decide(cloud(("bob", 9000)), policy: door, state: &state, at: t0 + 10).outcome == .granted)
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: t0 + 31).outcome == .granted)
        state.forget(olderThan: .seconds(30), at: t0 + 100, steady: nil)
        #expect(state.lastGranted.isEmpty)
    }

    /// The grants a cooldown no longer counts are forgotten as decisions go by (a door's map of everyone
    /// ever let in would otherwise only grow), aged on the clock the cooldown itself reads.
    @Test func grantsPastTheCooldownAreForgottenOnTheCooldownsClock() {
        let door = policy { $0.reentryCooldown = .seconds(30) }
        var state = PolicyState()
        let t0 = Self.wednesdayMorning
        _ = AccessPolicy.evaluate(cloud(("alice", 9000)), passedQualityGate: true, policy: door, state: &state, at: t0, steady: .seconds(100))
        _ = AccessPolicy.evaluate(cloud(("bob", 9000)), passedQualityGate: true, policy: door, state: &state, at: t0 + 20, steady: .seconds(120))
        // The wall clock stepped an hour on; only 30 s passed on the steady one: alice's grant is past the
        // cooldown, bob's still within it.
        state.forget(olderThan: door.reentryCooldown, at: t0 + 3600, steady: .seconds(130))
        #expect(Set(state.lastGranted.keys) == ["bob"] && Set(state.lastGrantedSteady.keys) == ["bob"])
        // Without steady readings: by the wall clock, and a grant dated ahead of it (a clock set back) stays.
        var walls = PolicyState()
        walls.lastGranted = ["carol": t0 - 60, "dave": t0 + 600]
        walls.forget(olderThan: door.reentryCooldown, at: t0, steady: nil)
        #expect(Set(walls.lastGranted.keys) == ["dave"])
    }

    @Test func aWithdrawnGrantLeavesWhatWasRememberedBefore() {
        let door = policy { $0.reentryCooldown = .seconds(30) }
        var state = PolicyState()
        let t0 = Self.wednesdayMorning
        _ = decide(cloud(("alice", 9000)), policy: door, state: &state, at: t0)
        let before = state
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state, at: t0 + 40).outcome == .granted)
        state.withdrawGrant(of: "ALICE", restoring: before)
        #expect(state == before, "the same person whatever the id's case")
        var fresh = PolicyState()
        _ = decide(cloud(("bob", 9000)), policy: door, state: &fresh, at: t0)
        fresh.withdrawGrant(of: "bob", restoring: PolicyState())
        #expect(fresh.lastGranted.isEmpty && fresh.lastGrantedSteady.isEmpty)
    }

    @Test func deniedVisitsDoNotStartTheCooldown() {
        let door = policy { $0.reentryCooldown = .seconds(30) }
        var state = PolicyState()
        _ = decide(cloud(("alice", 9000)), passed: false, policy: door, state: &state)
        #expect(state.lastGranted.isEmpty)
        #expect(decide(cloud(("alice", 9000)), policy: door, state: &state).outcome == .granted)
    }
}

@Suite(.timeLimit(.minutes(5)))
struct ScheduleTests {
    static let zone = AccessPolicyTests.sydney
    static let weekdaysNineToFive = AccessSchedule.Window(weekdays: [2, 3, 4, 5, 6], start: 9 * 60, end: 17 * 60)

    func at(_ d: Int, _ h: Int, _ m: Int, month: Int = 11) -> Date { AccessPolicyTests.date(2026, month, d, h, m, in: Self.zone) }

    @Test func officeHoursOnWeekdaysOnly() {
        let schedule = AccessSchedule(name: "office", scope: .everyone, timeZone: Self.zone, windows: [Self.weekdaysNineToFive])
        #expect(schedule.admits(at: at(18, 9, 0)))  // Wednesday 09:00
        #expect(schedule.admits(at: at(18, 16, 59)))
        #expect(!schedule.admits(at: at(18, 17, 0)))  // end is exclusive
        #expect(!schedule.admits(at: at(18, 8, 59)))
        #expect(!schedule.admits(at: at(21, 10, 0)))  // Saturday
    }

    @Test func holidaysCloseTheDay() {
        let schedule = AccessSchedule(
            name: "office", scope: .everyone, timeZone: Self.zone, windows: [Self.weekdaysNineToFive],
            holidays: [.init(year: 2026, month: 12, day: 25)])
        #expect(!schedule.admits(at: at(25, 10, 0, month: 12)))  // Friday, Christmas
        #expect(schedule.admits(at: at(24, 10, 0, month: 12)))
    }

    @Test func overnightWindowBelongsToTheDayItStarts() {
        // Friday 22:00 to Saturday 06:00.
        let night = AccessSchedule.Window(weekdays: [6], start: 22 * 60, end: 6 * 60)
        let schedule = AccessSchedule(
            name: "night", scope: .everyone, timeZone: Self.zone, windows: [night], holidays: [.init(year: 2026, month: 11, day: 27)])
        #expect(schedule.admits(at: at(20, 23, 0)))  // Friday 23:00
        #expect(schedule.admits(at: at(21, 5, 59)))  // Saturday 05:59
        #expect(!schedule.admits(at: at(21, 6, 0)))
        #expect(!schedule.admits(at: at(21, 23, 0)))  // Saturday night is not in it
        #expect(!schedule.admits(at: at(27, 23, 0)))  // a holiday Friday
        #expect(!schedule.admits(at: at(28, 1, 0)))  // ...and its morning after
    }

    @Test func timeZoneIsTheSchedules() {
        let schedule = AccessSchedule(name: "office", scope: .everyone, timeZone: Self.zone, windows: [Self.weekdaysNineToFive])
        // 23:30 UTC on Tuesday is 10:30 on Wednesday in Sydney (UTC+11 in November).
        let utc = AccessPolicyTests.date(2026, 11, 17, 23, 30, in: TimeZone(identifier: "UTC")!)
        #expect(schedule.admits(at: utc))
    }

    /// Windows are the zone's local time, across its daylight-saving changes (Europe/Berlin, 2026: clocks
    /// go from 02:00 to 03:00 on 29 March and from 03:00 back to 02:00 on 25 October). Office hours follow
    /// the clocks on the wall; a window inside the hour skipped in spring does not open that day, and one
    /// inside the hour repeated in autumn opens both times (as a door's users read its sign).
    @Test func windowsFollowTheZonesDaylightSavingChanges() {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        func utc(_ month: Int, _ d: Int, _ h: Int, _ m: Int) -> Date { AccessPolicyTests.date(2026, month, d, h, m, in: TimeZone(identifier: "UTC")!) }
        let office = AccessSchedule(name: "office", scope: .everyone, timeZone: berlin, windows: [.init(weekdays: [2, 3, 4, 5, 6], start: 8 * 60, end: 17 * 60)])
        // Monday before the spring change: 07:30 UTC is 08:30 (UTC+1); the Monday after: 06:30 UTC is 08:30 (UTC+2).
        #expect(office.admits(at: utc(3, 23, 7, 30)) && !office.admits(at: utc(3, 23, 6, 30)))
        #expect(office.admits(at: utc(3, 30, 6, 30)) && !office.admits(at: utc(3, 30, 5, 30)))
        #expect(office.admits(at: utc(3, 30, 14, 59)) && !office.admits(at: utc(3, 30, 15, 0)))
        // And back on the Monday after the autumn change.
        #expect(office.admits(at: utc(10, 26, 7, 30)) && !office.admits(at: utc(10, 26, 6, 30)))
        let small = AccessSchedule(name: "small hours", scope: .everyone, timeZone: berlin, windows: [.init(weekdays: Set(1...7), start: 2 * 60, end: 2 * 60 + 30)])
        // 29 March, every minute from 00:00 to 03:00 UTC (01:00 UTC+1 to 05:00 UTC+2): 02:00-02:30 never comes.
        let spring = (0..<180).filter { small.admits(at: utc(3, 29, 0, 0).addingTimeInterval(Double($0) * 60)) }
        #expect(spring.isEmpty)
        // 25 October, every minute from 23:00 UTC the day before to 03:00 UTC: 02:00-02:30 comes twice, 60 minutes.
        let autumn = (0..<240).filter { small.admits(at: utc(10, 24, 23, 0).addingTimeInterval(Double($0) * 60)) }
        #expect(autumn.count == 60)
        #expect(small.admits(at: utc(10, 25, 0, 15)) && small.admits(at: utc(10, 25, 1, 15)))
    }

    @Test func schedulesApplyByTagOrSubjectAndOutsideOneIsDenied() {
        let cleaners = AccessSchedule(
            name: "cleaners", scope: .tag("cleaning"), timeZone: Self.zone,
            windows: [.init(weekdays: [2, 3, 4, 5, 6], start: 18 * 60, end: 22 * 60)])
        let door = DoorPolicy(door: "front", threshold: 70, scoreUnit: .neoCheckConfidence, schedules: [cleaners])
        func decide(_ tags: Set<String>, at time: Date) -> Decision.Outcome {
            var state = PolicyState()
            return AccessPolicy.evaluate(
                .cloud(candidates: [MatchCandidate(subjectId: "c1", score: 90, tags: tags)], unit: .neoCheckConfidence),
                passedQualityGate: true, policy: door, state: &state, at: time
            ).outcome
        }
        #expect(decide(["cleaning"], at: at(18, 10, 0)) == .deniedSchedule)
        #expect(decide(["cleaning"], at: at(18, 19, 0)) == .granted)
        // No schedule applies to other people: they may enter at any time.
        #expect(decide(["staff"], at: at(18, 3, 0)) == .granted)
        let personal = AccessSchedule(name: "c1 only mornings", scope: .subject("c1"), timeZone: Self.zone,
            windows: [.init(weekdays: Set(1...7), start: 6 * 60, end: 7 * 60)])
        #expect(personal.applies(toSubject: "c1", tags: []))
        #expect(!personal.applies(toSubject: "c2", tags: ["c1"]))
    }

    /// Schedules add up, as access levels do (README): any schedule that applies and admits lets the
    /// person in; a narrower one does not take hours from a wider one, and a holiday closes its own
    /// schedule only.
    @Test func schedulesThatApplyAddUp() {
        let office = AccessSchedule(
            name: "office", scope: .everyone, timeZone: Self.zone, windows: [Self.weekdaysNineToFive],
            holidays: [.init(year: 2026, month: 12, day: 24)])
        let bobMornings = AccessSchedule(
            name: "bob mornings", scope: .subject("bob"), timeZone: Self.zone, windows: [.init(weekdays: [2], start: 8 * 60, end: 10 * 60)])
        let staff = AccessSchedule(
            name: "staff", scope: .tag("staff"), timeZone: Self.zone, windows: [.init(weekdays: Set(1...7), start: 6 * 60, end: 22 * 60)])
        let door = DoorPolicy(door: "front", threshold: 70, scoreUnit: .neoCheckConfidence, schedules: [office, bobMornings, staff])
        func decide(_ subject: String, _ tags: Set<String>, at time: Date) -> Decision.Outcome {
            var state = PolicyState()
            return AccessPolicy.evaluate(
                .cloud(candidates: [MatchCandidate(subjectId: subject, score: 90, tags: tags)], unit: .neoCheckConfidence),
                passedQualityGate: true, policy: door, state: &state, at: time
            ).outcome
        }
        #expect(decide("bob", [], at: at(16, 8, 30)) == .granted)  // Monday 08:30: his own schedule
        #expect(decide("bob", [], at: at(17, 12, 0)) == .granted)  // Tuesday noon: the office's
        #expect(decide("bob", [], at: at(17, 19, 0)) == .deniedSchedule)  // neither
        #expect(decide("carol", [], at: at(24, 10, 0, month: 12)) == .deniedSchedule)  // the office's holiday
        #expect(decide("dave", ["staff"], at: at(24, 10, 0, month: 12)) == .granted)  // staff hours that day
        #expect(decide("dave", ["staff"], at: at(24, 23, 0, month: 12)) == .deniedSchedule)
    }
}

/// The liveness stage's verdict as the door's rule: an attack is denied, an unjudged visit as the door says.
@Suite(.timeLimit(.minutes(1)))
struct LivenessRuleTests {
    static func assessment(_ verdict: LivenessVerdict, _ liveness: Double) -> LivenessAssessment {
        LivenessAssessment(liveness: liveness, verdict: verdict, cues: ["texture": liveness], reason: "said by the stage")
    }

    @Test func anAttackIsDeniedWhateverTheUncertainPolicy() {
        for uncertain in UncertainLivenessPolicy.allCases {
            let denial = AccessPolicy.livenessDenial(Self.assessment(.attack, 0.03), uncertain: uncertain)
            #expect(denial?.outcome == .deniedPresentationAttack && denial?.reason == "said by the stage")
            #expect(denial?.outcome.opensDoor == false)
        }
    }

    @Test func aLiveVisitGoesOnToBeIdentified() {
        #expect(AccessPolicy.livenessDenial(Self.assessment(.live, 0.97), uncertain: .deny) == nil)
    }

    @Test func anUnjudgedVisitIsDeniedByDefaultAndLetThroughOnlyWhenTheDoorSaysSo() {
        let denied = AccessPolicy.livenessDenial(Self.assessment(.uncertain, 0), uncertain: .deny)
        #expect(denied?.outcome == .deniedPresentationAttack)
        #expect(denied?.reason.contains("try again") == true)
        #expect(AccessPolicy.livenessDenial(Self.assessment(.uncertain, 0), uncertain: .allow) == nil)
        #expect(FacegateCore.UncertainLivenessPolicy.allCases.count == 2)
    }
}

/// A clock known to read early (earlier than decisions already made): a schedule cannot be judged on it.
@Suite(.timeLimit(.minutes(1)))
struct UntrustedClockPolicyTests {
    static let time = AccessPolicyTests.wednesdayMorning
    static let always = AccessSchedule(
        name: "always", scope: .tag("staff"), timeZone: TimeZone(identifier: "UTC")!, windows: [.init(weekdays: Set(1...7), start: 0, end: 24 * 60)])
    static let policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, schedules: [always])

    func decide(_ subject: String, tags: Set<String>, clockProblem: String?) -> Decision {
        var state = PolicyState()
        return AccessPolicy.evaluate(
            .cloud(candidates: [MatchCandidate(subjectId: subject, score: 9000, tags: tags)], unit: .necScore), passedQualityGate: true,
            policy: Self.policy, state: &state, at: Self.time, clockProblem: clockProblem)
    }

    @Test func someoneASchedulesAppliesToIsNotLetInOnAClockThatCannotBeTrusted() {
        let refused = decide("alice", tags: ["staff"], clockProblem: "it reads earlier than the newest decision")
        #expect(refused.outcome == .deniedSchedule)
        #expect(refused.reason.contains("the clock cannot be trusted: it reads earlier than the newest decision"), "\(refused.reason)")
        #expect(decide("alice", tags: ["staff"], clockProblem: nil).outcome == .granted)
        // No schedule names this person: the time plays no part in letting them in.
        #expect(decide("bob", tags: ["visitors"], clockProblem: "it reads earlier than the newest decision").outcome == .granted)
    }
}

/// A configuration reloaded while a visit's face was being searched: the decision stands only if the door's
/// new policy makes it too, and never when the new policy searches other people than were searched.
@Suite(.timeLimit(.minutes(1)))
struct PolicyReloadDuringASearchTests {
    static let time = AccessPolicyTests.wednesdayMorning

    static func nec(_ tags: [String], _ change: (inout DoorPolicy) -> Void = { _ in }) -> DoorPolicy {
        var policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, reentryCooldown: .seconds(60), searchTags: tags)
        change(&policy)
        return policy
    }

    static func found(_ subject: String, _ score: Double, tags: Set<String>) -> Identification {
        .cloud(candidates: [MatchCandidate(subjectId: subject, score: score, tags: tags)], unit: .necScore)
    }

    func decide(_ identification: Identification, searched: DoorPolicy, current: DoorPolicy, state: inout PolicyState) -> Decision {
        AccessPolicy.evaluate(identification, passedQualityGate: true, searchedUnder: searched, current: current, state: &state, at: Self.time)
    }

    @Test("the door's tags changed during the search: the grant the old tags found is not made, and not remembered for re-entry")
    func aChangedScopeRefusesTheGrant() {
        var state = PolicyState()
        let decision = decide(
            Self.found("contractor-7", 9000, tags: ["contractors"]), searched: Self.nec(["contractors"]), current: Self.nec(["staff"]),
            state: &state)
        #expect(decision.outcome == .error)
        #expect(decision.reason.contains("the door's search changed"), "\(decision.reason)")
        #expect(state.lastGranted.isEmpty)
        // A door that searched everyone and now searches one tag: a match among everyone proves nothing.
        var everyone = PolicyState()
        #expect(
            decide(Self.found("alice", 9000, tags: ["staff"]), searched: Self.nec([]), current: Self.nec(["staff"]), state: &everyone).outcome
                == .error)
    }

    @Test("the same scope, a stricter rule: the new rule decides")
    func aStricterRuleDecides() {
        var state = PolicyState()
        let searched = Self.nec(["staff"])
        #expect(
            decide(Self.found("alice", 9000, tags: ["staff"]), searched: searched, current: Self.nec(["staff"]) { $0.threshold = 9500 }, state: &state)
                .outcome == .deniedBelowThreshold)
        #expect(
            decide(Self.found("alice", 9000, tags: ["staff"]), searched: searched, current: Self.nec(["staff"]) { $0.denyList = ["alice"] }, state: &state)
                .outcome == .deniedDenyList)
        #expect(state.lastGranted.isEmpty)
    }

    @Test("a wider margin or a lower threshold after the search: the answer may lack the close second the new rule needs, so no grant")
    func aLowerSearchFloorRefusesTheGrant() {
        var state = PolicyState()
        let searched = Self.nec(["staff"]) { $0.minimumMargin = 500 }
        let wider = decide(
            Self.found("alice", 7900, tags: ["staff"]), searched: searched, current: Self.nec(["staff"]) { $0.minimumMargin = 1500 }, state: &state)
        #expect(wider.outcome == .error)
        let lower = decide(
            Self.found("alice", 7900, tags: ["staff"]), searched: searched,
            current: Self.nec(["staff"]) {
                $0.minimumMargin = 500
                $0.threshold = 6000
            }, state: &state)
        #expect(lower.outcome == .error)
        // An offline match was never cut at NEC ID's floor: judged by the new rule as ever.
        let offline = Identification.offline(
            candidates: [MatchCandidate(subjectId: "alice", score: 0.2, tags: ["staff"], stillSearched: true)], cloudFailure: "away")
        var offlineState = PolicyState()
        #expect(
            decide(offline, searched: searched, current: Self.nec(["staff"]) { $0.minimumMargin = 1500 }, state: &offlineState).outcome
                == .grantedOffline)
        // A higher floor is judged as ever: everything it needs was asked for.
        let higher = decide(
            Self.found("alice", 7900, tags: ["staff"]), searched: searched, current: Self.nec(["staff"]) { $0.minimumMargin = 100 }, state: &state)
        #expect(higher.outcome == .granted)
    }

    /// Each cached face counts offline only while the threshold is at or below the cloud score it was
    /// granted at, judged when the visit's offline match was made: a threshold raised by a reload while the
    /// visit waited on the cloud cannot be judged on that match, so it opens nothing (before, the old
    /// threshold's match was granted under the new one: a look-alike cached just over the old threshold
    /// let in after the operator raised it).
    @Test("a threshold raised during an offline decision: no grant on the old threshold's match")
    func aRaisedThresholdRefusesAnOfflineGrantMadeUnderTheOld() {
        let cachedLookAlike = Identification.offline(
            candidates: [MatchCandidate(subjectId: "alice", score: 0.2, tags: ["staff"], stillSearched: true)], cloudFailure: "away")
        var state = PolicyState()
        let raised = decide(cachedLookAlike, searched: Self.nec(["staff"]), current: Self.nec(["staff"]) { $0.threshold = 8000 }, state: &state)
        #expect(raised.outcome == .error, "\(raised)")
        #expect(raised.reason.contains("the door's search changed"), "\(raised.reason)")
        #expect(state.lastGranted.isEmpty)
        // Lowered, or the same: every face counted under the old one still counts.
        var lowered = PolicyState()
        #expect(
            decide(cachedLookAlike, searched: Self.nec(["staff"]), current: Self.nec(["staff"]) { $0.threshold = 6000 }, state: &lowered).outcome
                == .grantedOffline)
        // A cloud answer is judged against the new threshold itself.
        var online = PolicyState()
        #expect(
            decide(Self.found("alice", 8500, tags: ["staff"]), searched: Self.nec(["staff"]), current: Self.nec(["staff"]) { $0.threshold = 8000 }, state: &online)
                .outcome == .granted)
    }

    @Test("a reload that still searches what was searched, and still grants: granted once, remembered for re-entry")
    func aCompatibleReloadGrants() {
        var state = PolicyState()
        let granted = decide(
            Self.found("alice", 9000, tags: ["staff"]), searched: Self.nec(["staff"]), current: Self.nec(["staff", "visitors"]), state: &state)
        #expect(granted.outcome == .granted)
        #expect(state.lastGranted["alice"] == Self.time)
        // No reload at all: as ever.
        var fresh = PolicyState()
        #expect(decide(Self.found("bob", 9000, tags: ["staff"]), searched: Self.nec(["staff"]), current: Self.nec(["staff"]), state: &fresh).outcome == .granted)
        // Widened to everyone: still searches the staff.
        var widened = PolicyState()
        #expect(decide(Self.found("carol", 9000, tags: ["staff"]), searched: Self.nec(["staff"]), current: Self.nec([]), state: &widened).outcome == .granted)
    }
}
