import FacegateCore
import Foundation

// What the NEC ID emulator keeps in its state folder, one StateFile each for
// the portal (tenancy) and the biometric host (galleries' contents).

struct NECPortalState: Codable, Sendable {
    struct Gallery: Codable, Sendable {
        var id: String
        var name: String
        var description: String
        var size: Int
        var faceMinimumQualityScore: Double
    }

    struct Application: Codable, Sendable {
        var id: String
        var name: String
        var description: String
        var apiKey: String
        var faceMinimumQualityScore: Double
        var galleryId: String
    }

    var galleries: [Gallery] = []
    var applications: [Application] = []
}

struct NECGalleryContents: Codable, Sendable {
    /// One row per registration of an event; an update or an unregister marks
    /// the old row deleted ("D") and, for an update, adds an active ("A") one,
    /// as NEC ID's subject list shows.
    struct EventRow: Codable, Sendable {
        var subjectId: String
        var eventId: String
        var status: String
        var lastUpdated: String
        var tags: [String]
        var descriptor: FaceDescriptor
        var attributes: FaceAttributes

        var isActive: Bool { status == "A" }
    }

    struct JobRecord: Codable, Sendable {
        var id: String
        var filename: String
        var tags: [String]
        var attempts: Int
        var eventId: String
        var subjectId: String
        var registerStatus: String
        var reason: String
        var status: String
        var attributesJson: String
    }

    struct Job: Codable, Sendable {
        var batchId: String
        var records: [JobRecord]
    }

    var rows: [EventRow] = []
    var tags: [String] = []
    var jobs: [Job] = []

    var activeSubjectCount: Int { Set(rows.lazy.filter(\.isActive).map(\.subjectId)).count }
}

struct NECBiometricState: Codable, Sendable {
    /// Keyed by gallery id.
    var galleries: [String: NECGalleryContents] = [:]
}
