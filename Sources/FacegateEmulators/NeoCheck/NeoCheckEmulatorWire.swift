import FacegateCore
import Foundation

// The emulator's own view of the FaceCheck JSON, written from the API document
// (not shared with the client, so the client is checked against an independent reading).

struct AddFaceRecordRequest: Decodable {
    var faceImageBase64: String?
    var name: String?
    var surname1: String?
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var faceListId: String?
    var enabled: Bool?
}

struct UpdateFaceRecordRequest: Decodable {
    var identifier: String?
    var faceImageBase64: String?
    var name: String?
    var surname1: String?
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var faceListId: String?
    var enabled: Bool?
}

struct FaceListRequest: Decodable {
    var identifier: String?
    var name: String?
    var description: String?
}

struct AddFaceRecordToListRequest: Decodable {
    var faceRecordId: String?
    var faceRecordExternalIdentifier: String?
    var faceListId: String?
    var faceListName: String?
}

struct IdentifyRecordRequest: Decodable {
    var faceImageBase64: String?
    var faceRecordIdentifier: String?
    var faceRecordExternalIdentifier: String?
    var doFaceQA: Bool?
}

struct IdentifyReferenceImageRequest: Decodable {
    var faceImageBase64: String?
    var referenceImageBase64: String?
    var doFaceQA: Bool?
}

struct IdentifyListRequest: Decodable {
    var faceImageBase64: String?
    var faceListId: String?
    var faceListName: String?
    var doFaceQA: Bool?
}

struct AuthorizationReply: Encodable {
    var token_type = "Bearer"
    var access_token: String
    var expires_in: Int
    var id_token: String
    var refresh_token: String
}

struct ErrorEntry: Codable, Sendable {
    var code: String
    var description: String
}

struct IdentifierResponse: Encodable {
    var identifier: String?
    var errors: [ErrorEntry]?
}

struct ResultResponse: Encodable {
    var result: Bool
    var errors: [ErrorEntry]?
}

struct FaceRecordResponse: Encodable {
    var identifier: String
    var faceImageBase64: String
    var name: String
    var surname1: String
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var enabled: Bool
    var faceListId: String?
    var createdUtc: String

    init(_ record: StoredFaceRecord) {
        identifier = record.identifier
        faceImageBase64 = record.faceImageBase64
        name = record.name
        surname1 = record.surname1
        surname2 = record.surname2
        externalIdentifier = record.externalIdentifier
        additionalDataFileBase64 = record.additionalDataFileBase64
        additionalDataFileName = record.additionalDataFileName
        enabled = record.enabled
        faceListId = record.faceListId
        createdUtc = record.createdUtc
    }
}

struct FaceListResponse: Encodable {
    var identifier: String
    var name: String
    var description: String?
    var createdUtc: String
}

struct IdentifyResponse: Encodable {
    var identifier: String?
    var faceImageBase64: String?
    var name: String?
    var surname1: String?
    var surname2: String?
    var externalIdentifier: String?
    var confidence: Double
    var result: Int
    var resultDescription: String
    var faceQA: FaceQAWire?

    init(confidence: Double, result: Int, description: String, person: StoredFaceRecord? = nil, faceQA: FaceQAWire?) {
        identifier = person?.identifier
        faceImageBase64 = person?.faceImageBase64
        name = person?.name
        surname1 = person?.surname1
        surname2 = person?.surname2
        externalIdentifier = person?.externalIdentifier
        self.confidence = (confidence * 100).rounded() / 100
        self.result = result
        resultDescription = description
        self.faceQA = faceQA
    }
}

struct FaceQAWire: Encodable, Sendable {
    struct Rectangle: Encodable, Sendable {
        var left: Double
        var top: Double
        var width: Double
        var height: Double
    }

    struct FeaturePoints: Encodable, Sendable {
        var rightEye: PixelPoint
        var leftEye: PixelPoint
        var nose: PixelPoint
    }

    struct Checks: Encodable, Sendable {
        var goodVerticalFacePosition: Bool
        var horizontallyCenteredFace: Bool
        var goodExposure: Bool
        var resolution: Bool
        var onlyOneFaceVisible: Bool
        var isFrontal: Bool
        var overallPhotoQuality: Bool
    }

    var faceRectangle: Rectangle
    var featurePoints: FeaturePoints
    var imageFeatures: [String: Double]
    var checks: Checks
}

/// One face record as the emulator keeps it, with the descriptor of its face.
struct StoredFaceRecord: Codable, Sendable {
    var identifier: String
    var faceImageBase64: String
    var name: String
    var surname1: String
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var enabled: Bool
    var faceListId: String?
    var createdUtc: String
    var descriptor: FaceDescriptor
}

struct StoredFaceList: Codable, Sendable {
    var identifier: String
    var name: String
    var description: String?
    var createdUtc: String
}

/// Everything the emulated service keeps across restarts.
struct NeoCheckEmulatorStore: Codable, Sendable {
    var records: [String: StoredFaceRecord] = [:]
    var lists: [String: StoredFaceList] = [:]
    /// Identifications left; nil for an account without a credit limit.
    var credits: Int?
}
