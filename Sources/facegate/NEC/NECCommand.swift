import ArgumentParser
import FacegateIdentify
import Foundation

/// `facegate nec ...`: every NEC ID call, for installers and scripts.
struct NECCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nec",
        abstract: "Call NEC ID: subjects, events, face extract/verify/search, tags, bulk jobs, galleries, applications.",
        discussion: "Prints the service's JSON; exits non-zero with the error message on failure.",
        subcommands: [
            NECHealthCommand.self, NECSubjectsCommand.self, NECEventsCommand.self, NECExtractCommand.self,
            NECVerifyCommand.self, NECSearchCommand.self, NECTagsCommand.self, NECJobsCommand.self,
            NECGalleriesCommand.self, NECApplicationsCommand.self,
        ]
    )
}

struct NECHealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Check the service's status.")
    @OptionGroup var connection: NECConnectionOptions

    func run() async throws { try await connection.run { NECIDCall.health() } }
}

// MARK: Subjects

struct NECSubjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subjects", abstract: "List, register, update and unregister subjects.",
        subcommands: [List.self, Register.self, Update.self, Unregister.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the gallery's subjects (one row per event).")
        @OptionGroup var connection: NECConnectionOptions
        @Option(help: "Index of the first row.") var start: Int?
        @Option(help: "Rows to return, at most 1000.") var length: Int?
        @Option(help: "Sort by last update: asc or desc.") var dir: String?

        func run() async throws {
            let direction = try dir.map { text in
                guard let value = NECSortDirection(rawValue: text) else { throw ValidationError("--dir must be asc or desc") }
                return value
            }
            try await connection.run { () throws(NECIDError) in try NECIDCall.listSubjects(start: start, length: length, direction: direction) }
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a new subject from a face image.")
        @OptionGroup var connection: NECConnectionOptions
        @Option(help: "Image file (JPEG or PNG) with one face.") var face: String
        @Option(name: .customLong("tag"), help: "A tag to register against (repeatable).") var tags: [String] = []

        func run() async throws {
            let image = try readImage(face)
            try await connection.run(creating: .subject) { () throws(NECIDError) in try NECIDCall.registerSubject(face: image, tags: tags) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a subject's face and its tags (asks first; --yes for scripts).", discussion: NECTagReplacement.discussion)
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: ReplacementConfirmation
        @Argument(help: "Subject id.") var id: String
        @Option(help: "Image file with one face.") var face: String
        @OptionGroup var replacement: NECTagReplacement
        var tags: [String] { replacement.tags }

        func run() async throws {
            let image = try readImage(face)
            try confirmation.confirm("the enrolled face of the NEC ID subject \(DeletionConfirmation.quoted(id))")
            try await connection.run { () throws(NECIDError) in try NECIDCall.updateSubject(id: id, face: image, tags: tags) }
        }
    }

    struct Unregister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister a subject and its events (asks first; --yes for scripts).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "Subject id.") var id: String

        func run() async throws {
            try confirmation.confirm("the NEC ID subject \(DeletionConfirmation.quoted(id)) and all its events (every face enrolled for it)")
            try await connection.run { () throws(NECIDError) in try NECIDCall.unregisterSubject(id: id) }
        }
    }
}

/// The tags of `subjects update` and `events update`. An update replaces the tags too: NEC ID keeps none
/// it is not sent, and has no call that reads a subject's tags back, so an update without `--tag` would
/// drop them (a "staff" tag gone, the person refused at every door that searches by it). Leaving the
/// subject without tags must be said with `--clear-tags`.
struct NECTagReplacement: ParsableArguments {
    static let discussion = """
        The update replaces the tags as well as the face: NEC ID keeps none it is not sent, and cannot read \
        them back. Give every tag to keep with --tag, or --clear-tags to leave none. An update with neither \
        is refused.
        """

    @Option(name: .customLong("tag"), help: "A tag to have after the update (repeatable; the update replaces the tags).")
    var tags: [String] = []

    @Flag(help: "Leave no tags (the update replaces them; a door searching by tag no longer finds this face).")
    var clearTags = false

    func validate() throws {
        if clearTags, !tags.isEmpty { throw ValidationError("--clear-tags and --tag exclude each other") }
        if !clearTags, tags.isEmpty {
            throw ValidationError(
                "an update replaces the tags as well as the face, and NEC ID cannot read them back: "
                    + "give every tag to keep with --tag, or --clear-tags to leave none")
        }
    }
}

// MARK: Events

