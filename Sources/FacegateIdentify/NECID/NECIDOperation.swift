import FacegateCore
import Foundation
import NIOHTTP1

/// How `list subjects` sorts by last update.
public enum NECSortDirection: String, Sendable, CaseIterable { case asc, desc }

/// Nothing: the reply of calls that answer with an empty body.
public struct NECEmpty: Sendable, Hashable, Codable {
    public init() {}
}

/// One call of the NEC ID API: where it goes, what it sends, and how its
/// reply reads. Built by the static functions below, which validate their
/// arguments before anything is sent.
public struct NECIDOperation<Value: Sendable>: Sendable {
    public enum Host: String, Sendable {
        /// The biometric API (`api.id.nec.com.au`).
        case biometric
        /// Tenant management (`portal.id.nec.com.au`).
        case portal
    }

    public let name: String
    public let host: Host
    public let method: HTTPMethod
    /// Path segments after the host's prefix, not yet percent-encoded.
    public let pathSegments: [String]
    /// The query string, already encoded.
    public let query: String
    public let body: [UInt8]?
    /// Whether the application's `x-api-key` goes with the call.
    public let sendsAPIKey: Bool
    /// Safe to send twice: reads, and writes that set rather than add.
    public let idempotent: Bool
    /// Decodes a 2xx reply.
    let decodeSuccess: @Sendable ([UInt8]) throws -> Value
    /// The value a 404 stands for when it means "no match" rather than an error.
    let notFoundValue: Value?
    /// Words of the message NEC ID gives that 404 ("Candidates not found": `candidate`): only a 404 whose
    /// message names one of them is the service's "no match" (however it is worded: the document gives the
    /// status's description, not its body). Another's JSON 404 (an API gateway's `{"message":"Not Found"}`
    /// for a route it does not have, at a wrong stage or path, or `{}`) names none, and read as one it denied
    /// everyone as unknown, or emptied the gallery in the revocation sync, with the cloud looking healthy.
    let noMatchWords: [String]

    /// Whether the call deletes what it names (a `DELETE`).
    public var deletes: Bool { method == .DELETE }

    init(
        _ name: String, _ host: Host, _ method: HTTPMethod, _ pathSegments: [String], query: String = "", body: [UInt8]? = nil,
        sendsAPIKey: Bool, idempotent: Bool, notFoundValue: Value? = nil, noMatchWords: [String] = [],
        decodeSuccess: @escaping @Sendable ([UInt8]) throws -> Value
    ) {
        self.name = name
        self.host = host
        self.method = method
        self.pathSegments = pathSegments
        self.query = query
        self.body = body
        self.sendsAPIKey = sendsAPIKey
        self.idempotent = idempotent
        self.notFoundValue = notFoundValue
        self.noMatchWords = noMatchWords
        self.decodeSuccess = decodeSuccess
    }
}

/// Limits NEC ID documents, checked before sending.
public enum NECIDLimits {
    public static let thresholdRange = 0...9999
    public static let defaultThreshold = 7000
    public static let searchLimitRange = 1...50
    public static let maxListLength = 1000
    public static let maxTags = 64
    public static let minimumQualityFloor = 0.45
}

private func decoder<Value: Decodable & Sendable>(_ type: Value.Type) -> @Sendable ([UInt8]) throws -> Value {
    { try JSONDecoder().decode(Value.self, from: Data($0)) }
}

private let emptyDecoder: @Sendable ([UInt8]) throws -> NECEmpty = { _ in NECEmpty() }

private func json(_ value: some Encodable) -> [UInt8] {
    // Encoding plain structs of strings and numbers cannot fail.
    Array((try? JSONEncoder().encode(value)) ?? Data("{}".utf8))
}

private func validateTags(_ tags: [String]) throws(NECIDError) {
    guard tags.count <= NECIDLimits.maxTags else {
        throw NECIDError(.validation, "at most \(NECIDLimits.maxTags) tags, got \(tags.count)")
    }
    for tag in tags { try validateTagName(tag) }
}

private func validateTagName(_ name: String) throws(NECIDError) {
    guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
        throw NECIDError(.validation, "a tag name must not be empty")
    }
}

/// A tag named in the path (created, renamed, deleted) is one segment too: not a dot segment, which would
/// name `/v1.1/tags` itself or the API's root (review).
private func validateTagSegment(_ name: String) throws(NECIDError) {
    try validateTagName(name)
    guard name != ".", name != ".." else { throw NECIDError(.validation, "a tag name must not be '.' or '..'") }
}

