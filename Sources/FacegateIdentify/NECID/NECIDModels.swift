import Foundation
import FacegateCore

// Typed replies of NEC ID v1.1, decoded leniently: the service sends many
// numbers as JSON strings, so numbers decode from either form.

/// One row of `GET /v1.1/subjects`: a subject's event, active (A) or deleted (D).
///
/// The Swagger's `SubjectList` holds `Subject` {id, eventId, attributes}, without `status` or `lastUpdated`
/// (the document's rows have them): both are read when sent. A row without `status` does not count as
/// active, and one without a readable `lastUpdated` as changed, so the revocation sync drops its cached face
/// rather than keep one it cannot vouch for.
public struct NECSubjectEntry: Sendable, Hashable, Codable {
    public var id: String
    public var eventId: String?
    /// "A" for active, "D" for deleted (slots are recycled later).
    public var status: String?
    /// ISO 8601 time of the last change.
    public var lastUpdated: String?

    public init(id: String, eventId: String?, status: String?, lastUpdated: String?) {
        self.id = id
        self.eventId = eventId
        self.status = status
        self.lastUpdated = lastUpdated
    }

    public var isActive: Bool { status == "A" }
}

public struct NECSubjectList: Sendable, Hashable, Codable {
    public var subjects: [NECSubjectEntry]
    public var total: Int

    private enum CodingKeys: String, CodingKey { case subjects, total }

    public init(subjects: [NECSubjectEntry], total: Int) {
        self.subjects = subjects
        self.total = total
    }

    /// Both fields are required: NEC ID answers a gallery with no subjects with a 404, so a 200 without
    /// the list is no listing at all; read as an empty one, every cached subject would be purged.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        subjects = try c.decode([NECSubjectEntry].self, forKey: .subjects)
        total = try c.decodeLenientInt(forKey: .total)
    }
}

/// The reply to registering or updating a subject or an event, read as the Swagger defines it (`Subject`
/// {id, eventId, attributes}; an event's is `Event` {id, score}), which requires none of them. A 201 is a
/// subject made: a reply without the event id or the attributes, or with attributes this client cannot
/// read, must not lose the new id (an installer told "failed" registers the person again, and the gallery
/// holds them twice). The id alone is required: a reply without it names nothing made, and the installer's
/// command says the subject may have been made all the same (`NECIDError.mayHaveBeenCarriedOut`).
public struct NECRegistration: Sendable, Hashable, Codable {
    /// Subject id.
    public var id: String
    public var eventId: String?
    /// The face's attributes; nil when absent or not all readable (they only describe the face).
    public var attributes: FaceAttributes?

    public init(id: String, eventId: String?, attributes: FaceAttributes?) {
        self.id = id
        self.eventId = eventId
        self.attributes = attributes
    }

    private enum CodingKeys: String, CodingKey { case id, eventId, attributes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        eventId = try c.decodeIfPresent(String.self, forKey: .eventId)
        attributes = try? c.decodeNECAttributesIfPresent(forKey: .attributes)
    }
}

/// `GET /v1.1/subjects/{id}/events`: the Swagger's `Events` is {events: [Event {id, score}]}; the document's
/// example adds the subject's id, read when sent.
public struct NECEventList: Sendable, Hashable, Codable {
    public struct Event: Sendable, Hashable, Codable {
        public var id: String
    }

    /// Subject id.
    public var id: String?
    public var events: [Event]
}

public struct NECExtraction: Sendable, Hashable, Codable {
    public struct Face: Sendable, Hashable, Codable {
        public var attributes: FaceAttributes

        public init(attributes: FaceAttributes) { self.attributes = attributes }

        private enum CodingKeys: String, CodingKey { case attributes }

        public init(from decoder: any Decoder) throws {
            attributes = try decoder.container(keyedBy: CodingKeys.self).decodeNECAttributes(forKey: .attributes)
        }
    }

    public var faces: [Face]
}

/// A verification: a score when the service verified the pair, none when it did not (404).
public struct NECVerification: Sendable, Hashable, Codable {
    /// Subject id, for subject-vs-probe verification.
    public var id: String?
    /// 0...9999; `nil` means "not verified".
    public var score: Int?

    public var isVerified: Bool { score != nil }

    public init(id: String?, score: Int?) {
        self.id = id
        self.score = score
    }

    private enum CodingKeys: String, CodingKey { case id, score }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        score = try c.decodeLenientInt(forKey: .score)
    }
}

public struct NECCandidate: Sendable, Hashable, Codable {
    public struct Event: Sendable, Hashable, Codable {
        public var id: String
        public var score: Int

        private enum CodingKeys: String, CodingKey { case id, score }

        public init(id: String, score: Int) {
            self.id = id
            self.score = score
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            score = try c.decodeLenientInt(forKey: .score)
        }
    }

    /// Subject id.
    public var id: String
    /// The best score of the subject's events, 0...9999.
    public var score: Int
    public var events: [Event]

    private enum CodingKeys: String, CodingKey { case id, score, events }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        score = try c.decodeLenientInt(forKey: .score)
        events = try c.decodeIfPresent([Event].self, forKey: .events) ?? []
    }
}

/// A search: candidates best first, empty when nothing passed the threshold (404).
///
/// `candidates` is required in a 200: "no match" is NEC ID's 404, so a 200 without the list is not a
/// documented answer, and reading it as empty would turn a broken reply into "unknown visitor".
public struct NECSearchResult: Sendable, Hashable, Codable {
    public var candidates: [NECCandidate]
    /// The probe's face, absent on "no match"; nil too when not all readable. The Swagger requires none of
    /// its fields and the door never uses them: a reply with good candidates and an attribute left out or
    /// unreadable (`"faceTilt": ""`) is still the search's answer (review: it failed the search, and the
    /// person at the door was refused), as a registration's reply is read.
    public var attributes: FaceAttributes?

