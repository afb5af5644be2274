import Foundation

/// Where the two presentation-attack texture models are (models/pad in the checkout; see its README).
public struct PADModels: Sendable, Equatable {
    /// MiniFASNetV2 on the face box scaled by 2.7.
    public static let wideFileName = "minifasnet-v2-scale2.7.onnx"
    /// MiniFASNetV1SE on the face box scaled by 4.0: more of the surroundings (a phone's bezel, a hand).
    public static let widestFileName = "minifasnet-v1se-scale4.0.onnx"

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
