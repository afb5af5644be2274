import ArgumentParser
import FacegateIdentify

// `facegate nec galleries ...` and `facegate nec applications ...`: tenant
// management on the portal host (needs --portal-endpoint or NEC_ID_PORTAL_ENDPOINT).

struct NECGalleriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "galleries", abstract: "List, get, create, update and delete galleries (portal host).",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List galleries.")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        func run() async throws { try await connection.run(showingAPIKeys: display.showApiKey) { NECIDCall.listGalleries() } }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a gallery and its applications (API keys masked unless --show-api-key).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Argument(help: "Gallery id.") var id: String
        func run() async throws {
            try await connection.run(showingAPIKeys: display.showApiKey) { () throws(NECIDError) in try NECIDCall.gallery(id: id) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a gallery and an application to reach it (its API key masked unless --show-api-key).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Option(help: "Gallery name.") var name: String
        @Option(help: "Description.") var description: String?
        @Option(help: "faceMinimumQualityScore, 0.45...1.") var minimumQuality: Double?
        @Option(help: "Most subjects the gallery holds.") var size: Int?

        func run() async throws {
            let creation = NECCreation(what: "gallery", howToCheck: "facegate nec galleries list")
            try await connection.run(showingAPIKeys: display.showApiKey, creating: creation) { () throws(NECIDError) in
                try NECIDCall.createGallery(name: name, description: description, faceMinimumQualityScore: minimumQuality, size: size)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a gallery (its size can only grow).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Argument(help: "Gallery id.") var id: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New description.") var description: String?
        @Option(help: "New size.") var size: Int?

        func run() async throws {
            try await connection.run(showingAPIKeys: display.showApiKey) { () throws(NECIDError) in
                try NECIDCall.updateGallery(id: id, name: name, description: description, size: size)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a gallery and its applications (asks first; --yes for scripts).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "Gallery id.") var id: String
        func run() async throws {
            try confirmation.confirm(
                "the NEC ID gallery \(DeletionConfirmation.quoted(id)) and its applications "
                    + "(their API keys stop working: the subjects enrolled in it can no longer be reached)")
            try await connection.run { () throws(NECIDError) in try NECIDCall.deleteGallery(id: id) }
        }
    }
}

struct NECApplicationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "applications", abstract: "List, get, create, update and delete applications (portal host).",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List applications (API keys masked unless --show-api-key).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        func run() async throws { try await connection.run(showingAPIKeys: display.showApiKey) { NECIDCall.listApplications() } }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an application (its API key masked unless --show-api-key).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Argument(help: "Application id.") var id: String
        func run() async throws {
            try await connection.run(showingAPIKeys: display.showApiKey) { () throws(NECIDError) in try NECIDCall.application(id: id) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an application on a gallery (its API key masked unless --show-api-key).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Option(help: "Application name.") var name: String
        @Option(help: "Gallery id.") var gallery: String
        @Option(help: "Description.") var description: String?
        @Option(help: "faceMinimumQualityScore, 0.45...1.") var minimumQuality: Double?

        func run() async throws {
            let creation = NECCreation(what: "application", howToCheck: "facegate nec applications list")
            try await connection.run(showingAPIKeys: display.showApiKey, creating: creation) { () throws(NECIDError) in
                try NECIDCall.createApplication(name: name, description: description, faceMinimumQualityScore: minimumQuality, galleryID: gallery)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an application.")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var display: NECAPIKeyDisplay
        @Argument(help: "Application id.") var id: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New description.") var description: String?
        @Option(help: "New faceMinimumQualityScore, 0.45...1.") var minimumQuality: Double?

        func run() async throws {
            try await connection.run(showingAPIKeys: display.showApiKey) { () throws(NECIDError) in
                try NECIDCall.updateApplication(id: id, name: name, description: description, faceMinimumQualityScore: minimumQuality)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an application (asks first; --yes for scripts).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "Application id.") var id: String
        func run() async throws {
            try confirmation.confirm("the NEC ID application \(DeletionConfirmation.quoted(id)) (its API key stops working)")
            try await connection.run { () throws(NECIDError) in try NECIDCall.deleteApplication(id: id) }
        }
    }
}
