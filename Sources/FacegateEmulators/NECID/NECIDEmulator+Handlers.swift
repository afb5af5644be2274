import FacegateCore
import Foundation
import HummingbirdCore
import Logging

extension NECIDEmulatorService {
    // MARK: Start-up

    /// Creates the first gallery and application (for `--api-key`) on a fresh
    /// state folder, and queues bulk jobs a restart interrupted.
    func prepare() async throws {
        let configuration = self.configuration
        try await portal.update { state in
            guard !state.applications.contains(where: { $0.apiKey == configuration.apiKey }) else { return }
            let gallery = NECPortalState.Gallery(
                id: Self.newID(), name: "default-\(state.galleries.count + 1)", description: "Created by the emulator",
                size: 10000, faceMinimumQualityScore: configuration.defaultMinimumQuality)
            state.galleries.append(gallery)
            state.applications.append(
                .init(
                    id: Self.newID(), name: "facegate", description: "Created by the emulator", apiKey: configuration.apiKey,
                    faceMinimumQualityScore: configuration.defaultMinimumQuality, galleryId: gallery.id))
        }
        for (galleryId, contents) in await biometric.value.galleries {
            for job in contents.jobs where job.records.contains(where: { $0.status == "New" }) {
                jobQueue.yield(JobTicket(galleryId: galleryId, batchId: job.batchId))
            }
        }
    }

    // MARK: Calls without a gallery

    func handleOpen(_ route: Route, body: [UInt8]) async throws -> NECReply {
        switch route {
        case .health:
            return .json(200, ["status": "OK"])
        case .extract:
            struct Body: Decodable {
                var faces: String?
                var limit: Int?
            }
            let request = try Self.decodeBody(Body.self, body)
            let image = try Self.image(request.faces, field: "faces")
            let limit = request.limit ?? 10
            guard (1...20).contains(limit) else { throw NECRejection.invalid("limit must be between 1 and 20.") }
            let analysis = try await analyze(image, descriptors: 0)
            guard !analysis.faces.isEmpty else { throw Self.noFace }
            struct Face: Encodable { var attributes: NECWireAttributes }
            return .json(200, ["faces": analysis.faces.prefix(limit).map { Face(attributes: NECWireAttributes($0.attributes)) }])
        case .verify:
            struct Body: Decodable {
                var face: String?
                var probe: String?
            }
            let request = try Self.decodeBody(Body.self, body)
            let face = try await probeFace(try Self.image(request.face, field: "face"), minimumQuality: nil)
            let probe = try await probeFace(try Self.image(request.probe, field: "probe"), minimumQuality: nil)
            let score = NECMatchScore.score(face.descriptor, probe.descriptor)
            guard score >= Self.defaultThreshold else { return .message(404, "Subject not verified") }
            return .json(200, ["score": score])
        default:
            return try await handlePortal(route, body: body)
        }
    }

    // MARK: Calls on a gallery