struct NECEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "List, register, update and unregister a subject's events.",
        subcommands: [List.self, Register.self, Update.self, Unregister.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a subject's events.")
        @OptionGroup var connection: NECConnectionOptions
        @Argument(help: "Subject id.") var subject: String

        func run() async throws { try await connection.run { () throws(NECIDError) in try NECIDCall.listEvents(subjectID: subject) } }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an event (another face) to a subject.")
        @OptionGroup var connection: NECConnectionOptions
        @Argument(help: "Subject id.") var subject: String
        @Option(help: "Image file with one face.") var face: String
        @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []

        func run() async throws {
            let image = try readImage(face)
            try await connection.run(creating: .event(of: subject)) { () throws(NECIDError) in
                try NECIDCall.registerEvent(subjectID: subject, face: image, tags: tags)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace an event's face and its tags (asks first; --yes for scripts).", discussion: NECTagReplacement.discussion)
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: ReplacementConfirmation
        @Argument(help: "Subject id.") var subject: String
        @Argument(help: "Event id.") var event: String
        @Option(help: "Image file with one face.") var face: String
        @OptionGroup var replacement: NECTagReplacement
        var tags: [String] { replacement.tags }

        func run() async throws {
            let image = try readImage(face)
            try confirmation.confirm(
                "the enrolled face of event \(DeletionConfirmation.quoted(event)) of the NEC ID subject \(DeletionConfirmation.quoted(subject))")
            try await connection.run { () throws(NECIDError) in
                try NECIDCall.updateEvent(subjectID: subject, eventID: event, face: image, tags: tags)
            }
        }
    }

    struct Unregister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister one event of a subject (asks first; --yes for scripts).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "Subject id.") var subject: String
        @Argument(help: "Event id.") var event: String

        func run() async throws {
            try confirmation.confirm(
                "the NEC ID event \(DeletionConfirmation.quoted(event)) of subject \(DeletionConfirmation.quoted(subject)) (that face of the subject)")
            try await connection.run { () throws(NECIDError) in try NECIDCall.unregisterEvent(subjectID: subject, eventID: event) }
        }
    }
}

// MARK: Face

struct NECExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extract", abstract: "Extract the attributes of the faces in an image.")
    @OptionGroup var connection: NECConnectionOptions
    @Option(help: "Image file.") var image: String
    @Option(help: "Most faces to return (service default 10).") var limit: Int?

    func run() async throws {
        let bytes = try readImage(image)
        try await connection.run { () throws(NECIDError) in try NECIDCall.extract(image: bytes, limit: limit) }
    }
}

struct NECVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Verify a probe against a face image (--face) or a registered subject (--subject).",
        discussion: "\"Not verified\" is a normal result: the service's reply is printed and the exit code is 0.")
    @OptionGroup var connection: NECConnectionOptions
    @Option(help: "Image file of the claimed face.") var face: String?
    @Option(help: "Id of the claimed subject.") var subject: String?
    @Option(help: "Image file of the face to check.") var probe: String

    func validate() throws {
        guard (face == nil) != (subject == nil) else { throw ValidationError("give exactly one of --face and --subject") }
    }

    func run() async throws {
        let probeImage = try readImage(probe)
        if let face {
            let faceImage = try readImage(face)
            try await connection.run { () throws(NECIDError) in try NECIDCall.verify(face: faceImage, probe: probeImage) }
        } else if let subject {
            try await connection.run { () throws(NECIDError) in try NECIDCall.verify(subjectID: subject, probe: probeImage) }
        }
    }
}

struct NECSearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search the gallery for a probe's face.",
        discussion: "\"Candidates not found\" is a normal result: the service's reply is printed and the exit code is 0.")
    @OptionGroup var connection: NECConnectionOptions
    @Option(help: "Image file of the face to search for.") var probe: String
    @Option(help: "Lowest score returned, 0...9999 (service default 7000).") var threshold: Int?
    @Option(help: "Most candidates, 1...50 (service default 10).") var limit: Int?
    @Option(name: .customLong("tag"), help: "Only subjects with this tag (repeatable; any matches).") var tags: [String] = []

    func run() async throws {
        let image = try readImage(probe)
        try await connection.run { () throws(NECIDError) in try NECIDCall.search(probe: image, threshold: threshold, limit: limit, tags: tags) }
    }
}

// MARK: Tags

