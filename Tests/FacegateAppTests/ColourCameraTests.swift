import FacegateCapture
import FacegateCore
import FacegateDoor
import FacegateTesting
import Logging
import Testing

@testable import FacegateApp

/// With liveness on, `camera.format: auto` never captures grey: the texture models judge every grey face
/// an attack (live ones included), so a camera that offers GREY first, or only GREY, would make a door
/// that never opens while it looks configured. The file check refuses `format: grey`; this is its `auto`.
@Suite(.timeLimit(.minutes(2))) struct ColourCameraTests {
    @Test("format auto skips GREY when the frames must be in colour, and refuses a camera with nothing else")
    func automaticFormatNeedsColour() throws {
        #expect(try V4L2Camera.automaticFormat(offered: ["GREY", "RGB3"], needsColour: true) == .rgb24)
        #expect(try V4L2Camera.automaticFormat(offered: ["GREY", "MJPG"], needsColour: true) == .mjpeg)
        #expect(try V4L2Camera.automaticFormat(offered: ["GREY", "RGB3"], needsColour: false) == .grey)
        #expect(try V4L2Camera.automaticFormat(offered: ["GREY"], needsColour: false) == .grey)
        let onlyGrey = #expect(throws: CaptureError.self) { try V4L2Camera.automaticFormat(offered: ["GREY"], needsColour: true) }
        #expect(onlyGrey?.code == .formatUnavailable)
        #expect(onlyGrey?.description.contains("liveness stage needs colour") == true, "\(String(describing: onlyGrey))")
        let none = #expect(throws: CaptureError.self) { try V4L2Camera.automaticFormat(offered: ["H264"], needsColour: true) }
        #expect(none?.description.contains("none of YUYV") == true)
    }

    @Test("the door's camera needs colour exactly when liveness is on")
    func theDoorsCameraNeedsColourWithLiveness() throws {
        var camera = FacegateConfiguration().camera
        camera.source = .v4l2
        camera.pixelFormat = .auto
        let logger = Logger(label: "colour-camera")
        let checked = try #require(try DoorParts.frameSource(camera, needsColour: true, logger: logger) as? V4L2Camera)
        #expect(checked.configuration.needsColour)
        let unchecked = try #require(try DoorParts.frameSource(camera, needsColour: false, logger: logger) as? V4L2Camera)
        #expect(!unchecked.configuration.needsColour)

        // As the daemon opens its parts: the camera (not opened until its frames are read) asks for colour.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for liveness in [true, false] {
            var configuration = FacegateConfiguration()
            configuration.liveness.enabled = liveness
            configuration.journal.path = folder.file("journal-\(liveness).sqlite")
            configuration.offlineCache.enabled = false
            let parts = try DoorParts.open(
                configuration, overrides: .init(search: HeldCloud(backendName: "any"), doorLines: SimulatedDoorLines()), logger: logger)
            let door = try #require(parts.source as? V4L2Camera)
            #expect(door.configuration.needsColour == liveness)
        }
    }
}