/// An id goes into the path as one segment: `.` and `..` would be dot segments, which a proxy or the
/// gateway may resolve (`DELETE …/subjects/S/events/..` is `DELETE …/subjects/S`: the whole subject).
private func validateID(_ id: String, _ what: String) throws(NECIDError) {
    guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else {
        throw NECIDError(.validation, "\(what) must be a non-empty id without '/', and not '.' or '..'")
    }
}

private func validateImage(_ image: [UInt8], _ what: String) throws(NECIDError) {
    guard !image.isEmpty else { throw NECIDError(.validation, "\(what) image is empty") }
}

private struct FaceBody: Encodable {
    var face: String
    var tags: [String]?
}

/// Tags arrive as names (as documented), as `{id, name}` objects, or as one such object (the Swagger's
/// `GET /tags` answers a `Tag`). Each must have its name: `{}` or `[{"id":1}]` is not an empty list.
private let tagListDecoder: @Sendable ([UInt8]) throws -> [String] = { bytes in
    struct Named: Decodable { var name: String }
    let data = Data(bytes)
    if let names = try? JSONDecoder().decode([String].self, from: data) { return names }
    if let tags = try? JSONDecoder().decode([Named].self, from: data) { return tags.map(\.name) }
    return [try JSONDecoder().decode(Named.self, from: data).name]
}

/// The calls of NEC ID v1.1, each validated before anything is sent.
public enum NECIDCall {
    // MARK: Health

    public static func health() -> NECIDOperation<NECHealth> {
        .init("health", .biometric, .GET, ["health"], sendsAPIKey: true, idempotent: true, decodeSuccess: decoder(NECHealth.self))
    }

    // MARK: Subjects

    /// - Parameter emptyWhenNotFound: NEC ID's JSON 404 ("Subjects not found", a gallery with no subjects)
    ///   reads as an empty list instead of an error.
    public static func listSubjects(
        start: Int? = nil, length: Int? = nil, direction: NECSortDirection? = nil, emptyWhenNotFound: Bool = false
    ) throws(NECIDError) -> NECIDOperation<NECSubjectList> {
        if let start, start < 0 { throw NECIDError(.validation, "start must be 0 or more, got \(start)") }
        if let length, !(1...NECIDLimits.maxListLength).contains(length) {
            throw NECIDError(.validation, "length must be 1...\(NECIDLimits.maxListLength), got \(length)")
        }
        var query: [String] = []
        if let start { query.append("start=\(start)") }
        if let length { query.append("length=\(length)") }
        if let direction { query.append("dir=\(direction.rawValue)") }
        return .init(
            "list subjects", .biometric, .GET, ["subjects"], query: query.joined(separator: "&"), sendsAPIKey: true, idempotent: true,
            notFoundValue: emptyWhenNotFound ? NECSubjectList(subjects: [], total: 0) : nil, noMatchWords: ["subject"],
            decodeSuccess: decoder(NECSubjectList.self))
    }

    public static func registerSubject(face: [UInt8], tags: [String] = []) throws(NECIDError) -> NECIDOperation<NECRegistration> {
        try validateImage(face, "face")
        try validateTags(tags)
        return .init(
            "register subject", .biometric, .POST, ["subjects"],
            body: json(FaceBody(face: Data(face).base64EncodedString(), tags: tags.isEmpty ? nil : tags)),
            sendsAPIKey: true, idempotent: false, decodeSuccess: decoder(NECRegistration.self))
    }

    public static func updateSubject(id: String, face: [UInt8], tags: [String] = []) throws(NECIDError) -> NECIDOperation<NECRegistration> {
        try validateID(id, "subject id")
        try validateImage(face, "face")
        try validateTags(tags)
        return .init(
            "update subject", .biometric, .PUT, ["subjects", id],
            body: json(FaceBody(face: Data(face).base64EncodedString(), tags: tags.isEmpty ? nil : tags)),
            sendsAPIKey: true, idempotent: true, decodeSuccess: decoder(NECRegistration.self))
    }

    public static func unregisterSubject(id: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateID(id, "subject id")
        return .init(
            "unregister subject", .biometric, .DELETE, ["subjects", id], sendsAPIKey: true, idempotent: true,
            decodeSuccess: emptyDecoder)
    }

