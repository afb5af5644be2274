import FacegateCore
import Foundation

/// Which face record a call is about: NeoCheck's GUID or the caller's own identifier.
public enum NeoCheckRecordReference: Sendable, Hashable {
    case identifier(String)
    case externalIdentifier(String)
}

/// Which face list a call is about: NeoCheck's GUID or the list's name.
public enum NeoCheckListReference: Sendable, Hashable {
    case identifier(String)
    case name(String)
}

/// A custom file kept with a face record.
public struct NeoCheckAttachment: Sendable, Hashable {
    /// File name with extension, as the service requires.
    public var fileName: String
    public var contents: [UInt8]

    public init(fileName: String, contents: [UInt8]) {
        self.fileName = fileName
        self.contents = contents
    }
}

/// What a new face record holds (`POST v1/face`).
public struct NeoCheckNewFaceRecord: Sendable, Hashable {
    /// The portrait, as a JPEG or PNG file's bytes.
    public var faceImage: [UInt8]
    public var name: String
    public var surname1: String
    public var surname2: String?
    public var externalIdentifier: String?
    public var additionalData: NeoCheckAttachment?
    public var faceListId: String?
    /// nil leaves the service default (enabled).
    public var enabled: Bool?

    public init(
        faceImage: [UInt8], name: String, surname1: String, surname2: String? = nil, externalIdentifier: String? = nil,
        additionalData: NeoCheckAttachment? = nil, faceListId: String? = nil, enabled: Bool? = nil
    ) {
        self.faceImage = faceImage
        self.name = name
        self.surname1 = surname1
        self.surname2 = surname2
        self.externalIdentifier = externalIdentifier
        self.additionalData = additionalData
        self.faceListId = faceListId
        self.enabled = enabled
    }
}

/// The new content of an existing face record (`PUT v1/face`).
///
/// The API's update body has no separate key: the record is named by `identifier`
/// when set, else by `externalIdentifier`. Name and first surname are required
/// by the service; the image and attachment are kept when left nil.
public struct NeoCheckFaceRecordUpdate: Sendable, Hashable {
    public var identifier: String?
    public var faceImage: [UInt8]?
    public var name: String
    public var surname1: String
    public var surname2: String?
    public var externalIdentifier: String?
    public var additionalData: NeoCheckAttachment?
    /// Required by the service when the record already has an attachment and none is sent.
    public var additionalDataFileName: String?
    public var faceListId: String?
    public var enabled: Bool?

    public init(
        identifier: String?, faceImage: [UInt8]? = nil, name: String, surname1: String, surname2: String? = nil,
        externalIdentifier: String? = nil, additionalData: NeoCheckAttachment? = nil,
        additionalDataFileName: String? = nil, faceListId: String? = nil, enabled: Bool? = nil
    ) {
        self.identifier = identifier
        self.faceImage = faceImage
        self.name = name
        self.surname1 = surname1
        self.surname2 = surname2
        self.externalIdentifier = externalIdentifier
        self.additionalData = additionalData
        self.additionalDataFileName = additionalDataFileName
        self.faceListId = faceListId
        self.enabled = enabled
    }

    /// An update that keeps everything of `record` (the image and attachment are not re-sent).
    public init(keeping record: NeoCheckFaceRecord) {
        self.init(
            identifier: record.identifier, name: record.name, surname1: record.surname1, surname2: record.surname2,
            externalIdentifier: record.externalIdentifier, additionalDataFileName: record.additionalData?.fileName,
            faceListId: record.faceListId, enabled: record.enabled)
    }
}

/// A stored face record (`GET v1/face/{identifier}`).
public struct NeoCheckFaceRecord: Sendable, Hashable {
    public var identifier: String
    public var faceImage: [UInt8]?
    public var name: String
    public var surname1: String
    public var surname2: String?
    public var externalIdentifier: String?
    public var additionalData: NeoCheckAttachment?
    /// nil: the reply did not say (the document has every record reply carry it). Whoever reads this
    /// for the door takes only `true` as enabled: a record that leaves it out (a serialiser that skips
    /// default values drops exactly `false`) never opens the door.
    public var enabled: Bool?
    public var faceListId: String?
    /// `createdUtc` as the service sent it.
    public var createdUtc: String?

