import ArgumentParser
import FacegateIdentify
import Foundation

struct NeoCheckRecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records", abstract: "Create, update, read and delete face records.",
        subcommands: [Create.self, Update.self, Get.self, Delete.self])

    /// A face record as printed: the image and data file as sizes (write them out with --face-out, --data-out).
    struct RecordOutput: Encodable {
        var identifier: String
        var name: String
        var surname1: String
        var surname2: String?
        var externalIdentifier: String?
        var enabled: Bool?
        var faceListId: String?
        var createdUtc: String?
        var faceImageBytes: Int
        var additionalDataFileName: String?
        var additionalDataFileBytes: Int?

        init(_ record: NeoCheckFaceRecord) {
            identifier = record.identifier
            name = record.name
            surname1 = record.surname1
            surname2 = record.surname2
            externalIdentifier = record.externalIdentifier
            enabled = record.enabled
            faceListId = record.faceListId
            createdUtc = record.createdUtc
            faceImageBytes = record.faceImage?.count ?? 0
            additionalDataFileName = record.additionalData?.fileName
            additionalDataFileBytes = record.additionalData?.contents.count
        }
    }

    /// `ID` or `--external-id E`, exactly one.
    struct RecordSelector: ParsableArguments {
        @Argument(help: "The face record's identifier (GUID).")
        var identifier: String?

        @Option(name: .customLong("external-id"), help: "Select the record by its external identifier instead.")
        var externalID: String?

        func validate() throws {
            guard (identifier == nil) != (externalID == nil) else {
                throw ValidationError("name the record by ID or by --external-id, not both or neither")
            }
        }

        var reference: NeoCheckRecordReference {
            if let identifier { return .identifier(identifier) }
            return .externalIdentifier(externalID ?? "")
        }

        /// The record as the installer named it, for a question or a message.
        var described: String {
            if let identifier { return "the NeoCheck face record \(DeletionConfirmation.quoted(identifier))" }
            return "the NeoCheck face record with external identifier \(DeletionConfirmation.quoted(externalID ?? ""))"
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a face record from a portrait.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "Portrait image (JPEG or PNG).") var face: String
        @Option(help: "The person's name.") var name: String
        @Option(help: "The person's first surname.") var surname1: String
        @Option(help: "The person's second surname.") var surname2: String?
        @Option(name: .customLong("external-id"), help: "Your own identifier for the record.") var externalID: String?
        @Option(help: "Face list identifier to put the record in.") var list: String?
        @Option(name: .customLong("data-file"), help: "A file of additional data to keep with the record.") var dataFile: String?
        @Flag(help: "Create the record disabled.") var disabled = false

        func run() async throws {
            var record = NeoCheckNewFaceRecord(
                faceImage: try readInputFile(face, what: "face image"), name: name, surname1: surname1, surname2: surname2,
                externalIdentifier: externalID, faceListId: list, enabled: disabled ? false : nil)
            if let dataFile {
                let fileName = URL(fileURLWithPath: dataFile).lastPathComponent
                record.additionalData = NeoCheckAttachment(fileName: fileName, contents: try readInputFile(dataFile, what: "data file"))
            }
            let created = record
            let howToCheck =
                externalID.map { "Check with `facegate neocheck records get --external-id \(DeletionConfirmation.quoted($0))`" }
                ?? "Look for it in NeoCheck's portal (without --external-id this command cannot look it up)"
            let identifier: String = try await connection.withClient { client in
                // Signed in first: a sign-in that fails has made nothing.
                _ = try await client.tokens.token()
                do {
                    return try await client.createRecord(created)
                } catch let error as NeoCheckError where error.mayHaveBeenCarriedOut {
                    throw possiblyCreated(error, what: "face record", howToCheck: howToCheck)
                }
            }
            try printJSON(["identifier": identifier])
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a face record; what is not given is kept (a new --face asks first; --yes for scripts).",
            discussion: "Reads the record first (one API call) and sends it back with the changes (a second call).")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @OptionGroup var selector: RecordSelector
        @OptionGroup var confirmation: ReplacementConfirmation
        @Option(help: "New portrait image (JPEG or PNG).") var face: String?
        @Option(help: "New name.") var name: String?
        @Option(help: "New first surname.") var surname1: String?
        @Option(help: "New second surname (an empty string clears it).") var surname2: String?
        @Option(name: .customLong("new-external-id"), help: "New external identifier (an empty string clears it).")
        var newExternalID: String?
        @Option(help: "Face list identifier to move the record to (an empty string takes it out of its list).") var list: String?
        @Option(name: .customLong("data-file"), help: "New file of additional data.") var dataFile: String?
        @Flag(help: "Enable the record.") var enable = false
        @Flag(help: "Disable the record.") var disable = false

        func validate() throws {
            guard !(enable && disable) else { throw ValidationError("--enable and --disable exclude each other") }
        }

        func run() async throws {
            let image = try face.map { try readInputFile($0, what: "face image") }
            if image != nil { try confirmation.confirm("the face of \(selector.described)") }
            let attachment = try dataFile.map {
                NeoCheckAttachment(fileName: URL(fileURLWithPath: $0).lastPathComponent, contents: try readInputFile($0, what: "data file"))
            }
            let reference = selector.reference
            let output = try await connection.withClient { client in
                let current = try await client.record(reference)
                // The update carries the record's state: one left out is taken as enabled by the service,
                // so a record whose reply did not say would be enabled again by an edit of its name.
                guard current.enabled != nil || enable || disable else {
                    throw ValidationError("the service did not say whether this record is enabled: give --enable or --disable with the update")
                }
                var update = NeoCheckFaceRecordUpdate(keeping: current)
                update.faceImage = image
                if let name { update.name = name }
                if let surname1 { update.surname1 = surname1 }
                if let surname2 { update.surname2 = surname2.isEmpty ? nil : surname2 }
                if let newExternalID { update.externalIdentifier = newExternalID.isEmpty ? nil : newExternalID }
                if let list { update.faceListId = list.isEmpty ? nil : list }
                if let attachment { update.additionalData = attachment }
                if enable { update.enabled = true }
                if disable { update.enabled = false }
                try await client.updateRecord(update)
                return RecordOutput(try await client.record(.identifier(current.identifier)))
            }
            try printJSON(output)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a face record.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @OptionGroup var selector: RecordSelector
        @Option(name: .customLong("face-out"), help: "Write the record's portrait to this file.") var faceOut: String?
        @Option(name: .customLong("data-out"), help: "Write the record's data file to this file.") var dataOut: String?

        func run() async throws {
            let reference = selector.reference
            let record = try await connection.withClient { try await $0.record(reference) }
            // Both checked before either is written: no portrait left behind for a data file that is not there.
            let image = try faceOut.map { _ in
                guard let image = record.faceImage else { throw CommandError("the record has no portrait to write") }
                return image
            }
            let data = try dataOut.map { _ in
                guard let data = record.additionalData else { throw CommandError("the record has no data file to write") }
                return data.contents
            }
            if let faceOut, let image { try PrivateOutput.write(image, to: faceOut) }
            if let dataOut, let data { try PrivateOutput.write(data, to: dataOut) }
            try printJSON(RecordOutput(record))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a face record (asks first; --yes for scripts).",
            discussion: "Exits 1 when the service answers that it did not delete the record (a false result).")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @OptionGroup var selector: RecordSelector
        @OptionGroup var confirmation: DeletionConfirmation

        func run() async throws {
            try confirmation.confirm("\(selector.described) (the person's face, name and data file)")
            let reference = selector.reference
            let deleted = try await connection.withClient { client in
                try await deletedOrGoneAfterRetry("delete face record") { try await client.deleteRecord(reference) }
            }
            try requireDone(deleted, "NeoCheck declined to delete the face record (it answered false): the record may still be there")
            try printJSON(["deleted": deleted])
        }
    }
}
