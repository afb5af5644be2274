import FacegateCore
import Foundation

/// A finished answer: status and JSON body (empty for the bare 401 and 404).
struct APIReply: Error, Sendable {
    var status: Int
    var body: [UInt8]

    static func json(_ value: some Encodable, status: Int = 200) -> APIReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return .internalError }
        return APIReply(status: status, body: [UInt8](data))
    }

    /// An ErrorMessage object.
    static func message(_ status: Int, _ text: String) -> APIReply {
        json(["message": text], status: status)
    }

    static func invalidContent(_ detail: String) -> APIReply {
        message(400, "Invalid content: " + detail)
    }

    static func errors(_ entries: [ErrorEntry], result: Bool? = nil) -> APIReply {
        if let result {
            return json(ResultResponse(result: result, errors: entries), status: 400)
        }
        return json(IdentifierResponse(identifier: nil, errors: entries), status: 400)
    }

    static let notFound = APIReply(status: 404, body: [])
    static let internalError = APIReply(status: 500, body: [UInt8](#"{"message":"Internal Error"}"#.utf8))
    static let insufficientCredits = message(400, "Insufficient credits")
}

/// Why an image could not be analysed.
enum AnalysisFailure: Error, Sendable {
    case notBase64
    case undecodable(String)
    case engine
}

enum RecordKey: Sendable {
    case identifier(String)
    case externalIdentifier(String)
}

extension NeoCheckEmulatorStore {
    func recordID(_ key: RecordKey) -> String? {
        switch key {
        case .identifier(let id): records[id] == nil ? nil : id
        case .externalIdentifier(let external): records.values.first { $0.externalIdentifier == external }?.identifier
        }
    }

    func listID(identifier: String?, name: String?) -> String? {
        if let identifier, !identifier.isEmpty { return lists[identifier] == nil ? nil : identifier }
        if let name, !name.isEmpty { return lists.values.first { $0.name == name }?.identifier }
        return nil
    }
}

extension NeoCheckEmulator {
    // MARK: Face records

    nonisolated func createRecord(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(AddFaceRecordRequest.self, body)
        var problems = personProblems(name: request.name, surname1: request.surname1)
        let attachment = attachmentProblems(request.additionalDataFileBase64, request.additionalDataFileName, hadFile: false)
        problems += attachment
        guard let image = request.faceImageBase64, !image.isEmpty else {
            throw .errors(problems + [ErrorEntry(code: "FaceImageRequired", description: "faceImageBase64 is required")])
        }
        guard problems.isEmpty else { throw .errors(problems) }
        let descriptor = try await enrolmentDescriptor(image) { .errors([$0]) }
        let identifier = UUID().uuidString.lowercased()
        let record = StoredFaceRecord(
            identifier: identifier, faceImageBase64: image, name: request.name ?? "", surname1: request.surname1 ?? "",
            surname2: request.surname2, externalIdentifier: nonEmpty(request.externalIdentifier),
            additionalDataFileBase64: nonEmpty(request.additionalDataFileBase64),
            additionalDataFileName: nonEmpty(request.additionalDataFileBase64) == nil ? nil : request.additionalDataFileName,
            enabled: request.enabled ?? true, faceListId: nonEmpty(request.faceListId), createdUtc: Self.timestamp(),
            descriptor: descriptor)
        try await mutate { store throws(APIReply) in
            if let external = record.externalIdentifier, store.recordID(.externalIdentifier(external)) != nil {
                throw .errors([ErrorEntry(code: "DuplicateExternalIdentifier", description: "externalIdentifier is already in use")])
            }
            if let list = record.faceListId, store.lists[list] == nil {
                throw .errors([ErrorEntry(code: "FaceListNotFound", description: "faceListId does not name a face list")])
            }
            store.records[identifier] = record
        }
        if await takeCreationFailure() { return .internalError }
        return .json(IdentifierResponse(identifier: identifier))
    }

    nonisolated func updateRecord(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(UpdateFaceRecordRequest.self, body)
        let key: RecordKey
        if let id = nonEmpty(request.identifier) {
            key = .identifier(id)
        } else if let external = nonEmpty(request.externalIdentifier) {
            key = .externalIdentifier(external)
        } else {
            throw .errors([ErrorEntry(code: "FaceRecordRequired", description: "identifier or externalIdentifier is required")], result: false)
        }
        var problems = personProblems(name: request.name, surname1: request.surname1)
        let snapshot = await store.value
        let existing = snapshot.recordID(key).flatMap { snapshot.records[$0] }
        problems += attachmentProblems(
            request.additionalDataFileBase64, request.additionalDataFileName,
            hadFile: existing?.additionalDataFileBase64 != nil)
        guard problems.isEmpty else { throw .errors(problems, result: false) }
        var descriptor: FaceDescriptor?
        if let image = nonEmpty(request.faceImageBase64) {
            descriptor = try await enrolmentDescriptor(image) { .errors([$0], result: false) }
        }
        let newDescriptor = descriptor
        try await mutate { store throws(APIReply) in
            guard let id = store.recordID(key), var record = store.records[id] else {
                throw .errors([ErrorEntry(code: "FaceRecordNotFound", description: "no face record with that identifier")], result: false)
            }
            let external = nonEmpty(request.externalIdentifier)
            if let external, let other = store.recordID(.externalIdentifier(external)), other != id {
                throw .errors([ErrorEntry(code: "DuplicateExternalIdentifier", description: "externalIdentifier is already in use")], result: false)
            }
            let list = nonEmpty(request.faceListId)
            if let list, store.lists[list] == nil {
                throw .errors([ErrorEntry(code: "FaceListNotFound", description: "faceListId does not name a face list")], result: false)
            }
            if let image = nonEmpty(request.faceImageBase64), let newDescriptor {
                record.faceImageBase64 = image
                record.descriptor = newDescriptor
            }
            record.name = request.name ?? record.name
            record.surname1 = request.surname1 ?? record.surname1
            record.surname2 = request.surname2
            record.externalIdentifier = external
            if let file = nonEmpty(request.additionalDataFileBase64) {
                record.additionalDataFileBase64 = file
            }
            if record.additionalDataFileBase64 != nil {
                record.additionalDataFileName = request.additionalDataFileName
            }
            record.faceListId = list
            record.enabled = request.enabled ?? true
            store.records[id] = record
        }
        return .json(ResultResponse(result: true))
    }

    nonisolated func deleteRecord(_ key: RecordKey) async throws(APIReply) -> APIReply {
        try await mutate { store throws(APIReply) in
            guard let id = store.recordID(key) else { throw .notFound }
            store.records[id] = nil
        }
        return .json(true)
    }

    nonisolated func getRecord(_ key: RecordKey) async throws(APIReply) -> APIReply {
        let store = await store.value
        guard let id = store.recordID(key), let record = store.records[id] else { throw .notFound }
        return .json(FaceRecordResponse(record))
    }

    // MARK: Face lists

    nonisolated func createList(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(FaceListRequest.self, body)
        guard let name = nonEmpty(request.name) else {
            throw .errors([ErrorEntry(code: "NameRequired", description: "name is required")])
        }
        let list = StoredFaceList(
            identifier: UUID().uuidString.lowercased(), name: name, description: request.description,
            createdUtc: Self.timestamp())
        try await mutate { store throws(APIReply) in
            guard store.listID(identifier: nil, name: name) == nil else {
                throw .errors([ErrorEntry(code: "DuplicateName", description: "a face list with that name exists")])
            }
            store.lists[list.identifier] = list
        }
        return .json(IdentifierResponse(identifier: list.identifier))
    }

    nonisolated func updateList(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(FaceListRequest.self, body)
        guard let name = nonEmpty(request.name) else {
            throw .errors([ErrorEntry(code: "NameRequired", description: "name is required")], result: false)
        }
        try await mutate { store throws(APIReply) in
            guard let id = nonEmpty(request.identifier), var list = store.lists[id] else {
                throw .errors([ErrorEntry(code: "FaceListNotFound", description: "no face list with that identifier")], result: false)
            }
            if let other = store.listID(identifier: nil, name: name), other != id {
                throw .errors([ErrorEntry(code: "DuplicateName", description: "a face list with that name exists")], result: false)
            }
            list.name = name
            list.description = request.description
            store.lists[id] = list
        }
        return .json(ResultResponse(result: true))
    }

    nonisolated func deleteList(_ identifier: String) async throws(APIReply) -> APIReply {
        try await mutate { store throws(APIReply) in
            guard store.lists[identifier] != nil else { throw .notFound }
            store.lists[identifier] = nil
            for (id, record) in store.records where record.faceListId == identifier {
                store.records[id]?.faceListId = nil
            }
        }
        return .json(true)
    }

    nonisolated func getList(_ identifier: String) async throws(APIReply) -> APIReply {
        guard let list = await store.value.lists[identifier] else { throw .notFound }
        return .json(
            FaceListResponse(identifier: list.identifier, name: list.name, description: list.description, createdUtc: list.createdUtc))
    }

    /// A record is in at most one list (the record has one `faceListId`): adding it moves it.
    nonisolated func addRecordToList(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(AddFaceRecordToListRequest.self, body)
        let key: RecordKey
        if let id = nonEmpty(request.faceRecordId) {
            key = .identifier(id)
        } else if let external = nonEmpty(request.faceRecordExternalIdentifier) {
            key = .externalIdentifier(external)
        } else {
            throw .invalidContent("faceRecordId or faceRecordExternalIdentifier is required")
        }
        guard nonEmpty(request.faceListId) != nil || nonEmpty(request.faceListName) != nil else {
            throw .invalidContent("faceListId or faceListName is required")
        }
        try await mutate { store throws(APIReply) in
            guard let recordID = store.recordID(key),
                let listID = store.listID(identifier: request.faceListId, name: request.faceListName)
            else { throw .notFound }
            store.records[recordID]?.faceListId = listID
        }
        return .json(true)
    }

    // MARK: Identification

    nonisolated func identifyRecord(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(IdentifyRecordRequest.self, body)
        let key: RecordKey
        if let id = nonEmpty(request.faceRecordIdentifier) {
            key = .identifier(id)
        } else if let external = nonEmpty(request.faceRecordExternalIdentifier) {
            key = .externalIdentifier(external)
        } else {
            throw .invalidContent("faceRecordIdentifier or faceRecordExternalIdentifier is required")
        }
        let state = await store.value
        guard let id = state.recordID(key), let record = state.records[id] else { throw .notFound }
        try requireCredit(state)
        let probe = try await probeAnalysis(request.faceImageBase64, field: "faceImageBase64")
        let qa = request.doFaceQA == true ? NeoCheckMatching.faceQA(of: probe) : nil
        guard let descriptor = probe.faces.first?.descriptor else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "No face found in the image", faceQA: qa))
        }
        guard record.enabled || configuration.identifiesDisabledRecords else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "The face record is disabled", faceQA: qa))
        }
        try await spendCredit()
        return .json(answer(probe: probe, descriptor: descriptor, best: record, faceQA: qa))
    }

    nonisolated func identifyReference(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(IdentifyReferenceImageRequest.self, body)
        try requireCredit(await store.value)
        let probe = try await probeAnalysis(request.faceImageBase64, field: "faceImageBase64")
        let reference = try await probeAnalysis(request.referenceImageBase64, field: "referenceImageBase64")
        let qa = request.doFaceQA == true ? NeoCheckMatching.faceQA(of: probe) : nil
        guard let descriptor = probe.faces.first?.descriptor else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "No face found in the image", faceQA: qa))
        }
        guard let referenceDescriptor = reference.faces.first?.descriptor else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "No face found in the reference image", faceQA: qa))
        }
        try await spendCredit()
        let confidence = NeoCheckMatching.confidence(distance: Double(descriptor.distance(to: referenceDescriptor)))
        let (result, text) = Self.verdict(confidence: confidence, faces: probe.faces.count)
        return .json(IdentifyResponse(confidence: confidence, result: result, description: text, faceQA: qa))
    }

    nonisolated func identifyList(_ body: [UInt8]) async throws(APIReply) -> APIReply {
        let request = try decode(IdentifyListRequest.self, body)
        guard nonEmpty(request.faceListId) != nil || nonEmpty(request.faceListName) != nil else {
            throw .invalidContent("faceListId or faceListName is required")
        }
        let state = await store.value
        guard let listID = state.listID(identifier: request.faceListId, name: request.faceListName) else { throw .notFound }
        try requireCredit(state)
        let probe = try await probeAnalysis(request.faceImageBase64, field: "faceImageBase64")
        let qa = request.doFaceQA == true ? NeoCheckMatching.faceQA(of: probe) : nil
        guard let descriptor = probe.faces.first?.descriptor else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "No face found in the image", faceQA: qa))
        }
        let members = state.records.values.filter {
            $0.faceListId == listID && ($0.enabled || configuration.identifiesDisabledRecords)
        }
        guard let best = members.min(by: { descriptor.distance(to: $0.descriptor) < descriptor.distance(to: $1.descriptor) }) else {
            return .json(IdentifyResponse(confidence: 0, result: 1, description: "The face list has no enabled face records", faceQA: qa))
        }
        try await spendCredit()
        return .json(answer(probe: probe, descriptor: descriptor, best: best, faceQA: qa))
    }

    private nonisolated func answer(
        probe: ImageAnalysis, descriptor: FaceDescriptor, best: StoredFaceRecord, faceQA: FaceQAWire?
    ) -> IdentifyResponse {
        let confidence = NeoCheckMatching.confidence(distance: Double(descriptor.distance(to: best.descriptor)))
        let (result, text) = Self.verdict(confidence: confidence, faces: probe.faces.count)
        return IdentifyResponse(
            confidence: confidence, result: result, description: text, person: result == 3 ? nil : best, faceQA: faceQA)
    }

    /// ok(0) or failed(3) by the threshold; warning(2) for a match in an image with more than one face.
    static func verdict(confidence: Double, faces: Int) -> (Int, String) {
        guard NeoCheckMatching.isMatch(confidence: confidence) else { return (3, "The faces do not match") }
        if faces > 1 { return (2, "Match, but the image shows more than one face; the largest was used") }
        return (0, "The faces match")
    }

    // MARK: Credits

    private nonisolated func requireCredit(_ state: NeoCheckEmulatorStore) throws(APIReply) {
        if let credits = state.credits, credits <= 0 { throw .insufficientCredits }
    }

    private nonisolated func spendCredit() async throws(APIReply) {
        try await mutate { store throws(APIReply) in
            guard let credits = store.credits else { return }
            guard credits > 0 else { throw .insufficientCredits }
            store.credits = credits - 1
        }
    }

    // MARK: Helpers

    private nonisolated func mutate(_ change: @escaping @Sendable (inout NeoCheckEmulatorStore) throws(APIReply) -> Void) async throws(APIReply) {
        do {
            try await store.update { (value: inout NeoCheckEmulatorStore) throws in try change(&value) }
        } catch let reply as APIReply {
            throw reply
        } catch {
            throw .internalError
        }
    }

    private nonisolated func decode<Value: Decodable>(_ type: Value.Type, _ body: [UInt8]) throws(APIReply) -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw .invalidContent("the body is not the expected JSON object")
        }
    }

    /// The descriptor of the largest face of an image to enrol, or the error entry saying why not.
    private nonisolated func enrolmentDescriptor(
        _ base64: String, reply: (ErrorEntry) -> APIReply
    ) async throws(APIReply) -> FaceDescriptor {
        let analysis: ImageAnalysis
        do {
            analysis = try await analyze(base64)
        } catch {
            switch error {
            case .notBase64:
                throw reply(ErrorEntry(code: "InvalidFaceImage", description: "faceImageBase64 is not Base64"))
            case .undecodable(let why):
                throw reply(ErrorEntry(code: "InvalidFaceImage", description: "faceImageBase64 is not a usable JPEG or PNG image: \(why)"))
            case .engine:
                throw .internalError
            }
        }
        guard let descriptor = analysis.faces.first?.descriptor else {
            throw reply(ErrorEntry(code: "NoFaceDetected", description: "no face was found in the image"))
        }
        return descriptor
    }

    private nonisolated func probeAnalysis(_ base64: String?, field: String) async throws(APIReply) -> ImageAnalysis {
        guard let base64, !base64.isEmpty else { throw .invalidContent("\(field) is required") }
        do {
            return try await analyze(base64)
        } catch {
            switch error {
            case .notBase64: throw .invalidContent("\(field) is not Base64")
            case .undecodable(let why): throw .invalidContent("\(field) is not a usable JPEG or PNG image: \(why)")
            case .engine: throw .internalError
            }
        }
    }

    /// Runs the face core on the emulator's blocking-work queue.
    private nonisolated func analyze(_ base64: String) async throws(AnalysisFailure) -> ImageAnalysis {
        guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw .notBase64
        }
        let bytes = [UInt8](data)
        let analyzer = self.analyzer
        do {
            return try await faceWork.run { try analyzer.analyze(encoded: bytes, descriptorLimit: 1) }
        } catch let error as ImageError {
            throw .undecodable(error.message)
        } catch {
            throw .engine
        }
    }

    private nonisolated func personProblems(name: String?, surname1: String?) -> [ErrorEntry] {
        var problems: [ErrorEntry] = []
        if nonEmpty(name) == nil { problems.append(ErrorEntry(code: "NameRequired", description: "name is required")) }
        if nonEmpty(surname1) == nil { problems.append(ErrorEntry(code: "Surname1Required", description: "surname1 is required")) }
        return problems
    }

    private nonisolated func attachmentProblems(_ file: String?, _ fileName: String?, hadFile: Bool) -> [ErrorEntry] {
        var problems: [ErrorEntry] = []
        if let file = nonEmpty(file), Data(base64Encoded: file, options: .ignoreUnknownCharacters) == nil {
            problems.append(ErrorEntry(code: "InvalidAdditionalDataFile", description: "additionalDataFileBase64 is not Base64"))
        }
        if nonEmpty(file) != nil || hadFile, nonEmpty(fileName) == nil {
            problems.append(
                ErrorEntry(code: "AdditionalDataFileNameRequired", description: "additionalDataFileName is required with a data file"))
        }
        return problems
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

private func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}
