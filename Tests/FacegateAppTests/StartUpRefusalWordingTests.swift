import FacegateApp
import FacegateCore
import FacegateDemo
import FacegateDoor
import FacegateLiveness
import FacegateOfflineCache
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A start-up refusal and a `facegate config check` problem name the key and what is wrong with what it
/// names, never the value: not a path, a device or a chip from the file. Each case points one key at a
/// place whose path carries a marker, makes it wrong in one way, and looks for the marker in the
/// refusal, the problems and everything logged meanwhile.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct StartUpRefusalWordingTests {
    static let marker = "LEAKED-PATH"

    final class Bench {
        let folder: URL
        var configuration = FacegateConfiguration()
        let logs = CapturedLogs()

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("facegate-\(StartUpRefusalWordingTests.marker)-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            configuration.door.name = "wording door"
            configuration.control.socket = nil
            configuration.liveness.enabled = false
            configuration.journal.path = path("journal.sqlite")
            configuration.offlineCache.path = path("offline-cache.sqlite")
            try OfflineCacheKey.generate(to: path("door-key"))
            configuration.offlineCache.key = .file(path("door-key"))
        }

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        /// Writes `text` to `name` with `mode`.
        func write(_ text: String, to name: String, mode: mode_t = 0o600) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
            #expect(chmod(path(name), mode) == 0)
        }

        /// The door's parts opened as `facegate run` opens them, with the parts a case is not about given.
        func open(engine: Bool = true, source: Bool = true, search: Bool = true, lines: Bool = true) throws(DaemonStartError) {
            let logger = logs.logger(label: "wording", level: .trace)
            let engine = engine ? try? TestFaceAnalyzers.video().engine : nil
            _ = try DoorParts.open(
                configuration,
                overrides: .init(
                    source: source ? DemoScene(visitors: []) : nil, search: search ? HeldCloud() : nil,
                    doorLines: lines ? SimulatedDoorLines(logger: logger) : nil, faceEngine: engine, environment: [:]),
                logger: logger)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    enum Case: String, CaseIterable, Sendable {
        case modelsFolderMissing, modelsFolderEmpty, modelsNotShipped, livenessModelsMissing, livenessModelsWithoutSoftmax, replayPathMissing, cameraDeviceMissing
        case cacheKeyMissing, cacheKeyOpenToOthers, cacheKeyASymlink, cacheKeyNotAKey
        case secretFileMissing, secretFileOpenToOthers, secretFileEmpty, journalFolderMissing, relayChipMissing
    }

    @Test(arguments: Case.allCases)
    func aRefusalNamesTheKeyNotThePath(_ wrong: Case) async throws {
        let bench = try Bench()
        var opened: (engine: Bool, source: Bool, search: Bool, lines: Bool) = (true, true, true, true)
        let key: String
        switch wrong {
        case .modelsFolderMissing:
            bench.configuration.modelsDirectory = bench.path("models")
            opened.engine = false
            key = "models"
        case .modelsFolderEmpty:
            try FileManager.default.createDirectory(atPath: bench.path("models"), withIntermediateDirectories: true)
            bench.configuration.modelsDirectory = bench.path("models")
            opened.engine = false
            key = "models"
        case .modelsNotShipped:
            // The shipped files, the descriptor network with a byte more: it loads, and is not the network
            // the offline cache's descriptors were computed with.
            let shipped = try FaceModels.locate(nil)
            try FileManager.default.createDirectory(atPath: bench.path("models"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: shipped.landmarksPath, toPath: bench.path("models/\(FaceModels.landmarksFileName)"))
            var descriptor = try Data(contentsOf: URL(fileURLWithPath: shipped.descriptorPath))
            descriptor.append(0)
            try descriptor.write(to: URL(fileURLWithPath: bench.path("models/\(FaceModels.descriptorFileName)")))
            bench.configuration.modelsDirectory = bench.path("models")
            opened.engine = false
            key = "models"
        case .livenessModelsMissing:
            bench.configuration.liveness.enabled = true
            bench.configuration.liveness.modelsDirectory = bench.path("pad")
            key = "liveness.models"
        case .livenessModelsWithoutSoftmax:
            // Models that load but answer in scores: refused at the start, not at the first visitor.
            try FileManager.default.createDirectory(atPath: bench.path("pad"), withIntermediateDirectories: true)
            for name in [PADModels.wideFileName, PADModels.widestFileName] {
                try Data(OnnxModel.chain(["GlobalAveragePool", "Flatten"])).write(to: URL(fileURLWithPath: bench.path("pad/\(name)")))
            }
            bench.configuration.liveness.enabled = true
            bench.configuration.liveness.modelsDirectory = bench.path("pad")
            key = "liveness.models"
        case .replayPathMissing:
            bench.configuration.camera.source = .replay
            bench.configuration.camera.replayPath = bench.path("clips")
            opened.source = false
            key = "camera.replay_path"
        case .cameraDeviceMissing:
            bench.configuration.camera.source = .v4l2
            bench.configuration.camera.device = bench.path("video9")
            opened.source = false
            key = "camera.device"
        case .cacheKeyMissing:
            bench.configuration.offlineCache.key = .file(bench.path("no-key"))
            key = "offline_cache.key"
        case .cacheKeyOpenToOthers:
            #expect(chmod(bench.path("door-key"), 0o644) == 0)
            key = "offline_cache.key"
        case .cacheKeyASymlink:
            try FileManager.default.createSymbolicLink(atPath: bench.path("linked-key"), withDestinationPath: bench.path("door-key"))
            bench.configuration.offlineCache.key = .file(bench.path("linked-key"))
            key = "offline_cache.key"
        case .cacheKeyNotAKey:
            try bench.write("not a key", to: "bad-key")
            bench.configuration.offlineCache.key = .file(bench.path("bad-key"))
            key = "offline_cache.key"
        case .secretFileMissing, .secretFileOpenToOthers, .secretFileEmpty:
            try bench.write("AKIDWORDING", to: "access-key")
            try bench.write("wording-api-key", to: "api-key")
            switch wrong {
            case .secretFileOpenToOthers: try bench.write("wording-secret", to: "secret-key", mode: 0o644)
            case .secretFileEmpty: try bench.write("", to: "secret-key")
            default: break
            }
            bench.configuration.backend = try FacegateConfiguration(
                yaml: """
                    backend:
                      kind: nec
                      nec:
                        endpoint: https://nec.example.invalid
                        access_key: file:\(bench.path("access-key"))
                        secret_key: file:\(bench.path("secret-key"))
                        api_key: file:\(bench.path("api-key"))
                    """, file: "wording.yaml", fileIsPrivate: true
            ).backend
            opened.search = false
            key = "backend.nec.secret_key"
        case .journalFolderMissing:
            bench.configuration.journal.path = bench.path("no-folder/journal.sqlite")
            key = "journal.path"
        case .relayChipMissing:
            bench.configuration.door.relay = .init(chip: bench.path("gpiochip9"), line: "relay")
            opened.lines = false
            key = "door.relay.chip"
        }

        var said: [String] = []
        // `facegate config check` (and the daemon's check before it opens anything).
        let problems = bench.configuration.environmentProblems(environment: [:])
        said += problems.map { "\($0.path): \($0.message)" }
        // `facegate run` opening the parts. (A journal's folder is only needed at the first write, and a
        // GPIO chip given as a path is not there: both are found by the check above.)
        var refusal: DaemonStartError?
        do {
            try bench.open(engine: opened.engine, source: opened.source, search: opened.search, lines: opened.lines)
        } catch {
            refusal = error
            said.append(error.description)
        }
        said += bench.logs.all

        #expect(refusal != nil || !problems.isEmpty, "\(wrong): nothing was refused")
        if wrong == .livenessModelsWithoutSoftmax {
            // Files that are not the shipped models (here one network under both names) are refused by
            // `config check` too, not only at the start.
            #expect(problems.contains { $0.path == "liveness.models" && $0.message.contains("same network") }, "\(problems)")
        }
        if wrong == .modelsNotShipped {
            let notShipped = "the face descriptor model (\(FaceModels.descriptorFileName)) is not the shipped file"
            #expect(problems.contains { $0.path == "models" && $0.message.contains(notShipped) }, "\(problems)")
            #expect(refusal?.key == "models" && refusal?.message.contains(notShipped) == true, "\(String(describing: refusal))")
        }
        #expect(said.contains { $0.contains(key) }, "\(wrong): the key \(key) is not named: \(said)")
        let leaks = said.filter { $0.contains(Self.marker) }
        #expect(leaks.isEmpty, "\(wrong): the path from the file was repeated: \(leaks)")
    }
}
