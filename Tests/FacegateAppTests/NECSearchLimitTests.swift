import FacegateCore
@testable import FacegateApp
import FacegateIdentify
import FacegatePolicy
import Foundation
import Testing

/// Issue 9, item 8: NEC's search `limit` counts events, so a subject enrolled with several faces
/// must not push a second, similar subject out of the door's search and so defeat the margin check.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct NECSearchLimitTests {
    @Test func aSubjectWithManyEventsDoesNotHideTheSecondSubject() async throws {
        try await DoorRig.with { rig in
            // The same person enrolled twice: once with six faces (one photo, six events), once with another photo.
            let many = try await rig.enrol("angelina_jolie/01.jpg")
            for _ in 0..<5 {
                _ = try await rig.client.registerEvent(
                    subjectID: many, face: try DoorControllerEndToEndTests.photo("angelina_jolie/01.jpg"), tags: ["staff"])
            }
            let again = try await rig.enrol("angelina_jolie/02.jpg")
            let probe = ProbeFace(jpeg: try DoorControllerEndToEndTests.photo("angelina_jolie/01.jpg"), quality: nil)
            let policy = DoorPolicy(
                door: "front", threshold: 7000, scoreUnit: .necScore, minimumMargin: 3000, searchTags: ["staff"])

            // What a small limit does: six events of the first subject fill five places.
            let small = try await NECFaceSearch(client: rig.client, limit: 5).search(probe, policy: policy)
            try #require(small.map(\.subjectId) == [many], "the scenario needs the first subject's events to outrank the second")

            // The door's search: both subjects, one candidate each, best first.
            let candidates = try await NECFaceSearch(client: rig.client).search(probe, policy: policy)
            #expect(candidates.map(\.subjectId) == [many, again])
            var state = PolicyState()
            let decision = AccessPolicy.evaluate(
                .cloud(candidates: candidates, unit: .necScore), passedQualityGate: true, policy: policy, state: &state, at: Date())
            #expect(decision.outcome == .deniedAmbiguous, "\(decision.reason)")
        }
    }
}

/// NEC ID's `lastUpdated` as its document prints it and as the emulator writes it: a date a sync cannot read
/// would count as a change and purge that subject's faces at every sync.
@Suite(.timeLimit(.minutes(1)))
struct NECUpdateTimeTests {
    @Test(arguments: [
        ("2018-12-18T00:27:56.427+00:00", 1_545_092_876.427), ("2019-02-28T18:11:49Z", 1_551_377_509),
        ("2019-02-28T20:11:49.157+02:00", 1_551_377_509.157),
    ])
    func documentedDatesAreRead(text: String, seconds: Double) throws {
        let date = try #require(NECFaceSearch.updateTime(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.001)
    }

    @Test func somethingElseIsNoDate() {
        #expect(NECFaceSearch.updateTime("yesterday") == nil)
        #expect(NECFaceSearch.updateTime("") == nil)
    }
}
