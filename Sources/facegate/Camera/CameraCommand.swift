import ArgumentParser
import FacegateCapture
import FacegateCore
import FacegateImageCodec
import Foundation

struct CameraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera",
        abstract: "List V4L2 cameras and capture frames from them.",
        subcommands: [CameraList.self, CameraCapture.self, CameraProbe.self, CameraFeed.self]
    )
}

/// Options shared by the commands that open a camera.
struct CameraOptions: ParsableArguments {
    @Option(help: "The device: /dev/videoN or a stable name under /dev/v4l/by-id/.")
    var device: String

    @Option(help: "Pixel format to capture (YUYV, MJPG, GREY, RGB3); default: the best the device offers.")
    var format: String?

    @Option(help: "Frame size, WIDTHxHEIGHT.")
    var size: String = "640x480"

    @Option(help: "Frames a second to ask for; default: the device's own rate.")
    var fps: Double?

    @Option(help: "Seconds without a frame that count as a stall (0.1 to 600).")
    var stallTimeout: Double = 3

    /// The range `camera.stall_timeout_seconds` parses in: `1e300` or `inf` would trap turning into a Duration.
    static let stallTimeouts: ClosedRange<Double> = 0.1...600

    func validate() throws {
        guard Self.stallTimeouts.contains(stallTimeout) else { throw ValidationError("--stall-timeout must be 0.1 to 600 seconds") }
        // As the daemon's camera.stall_timeout_seconds: a wait shorter than two frame intervals (or 1 s, for a
        // first frame late after the stream starts) ends before the frames come, and the camera is closed and
        // opened again for ever.
        if let fps, fps > 0, stallTimeout < max(2 / fps, 1) {
            throw ValidationError("--stall-timeout must be at least two frame intervals at --fps, and 1 s")
        }
    }

    func cameraConfiguration(layout: PixelImage.Layout) throws -> V4L2Camera.Configuration {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2 else { throw ValidationError("--size must look like 640x480") }
        var fourcc: FourCC?
        if let format {
            guard let parsed = FourCC(format.uppercased().padding(toLength: 4, withPad: " ", startingAt: 0)) else {
                throw ValidationError("--format must be a four-character code such as YUYV or MJPG")
            }
            fourcc = parsed
        }
        guard Self.stallTimeouts.contains(stallTimeout) else { throw ValidationError("--stall-timeout must be 0.1 to 600 seconds") }
        return V4L2Camera.Configuration(
            device: device, pixelFormat: fourcc, width: parts[0], height: parts[1], framesPerSecond: fps, layout: layout,
            stallTimeout: .milliseconds(Int64(stallTimeout * 1000)))
    }
}

struct CameraList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List V4L2 capture devices with their formats, sizes and rates.")

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let devices = V4L2Camera.listDevices()
        if json {
            let entries = devices.compactMap { try? $0.get() }.filter(\.canCapture)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(TerminalText.escapingInJSON(String(decoding: try encoder.encode(entries), as: UTF8.self)))
            return
        }
        if devices.isEmpty { print("no V4L2 devices in /dev") }
        for device in devices {
            switch device {
            case .failure(let error):
                print("\(error.message)")
            case .success(let info) where !info.canCapture:
                continue
            case .success(let info):
                print("\(info.path): \(info.card) (driver \(info.driver), \(info.busInfo))")
                for alias in Self.stableNames(of: info.path) { print("  also \(alias)") }
                for format in info.formats {
                    let flags = [format.emulated ? "converted by libv4l2" : nil, format.compressed ? "compressed" : nil]
                        .compactMap { $0 }
                    print("  \(format.fourcc)  \(format.description)\(flags.isEmpty ? "" : " [\(flags.joined(separator: ", "))]")")
                    for size in format.sizes {
                        let rates = size.framesPerSecond.map { String(format: "%g", $0) }.joined(separator: ", ")
                        print("    \(size)\(rates.isEmpty ? "" : " @ \(rates) fps")")
                    }
                }
            }
        }
    }
}

extension CameraList {
    /// The udev links that name a device the same way across reboots and replugs.
    static func stableNames(of path: String) -> [String] {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var names: [String] = []
        for folder in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
            for link in (try? FileManager.default.contentsOfDirectory(atPath: folder))?.sorted() ?? [] {
                let full = "\(folder)/\(link)"
                if URL(fileURLWithPath: full).resolvingSymlinksInPath().path == target { names.append(full) }
            }
        }
        return names
    }
}

struct CameraCapture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Capture frames from a camera and save them as JPEG files.")

    @OptionGroup var camera: CameraOptions

    @Option(help: "How many frames to save.")
    var frames: Int = 10

    @Option(help: "Folder for frame-NNNN.jpg (created if missing).")
    var out: String

    func run() async throws {
        guard frames > 0 else { throw ValidationError("--frames must be at least 1") }
        try PrivateOutput.makeFolder(out)
        let source = try V4L2Camera(configuration: try camera.cameraConfiguration(layout: .rgb24))
        var saved = 0
        for try await frame in source.frames() {
            let name = String(format: "%@/frame-%04d.jpg", out, saved)
            try PrivateOutput.write(try ImageCodec.encodeJPEG(frame.image), to: name)
            saved += 1
            if saved == frames { break }
        }
        print("saved \(saved) frames to \(out)")
    }
}
