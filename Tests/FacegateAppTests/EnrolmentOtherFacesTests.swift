import FacegateApp
import FacegateCore
import FacegateImageCodec
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

/// Enrolment looks at the whole best frame for other faces, not only at those the door's analysis of that
/// frame counted: the door scans most frames only around the faces it follows and where the scene moved.
@Suite(.timeLimit(.minutes(2)))
struct EnrolmentOtherFacesTests {
    /// A register that takes every face, counting them.
    final class Register: FaceEnrolling {
        private let count = Mutex(0)
        var registrations: Int { count.withLock { $0 } }
        func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String? { nil }
        func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy { policy }
        func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt {
            count.withLock { $0 += 1 }
            return EnrolmentReceipt(backend: "test", subjectId: "enrolled", registeredUnder: [])
        }
    }

    func photo(_ name: String, width: Int) throws -> PixelImage {
        try TestPortrait.headAndShoulders(
            [UInt8](try Data(contentsOf: SharedTestData.faces.appendingPathComponent(name))), analyzer: try TestFaceAnalyzers.stills()
        ).rgb().resized(width: width, height: width)
    }

    @Test func someoneStandingStillOutsideTheScannedRegionsStopsTheEnrolment() async throws {
        let analyzer = try TestFaceAnalyzers.video()
        var frame = try PixelImage(width: 960, height: 480, layout: .rgb24, pixels: [UInt8](repeating: 90, count: 960 * 480 * 3))
        frame = try frame.pasting(try photo("leonardo_dicaprio/01.jpg", width: 400), atLeft: 20, top: 40)
            .pasting(try photo("stock_neutral_woman/01.jpg", width: 400), atLeft: 540, top: 40)
        // The frame as the door scanned it: around the person it followed only.
        let scanned = try analyzer.analyze(
            frame, plan: .regions([DetectionRegion(area: PixelBox(left: 0, top: 0, right: 460, bottom: 480), scale: 1)]), descriptorLimit: 0)
        let face = try #require(scanned.faces.first)
        #expect(scanned.faces.count == 1 && face.quality.singleFaceDominance.raw >= 100, "the other face was not counted")
        let visit = Visit.still(frame, face: face, qualityGate: 0)
        let lenient = EnrolmentGate(minQuality: 0, maxPoseDegrees: 90, minInterEyeDistance: 0)
        let policy = DoorPolicy(door: "enrol", threshold: 7000, scoreUnit: .necScore)
        func enrol(lookingAgain: Bool) async -> (EnrolmentOutcome, Int) {
            let register = Register()
            let enrolment = DoorEnrolment(
                gate: lenient, liveness: nil, search: HeldCloud(released: true), enroller: register,
                analyzer: lookingAgain ? analyzer : nil, logger: Logger.quiet("enrol"))
            let outcome = await enrolment.enrol(visit, as: EnrolmentRequest(), policy: policy, cloudTimeout: .seconds(10))
            return (outcome, register.registrations)
        }
        let (refused, registered) = await enrol(lookingAgain: true)
        #expect(refused.result == .poorFace && refused.reason.contains("another face is in view"), "\(refused.reason)")
        #expect(registered == 0)
        // Without looking again (as before), the enrolment went through with someone else beside them.
        let (taken, _) = await enrol(lookingAgain: false)
        #expect(taken.enrolled, "\(taken.reason)")
    }
}