    // MARK: Events

    public static func listEvents(subjectID: String) throws(NECIDError) -> NECIDOperation<NECEventList> {
        try validateID(subjectID, "subject id")
        return .init(
            "list events", .biometric, .GET, ["subjects", subjectID, "events"], sendsAPIKey: true, idempotent: true,
            decodeSuccess: decoder(NECEventList.self))
    }

    public static func registerEvent(
        subjectID: String, face: [UInt8], tags: [String] = []
    ) throws(NECIDError) -> NECIDOperation<NECRegistration> {
        try validateID(subjectID, "subject id")
        try validateImage(face, "face")
        try validateTags(tags)
        return .init(
            "register event", .biometric, .POST, ["subjects", subjectID, "events"],
            body: json(FaceBody(face: Data(face).base64EncodedString(), tags: tags.isEmpty ? nil : tags)),
            sendsAPIKey: true, idempotent: false, decodeSuccess: decoder(NECRegistration.self))
    }

    public static func updateEvent(
        subjectID: String, eventID: String, face: [UInt8], tags: [String] = []
    ) throws(NECIDError) -> NECIDOperation<NECRegistration> {
        try validateID(subjectID, "subject id")
        try validateID(eventID, "event id")
        try validateImage(face, "face")
        try validateTags(tags)
        return .init(
            "update event", .biometric, .PUT, ["subjects", subjectID, "events", eventID],
            body: json(FaceBody(face: Data(face).base64EncodedString(), tags: tags.isEmpty ? nil : tags)),
            sendsAPIKey: true, idempotent: true, decodeSuccess: decoder(NECRegistration.self))
    }

    public static func unregisterEvent(subjectID: String, eventID: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateID(subjectID, "subject id")
        try validateID(eventID, "event id")
        return .init(
            "unregister event", .biometric, .DELETE, ["subjects", subjectID, "events", eventID], sendsAPIKey: true,
            idempotent: true, decodeSuccess: emptyDecoder)
    }

    // MARK: Face

    public static func extract(image: [UInt8], limit: Int? = nil) throws(NECIDError) -> NECIDOperation<NECExtraction> {
        struct Body: Encodable {
            var faces: String
            var limit: Int?
        }
        try validateImage(image, "extract")
        if let limit, limit < 1 { throw NECIDError(.validation, "limit must be 1 or more, got \(limit)") }
        return .init(
            "extract", .biometric, .POST, ["face", "extract"],
            body: json(Body(faces: Data(image).base64EncodedString(), limit: limit)),
            sendsAPIKey: false, idempotent: true, decodeSuccess: decoder(NECExtraction.self))
    }

    /// Face-vs-probe verification; a 404 is "not verified".
    public static func verify(face: [UInt8], probe: [UInt8]) throws(NECIDError) -> NECIDOperation<NECVerification> {
        struct Body: Encodable {
            var face: String
            var probe: String
        }
        try validateImage(face, "face")
        try validateImage(probe, "probe")
        return .init(
            "verify face", .biometric, .POST, ["face", "verify"],
            body: json(Body(face: Data(face).base64EncodedString(), probe: Data(probe).base64EncodedString())),
            sendsAPIKey: false, idempotent: true, notFoundValue: NECVerification(id: nil, score: nil),
            noMatchWords: ["verif"],
            decodeSuccess: decoder(NECVerification.self))
    }

    /// Subject-vs-probe verification; a 404 is "not verified".
    public static func verify(subjectID: String, probe: [UInt8]) throws(NECIDError) -> NECIDOperation<NECVerification> {
        struct Body: Encodable {
            var id: String
            var probe: String
        }
        try validateID(subjectID, "subject id")
        try validateImage(probe, "probe")
        return .init(
            "verify subject", .biometric, .POST, ["face", "verify"],
            body: json(Body(id: subjectID, probe: Data(probe).base64EncodedString())),
            sendsAPIKey: true, idempotent: true, notFoundValue: NECVerification(id: subjectID, score: nil),
            // A subject that is not there is not verified either.
            noMatchWords: ["verif", "subject"],
            decodeSuccess: decoder(NECVerification.self))
    }

