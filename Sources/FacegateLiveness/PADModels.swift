import Crypto
import Foundation

/// Where the two presentation-attack texture models are (models/pad in the checkout; see its README).
public struct PADModels: Sendable, Equatable {
    /// MiniFASNetV2 on the face box scaled by 2.7.
    public static let wideFileName = "minifasnet-v2-scale2.7.onnx"
    /// MiniFASNetV1SE on the face box scaled by 4.0: more of the surroundings (a phone's bezel, a hand).
    public static let widestFileName = "minifasnet-v1se-scale4.0.onnx"
    /// SHA-256 of the shipped files (models/pad/SHA256SUMS; neither the set-up script nor the package
    /// installs that file, so they are pinned here). A file under the other's name, the same file under
    /// both, or another network would load and answer, with other scores.
    public static let wideSHA256 = "5a53e6bc658efb84aeddd30a86e4b8de9d32b8947a89f0189793fe3fbbab4c4e"
    public static let widestSHA256 = "43a997fc814a2b0ec50d55f995da6d0b596145417f27587529992163df33ad87"

    /// Folders searched, in order, when none is named: `$FACEGATE_PAD_MODELS`, the checkout's own
    /// folder, the folder the set-up script installs to, and the distribution's.
    public static func defaultSearchPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var folders: [String] = []
        if let fromEnvironment = environment["FACEGATE_PAD_MODELS"], !fromEnvironment.isEmpty {
            folders.append(fromEnvironment)
        }
        folders += ["models/pad", "/usr/local/share/facegate/pad", "/usr/share/facegate/pad"]
        return folders
    }

    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var widePath: String { directory + "/" + Self.wideFileName }
    public var widestPath: String { directory + "/" + Self.widestFileName }

    /// Checks that the two files are the shipped models, each under its own name. Errors name the model's
    /// role, never the folder (which may come from the configuration).
    public func checkIdentity() throws(LivenessError) {
        let wide = try Self.digest(widePath, role: "texture_wide")
        let widest = try Self.digest(widestPath, role: "texture_widest")
        if wide == widest {
            throw LivenessError(.modelNotShipped, "the two presentation-attack model files are the same network (\(Self.wideFileName), \(Self.widestFileName))")
        }
        if wide == Self.widestSHA256 || widest == Self.wideSHA256 {
            throw LivenessError(.modelNotShipped, "the presentation-attack model files are swapped (\(Self.wideFileName), \(Self.widestFileName))")
        }
        for (role, name, actual, expected) in [
            ("texture_wide", Self.wideFileName, wide, Self.wideSHA256), ("texture_widest", Self.widestFileName, widest, Self.widestSHA256),
        ] where actual != expected {
            throw LivenessError(.modelNotShipped, "the \(role) model (\(name)) is not the shipped file (its SHA-256 differs; scripts/setup installs it)")
        }
    }

    private static func digest(_ path: String, role: String) throws(LivenessError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LivenessError(.modelInvalid, "the \(role) model cannot be read")
        }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The named folder, or the first default folder that holds both models.
    public static func locate(_ named: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(LivenessError) -> PADModels
    {
        let candidates = named.map { [$0] } ?? defaultSearchPath(environment: environment)
        for folder in candidates {
            let models = PADModels(directory: folder)
            if FileManager.default.fileExists(atPath: models.widePath), FileManager.default.fileExists(atPath: models.widestPath) {
                return models
            }
        }
        throw LivenessError(
            .modelMissing,
            "no presentation-attack models (\(wideFileName), \(widestFileName)) in \(candidates.joined(separator: ", "))")
    }
}

/// Why a liveness cue could not judge.
public struct LivenessError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case modelMissing
        case modelInvalid
        /// A model file that is not the shipped one (another network, the other model, or the same twice).
        case modelNotShipped
        case badInput
        case inferenceFailed
        /// A setting outside its range (a threshold that would judge every face live).
        case invalidSettings
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