struct NECTagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags", abstract: "List, create, rename and delete tags.", subcommands: [List.self, Create.self, Rename.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the gallery's tags.")
        @OptionGroup var connection: NECConnectionOptions
        func run() async throws { try await connection.run { NECIDCall.listTags() } }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tag (at most 64 a gallery).")
        @OptionGroup var connection: NECConnectionOptions
        @Argument(help: "Tag name.") var name: String
        func run() async throws { try await connection.run { () throws(NECIDError) in try NECIDCall.createTag(name) } }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a tag.")
        @OptionGroup var connection: NECConnectionOptions
        @Argument(help: "Current name.") var old: String
        @Argument(help: "New name.") var new: String
        func run() async throws { try await connection.run { () throws(NECIDError) in try NECIDCall.renameTag(old, to: new) } }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a tag (subjects keep it; asks first, --yes for scripts).")
        @OptionGroup var connection: NECConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "Tag name.") var name: String
        func run() async throws {
            try confirmation.confirm("the NEC ID tag \(DeletionConfirmation.quoted(name))")
            try await connection.run { () throws(NECIDError) in try NECIDCall.deleteTag(name) }
        }
    }
}

// MARK: Jobs

struct NECJobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Bulk registration from the tenant's bucket, and its progress.",
        subcommands: [BulkRegister.self, Progress.self])

    struct BulkRegister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bulk-register", abstract: "Register many subjects from files in the bucket.",
            discussion: """
                Name files with --file NAME, each followed by its own --tag T options \
                (a --tag before the first --file applies to every file); or give \
                --registrations FILE, a JSON array of {"filename": ..., "tags": [...]} \
                (or an object with such a "registrations" array).
                """)
        @OptionGroup var connection: NECConnectionOptions
        @Option(help: "JSON file of registrations.") var registrations: String?
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("--file NAME [--tag T]... pairs.", valueName: "--file NAME --tag T"))
        var pairs: [String] = []

        func run() async throws {
            var list = try Self.parsePairs(pairs)
            if let registrations {
                list += try Self.readRegistrations(registrations)
            }
            guard !list.isEmpty else { throw ValidationError("name at least one --file, or give --registrations FILE") }
            // Sent once, as a create: a job whose answer was lost may be registering everyone already, and running
            // it again would register each person twice (two subjects alike: the door's margin refuses them).
            let creation = NECCreation(
                what: "bulk registration job", howToCheck: "facegate nec subjects list --dir desc --length \(min(max(list.count, 5), 1000))")
            try await connection.run(creating: creation) { () throws(NECIDError) in try NECIDCall.bulkRegister(list) }
        }

        static func parsePairs(_ arguments: [String]) throws -> [NECBulkRegistration] {
            var shared: [String] = []
            var list: [NECBulkRegistration] = []
            var index = 0
            func value(after option: String) throws -> String {
                var text: String
                if let equals = arguments[index].firstIndex(of: "=") {
                    text = String(arguments[index][arguments[index].index(after: equals)...])
                } else {
                    index += 1
                    guard index < arguments.count else { throw ValidationError("\(option) needs a value") }
                    text = arguments[index]
                }
                text = text.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty else { throw ValidationError("\(option) needs a value") }
                return text
            }
            while index < arguments.count {
                let argument = arguments[index]
                if argument == "--file" || argument.hasPrefix("--file=") {
                    list.append(NECBulkRegistration(filename: try value(after: "--file"), tags: shared))
                } else if argument == "--tag" || argument.hasPrefix("--tag=") {
                    let tag = try value(after: "--tag")
                    if list.isEmpty { shared.append(tag) } else { list[list.count - 1].tags.append(tag) }
                } else {
                    throw ValidationError("unexpected argument \(argument)")
                }
                index += 1
            }
            return list
        }

        static func readRegistrations(_ path: String) throws -> [NECBulkRegistration] {
            struct Wrapped: Decodable { var registrations: [NECBulkRegistration] }
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            if let list = try? JSONDecoder().decode([NECBulkRegistration].self, from: data) { return list }
            if let wrapped = try? JSONDecoder().decode(Wrapped.self, from: data) { return wrapped.registrations }
            throw ValidationError("\(path) is not a JSON list of {\"filename\", \"tags\"} registrations")
        }
    }

    struct Progress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a bulk job's progress, one page at a time.")
        @OptionGroup var connection: NECConnectionOptions
        @Argument(help: "Batch id.") var batch: String
        @Option(help: "The lastEvaluatedKey of the previous page.") var pagingId: String?

        func run() async throws {
            try await connection.run { () throws(NECIDError) in try NECIDCall.jobProgress(batchID: batch, pagingID: pagingId) }
        }
    }
}
