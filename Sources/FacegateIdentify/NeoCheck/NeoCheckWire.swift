import FacegateCore
import Foundation

// The JSON bodies as they travel, kept apart from the public models so the
// wire's quirks (Base64 strings, optional everything) stay in this file.

struct AddFaceRecordBody: Encodable {
    var faceImageBase64: String
    var name: String
    var surname1: String
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var faceListId: String?
    var enabled: Bool?

    init(_ record: NeoCheckNewFaceRecord) {
        faceImageBase64 = Data(record.faceImage).base64EncodedString()
        name = record.name
        surname1 = record.surname1
        surname2 = record.surname2
        externalIdentifier = record.externalIdentifier
        additionalDataFileBase64 = record.additionalData.map { Data($0.contents).base64EncodedString() }
        additionalDataFileName = record.additionalData?.fileName
        faceListId = record.faceListId
        enabled = record.enabled
    }
}

struct UpdateFaceRecordBody: Encodable {
    var identifier: String?
    var faceImageBase64: String?
    var name: String
    var surname1: String
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var faceListId: String?
    var enabled: Bool?

    init(_ update: NeoCheckFaceRecordUpdate) {
        identifier = update.identifier
        faceImageBase64 = update.faceImage.map { Data($0).base64EncodedString() }
        name = update.name
        surname1 = update.surname1
        surname2 = update.surname2
        externalIdentifier = update.externalIdentifier
        additionalDataFileBase64 = update.additionalData.map { Data($0.contents).base64EncodedString() }
        additionalDataFileName = update.additionalData?.fileName ?? update.additionalDataFileName
        faceListId = update.faceListId
        enabled = update.enabled
    }
}

struct FaceListBody: Encodable {
    var identifier: String?
    var name: String
    var description: String?
}

struct AddFaceRecordToListBody: Encodable {
    var faceRecordId: String?
    var faceRecordExternalIdentifier: String?
    var faceListId: String?
    var faceListName: String?

    init(record: NeoCheckRecordReference, list: NeoCheckListReference) {
        switch record {
        case .identifier(let id): faceRecordId = id
        case .externalIdentifier(let id): faceRecordExternalIdentifier = id
        }
        switch list {
        case .identifier(let id): faceListId = id
        case .name(let name): faceListName = name
        }
    }
}

struct IdentifyRecordBody: Encodable {
    var faceImageBase64: String
    var faceRecordIdentifier: String?
    var faceRecordExternalIdentifier: String?
    var doFaceQA: Bool
}

struct IdentifyReferenceBody: Encodable {
    var faceImageBase64: String
    var referenceImageBase64: String
    var doFaceQA: Bool
}

struct IdentifyListBody: Encodable {
    var faceImageBase64: String
    var faceListId: String?
    var faceListName: String?
    var doFaceQA: Bool
}

/// `AddFaceRecordResponse` / `AddFaceListResponse`.
struct IdentifierReply: Decodable {
    var identifier: String?
    var errors: [NeoCheckServiceError]?
}

/// `UpdateFaceRecordResponse` / `UpdateFaceListResponse`.
struct ResultReply: Decodable {
    var result: Bool?
    var errors: [NeoCheckServiceError]?
}

/// The Authorization object of `connect/token`.
struct TokenReply: Decodable {
    var accessToken: String
    var tokenType: String?
    var expiresIn: Double
    var refreshToken: String?

    private enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = try container.decode(String.self, forKey: .accessToken)
        tokenType = try container.decodeIfPresent(String.self, forKey: .tokenType)
        expiresIn = try container.decodeLenientDouble(forKey: .expiresIn)
        refreshToken = try container.decodeIfPresent(String.self, forKey: .refreshToken)
    }
}

struct FaceRecordReply: Decodable {
    var identifier: String
    var faceImageBase64: String?
    var name: String?
    var surname1: String?
    var surname2: String?
    var externalIdentifier: String?
    var additionalDataFileBase64: String?
    var additionalDataFileName: String?
    var enabled: Bool?
    var faceListId: String?
    var createdUtc: String?

    func record() throws(NeoCheckError) -> NeoCheckFaceRecord {
        let image = try faceImageBase64.map { text throws(NeoCheckError) in try decodeBase64(text, field: "faceImageBase64") }
        var attachment: NeoCheckAttachment?
        if let data = additionalDataFileBase64, !data.isEmpty {
            attachment = NeoCheckAttachment(
                fileName: additionalDataFileName ?? "", contents: try decodeBase64(data, field: "additionalDataFileBase64"))
        }
        return NeoCheckFaceRecord(
            identifier: identifier, faceImage: image, name: name ?? "", surname1: surname1 ?? "", surname2: surname2,
            externalIdentifier: externalIdentifier, additionalData: attachment, enabled: enabled,
            faceListId: faceListId, createdUtc: createdUtc)
    }
}

