import ArgumentParser
import FacegateApp
import FacegateDemo
import Foundation

/// `facegate demo`: the product on built-in defaults, for a machine with no camera, GPIO or cloud account.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Runs the door controller on built-in defaults: replayed approaches, the NEC ID emulator, a simulated door.",
        discussion: """
            People walk up to the door in frames synthesized from bundled public-domain portraits \
            (demo/media/SOURCES.md). The NEC ID emulator runs on loopback with one of them enrolled; \
            each approach makes one decision, printed as it happens and journaled to SQLite.
            """
    )

    @Option(help: ArgumentHelp("Folder of the demo portraits (default: ./demo/media, then /usr/local/share/facegate/demo).", valueName: "dir"))
    var media: String?

    @Option(help: ArgumentHelp("Folder of the dlib model files.", valueName: "dir"))
    var models: String?

    @Option(help: ArgumentHelp("Keep the demo's state (emulator, journal) here (default: a new temporary folder).", valueName: "dir"))
    var state: String?

    @Flag(help: "Deliver frames at 10 per second, as a camera would, instead of as fast as they are made.")
    var realTime = false

    @Option(help: ArgumentHelp("Serve the kiosk page here (host:port; port 0 picks a free one), or 'off'.", valueName: "address"))
    var kiosk = "127.0.0.1:0"

    func run() async throws {
        // The demo runs the same door (and, with --real-time, as long): the same arenas as `facegate run`.
        MallocArenas.limitForDaemon(environment: ProcessInfo.processInfo.environment)
        let media: DemoMedia
        do {
            media = try DemoMedia.locate(self.media)
        } catch {
            throw ValidationError(describe(error))
        }
        var kioskAddress: ListenAddress?
        if kiosk != "off" {
            guard let address = ListenAddress(parsing: kiosk) else { throw ValidationError("--kiosk must be host:port or off") }
            kioskAddress = address
        }
        let stateDirectory = URL(fileURLWithPath: try state ?? makeTemporaryFolder(prefix: "facegate-demo"))
        print("facegate demo: state in \(stateDirectory.path)")
        let demo = DoorDemo(
            options: .init(
                media: media, modelsDirectory: models, stateDirectory: stateDirectory, realTime: realTime, kiosk: kioskAddress,
                print: { line in print(line) }))
        _ = try await demo.run()
    }
}

func makeTemporaryFolder(prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
