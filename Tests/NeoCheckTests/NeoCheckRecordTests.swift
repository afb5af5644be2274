import FacegateEmulators
import FacegateIdentify
import Foundation
import Testing
import FacegateTesting

@Suite("NeoCheck face records and lists against the emulator", .timeLimit(.minutes(5)))
struct NeoCheckRecordTests {
    @Test("create, read, update and delete a face record by identifier and by external identifier")
    func recordLifecycle() async throws {
        let portrait = try TestFaces.photo("angelina_jolie", "01.jpg")
        let newPortrait = try TestFaces.photo("angelina_jolie", "02.jpg")
        let badge = NeoCheckAttachment(fileName: "badge.txt", contents: Array("badge 4711".utf8))
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let id = try await client.createRecord(
                NeoCheckNewFaceRecord(
                    faceImage: portrait, name: "Angelina", surname1: "Jolie", surname2: "Voight",
                    externalIdentifier: "emp-1", additionalData: badge))
            #expect(!id.isEmpty)

            let byID = try await client.record(.identifier(id))
            #expect(byID.identifier == id)
            #expect(byID.name == "Angelina")
            #expect(byID.surname1 == "Jolie")
            #expect(byID.surname2 == "Voight")
            #expect(byID.externalIdentifier == "emp-1")
            #expect(byID.faceImage == portrait)
            #expect(byID.additionalData == badge)
            #expect(byID.enabled == true)
            #expect(byID.createdAt != nil)
            let byExternal = try await client.record(.externalIdentifier("emp-1"))
            #expect(byExternal == byID)

            var update = NeoCheckFaceRecordUpdate(keeping: byID)
            update.name = "Angie"
            update.faceImage = newPortrait
            update.enabled = false
            try await client.updateRecord(update)
            let updated = try await client.record(.identifier(id))
            #expect(updated.name == "Angie")
            #expect(updated.faceImage == newPortrait)
            #expect(updated.additionalData == badge)
            #expect(updated.enabled == false)

            // Named by external identifier alone.
            var byExternalUpdate = NeoCheckFaceRecordUpdate(keeping: updated)
            byExternalUpdate.identifier = nil
            byExternalUpdate.surname2 = nil
            try await client.updateRecord(byExternalUpdate)
            #expect(try await client.record(.identifier(id)).surname2 == nil)

            #expect(try await client.deleteRecord(.externalIdentifier("emp-1")))
            await #expect(throws: NeoCheckError(.notFound, "")) { _ = try await client.record(.identifier(id)) }
            await #expect(throws: NeoCheckError(.notFound, "")) { try await client.deleteRecord(.identifier(id)) }
            await #expect(throws: NeoCheckError(.notFound, "")) { try await client.deleteRecord(.externalIdentifier("emp-1")) }
        }
    }

    @Test("records the service cannot use are refused with its error list")
    func createRejections() async throws {
        let portrait = try TestFaces.photo("tom_cruise", "01.jpg")
        let noFace = try TestFaces.photo("_noface", "01.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            func rejection(_ record: NeoCheckNewFaceRecord) async throws -> [String] {
                do {
                    _ = try await client.createRecord(record)
                    Issue.record("the record was created")
                    return []
                } catch {
                    #expect(error.code == .rejected)
                    #expect(error.status == 400)
                    return error.serviceErrors.map(\.code)
                }
            }
            #expect(try await rejection(NeoCheckNewFaceRecord(faceImage: noFace, name: "No", surname1: "Face")) == ["NoFaceDetected"])
            #expect(
                try await rejection(NeoCheckNewFaceRecord(faceImage: Array("GIF89a nonsense".utf8), name: "Bad", surname1: "Image"))
                    == ["InvalidFaceImage"])
            #expect(try await rejection(NeoCheckNewFaceRecord(faceImage: portrait, name: "Tom", surname1: "")) == ["Surname1Required"])
            #expect(
                try await rejection(NeoCheckNewFaceRecord(faceImage: portrait, name: "Tom", surname1: "Cruise", faceListId: "no-such-list"))
                    == ["FaceListNotFound"])
            _ = try await client.createRecord(NeoCheckNewFaceRecord(faceImage: portrait, name: "Tom", surname1: "Cruise", externalIdentifier: "t"))
            #expect(
                try await rejection(NeoCheckNewFaceRecord(faceImage: portrait, name: "Tom", surname1: "Cruise", externalIdentifier: "t"))
                    == ["DuplicateExternalIdentifier"])

            do {
                try await client.updateRecord(NeoCheckFaceRecordUpdate(identifier: "no-such-record", name: "A", surname1: "B"))
                Issue.record("an unknown record was updated")
            } catch let error as NeoCheckError {
                #expect(error.code == .rejected)
                #expect(error.serviceErrors.map(\.code) == ["FaceRecordNotFound"])
            }
            await #expect(throws: NeoCheckError(.invalidArgument, "")) {
                try await client.updateRecord(NeoCheckFaceRecordUpdate(identifier: nil, name: "A", surname1: "B"))
            }
        }
    }

    @Test("create, read, update and delete a face list")
    func listLifecycle() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let id = try await client.createList(name: "staff", description: "day staff")
            let list = try await client.list(identifier: id)
            #expect(list.identifier == id)
            #expect(list.name == "staff")
            #expect(list.description == "day staff")
            #expect(list.createdAt != nil)

            try await client.updateList(identifier: id, name: "all staff", description: nil)
            let updated = try await client.list(identifier: id)
            #expect(updated.name == "all staff")
            #expect(updated.description == nil)

            do {
                _ = try await client.createList(name: "all staff")
                Issue.record("a second list with the same name was created")
            } catch let error as NeoCheckError {
                #expect(error.code == .rejected)
                #expect(error.serviceErrors.map(\.code) == ["DuplicateName"])
            }
            await #expect(throws: NeoCheckError(.rejected, "")) {
                try await client.updateList(identifier: "no-such-list", name: "x", description: nil)
            }
            #expect(try await client.deleteList(identifier: id))
            await #expect(throws: NeoCheckError(.notFound, "")) { _ = try await client.list(identifier: id) }
            await #expect(throws: NeoCheckError(.notFound, "")) { try await client.deleteList(identifier: id) }
        }
    }

    @Test("records join lists by identifier or external identifier, and list identifier or name")
    func addToList() async throws {
        let first = try TestFaces.photo("jennifer_aniston", "01.jpg")
        let second = try TestFaces.photo("matt_damon", "01.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let staff = try await client.createList(name: "staff")
            let guests = try await client.createList(name: "guests")
            let jennifer = try await client.createRecord(NeoCheckNewFaceRecord(faceImage: first, name: "Jennifer", surname1: "Aniston"))
            let matt = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: second, name: "Matt", surname1: "Damon", externalIdentifier: "md/7"))

            #expect(try await client.addRecord(.identifier(jennifer), toList: .identifier(staff)))
            #expect(try await client.addRecord(.externalIdentifier("md/7"), toList: .name("guests")))
            #expect(try await client.record(.identifier(jennifer)).faceListId == staff)
            #expect(try await client.record(.identifier(matt)).faceListId == guests)

            await #expect(throws: NeoCheckError(.notFound, "")) {
                try await client.addRecord(.identifier("no-such-record"), toList: .identifier(staff))
            }
            await #expect(throws: NeoCheckError(.notFound, "")) {
                try await client.addRecord(.identifier(jennifer), toList: .name("no such list"))
            }
            // Deleting a list leaves its records, outside any list.
            try await client.deleteList(identifier: staff)
            #expect(try await client.record(.identifier(jennifer)).faceListId == nil)
        }
    }

    @Test("records, lists and credits survive an emulator restart")
    func persistsAcrossRestart() async throws {
        let portrait = try TestFaces.photo("eric_clapton", "01.jpg")
        let folder = try TemporaryFolder().url
        let (recordID, listID) = try await withNeoCheckEmulator(credits: 5, stateDirectory: folder) { harness in
            let client = try harness.client()
            let list = try await client.createList(name: "band")
            let record = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: portrait, name: "Eric", surname1: "Clapton", faceListId: list))
            _ = try await client.identify(probe: portrait, againstRecord: .identifier(record))
            return (record, list)
        }
        try await withNeoCheckEmulator(stateDirectory: folder) { harness in
            let client = try harness.client()
            #expect(try await client.record(.identifier(recordID)).faceListId == listID)
            #expect(try await client.list(identifier: listID).name == "band")
            #expect(await harness.emulator.credits == 4)
        }
    }
}
