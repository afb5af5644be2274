import FacegateCore
import FacegateApp
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
