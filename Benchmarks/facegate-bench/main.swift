// facegate-bench: the cost of facegate's hot paths, as medians over repeated runs.
//
//     swift run -c release facegate-bench [--iterations N] [--media DIR] [--models DIR]
//     swift run -c release facegate-bench door [--visits N] [--media DIR] [--models DIR]
//     swift run -c release facegate-bench outage [--visits N] [--media DIR] [--models DIR]
//     swift run -c release facegate-bench idle [--seconds N] [--full-detection-seconds S] [--models DIR]
//     swift run -c release facegate-bench liveness [--movement] [--testdata DIR] [--pad-models DIR] [--models DIR]
//     swift run -c release facegate-bench frames [--testdata DIR] [--media DIR] [--models DIR]
//
// Frames are synthesized from the bundled demo portraits, so the figures are
// comparable between machines. Record them in BENCHMARKS.md. `door` runs the
// daemon's service end to end (see DoorBenchmark.swift).
import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation

struct Options {
    var door = false
    var outage = false
    var idle = false
    var liveness = false
    /// `liveness --movement`: only the still-screen variants and what `liveness.require_movement` costs.
    var movement = false
    var frames = false
    var testdata = "../shared/testdata"
    var padModels: String?
    var idleSeconds = 20
    var fullDetectionSeconds = 1.0
    var idleWithoutGate = true
    var idleSizes = [(640, 480), (1280, 720)]
    var visits = 40
    /// `door`: people two seconds apart (30 a minute), each walking up as the last one leaves.
    var queue = false
    /// `door --queue`: the frames of each person's 2 s spent standing at the door (to open it) after
    /// walking up. 0 is the old scene, where each vanished at the door the moment they reached it.
    var queueStopFrames = 6
    /// `door`: run the daemon a second time with the approach selector as it was before issue 12
    /// (waiting for the quality to settle, a track ending at the cooldown), for before/after figures.
    var compareApproach = false
    /// `door`: approaches without motion blur (a camera with a short exposure), so the face is sharp
    /// from first sight and the selector, not the scene, sets when the visit is ready.
    var sharp = false
    /// `door`: run the daemon a second time serving the kiosk and /metrics, with a page's event stream
    /// and a scraper attached, for what they cost a frame.
    var kiosk = false
    /// `door`: keep the bench's folder (the replayed frames, the daemon's configuration, log and
    /// journal) for a look afterwards, instead of removing it.
    var keep = false
    var iterations = 60
    var media = "demo/media"
    var models: String?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            switch flag {
            case "door": door = true
            case "outage": outage = true
            case "idle": idle = true
            case "liveness": liveness = true
            case "frames": frames = true
            case "--testdata": testdata = rest.popFirst() ?? testdata
            case "--pad-models": padModels = rest.popFirst()
            case "--seconds": idleSeconds = max(1, Int(rest.popFirst() ?? "") ?? idleSeconds)
            case "--full-detection-seconds": fullDetectionSeconds = max(0.1, Double(rest.popFirst() ?? "") ?? fullDetectionSeconds)
            case "--gated-only": idleWithoutGate = false
            case "--vga-only": idleSizes = [(640, 480)]
            case "--visits": visits = Int(rest.popFirst() ?? "") ?? visits
            case "--queue": queue = true
            case "--stop-frames": queueStopFrames = min(19, max(0, Int(rest.popFirst() ?? "") ?? queueStopFrames))
            case "--compare-approach": compareApproach = true
            case "--sharp": sharp = true
            case "--kiosk": kiosk = true
            case "--keep": keep = true
            case "--movement": movement = true
            case "--iterations": iterations = Int(rest.popFirst() ?? "") ?? iterations
            case "--media": media = rest.popFirst() ?? media
            case "--models": models = rest.popFirst()
            default:
                FileHandle.standardError.write(Data("usage: facegate-bench [door|outage|idle|liveness|frames] [--iterations N] [--visits N] [--queue [--stop-frames N]] [--compare-approach] [--sharp] [--kiosk] [--keep] [--movement] [--seconds N] [--full-detection-seconds S] [--media DIR] [--models DIR]\n".utf8))
                exit(2)
            }
        }
    }
}

struct Measurement {
    var name: String
    var samples: [Duration]

    func quantile(_ q: Double) -> Double {
        let sorted = samples.sorted()
        let d = sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))]
        return (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) * 1000
    }

    var line: String {
        String(format: "| %@ | %.2f | %.2f | %.2f | %d |", name, quantile(0.5), quantile(0.9), quantile(0), samples.count)
    }
}

func measure(_ name: String, iterations: Int, warmup: Int = 3, _ body: () throws -> Void) rethrows -> Measurement {
    for _ in 0..<warmup { try body() }
    let clock = ContinuousClock()
    var samples: [Duration] = []
    for _ in 0..<iterations {
        let start = clock.now
        try body()
        samples.append(clock.now - start)
    }
    return Measurement(name: name, samples: samples)
}

func machine() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
}

let options = Options(CommandLine.arguments)
if options.idle {
    try IdleBenchmark(options: options).run()
    exit(0)
}
if options.liveness {
    try await LivenessBenchmark(options: options).run()
    exit(0)
}
if options.frames {
    try await FramePathBenchmark(options: options).run()
    exit(0)
}
if options.outage {
    try await OutageBenchmark(options: options).run()
    exit(0)
}
if options.door {
    try await DoorBenchmark(options: options).run()
    exit(0)
}
let portrait = try ImageCodec.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: options.media + "/obama2.jpg"))))
let analyzer = try DlibFaceAnalyzer(models: try FaceModels.locate(options.models))
var results: [Measurement] = []

for (width, height) in [(640, 480), (1280, 720)] {
    // The closest frame of an approach: one face, sharp, as at the door.
    let approach = SyntheticApproach(canvasWidth: width, canvasHeight: height, frameCount: 10, endScale: 0.8)
    let frame = try approach.frame(9, of: portrait)
    guard try analyzer.analyze(frame).faces.count == 1 else { fatalError("no face in the \(width)x\(height) frame") }
    let gray = frame.grayscale()
    for detectionWidth in [640, 480] {
        let sized = DlibFaceAnalyzer(engine: analyzer.engine, configuration: QualityConfiguration(detectionWidth: detectionWidth))
        results.append(try measure("frame \(width)x\(height) RGB, detection at \(detectionWidth) px: detection + landmarks + quality", iterations: options.iterations) {
            _ = try sized.analyze(frame)
        })
        results.append(try measure("frame \(width)x\(height) gray (camera Y plane), detection at \(detectionWidth) px", iterations: options.iterations) {
            _ = try sized.analyze(gray)
        })
    }
}

let frame = try SyntheticApproach(frameCount: 10, endScale: 0.8).frame(9, of: portrait)
let face = try analyzer.analyze(frame).faces[0]
results.append(try measure("descriptor (150x150 chip, ResNet 128-D)", iterations: options.iterations) {
    _ = try analyzer.descriptor(of: face, in: frame)
})
let jpeg = try ImageCodec.encodeJPEG(frame)
results.append(try measure("JPEG decode 640x480", iterations: options.iterations) { _ = try ImageCodec.decode(jpeg) })
let crop = try frame.cropped(to: face.attributes.headArea)
results.append(try measure("best-face crop + JPEG encode", iterations: options.iterations) {
    _ = try ImageCodec.encodeJPEG(try frame.cropped(to: face.attributes.headArea))
})
_ = crop

print("machine: \(machine())")
print("| what | median ms | p90 ms | min ms | runs |")
print("|---|---|---|---|---|")
for result in results { print(result.line) }
