@testable import FacegateCapture
import FacegateTesting
import Foundation
import Testing

/// A reopen is refused when another camera is at `camera.device` (two cameras swapped by a USB
/// re-enumeration: `hil/tests/12-camera-swap.sh`), but not when the door's own camera, known by its USB
/// serial number, was moved to another port behind a `/dev/v4l/by-id/` name.
@Suite(.timeLimit(.minutes(1)))
struct CameraIdentityTests {
    let byId = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8F2A3C1F-video-index0"
    let first = CameraIdentity(card: "HD Pro Webcam C920", busInfo: "usb-0000:00:14.0-1", serial: "8F2A3C1F")
    let movedToAnotherPort = CameraIdentity(card: "HD Pro Webcam C920", busInfo: "usb-0000:00:14.0-3", serial: "8F2A3C1F")
    let anotherOfTheModel = CameraIdentity(card: "HD Pro Webcam C920", busInfo: "usb-0000:00:14.0-3", serial: "11AA22BB")
    let anotherModel = CameraIdentity(card: "USB2.0 IR Camera", busInfo: "usb-0000:00:14.0-1", serial: "8F2A3C1F")

    @Test func theSameCameraMovedToAnotherPortIsItsOwnBehindItsByIdName() {
        // Before, refused at every reopen ("a different camera"), the door deciding nothing until a restart.
        #expect(first.isSameCamera(as: movedToAnotherPort, at: byId))
        #expect(first.isSameCamera(as: first, at: byId))
        #expect(!first.isSameCamera(as: anotherOfTheModel, at: byId))
        #expect(!first.isSameCamera(as: anotherModel, at: byId))
    }

    /// Two cameras alike without serial numbers share one by-id name (the last plugged takes it): another
    /// port there may be the other camera, and is refused as before.
    @Test func withoutASerialNumberAnotherPortIsAnotherCamera() {
        let unnamed = CameraIdentity(card: "USB Camera", busInfo: "usb-0000:00:14.0-1", serial: nil)
        let unnamedElsewhere = CameraIdentity(card: "USB Camera", busInfo: "usb-0000:00:14.0-3", serial: nil)
        #expect(!unnamed.isSameCamera(as: unnamedElsewhere, at: "/dev/v4l/by-id/usb-Generic_USB_Camera-video-index0"))
        #expect(unnamed.isSameCamera(as: unnamed, at: "/dev/v4l/by-id/usb-Generic_USB_Camera-video-index0"))
    }

    @Test func atADeviceNumberOrAPortTheBusMustMatch() {
        for path in ["/dev/video0", "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0", "/run/facegate-camera"] {
            #expect(!first.isSameCamera(as: movedToAnotherPort, at: path), "\(path)")
            #expect(!first.isSameCamera(as: anotherModel, at: path), "\(path)")
            #expect(first.isSameCamera(as: first, at: path), "\(path)")
        }
    }

    /// The serial is read as sysfs lays a UVC camera out: the video node's `device` is the USB interface, whose
    /// parent (the USB device) holds `serial`; the device path may be a link to the node.
    @Test func theSerialNumberIsReadFromSysfs() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = folder.url.path
        let files = FileManager.default
        try files.createDirectory(atPath: "\(root)/sys/bus/usb/devices/1-3/1-3:1.0", withIntermediateDirectories: true)
        try "8F2A3C1F\n".write(toFile: "\(root)/sys/bus/usb/devices/1-3/serial", atomically: true, encoding: .utf8)
        try files.createDirectory(atPath: "\(root)/sys/class/video4linux/video7", withIntermediateDirectories: true)
        try files.createSymbolicLink(atPath: "\(root)/sys/class/video4linux/video7/device", withDestinationPath: "\(root)/sys/bus/usb/devices/1-3/1-3:1.0")
        try files.createDirectory(atPath: "\(root)/dev", withIntermediateDirectories: true)
        #expect(files.createFile(atPath: "\(root)/dev/video7", contents: nil))
        try files.createSymbolicLink(atPath: "\(root)/dev/camera", withDestinationPath: "\(root)/dev/video7")
        #expect(CameraIdentity.usbSerial(of: "\(root)/dev/camera", sysfs: "\(root)/sys") == "8F2A3C1F")
        // No serial file (a camera without one, or no USB camera), or an empty one: none.
        #expect(files.createFile(atPath: "\(root)/dev/video8", contents: nil))
        #expect(CameraIdentity.usbSerial(of: "\(root)/dev/video8", sysfs: "\(root)/sys") == nil)
        try "\n".write(toFile: "\(root)/sys/bus/usb/devices/1-3/serial", atomically: true, encoding: .utf8)
        #expect(CameraIdentity.usbSerial(of: "\(root)/dev/camera", sysfs: "\(root)/sys") == nil)
    }
}

/// A device that cannot capture (the card's metadata node taking the camera's path at a reopen, say) is
/// refused without the card's name: the message reaches "camera lost" log lines and `/health` (review).
@Suite(.timeLimit(.minutes(1)))
struct CameraRefusalWordingTests {
    @Test func aDeviceThatCannotCaptureIsRefusedWithoutItsCardName() throws {
        for (canCapture, canStream) in [(false, true), (true, false)] {
            let info = V4L2DeviceInfo(
                path: "/dev/null", driver: "uvcvideo", card: "CARD-MARKER-77", busInfo: "usb-0000:00:14.0-1", canCapture: canCapture,
                canStream: canStream, formats: [])
            let error = try #require(throws: CaptureError.self) {
                try V4L2Device.checkCanStream(info)
            }
            #expect(error.code == .unsupported && !error.description.contains("CARD-MARKER"), "\(error)")
        }
    }
}
