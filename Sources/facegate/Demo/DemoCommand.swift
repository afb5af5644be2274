import ArgumentParser
import FacegateCore
import FacegateDemo
import FacegateImageCodec
import FacegateQuality
import Foundation

/// `facegate demo`: the product on built-in defaults, for a machine with no camera, GPIO or cloud account.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Runs facegate on bundled media: people walk up to the door and the best face of each approach is picked."
    )

    @Option(help: ArgumentHelp("Folder of the demo portraits (default: ./demo/media, then /usr/local/share/facegate/demo).", valueName: "dir"))
    var media: String?

    @OptionGroup var core: QualityCoreOptions

    @Option(help: ArgumentHelp("Write each visit's best face crop here (default: a new temporary folder).", valueName: "dir"))
    var out: String?

    @Flag(help: "Deliver frames at 10 per second, as a camera would, instead of as fast as they are made.")
    var realTime = false

    func run() async throws {
        let media = try DemoMedia.locate(self.media)
        let analyzer = try core.makeAnalyzer(withDescriptor: false)
        let outFolder = try out ?? makeTemporaryFolder(prefix: "facegate-demo")
        try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        let scene = DemoScene(
            visitors: [
                .init(name: "Barack Obama (obama2.jpg)", portrait: try media.image("obama2.jpg")),
                .init(name: "Joe Biden (biden.jpg)", portrait: try media.image("biden.jpg")),
            ],
            approach: SyntheticApproach(frameCount: 30), lingerFrames: 30, emptyFrames: 25, frameInterval: .milliseconds(100),
            realTime: realTime)

        print("facegate demo: \(scene.visitors.count) people walk up to the door, one after the other (frames synthesized from \(media.directory))")
        var selector = ApproachSelector(
            configuration: ApproachConfiguration(cooldown: .seconds(2), qualityGate: core.qualityGate))
        var frames = 0
        var facesSeen = 0
        let clock = ContinuousClock()
        var analysisTime = Duration.zero
        var visits: [Visit] = []
        for try await frame in scene.frames() {
            frames += 1
            let started = clock.now
            let faces = try analyzer.analyze(frame.image).faces
            analysisTime += clock.now - started
            facesSeen += faces.count
            for visit in selector.observe(frame: frame, faces: faces) {
                visits.append(visit)
                try report(visit, who: scene.visitor(atFrame: visit.bestFrameSequence), outFolder: outFolder)
            }
        }
        for visit in selector.finish() {
            visits.append(visit)
            try report(visit, who: scene.visitor(atFrame: visit.bestFrameSequence), outFolder: outFolder)
        }
        let perFrame = frames > 0 ? analysisTime / frames : .zero
        print(
            """
            summary: \(frames) frames, \(facesSeen) faces analysed, \(visits.count) visits \
            (\(visits.filter(\.passedQualityGate).count) would go to the cloud: one call each), \
            \(formatMilliseconds(perFrame)) ms per frame for detection, landmarks and quality; crops in \(outFolder)
            """)
    }

    private func report(_ visit: Visit, who: String?, outFolder: String) throws {
        let crop = try visit.bestFrame.cropped(to: visit.bestFace.attributes.headArea)
        let path = "\(outFolder)/visit-\(visit.number).jpg"
        try Data(try ImageCodec.encodeJPEG(crop)).write(to: URL(fileURLWithPath: path))
        let q = visit.bestFace.quality
        print(
            """
            visit \(visit.number): \(who ?? "unknown") seen \(formatSeconds(visit.firstSeen))-\(formatSeconds(visit.lastSeen)) s \
            in \(visit.framesSeen) frames; best frame \(visit.bestFrameSequence), \
            quality \(String(format: "%.2f", q.faceQualityScore)) \
            (eyes \(Int(q.interEyeDistance.raw)) px, yaw \(Int(q.yaw.raw.rounded()))°, sharpness \(Int(q.sharpness.raw))) \
            \(visit.passedQualityGate ? "passes the gate" : "below the gate: no cloud call"), \
            emitted because \(visit.emittedBecause.rawValue); crop \(path)
            """)
    }
}

func makeTemporaryFolder(prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func formatSeconds(_ duration: Duration) -> String {
    String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
}

func formatMilliseconds(_ duration: Duration) -> String {
    String(format: "%.1f", (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) * 1000)
}