    /// 1:N search; a 404 is "no candidates".
    public static func search(
        probe: [UInt8], threshold: Int? = nil, limit: Int? = nil, tags: [String] = []
    ) throws(NECIDError) -> NECIDOperation<NECSearchResult> {
        struct Body: Encodable {
            var probe: String
            var threshold: Int?
            var limit: Int?
            var tags: [String]?
        }
        try validateImage(probe, "probe")
        if let threshold, !NECIDLimits.thresholdRange.contains(threshold) {
            throw NECIDError(.validation, "threshold must be 0...9999, got \(threshold)")
        }
        if let limit, !NECIDLimits.searchLimitRange.contains(limit) {
            throw NECIDError(.validation, "limit must be 1...50, got \(limit)")
        }
        try validateTags(tags)
        return .init(
            "search", .biometric, .POST, ["face", "search"],
            body: json(Body(probe: Data(probe).base64EncodedString(), threshold: threshold, limit: limit, tags: tags.isEmpty ? nil : tags)),
            sendsAPIKey: true, idempotent: true, notFoundValue: NECSearchResult(candidates: [], attributes: nil),
            noMatchWords: ["candidate"],
            decodeSuccess: decoder(NECSearchResult.self))
    }

    // MARK: Tags

    public static func listTags() -> NECIDOperation<[String]> {
        .init("list tags", .biometric, .GET, ["tags"], sendsAPIKey: true, idempotent: true, decodeSuccess: tagListDecoder)
    }

    public static func createTag(_ name: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateTagSegment(name)
        return .init("create tag", .biometric, .POST, ["tags", name], sendsAPIKey: true, idempotent: false, decodeSuccess: emptyDecoder)
    }

    public static func renameTag(_ oldName: String, to newName: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        struct Body: Encodable { var newName: String }
        try validateTagSegment(oldName)
        try validateTagSegment(newName)
        return .init(
            "rename tag", .biometric, .PUT, ["tags", oldName], body: json(Body(newName: newName)), sendsAPIKey: true,
            idempotent: false, decodeSuccess: emptyDecoder)
    }

    public static func deleteTag(_ name: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateTagSegment(name)
        return .init("delete tag", .biometric, .DELETE, ["tags", name], sendsAPIKey: true, idempotent: true, decodeSuccess: emptyDecoder)
    }

    // MARK: Jobs

    public static func bulkRegister(_ registrations: [NECBulkRegistration]) throws(NECIDError) -> NECIDOperation<NECJob> {
        struct Body: Encodable { var registrations: [NECBulkRegistration] }
        guard !registrations.isEmpty else { throw NECIDError(.validation, "a bulk registration needs at least one file") }
        for registration in registrations {
            guard !registration.filename.isEmpty else { throw NECIDError(.validation, "a bulk registration filename is empty") }
            try validateTags(registration.tags)
        }
        return .init(
            "bulk register", .biometric, .POST, ["jobs", "bulkregister"], body: json(Body(registrations: registrations)),
            sendsAPIKey: true, idempotent: false, decodeSuccess: decoder(NECJob.self))
    }

    public static func jobProgress(batchID: String, pagingID: String? = nil) throws(NECIDError) -> NECIDOperation<NECJobProgress> {
        try validateID(batchID, "batch id")
        var segments = ["jobs", "bulkregister", batchID]
        var query = ""
        if let pagingID, !pagingID.isEmpty {
            try validateID(pagingID, "paging id")
            // The Swagger's /jobs/bulkregister/{batchId}/{pagingId} declares pagingId `in: query, required`
            // while its path names it too: it goes in both, so either reading finds it.
            segments.append(pagingID)
            query = "pagingId=" + SigV4Format.percentEncode(pagingID.utf8)
        }
        return .init(
            "bulk register progress", .biometric, .GET, segments, query: query, sendsAPIKey: true, idempotent: true,
            decodeSuccess: decoder(NECJobProgress.self))
    }

    // MARK: Galleries (portal)

    public static func listGalleries() -> NECIDOperation<NECGalleryList> {
        .init("list galleries", .portal, .GET, ["galleries"], sendsAPIKey: false, idempotent: true, decodeSuccess: decoder(NECGalleryList.self))
    }

    public static func gallery(id: String) throws(NECIDError) -> NECIDOperation<NECGallery> {
        try validateID(id, "gallery id")
        return .init("get gallery", .portal, .GET, ["galleries", id], sendsAPIKey: false, idempotent: true, decodeSuccess: decoder(NECGallery.self))
    }

