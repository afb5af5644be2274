import ArgumentParser
import FacegateCore
import FacegateQuality
import Foundation

/// `facegate faces`: what the local quality core sees in still images.
struct FacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faces",
        abstract: "Finds faces in images and prints their NEC-style attributes and quality measures, one JSON line per image."
    )

    @Flag(help: "Also compute each face's 128-D descriptor.")
    var descriptor = false

    @OptionGroup var core: StillImageCoreOptions

    @Argument(help: "JPEG or PNG images.")
    var images: [String]

    func run() throws {
        let analyzer = try core.makeAnalyzer(withDescriptor: descriptor)
        var allRead = true
        for path in images {
            let line: String
            do {
                let bytes = try readImageFile(path)
                let analysis = try analyzer.analyze(encoded: bytes, descriptorLimit: descriptor ? Int.max : 0)
                line = try JSONLine.encode(FacesReport(image: path, analysis: analysis))
            } catch {
                allRead = false
                line = try JSONLine.encode(ImageFailure(image: path, error: describe(error)))
            }
            print(line)
        }
        if !allRead { throw ExitCode(1) }
    }
}

/// The per-image line of `facegate faces`.
struct FacesReport: Encodable {
    struct Face: Encodable {
        var detectionScore: Double
        var attributes: FaceAttributes
        var quality: QualityMeasures
        var descriptor: [Float]?
    }

    var image: String
    var width: Int
    var height: Int
    var faces: [Face]

    init(image: String, analysis: ImageAnalysis) {
        self.image = image
        width = analysis.width
        height = analysis.height
        faces = analysis.faces.map {
            Face(detectionScore: $0.detectionScore, attributes: $0.attributes, quality: $0.quality, descriptor: $0.descriptor?.values)
        }
    }
}

struct ImageFailure: Encodable {
    var image: String
    var error: String
}

/// Options of the commands that run the local quality core on still photos.
struct StillImageCoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of the dlib model files (default: $FACEGATE_MODELS, then /usr/local/share/facegate/models).", valueName: "dir"))
    var models: String?

    @Option(help: "Images wider than this are scaled down for detection.")
    var detectionWidth = QualityConfiguration.stillImage.detectionWidth

    @Option(help: "Detections scoring below this are dropped.")
    var minDetectionScore = QualityConfiguration.stillImage.minDetectionScore

    func makeAnalyzer(withDescriptor: Bool) throws -> DlibFaceAnalyzer {
        try makeFaceAnalyzer(
            models: models,
            configuration: QualityConfiguration(detectionWidth: detectionWidth, minDetectionScore: minDetectionScore),
            withDescriptor: withDescriptor)
    }
}

/// Options of the commands that run the local quality core on camera frames.
struct QualityCoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of the dlib model files (default: $FACEGATE_MODELS, then /usr/local/share/facegate/models).", valueName: "dir"))
    var models: String?

    @Option(help: "Frames wider than this are scaled down for detection.")
    var detectionWidth = QualityConfiguration().detectionWidth

    @Option(help: "Detections scoring below this are dropped.")
    var minDetectionScore = QualityConfiguration().minDetectionScore

    @Option(help: "Faces below this faceQualityScore (0-1) do not pass the gate.")
    var qualityGate = QualityConfiguration().qualityGate

    var configuration: QualityConfiguration {
        QualityConfiguration(detectionWidth: detectionWidth, minDetectionScore: minDetectionScore, qualityGate: qualityGate)
    }

    func makeAnalyzer(withDescriptor: Bool) throws -> DlibFaceAnalyzer {
        try makeFaceAnalyzer(models: models, configuration: configuration, withDescriptor: withDescriptor)
    }
}

func makeFaceAnalyzer(models: String?, configuration: QualityConfiguration, withDescriptor: Bool) throws -> DlibFaceAnalyzer {
    do {
        return try DlibFaceAnalyzer(
            models: try FaceModels.locate(models), configuration: configuration, withDescriptor: withDescriptor)
    } catch {
        throw ValidationError(describe(error))
    }
}

/// Reads an image file with a clear error for what is not a readable file.
func readImageFile(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CommandError("no such file")
    }
    guard !isDirectory.boolValue else { throw CommandError("is a directory") }
    guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot be read") }
    return [UInt8](data)
}

struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A message for a person: the error's own description, without Swift's type decoration.
func describe(_ error: any Error) -> String {
    String(describing: error)
}

/// One JSON line for standard output. Text in it from a cloud, a cache or a file name cannot reach the terminal
/// as C1 controls or bidirectional overrides, which JSONEncoder leaves raw: they are escaped as `\uXXXX`, still
/// the same JSON.
enum JSONLine {
    static func encode(_ value: some Encodable, snakeCaseKeys: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return TerminalText.escapingInJSON(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
