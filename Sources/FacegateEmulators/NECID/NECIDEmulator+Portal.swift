import Foundation

extension NECIDEmulatorService {
    private struct GallerySummary: Encodable {
        var id, name, description: String
        var size: Int
        var count: Int?
    }

    private struct ApplicationSummary: Encodable {
        var id, name: String
        var apiKey: String
    }

    private struct ApplicationDetail: Encodable {
        var id, name, description, apiKey: String
        var faceMinimumQualityScore: Double
    }

    func handlePortal(_ route: Route, body: [UInt8]) async throws -> NECReply {
        switch route {
        case .listGalleries:
            let state = await portal.value
            var summaries: [GallerySummary] = []
            for gallery in state.galleries {
                let count = await contents(gallery.id).activeSubjectCount
                summaries.append(.init(id: gallery.id, name: gallery.name, description: gallery.description, size: gallery.size, count: count))
            }
            return .json(200, ["galleries": summaries])

        case .getGallery(let id):
            let state = await portal.value
            guard let gallery = state.galleries.first(where: { $0.id == id }) else { return .message(404, "Gallery not found") }
            struct Detail: Encodable {
                var id, name, description: String
                var size, count: Int
                var applications: [ApplicationSummary]
            }
            let count = await contents(id).activeSubjectCount
            let applications = state.applications.filter { $0.galleryId == id }.map {
                ApplicationSummary(id: $0.id, name: $0.name, apiKey: $0.apiKey)
            }
            return .json(
                200,
                Detail(id: id, name: gallery.name, description: gallery.description, size: gallery.size, count: count, applications: applications))

        case .createGallery:
            struct Body: Decodable {
                var name: String?
                var description: String?
                var faceMinimumQualityScore: Double?
                var size: Int?
            }
            let request = try Self.decodeBody(Body.self, body)
            guard let name = request.name, !name.isEmpty else { throw NECRejection.invalid("name property must be provided.") }
            let quality = request.faceMinimumQualityScore ?? configuration.defaultMinimumQuality
            try Self.checkQuality(quality)
            let size = request.size ?? 1000
            guard size >= 1 else { throw NECRejection.invalid("size must be 1 or more.") }
            let (gallery, apiKey) = try await portal.update { state -> (NECPortalState.Gallery, String) in
                if let existing = state.galleries.first(where: { $0.name == name }) {
                    let key = state.applications.first { $0.galleryId == existing.id }?.apiKey ?? ""
                    throw NECRejection(.error(.duplicate, "Gallery \(name) already exists, apiKey \(key)"))
                }
                let gallery = NECPortalState.Gallery(
                    id: Self.newID(), name: name, description: request.description ?? "", size: size, faceMinimumQualityScore: quality)
                let application = NECPortalState.Application(
                    id: Self.newID(), name: name, description: request.description ?? "", apiKey: Self.newAPIKey(),
                    faceMinimumQualityScore: quality, galleryId: gallery.id)
                state.galleries.append(gallery)
                state.applications.append(application)
                return (gallery, application.apiKey)
            }
            struct Created: Encodable {
                var id, name, description: String
                var size: Int
                var apiKey: String
            }
            return .json(200, Created(id: gallery.id, name: gallery.name, description: gallery.description, size: gallery.size, apiKey: apiKey))

        case .updateGallery(let id):
            struct Body: Decodable {
                var name: String?
                var description: String?
                var size: Int?
            }
            let request = try Self.decodeBody(Body.self, body)
            let gallery = try await portal.update { state -> NECPortalState.Gallery in
                guard let index = state.galleries.firstIndex(where: { $0.id == id }) else { throw NECRejection(.message(404, "Gallery not found")) }
                var gallery = state.galleries[index]
                if let name = request.name {
                    guard !name.isEmpty else { throw NECRejection.invalid("name must not be empty.") }
                    gallery.name = name
                }
                if let description = request.description { gallery.description = description }
                if let size = request.size {
                    guard size >= gallery.size else { throw NECRejection.invalid("Gallery size can only be increased.") }
                    gallery.size = size
                }
                state.galleries[index] = gallery
                return gallery
            }
            return .json(200, GallerySummary(id: gallery.id, name: gallery.name, description: gallery.description, size: gallery.size))

        case .deleteGallery(let id):
            let found = try await portal.update { state -> Bool in
                guard state.galleries.contains(where: { $0.id == id }) else { return false }
                state.galleries.removeAll { $0.id == id }
                state.applications.removeAll { $0.galleryId == id }
                return true
            }
            guard found else { return .message(404, "Gallery not found") }
            try await biometric.update { $0.galleries[id] = nil }
            return .empty(204)

        case .listApplications:
            let applications = await portal.value.applications.map { ApplicationSummary(id: $0.id, name: $0.name, apiKey: $0.apiKey) }
            return .json(200, ["applications": applications])

        case .getApplication(let id):
            guard let application = await portal.value.applications.first(where: { $0.id == id }) else {
                return .message(404, "Application not found")
            }
            return .json(200, Self.detail(application))

        case .createApplication:
            struct Body: Decodable {
                var name: String?
                var description: String?
                var faceMinimumQualityScore: Double?
                var galleryId: String?
            }
            let request = try Self.decodeBody(Body.self, body)
            guard let name = request.name, !name.isEmpty else { throw NECRejection.invalid("name property must be provided.") }
            guard let galleryId = request.galleryId else { throw NECRejection.invalid("galleryId property must be provided.") }
            let quality = request.faceMinimumQualityScore ?? configuration.defaultMinimumQuality
            try Self.checkQuality(quality)
            let application = try await portal.update { state -> NECPortalState.Application in
                guard state.galleries.contains(where: { $0.id == galleryId }) else { throw NECRejection.invalid("Gallery \(galleryId) not found.") }
                let application = NECPortalState.Application(
                    id: Self.newID(), name: name, description: request.description ?? "", apiKey: Self.newAPIKey(),
                    faceMinimumQualityScore: quality, galleryId: galleryId)
                state.applications.append(application)
                return application
            }
            return .json(200, Self.detail(application))

        case .updateApplication(let id):
            struct Body: Decodable {
                var name: String?
                var description: String?
                var faceMinimumQualityScore: Double?
            }
            let request = try Self.decodeBody(Body.self, body)
            if let quality = request.faceMinimumQualityScore { try Self.checkQuality(quality) }
            let application = try await portal.update { state -> NECPortalState.Application in
                guard let index = state.applications.firstIndex(where: { $0.id == id }) else {
                    throw NECRejection(.message(404, "Application not found"))
                }
                if let name = request.name {
                    guard !name.isEmpty else { throw NECRejection.invalid("name must not be empty.") }
                    state.applications[index].name = name
                }
                if let description = request.description { state.applications[index].description = description }
                if let quality = request.faceMinimumQualityScore { state.applications[index].faceMinimumQualityScore = quality }
                return state.applications[index]
            }
            return .json(200, Self.detail(application))

        case .deleteApplication(let id):
            let found = try await portal.update { state -> Bool in
                guard state.applications.contains(where: { $0.id == id }) else { return false }
                state.applications.removeAll { $0.id == id }
                return true
            }
            return found ? .empty(204) : .message(404, "Application not found")

        default:
            return .message(403, "Missing Authentication Token")
        }
    }

    private static func detail(_ application: NECPortalState.Application) -> ApplicationDetail {
        ApplicationDetail(
            id: application.id, name: application.name, description: application.description, apiKey: application.apiKey,
            faceMinimumQualityScore: application.faceMinimumQualityScore)
    }

    static func checkQuality(_ quality: Double) throws {
        guard quality >= 0.45, quality <= 1 else {
            throw NECRejection.invalid("faceMinimumQualityScore must be greater than or equal to 0.45.")
        }
    }

    static func newAPIKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<40).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)!) }.joined()
    }
}
