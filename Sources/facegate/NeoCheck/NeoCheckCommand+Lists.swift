import ArgumentParser
import FacegateIdentify
import Foundation

struct NeoCheckListsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lists", abstract: "Create, update, read and delete face lists, and add records to them.",
        subcommands: [Create.self, Update.self, Get.self, Delete.self, AddRecord.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a face list.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "The list's name (unique).") var name: String
        @Option(help: "A description.") var description: String?

        func run() async throws {
            let (name, description) = (self.name, self.description)
            let identifier: String = try await connection.withClient { client in
                // Signed in first: a sign-in that fails has made nothing.
                _ = try await client.tokens.token()
                do {
                    return try await client.createList(name: name, description: description)
                } catch let error as NeoCheckError where error.mayHaveBeenCarriedOut {
                    throw possiblyCreated(
                        error, what: "face list \(DeletionConfirmation.quoted(name))",
                        howToCheck: "Look for it in NeoCheck's portal (a face list is read by the identifier the reply did not give)")
                }
            }
            try printJSON(["identifier": identifier])
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename or re-describe a face list; what is not given is kept.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Argument(help: "The face list's identifier.") var identifier: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New description (an empty string clears it).") var description: String?

        func run() async throws {
            let (identifier, name, description) = (self.identifier, self.name, self.description)
            let list = try await connection.withClient { client in
                let current = try await client.list(identifier: identifier)
                let newDescription = description.map { $0.isEmpty ? nil : $0 } ?? current.description
                try await client.updateList(identifier: identifier, name: name ?? current.name, description: newDescription)
                return try await client.list(identifier: identifier)
            }
            try printJSON(list)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a face list.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Argument(help: "The face list's identifier.") var identifier: String

        func run() async throws {
            let identifier = self.identifier
            try printJSON(try await connection.withClient { try await $0.list(identifier: identifier) })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a face list (its records stay; asks first, --yes for scripts).",
            discussion: "Exits 1 when the service answers that it did not delete the list (a false result).")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @OptionGroup var confirmation: DeletionConfirmation
        @Argument(help: "The face list's identifier.") var identifier: String

        func run() async throws {
            try confirmation.confirm(
                "the NeoCheck face list \(DeletionConfirmation.quoted(identifier)) (its records stay, in no list: a door searching it finds nobody)")
            let identifier = self.identifier
            let deleted = try await connection.withClient { client in
                try await deletedOrGoneAfterRetry("delete face list") { try await client.deleteList(identifier: identifier) }
            }
            try requireDone(deleted, "NeoCheck declined to delete the face list (it answered false): the list may still be there")
            try printJSON(["deleted": deleted])
        }
    }

    struct AddRecord: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-record", abstract: "Add a face record to a face list.",
            discussion: "Exits 1 when the service answers that it did not add the record (a false result).")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "The face record's identifier.") var record: String?
        @Option(name: .customLong("record-external-id"), help: "The face record's external identifier.") var recordExternalID: String?
        @Option(help: "The face list's identifier.") var list: String?
        @Option(name: .customLong("list-name"), help: "The face list's name.") var listName: String?

        func validate() throws {
            guard (record == nil) != (recordExternalID == nil) else {
                throw ValidationError("give exactly one of --record and --record-external-id")
            }
            guard (list == nil) != (listName == nil) else { throw ValidationError("give exactly one of --list and --list-name") }
        }

        func run() async throws {
            let recordReference: NeoCheckRecordReference = record.map { .identifier($0) } ?? .externalIdentifier(recordExternalID ?? "")
            let listReference: NeoCheckListReference = list.map { .identifier($0) } ?? .name(listName ?? "")
            let added = try await connection.withClient { try await $0.addRecord(recordReference, toList: listReference) }
            try requireDone(added, "NeoCheck declined to add the face record to the face list (it answered false): the record is not in the list")
            try printJSON(["added": added])
        }
    }
}