    func handleGallery(
        _ route: Route, application: NECPortalState.Application, query: FlatDictionary<Substring, Substring>, body: [UInt8]
    ) async throws -> NECReply {
        let galleryId = application.galleryId
        let minimumQuality = application.faceMinimumQualityScore
        switch route {
        case .listSubjects:
            let start = try Self.intParameter(query["start"], name: "start") ?? 0
            let length = try Self.intParameter(query["length"], name: "length") ?? 1000
            guard start >= 0 else { throw NECRejection.invalid("start must not be negative.") }
            guard (1...1000).contains(length) else { throw NECRejection.invalid("length must be between 1 and 1000.") }
            let direction = query["dir"].map(String.init) ?? "asc"
            guard direction == "asc" || direction == "desc" else { throw NECRejection.invalid("dir must be asc or desc.") }
            var rows = await contents(galleryId).rows
            guard !rows.isEmpty else { return .message(404, "Subjects not found") }
            rows.sort { direction == "asc" ? $0.lastUpdated < $1.lastUpdated : $0.lastUpdated > $1.lastUpdated }
            struct Entry: Encodable { var id, eventId, status, lastUpdated: String }
            struct List: Encodable {
                var subjects: [Entry]
                var total: Int
            }
            let page = rows.dropFirst(start).prefix(length).map {
                Entry(id: $0.subjectId, eventId: $0.eventId, status: $0.status, lastUpdated: $0.lastUpdated)
            }
            return .json(200, List(subjects: Array(page), total: rows.count))

        case .registerSubject, .updateSubject, .registerEvent, .updateEvent:
            let request = try Self.decodeBody(FaceRequest.self, body)
            let image = try Self.image(request.face, field: "face")
            let tags = request.tags ?? []
            try await checkTags(tags, galleryId: galleryId)
            let face = try await registrationFace(image, minimumQuality: minimumQuality)
            let reply = try await register(route, face: face, tags: tags, galleryId: galleryId)
            if configuration.registrationReplyDelay > .zero { try? await Task.sleep(for: configuration.registrationReplyDelay) }
            return reply

        case .unregisterSubject(let subjectId):
            let found = try await biometric.update { state -> Bool in
                let now = Self.timestamp()
                var found = false
                for i in state.galleries[galleryId, default: .init()].rows.indices
                where state.galleries[galleryId]!.rows[i].subjectId == subjectId && state.galleries[galleryId]!.rows[i].isActive {
                    state.galleries[galleryId]!.rows[i].status = "D"
                    state.galleries[galleryId]!.rows[i].lastUpdated = now
                    found = true
                }
                return found
            }
            return found ? .empty(204) : .message(404, "Subject with id not found")

        case .listEvents(let subjectId):
            let rows = await contents(galleryId).rows.filter { $0.subjectId == subjectId && $0.isActive }
            guard !rows.isEmpty else { return .message(404, "Subject with id not found") }
            struct Event: Encodable { var id: String }
            struct Events: Encodable {
                var id: String
                var events: [Event]
            }
            return .json(200, Events(id: subjectId, events: rows.map { Event(id: $0.eventId) }))

        case .unregisterEvent(let subjectId, let eventId):
            let found = try await biometric.update { state -> Bool in
                guard let i = state.galleries[galleryId]?.rows.firstIndex(where: {
                    $0.subjectId == subjectId && $0.eventId == eventId && $0.isActive
                }) else { return false }
                state.galleries[galleryId]!.rows[i].status = "D"
                state.galleries[galleryId]!.rows[i].lastUpdated = Self.timestamp()
                return true
            }
            return found ? .empty(204) : .message(404, "Subject with id and eventId not found")

        case .verify:
            struct Body: Decodable {
                var id: String?
                var probe: String?
            }
            let request = try Self.decodeBody(Body.self, body)
            guard let subjectId = request.id, !subjectId.isEmpty else { throw NECRejection.invalid("id property must be provided.") }
            let probe = try await probeFace(try Self.image(request.probe, field: "probe"), minimumQuality: nil)
            let rows = await contents(galleryId).rows.filter { $0.subjectId == subjectId && $0.isActive }
            let best = rows.map { NECMatchScore.score($0.descriptor, probe.descriptor) }.max()
            guard let best, best >= Self.defaultThreshold else { return .message(404, "Subject not verified") }
            struct Verified: Encodable {
                var id: String
                var score: Int
            }
            return .json(200, Verified(id: subjectId, score: best))

        case .search:
            struct Body: Decodable {
                var probe: String?
                var threshold: Int?
                var limit: Int?
                var tags: [String]?
            }
            let request = try Self.decodeBody(Body.self, body)
            let image = try Self.image(request.probe, field: "probe")
            let threshold = request.threshold ?? Self.defaultThreshold
            let limit = request.limit ?? 10
            guard (0...9999).contains(threshold) else { throw NECRejection.invalid("threshold must be between 0 and 9999.") }
            guard (1...50).contains(limit) else { throw NECRejection.invalid("limit must be between 1 and 50.") }
            let tags = request.tags ?? []
            try await checkTags(tags, galleryId: galleryId)
            let probe = try await probeFace(image, minimumQuality: nil)
            return await search(probe, threshold: threshold, limit: limit, tags: Set(tags), galleryId: galleryId)

        case .listTags:
            return .json(200, await contents(galleryId).tags)

        case .createTag(let name):
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw NECRejection.invalid("Tag name must not be empty.") }
            try await biometric.update { state in
                var gallery = state.galleries[galleryId, default: .init()]
                guard !gallery.tags.contains(name) else { throw NECRejection(.error(.duplicate, "Tag \(name) already exists.")) }
                guard gallery.tags.count < 64 else { throw NECRejection.invalid("A gallery has at most 64 tags.") }
                gallery.tags.append(name)
                state.galleries[galleryId] = gallery
            }
            return .empty(200)

        case .renameTag(let oldName):
            struct Body: Decodable { var newName: String? }
            let request = try Self.decodeBody(Body.self, body)
            guard let newName = request.newName, !newName.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw NECRejection.invalid("newName property must be provided and not be empty.")
            }
            try await biometric.update { state in
                var gallery = state.galleries[galleryId, default: .init()]
                guard let index = gallery.tags.firstIndex(of: oldName) else { throw NECRejection(.message(404, "Tag not found")) }
                guard !gallery.tags.contains(newName) else { throw NECRejection(.error(.duplicate, "Tag \(newName) already exists.")) }
                gallery.tags[index] = newName
                for i in gallery.rows.indices { gallery.rows[i].tags = gallery.rows[i].tags.map { $0 == oldName ? newName : $0 } }
                state.galleries[galleryId] = gallery
            }
            return .empty(200)