struct IdentifyReply: Decodable {
    var identifier: String?
    var faceImageBase64: String?
    var name: String?
    var surname1: String?
    var surname2: String?
    var externalIdentifier: String?
    var confidence: Double
    var result: NeoCheckResult
    var resultDescription: String?
    var faceQA: NeoCheckFaceQA?
    /// Not in the document's identify reply; read when a service sends it (see `NeoCheckPerson.enabled`).
    var enabled: Bool?

    private enum CodingKeys: String, CodingKey {
        case identifier, faceImageBase64, name, surname1, surname2, externalIdentifier, confidence, result
        case resultDescription, faceQA, enabled
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        identifier = try container.decodeIfPresent(String.self, forKey: .identifier)
        faceImageBase64 = try container.decodeIfPresent(String.self, forKey: .faceImageBase64)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        surname1 = try container.decodeIfPresent(String.self, forKey: .surname1)
        surname2 = try container.decodeIfPresent(String.self, forKey: .surname2)
        externalIdentifier = try container.decodeIfPresent(String.self, forKey: .externalIdentifier)
        confidence = try container.decodeLenientDouble(forKey: .confidence)
        result = try container.decode(NeoCheckResult.self, forKey: .result)
        resultDescription = try container.decodeIfPresent(String.self, forKey: .resultDescription)
        faceQA = try? container.decodeIfPresent(NeoCheckFaceQA.self, forKey: .faceQA)
        // Anything but a plain false is no evidence either way; the door looks the record up.
        enabled = try? container.decodeIfPresent(Bool.self, forKey: .enabled)
    }

    func identification() throws(NeoCheckError) -> NeoCheckIdentification {
        guard confidence.isFinite, (0...100).contains(confidence) else {
            throw NeoCheckError(.malformedResponse, "confidence \(confidence) is outside 0...100")
        }
        var person: NeoCheckPerson?
        if let identifier, !identifier.isEmpty {
            let image = try faceImageBase64.map { text throws(NeoCheckError) in try decodeBase64(text, field: "faceImageBase64") }
            person = NeoCheckPerson(
                identifier: identifier, name: name, surname1: surname1, surname2: surname2,
                externalIdentifier: externalIdentifier, faceImage: image, enabled: enabled)
        }
        return NeoCheckIdentification(
            result: result, confidence: confidence, resultDescription: resultDescription, person: person, faceQA: faceQA)
    }
}

/// Every error body shape the service uses: `{"error": ...}` from the token
/// service, ErrorMessage objects (`message`, `Message` as ASP.NET writes it, or
/// `error_description`), and `{errors: [{code, description}]}` lists.
struct ErrorReply: Decodable {
    var text: String?
    var errors: [NeoCheckServiceError]

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let plain = try? single.decode(String.self) {
            text = plain
            errors = []
            return
        }
        let container = try decoder.container(keyedBy: AnyKey.self)
        var text: String?
        var errors: [NeoCheckServiceError] = []
        for key in container.allKeys {
            switch key.stringValue.lowercased() {
            case "error", "message", "error_description", "errormessage":
                if text == nil { text = try? container.decode(String.self, forKey: key) }
            case "errors":
                errors = (try? container.decode([NeoCheckServiceError].self, forKey: key)) ?? []
            default:
                break
            }
        }
        self.text = text
        self.errors = errors
    }

    static func parse(_ body: [UInt8]) -> ErrorReply? {
        try? JSONDecoder().decode(ErrorReply.self, from: Data(body))
    }

    /// The message, else the first listed error's description or code, that `says` holds for: the service
    /// puts what went wrong in either (its record and list calls list their errors).
    func first(saying says: (String) -> Bool) -> String? {
        if let text, says(text) { return text }
        for error in errors {
            for part in [error.description, error.code] where says(part) { return part }
        }
        return nil
    }
}

func decodeBase64(_ text: String, field: String) throws(NeoCheckError) -> [UInt8] {
    guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
        throw NeoCheckError(.malformedResponse, "\(field) is not Base64")
    }
    return [UInt8](data)
}
