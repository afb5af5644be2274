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

    /// libv4l2 (which facegate opens cameras through) lists RGB3, BGR3, YU12 and YV12 for every camera, a grey-only
    /// one's too, flagged emulated: as a grey-only infrared camera reports itself. Those frames are grey in colour's
    /// clothes. Before, `auto` took RGB3 from this list and every visit was denied as an attack.
    @Test("a grey-only camera is refused when colour is needed, whatever colour formats libv4l2 adds to its list")
    func aGreyCameraThroughLibv4l2IsRefusedWhenColourIsNeeded() throws {
        func format(_ fourcc: String, emulated: Bool) -> V4L2DeviceInfo.Format {
            .init(fourcc: fourcc, description: fourcc, emulated: emulated, compressed: false, sizes: [])
        }
        let madeByLibv4l2 = ["RGB3", "BGR3", "YU12", "YV12"].map { format($0, emulated: true) }
        for grey in ["GREY", "Y16", "Y10B"] {
            let greyCamera = [format(grey, emulated: false)] + madeByLibv4l2
            let refused = #expect(throws: CaptureError.self, "\(grey)") { try V4L2Camera.automaticFormat(offered: greyCamera, needsColour: true) }
            #expect(refused?.code == .formatUnavailable && refused?.description.contains("only grey") == true)
            // Configured as RGB3 (libv4l2's), the same.
            #expect(throws: CaptureError.self, "\(grey)") { try V4L2Camera.requireColour(.rgb24, among: greyCamera) }
        }
        // Without liveness, grey is what it takes.
        let greyCamera = [format("GREY", emulated: false)] + madeByLibv4l2
        #expect(try V4L2Camera.automaticFormat(offered: greyCamera, needsColour: false) == .grey)
        // A camera with colour of its own (UYVY, which facegate does not read) still gets libv4l2's RGB3 made from it.
        let uyvyCamera = [format("UYVY", emulated: false)] + madeByLibv4l2
        #expect(try V4L2Camera.automaticFormat(offered: uyvyCamera, needsColour: true) == .rgb24)
        try V4L2Camera.requireColour(.rgb24, among: uyvyCamera)
        // A camera offering RGB3 itself, beside GREY: taken.
        let nativeRGB = [format("GREY", emulated: false), format("RGB3", emulated: false)]
        #expect(try V4L2Camera.automaticFormat(offered: nativeRGB, needsColour: true) == .rgb24)
        // YUYV and GREY natively: YUYV, as before.
        #expect(try V4L2Camera.automaticFormat(offered: [format("GREY", emulated: false), format("YUYV", emulated: false)] + madeByLibv4l2, needsColour: true) == .yuyv)
        #expect(throws: CaptureError.self) { try V4L2Camera.requireColour(.grey, among: nativeRGB) }
    }

    /// `auto` takes the first preferred format the camera lists at the size (and rate) asked for, not the first
    /// by name: a webcam with YUYV up to 640x480 and MJPEG up to 1920x1080 streams 1920x1080 in MJPEG (review:
    /// YUYV was picked, refused at that size, and the door had no camera).
    @Test("format auto takes a format the camera offers at the size and rate asked for")
    func automaticFormatFitsTheSize() throws {
        func size(_ width: Int, _ height: Int, _ rates: [Double]) -> V4L2DeviceInfo.Size {
            .init(width: width, height: height, framesPerSecond: rates)
        }
        let webcam = [
            V4L2DeviceInfo.Format(
                fourcc: "YUYV", description: "YUYV", emulated: false, compressed: false,
                sizes: [size(640, 480, [30, 15]), size(1280, 720, [10, 5])]),
            V4L2DeviceInfo.Format(
                fourcc: "MJPG", description: "MJPG", emulated: false, compressed: true,
                sizes: [size(640, 480, [30]), size(1280, 720, [30]), size(1920, 1080, [30])]),
        ]
        func auto(_ width: Int, _ height: Int, _ rate: Double?) throws -> FourCC {
            try V4L2Camera.automaticFormat(offered: webcam, needsColour: true, width: width, height: height, framesPerSecond: rate)
        }
        #expect(try auto(640, 480, nil) == .yuyv, "YUYV first where it fits")
        #expect(try auto(1920, 1080, nil) == .mjpeg)
        #expect(try auto(1280, 720, 30) == .mjpeg, "YUYV has 1280x720 only at 10 fps")
        #expect(try auto(1280, 720, 10) == .yuyv)
        #expect(try auto(1280, 720, 60) == .yuyv, "no format at that rate: the first with the size")
        #expect(try auto(800, 600, nil) == .yuyv, "no format at that size: the first by name, whose refusal lists its sizes")
        // The rate the opening accepts, not any at or above it: YUYV at 30, 20 and 10 fps is refused for
        // 15 (the driver grants 20), MJPEG lists 15 itself (review: YUYV was taken, the door had no camera).
        let stepped = [
            V4L2DeviceInfo.Format(fourcc: "YUYV", description: "YUYV", emulated: false, compressed: false, sizes: [size(640, 480, [30, 20, 10])]),
            V4L2DeviceInfo.Format(fourcc: "MJPG", description: "MJPG", emulated: false, compressed: true, sizes: [size(640, 480, [30, 15])]),
        ]
        #expect(try V4L2Camera.automaticFormat(offered: stepped, needsColour: true, width: 640, height: 480, framesPerSecond: 15) == .mjpeg)
        #expect(try V4L2Camera.automaticFormat(offered: stepped, needsColour: true, width: 640, height: 480, framesPerSecond: 20) == .yuyv)
        // A camera listing no sizes: by name, as before.
        let unsized = webcam.map { V4L2DeviceInfo.Format(fourcc: $0.fourcc, description: $0.description, emulated: false, compressed: $0.compressed, sizes: []) }
        #expect(try V4L2Camera.automaticFormat(offered: unsized, needsColour: true, width: 1920, height: 1080) == .yuyv)
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