        case .deleteTag(let name):
            try await biometric.update { state in
                guard let index = state.galleries[galleryId]?.tags.firstIndex(of: name) else {
                    throw NECRejection(.message(404, "Tag not found"))
                }
                // As documented, existing subjects and events keep the tag.
                state.galleries[galleryId]!.tags.remove(at: index)
            }
            return .empty(200)

        case .bulkRegister:
            struct Registration: Decodable {
                var filename: String?
                var tags: [String]?
            }
            struct Body: Decodable { var registrations: [Registration]? }
            let request = try Self.decodeBody(Body.self, body)
            guard let registrations = request.registrations, !registrations.isEmpty else {
                throw NECRejection.invalid("registrations property must be provided.")
            }
            for registration in registrations {
                guard let filename = registration.filename, !filename.isEmpty else {
                    throw NECRejection.invalid("Each registration needs a filename.")
                }
                try await checkTags(registration.tags ?? [], galleryId: galleryId)
            }
            let job = NECGalleryContents.Job(
                batchId: Self.newID(),
                records: registrations.map {
                    .init(
                        id: Self.newID(), filename: $0.filename ?? "", tags: $0.tags ?? [], attempts: 0, eventId: "", subjectId: "",
                        registerStatus: "", reason: "", status: "New", attributesJson: "")
                })
            try await biometric.update { $0.galleries[galleryId, default: .init()].jobs.append(job) }
            jobQueue.yield(JobTicket(galleryId: galleryId, batchId: job.batchId))
            return .json(200, ["batchId": job.batchId])

