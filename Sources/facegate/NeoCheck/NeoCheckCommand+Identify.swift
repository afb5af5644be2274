import ArgumentParser
import FacegateIdentify
import Foundation

struct NeoCheckIdentifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify", abstract: "Identify a probe image against a record (1:1), a reference image (1:1) or a list (1:N).",
        subcommands: [Record.self, Reference.self, List.self])

    /// An identification as printed (the matched portrait is left out).
    struct Output: Encodable {
        struct Person: Encodable {
            var identifier: String
            var name: String?
            var surname1: String?
            var surname2: String?
            var externalIdentifier: String?
        }

        var result: String
        var resultCode: Int
        var confidence: Double
        var resultDescription: String?
        var match: Person?
        var faceQA: NeoCheckFaceQA?

        init(_ identification: NeoCheckIdentification) {
            result = identification.result.name
            resultCode = identification.result.rawValue
            confidence = identification.confidence
            resultDescription = identification.resultDescription
            match = identification.person.map {
                Person(
                    identifier: $0.identifier, name: $0.name, surname1: $0.surname1, surname2: $0.surname2,
                    externalIdentifier: $0.externalIdentifier)
            }
            faceQA = identification.faceQA
        }
    }

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "1:1 against a stored face record.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "The image to identify (JPEG or PNG).") var probe: String
        @Option(help: "The face record's identifier.") var record: String?
        @Option(name: .customLong("record-external-id"), help: "The face record's external identifier.") var recordExternalID: String?
        @Flag(help: "Ask for face QA information about the probe.") var qa = false

        func validate() throws {
            guard (record == nil) != (recordExternalID == nil) else {
                throw ValidationError("give exactly one of --record and --record-external-id")
            }
        }

        func run() async throws {
            let image = try readInputFile(probe, what: "probe image")
            let reference: NeoCheckRecordReference = record.map { .identifier($0) } ?? .externalIdentifier(recordExternalID ?? "")
            let qa = self.qa
            let answer = try await connection.withClient { try await $0.identify(probe: image, againstRecord: reference, faceQA: qa) }
            try printJSON(Output(answer))
        }
    }

    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "1:1 against a reference image.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "The image to identify (JPEG or PNG).") var probe: String
        @Option(help: "The reference image (JPEG or PNG).") var reference: String
        @Flag(help: "Ask for face QA information about the probe.") var qa = false

        func run() async throws {
            let image = try readInputFile(probe, what: "probe image")
            let referenceImage = try readInputFile(reference, what: "reference image")
            let qa = self.qa
            let answer = try await connection.withClient {
                try await $0.identify(probe: image, againstReference: referenceImage, faceQA: qa)
            }
            try printJSON(Output(answer))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "1:N against the records of a face list.")

        @OptionGroup var connection: NeoCheckConnectionOptions
        @Option(help: "The image to identify (JPEG or PNG).") var probe: String
        @Option(help: "The face list's identifier.") var list: String?
        @Option(name: .customLong("list-name"), help: "The face list's name.") var listName: String?
        @Flag(help: "Ask for face QA information about the probe.") var qa = false

        func validate() throws {
            guard (list == nil) != (listName == nil) else { throw ValidationError("give exactly one of --list and --list-name") }
        }

        func run() async throws {
            let image = try readInputFile(probe, what: "probe image")
            let reference: NeoCheckListReference = list.map { .identifier($0) } ?? .name(listName ?? "")
            let qa = self.qa
            let answer = try await connection.withClient { try await $0.identify(probe: image, againstList: reference, faceQA: qa) }
            try printJSON(Output(answer))
        }
    }
}