    public init(candidates: [NECCandidate], attributes: FaceAttributes?) {
        self.candidates = candidates
        self.attributes = attributes
    }

    private enum CodingKeys: String, CodingKey { case candidates, attributes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        candidates = try c.decode([NECCandidate].self, forKey: .candidates)
        attributes = try? c.decodeNECAttributesIfPresent(forKey: .attributes)
    }
}

/// One file of a bulk registration.
public struct NECBulkRegistration: Sendable, Hashable, Codable {
    /// The file's name in the tenant's bucket.
    public var filename: String
    public var tags: [String]

    public init(filename: String, tags: [String] = []) {
        self.filename = filename
        self.tags = tags
    }

    private enum CodingKeys: String, CodingKey { case filename, tags }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        filename = try c.decode(String.self, forKey: .filename)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
    }
}

public struct NECJob: Sendable, Hashable, Codable {
    public var batchId: String
}

public struct NECJobRecord: Sendable, Hashable, Codable {
    /// The operation's id (not a subject or event id).
    public var id: String
    public var filename: String
    public var attempts: Int
    public var eventId: String?
    public var subjectId: String?
    /// "Success" or "Failed" once `status` is "Processed".
    public var registerStatus: String?
    public var reason: String?
    /// "New" or "Processed".
    public var status: String
    /// The face attributes as a JSON string.
    public var attributesJson: String?

    public var isProcessed: Bool { status == "Processed" }

    private enum CodingKeys: String, CodingKey {
        case id, filename, attempts, eventId, subjectId, registerStatus, reason, status, attributesJson
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        filename = try c.decode(String.self, forKey: .filename)
        attempts = try c.decodeLenientIntIfPresent(forKey: .attempts) ?? 0
        eventId = try c.decodeIfPresent(String.self, forKey: .eventId)
        subjectId = try c.decodeIfPresent(String.self, forKey: .subjectId)
        registerStatus = try c.decodeIfPresent(String.self, forKey: .registerStatus)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        status = try c.decode(String.self, forKey: .status)
        attributesJson = try c.decodeIfPresent(String.self, forKey: .attributesJson)
    }
}

/// One page of a bulk job's progress.
public struct NECJobProgress: Sendable, Hashable, Codable {
    public var batchId: String
    public var processed: [NECJobRecord]
    /// Send as `pagingId` for the next page; empty or absent on the last page.
    public var lastEvaluatedKey: String?

    public var hasMorePages: Bool { !(lastEvaluatedKey ?? "").isEmpty }

    private enum CodingKeys: String, CodingKey {
        case batchId, processed, lastEvaluatedKey
        // The document's example spells it with three s.
        case processsed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batchId = try c.decode(String.self, forKey: .batchId)
        processed =
            try c.decodeIfPresent([NECJobRecord].self, forKey: .processed)
            ?? c.decodeIfPresent([NECJobRecord].self, forKey: .processsed) ?? []
        lastEvaluatedKey = try c.decodeIfPresent(String.self, forKey: .lastEvaluatedKey)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(batchId, forKey: .batchId)
        try c.encode(processed, forKey: .processed)
        try c.encodeIfPresent(lastEvaluatedKey, forKey: .lastEvaluatedKey)
    }
}

public struct NECHealth: Sendable, Hashable, Codable {
    public var status: String
}

public struct NECApplication: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var description: String?
    public var apiKey: String?
    public var faceMinimumQualityScore: Double?
    public var galleryId: String?

    private enum CodingKeys: String, CodingKey { case id, name, description, apiKey, faceMinimumQualityScore, galleryId }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey)
        faceMinimumQualityScore =
            try c.contains(.faceMinimumQualityScore) ? c.decodeLenientDouble(forKey: .faceMinimumQualityScore) : nil
        galleryId = try c.decodeIfPresent(String.self, forKey: .galleryId)
    }
}

public struct NECApplicationList: Sendable, Hashable, Codable {
    public var applications: [NECApplication]
}

public struct NECGallery: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var description: String?
    public var size: Int?
    public var count: Int?
    /// Present on "get gallery".
    public var applications: [NECApplication]?
    /// Present on "create gallery": the key of the application created with it.
    public var apiKey: String?

    private enum CodingKeys: String, CodingKey { case id, name, description, size, count, applications, apiKey }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        size = try c.decodeLenientIntIfPresent(forKey: .size)
        count = try c.decodeLenientIntIfPresent(forKey: .count)
        applications = try c.decodeIfPresent([NECApplication].self, forKey: .applications)
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey)
    }
}

public struct NECGalleryList: Sendable, Hashable, Codable {
    public var galleries: [NECGallery]
}

/// What the service said alongside an error status.
struct NECErrorBody: Decodable {
    var message: String?
    var errorCode: Int?
    var errorType: String?

    private enum CodingKeys: String, CodingKey { case message, errorCode, errorType }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        message = try? c.decodeIfPresent(String.self, forKey: .message)
        errorCode = try? c.decodeLenientIntIfPresent(forKey: .errorCode)
        errorType = try? c.decodeIfPresent(String.self, forKey: .errorType)
    }
}

extension KeyedDecodingContainer {
    /// An integer sent as a JSON number or as a string holding one.
    func decodeLenientInt(forKey key: Key) throws -> Int {
        if let number = try? decode(Int.self, forKey: key) {
            return number
        }
        let text = try decode(String.self, forKey: key)
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "expected an integer, got \"\(text.prefix(40))\"")
        }
        return number
    }

    func decodeLenientIntIfPresent(forKey key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeLenientInt(forKey: key)
    }
}
