@testable import FacegateCapture
import Testing

/// A reopen is refused when another camera is at `camera.device` (two cameras swapped by a USB
/// re-enumeration: `hil/tests/12-camera-swap.sh`), but not when the door's own camera was moved to another
/// port behind a `/dev/v4l/by-id/` name, which udev gives that one camera wherever it is plugged.
@Suite(.timeLimit(.minutes(1)))
struct CameraIdentityTests {
    let first = CameraIdentity(card: "HD Pro Webcam C920", busInfo: "usb-0000:00:14.0-1")
    let movedToAnotherPort = CameraIdentity(card: "HD Pro Webcam C920", busInfo: "usb-0000:00:14.0-3")
    let anotherModel = CameraIdentity(card: "USB2.0 IR Camera", busInfo: "usb-0000:00:14.0-1")

    @Test func theSameCameraMovedToAnotherPortIsItsOwnBehindItsByIdName() {
        let byId = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8F2A3C1F-video-index0"
        // Before, refused at every reopen ("a different camera"), the door deciding nothing until a restart.
        #expect(first.isSameCamera(as: movedToAnotherPort, at: byId))
        #expect(first.isSameCamera(as: first, at: byId))
        #expect(!first.isSameCamera(as: anotherModel, at: byId))
    }

    @Test func atADeviceNumberOrAPortTheBusMustMatch() {
        for path in ["/dev/video0", "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0", "/run/facegate-camera"] {
            #expect(!first.isSameCamera(as: movedToAnotherPort, at: path), "\(path)")
            #expect(!first.isSameCamera(as: anotherModel, at: path), "\(path)")
            #expect(first.isSameCamera(as: first, at: path), "\(path)")
        }
    }
}