    public static func createGallery(
        name: String, description: String?, faceMinimumQualityScore: Double?, size: Int?
    ) throws(NECIDError) -> NECIDOperation<NECGallery> {
        struct Body: Encodable {
            var name: String
            var description: String?
            var faceMinimumQualityScore: Double?
            var size: Int?
        }
        guard !name.isEmpty else { throw NECIDError(.validation, "a gallery needs a name") }
        try validateQuality(faceMinimumQualityScore)
        if let size, size < 1 { throw NECIDError(.validation, "gallery size must be 1 or more, got \(size)") }
        return .init(
            "create gallery", .portal, .POST, ["galleries"],
            body: json(Body(name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore, size: size)),
            sendsAPIKey: false, idempotent: false, decodeSuccess: decoder(NECGallery.self))
    }

    public static func updateGallery(
        id: String, name: String?, description: String?, size: Int?
    ) throws(NECIDError) -> NECIDOperation<NECGallery> {
        struct Body: Encodable {
            var name: String?
            var description: String?
            var size: Int?
        }
        try validateID(id, "gallery id")
        if let size, size < 1 { throw NECIDError(.validation, "gallery size must be 1 or more, got \(size)") }
        return .init(
            "update gallery", .portal, .PATCH, ["galleries", id], body: json(Body(name: name, description: description, size: size)),
            sendsAPIKey: false, idempotent: true, decodeSuccess: decoder(NECGallery.self))
    }

    public static func deleteGallery(id: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateID(id, "gallery id")
        return .init("delete gallery", .portal, .DELETE, ["galleries", id], sendsAPIKey: false, idempotent: true, decodeSuccess: emptyDecoder)
    }

    // MARK: Applications (portal)

    public static func listApplications() -> NECIDOperation<NECApplicationList> {
        .init(
            "list applications", .portal, .GET, ["applications"], sendsAPIKey: false, idempotent: true,
            decodeSuccess: decoder(NECApplicationList.self))
    }

    public static func application(id: String) throws(NECIDError) -> NECIDOperation<NECApplication> {
        try validateID(id, "application id")
        return .init(
            "get application", .portal, .GET, ["applications", id], sendsAPIKey: false, idempotent: true,
            decodeSuccess: decoder(NECApplication.self))
    }

    public static func createApplication(
        name: String, description: String?, faceMinimumQualityScore: Double?, galleryID: String
    ) throws(NECIDError) -> NECIDOperation<NECApplication> {
        struct Body: Encodable {
            var name: String
            var description: String?
            var faceMinimumQualityScore: Double?
            var galleryId: String
        }
        guard !name.isEmpty else { throw NECIDError(.validation, "an application needs a name") }
        try validateID(galleryID, "gallery id")
        try validateQuality(faceMinimumQualityScore)
        return .init(
            "create application", .portal, .POST, ["applications"],
            body: json(Body(name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore, galleryId: galleryID)),
            sendsAPIKey: false, idempotent: false, decodeSuccess: decoder(NECApplication.self))
    }

    public static func updateApplication(
        id: String, name: String?, description: String?, faceMinimumQualityScore: Double?
    ) throws(NECIDError) -> NECIDOperation<NECApplication> {
        struct Body: Encodable {
            var name: String?
            var description: String?
            var faceMinimumQualityScore: Double?
        }
        try validateID(id, "application id")
        try validateQuality(faceMinimumQualityScore)
        return .init(
            "update application", .portal, .PATCH, ["applications", id],
            body: json(Body(name: name, description: description, faceMinimumQualityScore: faceMinimumQualityScore)),
            sendsAPIKey: false, idempotent: true, decodeSuccess: decoder(NECApplication.self))
    }

    public static func deleteApplication(id: String) throws(NECIDError) -> NECIDOperation<NECEmpty> {
        try validateID(id, "application id")
        return .init(
            "delete application", .portal, .DELETE, ["applications", id], sendsAPIKey: false, idempotent: true,
            decodeSuccess: emptyDecoder)
    }
}

private func validateQuality(_ score: Double?) throws(NECIDError) {
    if let score, !(NECIDLimits.minimumQualityFloor...1).contains(score) {
        throw NECIDError(.validation, "faceMinimumQualityScore must be 0.45...1, got \(score)")
    }
}