    public init(
        identifier: String, faceImage: [UInt8]?, name: String, surname1: String, surname2: String?,
        externalIdentifier: String?, additionalData: NeoCheckAttachment?, enabled: Bool?, faceListId: String?,
        createdUtc: String?
    ) {
        self.identifier = identifier
        self.faceImage = faceImage
        self.name = name
        self.surname1 = surname1
        self.surname2 = surname2
        self.externalIdentifier = externalIdentifier
        self.additionalData = additionalData
        self.enabled = enabled
        self.faceListId = faceListId
        self.createdUtc = createdUtc
    }

    /// `createdUtc` as a date, when it is in one of the ISO 8601 forms the service uses.
    public var createdAt: Date? { createdUtc.flatMap(NeoCheckDate.parse) }
}

/// A face list (`GET v1/face/list/{identifier}`).
public struct NeoCheckFaceList: Sendable, Hashable, Codable {
    public var identifier: String
    public var name: String
    public var description: String?
    public var createdUtc: String?

    public init(identifier: String, name: String, description: String?, createdUtc: String?) {
        self.identifier = identifier
        self.name = name
        self.description = description
        self.createdUtc = createdUtc
    }

    public var createdAt: Date? { createdUtc.flatMap(NeoCheckDate.parse) }
}

/// The outcome code of an identification.
public enum NeoCheckResult: Int, Sendable, Hashable, Codable, CaseIterable {
    case ok = 0
    case notExecuted = 1
    case warning = 2
    case failed = 3

    public var name: String {
        switch self {
        case .ok: "ok"
        case .notExecuted: "notExecuted"
        case .warning: "warning"
        case .failed: "failed"
        }
    }

    /// Accepts the number, or its name as a string, as .NET services may send either.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            guard let result = NeoCheckResult(rawValue: number) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "result \(number) is not 0...3")
            }
            self = result
            return
        }
        let text = try container.decode(String.self)
        if let result = Self.allCases.first(where: { $0.name.caseInsensitiveCompare(text) == .orderedSame })
            ?? Int(text).flatMap(NeoCheckResult.init(rawValue:))
        {
            self = result
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown result \"\(text.prefix(20))\"")
        }
    }
}

/// Who an identification matched.
public struct NeoCheckPerson: Sendable, Hashable {
    public var identifier: String
    public var name: String?
    public var surname1: String?
    public var surname2: String?
    public var externalIdentifier: String?
    public var faceImage: [UInt8]?
    /// The record's `enabled` flag, when the reply carries one. The document does not list it among
    /// the identify reply's fields; a service that sends it is believed when it says false.
    public var enabled: Bool?

    public init(
        identifier: String, name: String?, surname1: String?, surname2: String?, externalIdentifier: String?,
        faceImage: [UInt8]?, enabled: Bool? = nil
    ) {
        self.identifier = identifier
        self.name = name
        self.surname1 = surname1
        self.surname2 = surname2
        self.externalIdentifier = externalIdentifier
        self.faceImage = faceImage
        self.enabled = enabled
    }
}

/// The answer of any of the three identify calls.
public struct NeoCheckIdentification: Sendable, Hashable {
    public var result: NeoCheckResult
    /// 0...100.
    public var confidence: Double
    public var resultDescription: String?
    /// The matched record, for record and list identifications that matched.
    public var person: NeoCheckPerson?
    /// Present when face QA was asked for and the service sent it.
    public var faceQA: NeoCheckFaceQA?

    public init(
        result: NeoCheckResult, confidence: Double, resultDescription: String?, person: NeoCheckPerson?,
        faceQA: NeoCheckFaceQA?
    ) {
        self.result = result
        self.confidence = confidence
        self.resultDescription = resultDescription
        self.person = person
        self.faceQA = faceQA
    }

    /// Whether the service said, without reservation, that the probe is the person: `ok` only.
    /// `warning` is the service doubting its own answer (the emulator sends it for a probe with more
    /// than one face), `notExecuted` and `failed` are no answer; none of them identifies anyone.
    public var isMatch: Bool { result == .ok }
}

