import FacegateCapture
import FacegateCore
import FacegateImageCodec
import Foundation
import Testing

@Suite(.timeLimit(.minutes(5)))
struct FrameConversionTests {
    func photo() throws -> PixelImage {
        let data = try #require(FileManager.default.contents(atPath: TestData.path("faces/amy_adams/01.jpg")))
        return try ImageCodec.decode([UInt8](data))
    }

    @Test func aPhotoFittedToACameraFrameKeepsItsAspect() throws {
        let frame = try photo().fitted(width: 640, height: 480)
        #expect(frame.width == 640 && frame.height == 480 && frame.layout == .rgb24)
        #expect(Set(frame.pixels).count > 100)
    }

    @Test func yuyvOfAFrameHasTwoBytesAPixelAndItsLumaIsTheGrayFrame() throws {
        let frame = try photo().fitted(width: 640, height: 480)
        let yuyv = frame.yuyv()
        #expect(yuyv.count == 640 * 480 * 2)
        let luma = try PixelImage.lumaOfYUYV(yuyv, width: 640, height: 480)
        // Limited-range luma tracks full-range gray within the 16...235 squeeze.
        let gray = frame.grayscale()
        var worst = 0
        for i in stride(from: 0, to: gray.pixels.count, by: 97) {
            let expected = 16 + Int(gray.pixels[i]) * 219 / 255
            worst = max(worst, abs(Int(luma.pixels[i]) - expected))
        }
        #expect(worst <= 3)
    }

    @Test func fourCCsReadAsTheirCharacters() {
        #expect(FourCC.yuyv.description == "YUYV")
        #expect(FourCC("MJPG") == .mjpeg)
        #expect(FourCC("TOOLONG") == nil)
        #expect(FourCC.yuyv.rawValue == 0x5659_5559)
    }

    @Test func aBadCameraConfigurationIsRefusedUpFront() {
        #expect(throws: CaptureError(.badConfiguration, "")) {
            try V4L2Camera(configuration: .init(device: "/dev/video0", width: 0, height: 480))
        }
        #expect(throws: CaptureError(.badConfiguration, "")) {
            try V4L2Camera(configuration: .init(device: "/dev/video0", bufferCount: 1))
        }
        // A format with no converter (libv4l2 offers YU12 on every camera): each frame would fail, and a
        // camera that had streamed once would be reopened for ever. Refused before the device is opened.
        for format in ["YU12", "YV12", "BGR3", "NV12"] {
            #expect(throws: CaptureError(.badConfiguration, ""), "\(format)") {
                try V4L2Camera(configuration: .init(device: "/dev/video0", pixelFormat: FourCC(format)))
            }
        }
        for format in [FourCC.yuyv, .mjpeg, .jpeg, .grey, .rgb24] {
            #expect(throws: Never.self, "\(format)") { try V4L2Camera(configuration: .init(device: "/dev/video0", pixelFormat: format)) }
        }
    }

    @Test func aMissingDeviceEndsTheStreamWithNotFound() async throws {
        let camera = try V4L2Camera(configuration: .init(device: "/dev/facegate-no-such-camera"))
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in camera.frames() {}
        }
        #expect(error?.code == .notFound)
    }

    @Test func aFileThatIsNotADeviceIsRefused() async throws {
        let camera = try V4L2Camera(configuration: .init(device: TestData.path("faces/amy_adams/01.jpg")))
        let error = await #expect(throws: CaptureError.self) {
            for try await _ in camera.frames() {}
        }
        #expect(error?.code == .notADevice)
    }
}
