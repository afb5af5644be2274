import FacegateApp
import FacegateCapture
import FacegateCore
import FacegateIdentify
import FacegateImageCodec
import FacegateJournal
import FacegateQuality
import FacegateTesting
import Foundation
import Testing

/// The liveness stage in the daemon (issue 11): a phone held up to the camera showing an enrolled
/// person is refused before any cloud call, the relay never moves, and the journal keeps the cue
/// scores; the same person, live, is still let in. Real clips from ../shared/testdata/pad (pad.csv).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LivenessDoorTests {
    static func clip(_ relative: String) throws -> ReplayFrameSource {
        try ReplayFrameSource(path: SharedTestData.url("pad/" + relative).path, configuration: .init(pacing: .asFastAsPossible))
    }

    /// A frame of the live clip with its face, as the person's enrolment photo.
    static func enrolmentPhoto() async throws -> [UInt8] {
        let analyzer = try TestFaceAnalyzers.video()
        for try await frame in try clip("bonafide/lestari15__real.mp4").frames() where frame.sequence >= 30 {
            if let face = try analyzer.analyze(frame.image).faces.first, face.quality.faceQualityScore >= 0.5 {
                return try ImageCodec.encodeJPEG(frame.image)
            }
        }
        throw ImageError(.corrupt, "no enrolment frame in the live clip")
    }

    /// `liveness.require_movement` reaches the door's stage. Its cost, shown on the live clip: the man's
    /// visit is decided (early, clearly good and frontal) before his head has moved enough for the parallax
    /// cue to judge, so it is uncertain and denied, with no cloud call (BENCHMARKS.md measures every clip).
    @Test func requiringMovementDeniesAVisitTheParallaxCueCouldNotJudge() async throws {
        try await DoorRig.with { rig in
            rig.configuration.liveness.enabled = true
            rig.configuration.liveness.requireMovement = true
            let run = try await rig.runDoor(source: try Self.clip("bonafide/lestari15__real.mp4"))
            #expect(!run.outcomes.isEmpty)
            #expect(run.outcomes.allSatisfy { $0.record.decision.outcome == .deniedPresentationAttack }, "\(run.outcomes.map(\.record.decision))")
            #expect(run.outcomes.allSatisfy { $0.record.liveness?.verdict == .uncertain }, "\(run.outcomes.map(\.record.liveness))")
            #expect(run.outcomes.allSatisfy { $0.record.decision.reason.contains("movement required") })
            #expect(run.searches == 0 && run.relayChanges == 0)
        }
    }

    @Test func aPhoneShowingAnEnrolledPersonIsRefusedAndThePersonLetIn() async throws {
        try await DoorRig.with { rig in
            rig.configuration.liveness.enabled = true
            let subject = try await rig.client.registerSubject(face: try await Self.enrolmentPhoto(), tags: ["staff"]).id

            // The same man's selfie in a phone's gallery, held up to the webcam.
            let attack = try await rig.runDoor(source: try Self.clip("screen/lestari15__fake.mp4"))
            #expect(!attack.outcomes.isEmpty)
            #expect(attack.outcomes.allSatisfy { $0.record.decision.outcome == .deniedPresentationAttack }, "\(attack.outcomes.map(\.record.decision))")
            #expect(attack.searches == 0, "no cloud call for an attack")
            #expect(attack.relayChanges == 0, "the relay never moved")
            #expect(attack.statistics.livenessRefusals == attack.outcomes.count)
            let journaled = try await rig.journaledDecisions()
            #expect(journaled.map(\.record.decision.outcome) == attack.outcomes.map(\.record.decision.outcome))
            for decision in journaled {
                let liveness = try #require(decision.record.liveness, "journaled with its liveness")
                #expect(liveness.verdict == .attack && liveness.liveness < 0.5)
                #expect(liveness.cues["texture"] != nil, "with each cue's score: \(liveness.cues)")
                #expect(decision.record.decision.reason.contains("presentation attack"))
            }

            // The man himself, live.
            let live = try await rig.runDoor(source: try Self.clip("bonafide/lestari15__real.mp4"))
            let granted = try #require(live.outcomes.first { $0.record.decision.outcome == .granted }, "\(live.outcomes.map(\.record.decision))")
            #expect(granted.record.decision.subjectId == subject)
            #expect(granted.record.liveness?.verdict == .live)
            #expect(live.outcomes.allSatisfy { $0.record.decision.outcome != .deniedPresentationAttack })
            #expect(live.searches >= 1 && live.relayChanges >= 1)
        }
    }

    @Test func theDoorDoesNotStartWithoutTheLivenessModelsItWasToldToUse() async throws {
        try await DoorRig.with { rig in
            rig.configuration.liveness.enabled = true
            rig.configuration.liveness.modelsDirectory = rig.folder.appendingPathComponent("no-such-folder").path
            let error = await #expect(throws: DaemonStartError.self) {
                _ = try await rig.runDoor(source: try Self.clip("screen/lestari15__fake.mp4"))
            }
            #expect(error?.key == "liveness.models", "\(String(describing: error))")
            #expect(error?.isConfigurationProblem == true, "exit 78: systemd does not restart it into the same problem")
        }
    }

    /// A configuration built in code skips the file reader's check: the door itself refuses a liveness
    /// threshold that would judge every print and screen live, naming the key, not the value.
    @Test(arguments: [Double.nan, -0.1, 0, 1.5])
    func theDoorDoesNotStartWithALivenessThresholdThatJudgesEveryFaceLive(threshold: Double) async throws {
        try await DoorRig.with { rig in
            rig.configuration.liveness.enabled = true
            rig.configuration.liveness.threshold = threshold
            let error = await #expect(throws: DaemonStartError.self) {
                _ = try await rig.runDoor(source: try Self.clip("screen/lestari15__fake.mp4"))
            }
            #expect(error?.key == "liveness.threshold", "\(String(describing: error))")
            #expect(error?.isConfigurationProblem == true)
        }
    }
}
