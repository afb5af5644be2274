import FacegateCore
import FacegateQuality
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `facegate-bench idle`: what an empty corridor costs. Frames of an empty scene (a wall with sensor
/// noise, a slow light ramp and flicker, as a camera gives them) go through what the pipeline does
/// with each: the motion gate's thumbnail and verdict, and the detector, landmarks and quality when
/// the gate (or, without it, every frame) asks for them. Reported as CPU time per minute of video, and
/// as a share of one core, at 15 and 30 fps, with the gate (looking at the empty scene every interval,
/// and skipping the looks while it is unchanged) and without.
struct IdleBenchmark {
    let options: Options

    func run() throws {
        let analyzer = try DlibFaceAnalyzer(models: try FaceModels.locate(options.models))
        let seconds = options.idleSeconds
        print("machine: \(machine())")
        let interval = Duration.milliseconds(Int(options.fullDetectionSeconds * 1000))
        // What every frame costs, someone there or not: its thumbnail and the gate's verdict.
        for (width, height) in options.idleSizes + [(1920, 1080)] {
            let scenes = Self.emptyScenes(width: width, height: height, count: 8)
            var gate = MotionGate()
            var n = 0
            let verdicts = measure("motion gate: thumbnail + verdict, \(width)x\(height) RGB", iterations: 300) {
                let frame = Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 66), image: scenes[n % scenes.count])
                _ = gate.judge(frame, thumbnail: MotionGate.thumbnail(of: frame.image), following: false)
                n += 1
            }
            print(String(format: "%@: median %.3f ms, p90 %.3f ms", verdicts.name, verdicts.quantile(0.5), verdicts.quantile(0.9)))
        }
        print("an empty scene, \(seconds) s of video per row, a full detection every \(interval) with the gate; CPU time of this process (user + system)")
        print("| frames | gate | detector runs | CPU s per minute of video | share of one core | per frame, ms |")
        print("|---|---|---|---|---|---|")
        for (width, height) in options.idleSizes {
            let scenes = Self.emptyScenes(width: width, height: height, count: 8)
            for fps in [15, 30] {
                for mode in GateMode.allCases where mode != .off || options.idleWithoutGate {
                    let frames = seconds * fps
                    var configuration = MotionGateConfiguration(fullDetectionInterval: interval)
                    configuration.enabled = mode != .off
                    if mode == .everyLook { configuration.unchangedSceneInterval = .zero }
                    var gate = MotionGate(configuration: configuration)
                    var detectorRuns = 0
                    let before = Self.cpuTime()
                    for n in 0..<frames {
                        // The light rises slowly and flickers; the noise differs from frame to frame.
                        let frame = Frame(sequence: UInt64(n), timestamp: .milliseconds(n * 1000 / fps), image: scenes[n % scenes.count])
                        let thumbnail = mode == .off ? nil : MotionGate.thumbnail(of: frame.image)
                        if let thumbnail, gate.judge(frame, thumbnail: thumbnail, following: false) == .skip { continue }
                        detectorRuns += 1
                        let faces = try analyzer.analyze(frame.image, descriptorLimit: 0).faces
                        // As the pipeline reports each whole-frame scan.
                        if let thumbnail { gate.noteWholeFrameScan(at: frame.timestamp, thumbnail: thumbnail, foundFaces: !faces.isEmpty) }
                    }
                    let cpu = Self.cpuTime() - before
                    let perMinute = cpu / Double(seconds) * 60
                    print(
                        String(
                            format: "| %dx%d at %d fps | %@ | %d of %d | %.2f | %.1f %% | %.3f |", width, height, fps, mode.rawValue,
                            detectorRuns, frames, perMinute, perMinute / 60 * 100, cpu / Double(frames) * 1000))
                }
            }
        }
    }

    /// Frames of one empty scene (a gradient wall, RGB) with fresh noise of ±6 levels on each and a
    /// light level that steps up a little and flickers between them.
    static func emptyScenes(width: Int, height: Int, count: Int) -> [PixelImage] {
        var state: UInt64 = 99
        return (0..<count).map { index in
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            let light = index * 2 + (index % 3 == 0 ? 5 : 0)
            for y in 0..<height {
                for x in 0..<width {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let noise = Int((state >> 33) % 13) - 6
                    let base = 50 + (x + y) * 120 / (width + height) + light + noise
                    let at = (y * width + x) * 3
                    pixels[at] = UInt8(clamping: base + 10)
                    pixels[at + 1] = UInt8(clamping: base)
                    pixels[at + 2] = UInt8(clamping: base - 10)
                }
            }
            return try! PixelImage(width: width, height: height, layout: .rgb24, pixels: pixels)
        }
    }

    /// Without the gate; with it looking at the empty scene every interval (`unchanged_scene_seconds: 0`,
    /// the gate before it skipped an unchanged empty scene); with the defaults.
    enum GateMode: String, CaseIterable {
        case off
        case everyLook = "on, every periodic look"
        case unchangedSkipped = "on, unchanged scene skipped"
    }

    static func cpuTime() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