        case .jobProgress(let batchId, let pagingId):
            guard let job = await contents(galleryId).jobs.first(where: { $0.batchId == batchId }) else {
                return .message(404, "Batch not found")
            }
            var start = 0
            if let pagingId {
                guard let index = job.records.firstIndex(where: { $0.id == pagingId }) else {
                    throw NECRejection.invalid("pagingId is not a key of this batch.")
                }
                start = index + 1
            }
            let page = Array(job.records.dropFirst(start).prefix(configuration.jobPageSize))
            let more = start + page.count < job.records.count
            struct Record: Encodable {
                var id, filename, attempts, eventId, subjectId, registerStatus, reason, status, attributesJson: String
            }
            struct Progress: Encodable {
                var batchId: String
                var processed: [Record]
                var lastEvaluatedKey: String
            }
            return .json(
                200,
                Progress(
                    batchId: batchId,
                    processed: page.map {
                        Record(
                            id: $0.id, filename: $0.filename, attempts: String($0.attempts), eventId: $0.eventId, subjectId: $0.subjectId,
                            registerStatus: $0.registerStatus, reason: $0.reason, status: $0.status, attributesJson: $0.attributesJson)
                    }, lastEvaluatedKey: more ? (page.last?.id ?? "") : ""))

        default:
            return .message(403, "Missing Authentication Token")
        }
    }

    // MARK: Registration and matching

    struct FaceRequest: Decodable {
        var face: String?
        var tags: [String]?
    }

    struct MatchedFace {
        var attributes: FaceAttributes
        var descriptor: FaceDescriptor
        var quality: Double
    }

    private func register(_ route: Route, face: MatchedFace, tags: [String], galleryId: String) async throws -> NECReply {
        let gallerySize = await portal.value.galleries.first { $0.id == galleryId }?.size ?? 0
        let (subjectId, eventId, status) = try await biometric.update { state -> (String, String, Int) in
            var gallery = state.galleries[galleryId, default: .init()]
            let now = Self.timestamp()
            func newRow(_ subjectId: String, _ eventId: String) -> NECGalleryContents.EventRow {
                .init(
                    subjectId: subjectId, eventId: eventId, status: "A", lastUpdated: now, tags: tags, descriptor: face.descriptor,
                    attributes: face.attributes)
            }
            func retire(where matches: (NECGalleryContents.EventRow) -> Bool) -> [String] {
                var retired: [String] = []
                for i in gallery.rows.indices where gallery.rows[i].isActive && matches(gallery.rows[i]) {
                    gallery.rows[i].status = "D"
                    gallery.rows[i].lastUpdated = now
                    retired.append(gallery.rows[i].eventId)
                }
                return retired
            }
            let result: (String, String, Int)
            switch route {
            case .registerSubject:
                guard gallery.activeSubjectCount < gallerySize else { throw NECRejection.invalid("The gallery is full (size \(gallerySize)).") }
                result = (Self.newID(), Self.newID(), 201)
            case .updateSubject(let subjectId):
                let retired = retire { $0.subjectId == subjectId }
                guard let first = retired.first else { throw NECRejection(.message(404, "Subject with id not found")) }
                result = (subjectId, first, 200)
            case .registerEvent(let subjectId):
                guard gallery.rows.contains(where: { $0.subjectId == subjectId && $0.isActive }) else {
                    throw NECRejection(.message(404, "Subject with id not found"))
                }
                result = (subjectId, Self.newID(), 201)
            case .updateEvent(let subjectId, let eventId):
                guard !retire(where: { $0.subjectId == subjectId && $0.eventId == eventId }).isEmpty else {
                    throw NECRejection(.message(404, "Subject with id and eventId not found"))
                }
                result = (subjectId, eventId, 200)
            default:
                throw NECRejection(.message(500, "Internal server error"))
            }
            gallery.rows.append(newRow(result.0, result.1))
            state.galleries[galleryId] = gallery
            return result
        }
        struct Registered: Encodable {
            var id: String
            var eventId: String
            var attributes: NECWireAttributes
        }
        return .json(status, Registered(id: subjectId, eventId: eventId, attributes: NECWireAttributes(face.attributes)))
    }

    private func search(_ probe: MatchedFace, threshold: Int, limit: Int, tags: Set<String>, galleryId: String) async -> NECReply {
        struct Event: Encodable {
            var id: String
            var score: Int
        }
        struct Candidate: Encodable {
            var id: String
            var score: Int
            var events: [Event]
        }
        struct Result: Encodable {
            var candidates: [Candidate]
            var attributes: NECWireAttributes
        }
        // The document: `limit` is the "limit of total events returned". The best `limit` events
        // over the threshold are kept, then grouped by subject; a subject with many close events
        // can fill the answer on its own.
        var hits: [(subjectId: String, event: Event)] = []
        for row in await contents(galleryId).rows where row.isActive && (tags.isEmpty || !tags.isDisjoint(with: row.tags)) {
            let score = NECMatchScore.score(row.descriptor, probe.descriptor)
            if score >= threshold { hits.append((row.subjectId, Event(id: row.eventId, score: score))) }
        }
        hits.sort { $0.event.score == $1.event.score ? $0.event.id < $1.event.id : $0.event.score > $1.event.score }
        var bySubject: [String: [Event]] = [:]
        for hit in hits.prefix(limit) { bySubject[hit.subjectId, default: []].append(hit.event) }
        guard !bySubject.isEmpty else { return .message(404, "Candidates not found") }
        var candidates: [Candidate] = []
        for (id, events) in bySubject {
            let sorted = events.sorted { (a: Event, b: Event) in a.score > b.score }
            candidates.append(Candidate(id: id, score: sorted[0].score, events: sorted))
        }
        candidates.sort { (a: Candidate, b: Candidate) in a.score == b.score ? a.id < b.id : a.score > b.score }
        return .json(200, Result(candidates: candidates, attributes: NECWireAttributes(probe.attributes)))
    }

    private func analyze(_ image: [UInt8], descriptors: Int) async throws -> ImageAnalysis {
        do {
            return try await faces.analyze(image, descriptorLimit: descriptors)
        } catch let error as ImageError {
            throw NECRejection.invalid("The image could not be read: \(error.message)")
        }
    }

    /// The one face of a registration image, its quality checked.
    func registrationFace(_ image: [UInt8], minimumQuality: Double) async throws -> MatchedFace {
        let analysis = try await analyze(image, descriptors: 1)
        guard !analysis.faces.isEmpty else { throw Self.noFace }
        guard analysis.faces.count == 1 else {
            throw NECRejection(.error(.multipleFaces, "Multiple faces were found in the image. Only one is permitted for this type of request."))
        }
        return try matched(analysis.faces[0], minimumQuality: minimumQuality)
    }

    /// The largest face of a probe image. The application's minimum quality applies to
    /// registrations only ("prior to registration", as NEC ID's document puts it): a
    /// door's probe is judged by its score, not refused.
    private func probeFace(_ image: [UInt8], minimumQuality: Double?) async throws -> MatchedFace {
        let analysis = try await analyze(image, descriptors: 1)
        guard let face = analysis.faces.first else { throw Self.noFace }
        return try matched(face, minimumQuality: minimumQuality)
    }

    private func matched(_ face: DetectedFace, minimumQuality: Double?) throws -> MatchedFace {
        let quality = face.attributes.faceQualityScore
        if let minimumQuality, quality < minimumQuality {
            throw NECRejection(
                .error(.poorQuality, "The overall faceQualityScore \(String(format: "%.3f", quality)) is below the minimum \(minimumQuality)."))
        }
        guard let descriptor = face.descriptor else {
            throw NECRejection(.message(500, "Internal server error"))
        }
        return MatchedFace(attributes: face.attributes, descriptor: descriptor, quality: quality)
    }

    private func checkTags(_ tags: [String], galleryId: String) async throws {
        guard tags.count <= 64 else { throw NECRejection.invalid("At most 64 tags.") }
        let known = Set(await contents(galleryId).tags)
        if let unknown = tags.first(where: { !known.contains($0) }) {
            throw NECRejection.invalid("Tag \(unknown) does not exist.")
        }
    }

    func contents(_ galleryId: String) async -> NECGalleryContents {
        await biometric.value.galleries[galleryId] ?? .init()
    }

    // MARK: Bulk jobs

    /// Works through queued bulk jobs, one record at a time, until cancelled.
    func runJobs() async {
        for await ticket in jobs {
            await process(ticket)
        }
    }

    private func process(_ ticket: JobTicket) async {
        let application = await portal.value.applications.first { $0.galleryId == ticket.galleryId }
        let minimumQuality = application?.faceMinimumQualityScore ?? configuration.defaultMinimumQuality
        while !Task.isCancelled {
            guard let job = await contents(ticket.galleryId).jobs.first(where: { $0.batchId == ticket.batchId }),
                let record = job.records.first(where: { $0.status == "New" })
            else { return }
            var outcome = record
            outcome.attempts += 1
            outcome.status = "Processed"
            do {
                let image = try bucketFile(record.filename)
                try await checkTags(record.tags, galleryId: ticket.galleryId)
                let face = try await registrationFace(image, minimumQuality: minimumQuality)
                let reply = try await register(.registerSubject, face: face, tags: record.tags, galleryId: ticket.galleryId)
                struct Registered: Decodable {
                    var id: String
                    var eventId: String
                }
                let registered = try JSONDecoder().decode(Registered.self, from: Data(reply.body))
                let attributes = try JSONEncoder().encode(NECWireAttributes(face.attributes))
                outcome.subjectId = registered.id
                outcome.eventId = registered.eventId
                outcome.registerStatus = "Success"
                outcome.attributesJson = String(decoding: attributes, as: UTF8.self)
            } catch let rejection as NECRejection {
                outcome.registerStatus = "Failed"
                outcome.reason = Self.reason(rejection.reply)
            } catch {
                outcome.registerStatus = "Failed"
                outcome.reason = "\(error)"
            }
            do {
                try await biometric.update { state in
                    guard let j = state.galleries[ticket.galleryId]?.jobs.firstIndex(where: { $0.batchId == ticket.batchId }),
                        let r = state.galleries[ticket.galleryId]!.jobs[j].records.firstIndex(where: { $0.id == record.id })
                    else { return }
                    state.galleries[ticket.galleryId]!.jobs[j].records[r] = outcome
                }
            } catch {
                logger.error("cannot save bulk job progress", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// A file of the stand-in bucket; names that would leave the folder are refused.
    private func bucketFile(_ filename: String) throws -> [UInt8] {
        guard !filename.contains("/"), !filename.contains("\\"), filename != ".", filename != ".." else {
            throw NECRejection.invalid("Invalid filename")
        }
        let url = configuration.bucketDirectory.appendingPathComponent(filename)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw NECRejection.invalid("File not found in bucket")
        }
        return Array(data)
    }

    private static func reason(_ reply: NECReply) -> String {
        struct Message: Decodable { var message: String }
        return (try? JSONDecoder().decode(Message.self, from: Data(reply.body)).message) ?? "HTTP \(reply.status)"
    }

    // MARK: Helpers

    static var noFace: NECRejection { NECRejection(.error(.noFace, "No face was found in the provided image.")) }

    static func decodeBody<Body: Decodable>(_ type: Body.Type, _ body: [UInt8]) throws -> Body {
        do {
            return try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw NECRejection.invalid("The request body is not valid JSON for this request.")
        }
    }

    static func image(_ field: String?, field name: String) throws -> [UInt8] {
        guard let field, !field.isEmpty else { throw NECRejection.invalid("\(name) property must be provided.") }
        guard let data = Data(base64Encoded: field) else {
            throw NECRejection.invalid("\(name) property must be a base64 encoded image.")
        }
        return Array(data)
    }

    static func namesSubject(_ body: [UInt8]) -> Bool {
        struct Probe: Decodable { var id: String? }
        return (try? JSONDecoder().decode(Probe.self, from: Data(body)))?.id != nil
    }

    static func intParameter(_ value: Substring?, name: String) throws -> Int? {
        guard let value else { return nil }
        guard let number = Int(value) else { throw NECRejection.invalid("\(name) must be a whole number.") }
        return number
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