/// Face QA information about the probe image.
///
/// The API document names its content (face rectangle, feature points, image
/// features such as blur and exposure, and the ICAO checks) but not its layout;
/// every part is optional and decoded on its own, so a part in an unexpected
/// shape is dropped instead of failing the identification.
public struct NeoCheckFaceQA: Sendable, Hashable, Codable {
    public struct Rectangle: Sendable, Hashable, Codable {
        public var left: Double
        public var top: Double
        public var width: Double
        public var height: Double

        public init(left: Double, top: Double, width: Double, height: Double) {
            self.left = left
            self.top = top
            self.width = width
            self.height = height
        }
    }

    public struct FeaturePoints: Sendable, Hashable, Codable {
        public var rightEye: PixelPoint?
        public var leftEye: PixelPoint?
        public var nose: PixelPoint?

        public init(rightEye: PixelPoint?, leftEye: PixelPoint?, nose: PixelPoint?) {
            self.rightEye = rightEye
            self.leftEye = leftEye
            self.nose = nose
        }
    }

    /// The ICAO checks the document lists; nil where the service did not assess one.
    public struct Checks: Sendable, Hashable, Codable {
        public var goodVerticalFacePosition: Bool?
        public var horizontallyCenteredFace: Bool?
        public var goodExposure: Bool?
        public var eyesNotRed: Bool?
        public var resolution: Bool?
        public var onlyOneFaceVisible: Bool?
        public var isFrontal: Bool?
        public var overallPhotoQuality: Bool?

        public init(
            goodVerticalFacePosition: Bool? = nil, horizontallyCenteredFace: Bool? = nil, goodExposure: Bool? = nil,
            eyesNotRed: Bool? = nil, resolution: Bool? = nil, onlyOneFaceVisible: Bool? = nil, isFrontal: Bool? = nil,
            overallPhotoQuality: Bool? = nil
        ) {
            self.goodVerticalFacePosition = goodVerticalFacePosition
            self.horizontallyCenteredFace = horizontallyCenteredFace
            self.goodExposure = goodExposure
            self.eyesNotRed = eyesNotRed
            self.resolution = resolution
            self.onlyOneFaceVisible = onlyOneFaceVisible
            self.isFrontal = isFrontal
            self.overallPhotoQuality = overallPhotoQuality
        }
    }

    public var faceRectangle: Rectangle?
    public var featurePoints: FeaturePoints?
    /// Named image measures (blur, exposure, ...), numbers only.
    public var imageFeatures: [String: Double]?
    public var checks: Checks?

    public init(
        faceRectangle: Rectangle? = nil, featurePoints: FeaturePoints? = nil, imageFeatures: [String: Double]? = nil,
        checks: Checks? = nil
    ) {
        self.faceRectangle = faceRectangle
        self.featurePoints = featurePoints
        self.imageFeatures = imageFeatures
        self.checks = checks
    }

    private enum CodingKeys: String, CodingKey { case faceRectangle, featurePoints, imageFeatures, checks }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        faceRectangle = try? container.decodeIfPresent(Rectangle.self, forKey: .faceRectangle)
        featurePoints = try? container.decodeIfPresent(FeaturePoints.self, forKey: .featurePoints)
        checks = try? container.decodeIfPresent(Checks.self, forKey: .checks)
        if let features = try? container.decodeIfPresent([String: LenientNumber].self, forKey: .imageFeatures) {
            imageFeatures = features.compactMapValues(\.value)
        }
    }

    /// A number, or nothing when the value is of another type.
    private struct LenientNumber: Decodable {
        var value: Double?

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            value = (try? container.decode(Double.self)).flatMap { $0.isFinite ? $0 : nil }
        }
    }
}

/// The date forms seen from .NET services: ISO 8601 with or without fractional
/// seconds, with or without a zone (then UTC, as the field name says).
enum NeoCheckDate {
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        for formatter in [withFraction, plain] {
            if let date = formatter.date(from: text) ?? formatter.date(from: text + "Z") {
                return date
            }
        }
        return nil
    }
}
