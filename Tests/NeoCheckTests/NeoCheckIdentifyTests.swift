import FacegateEmulators
import FacegateIdentify
import Foundation
import Testing
import FacegateTesting

@Suite("NeoCheck identification against the emulator's real face matching", .timeLimit(.minutes(5)))
struct NeoCheckIdentifyTests {
    @Test("1:1 against a record: the same person matches, another does not")
    func againstRecord() async throws {
        let enrolled = try TestFaces.photo("angelina_jolie", "01.jpg")
        let samePerson = try TestFaces.photo("angelina_jolie", "03.jpg")
        let otherPerson = try TestFaces.photo("jennifer_aniston", "02.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let id = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: enrolled, name: "Angelina", surname1: "Jolie", externalIdentifier: "aj"))

            let match = try await client.identify(probe: samePerson, againstRecord: .identifier(id))
            #expect(match.result == .ok)
            #expect(match.isMatch)
            #expect(match.confidence >= NeoCheckMatching.acceptConfidence)
            #expect(match.person?.identifier == id)
            #expect(match.person?.name == "Angelina")
            #expect(match.faceQA == nil)

            let byExternal = try await client.identify(probe: samePerson, againstRecord: .externalIdentifier("aj"))
            #expect(byExternal.result == .ok)
            #expect(byExternal.confidence == match.confidence)

            let mismatch = try await client.identify(probe: otherPerson, againstRecord: .identifier(id))
            #expect(mismatch.result == .failed)
            #expect(mismatch.confidence < NeoCheckMatching.acceptConfidence)
            #expect(mismatch.person == nil)

            await #expect(throws: NeoCheckError(.notFound, "")) {
                _ = try await client.identify(probe: samePerson, againstRecord: .identifier("no-such-record"))
            }
        }
    }

    @Test("1:1 against a reference image")
    func againstReference() async throws {
        let reference = try TestFaces.photo("katy_perry", "01.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let same = try await client.identify(probe: try TestFaces.photo("katy_perry", "02.jpg"), againstReference: reference)
            #expect(same.result == .ok)
            #expect(same.person == nil)
            let other = try await client.identify(probe: try TestFaces.photo("matt_damon", "01.jpg"), againstReference: reference)
            #expect(other.result == .failed)
            #expect(other.confidence < same.confidence)
            let noReferenceFace = try await client.identify(
                probe: try TestFaces.photo("katy_perry", "02.jpg"), againstReference: try TestFaces.photo("_noface", "02.jpg"))
            #expect(noReferenceFace.result == .notExecuted)
        }
    }

    @Test("1:N against a list, by identifier and by name")
    func againstList() async throws {
        // A second photo of each, within dlib's usual same-person distance of the first.
        let probes = ["angelina_jolie": "02.jpg", "jennifer_aniston": "06.jpg", "katy_perry": "02.jpg"]
        let people = probes.keys.sorted()
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let list = try await client.createList(name: "staff")
            var ids: [String: String] = [:]
            for person in people {
                ids[person] = try await client.createRecord(
                    NeoCheckNewFaceRecord(faceImage: try TestFaces.photo(person, "01.jpg"), name: person, surname1: "Test", faceListId: list))
            }
            let outsider = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try TestFaces.photo("matt_damon", "01.jpg"), name: "Matt", surname1: "Damon"))

            for person in people {
                let answer = try await client.identify(probe: try TestFaces.photo(person, probes[person]!), againstList: .identifier(list))
                #expect(answer.result == .ok, "\(person)")
                #expect(answer.person?.identifier == ids[person], "\(person)")
            }
            let byName = try await client.identify(probe: try TestFaces.photo("katy_perry", "03.jpg"), againstList: .name("staff"))
            #expect(byName.person?.identifier == ids["katy_perry"])

            // Matt is a record, but not in the list.
            let stranger = try await client.identify(probe: try TestFaces.photo("matt_damon", "02.jpg"), againstList: .identifier(list))
            #expect(stranger.result == .failed)
            #expect(stranger.person == nil)
            #expect(stranger.person?.identifier != outsider)

            await #expect(throws: NeoCheckError(.notFound, "")) {
                _ = try await client.identify(probe: try TestFaces.photo("katy_perry", "02.jpg"), againstList: .name("no such list"))
            }
            let empty = try await client.createList(name: "empty")
            let nobody = try await client.identify(probe: try TestFaces.photo("katy_perry", "02.jpg"), againstList: .identifier(empty))
            #expect(nobody.result == .notExecuted)
        }
    }

    @Test("a match in a probe with several faces is a warning, and face QA says so")
    func severalFaces() async throws {
        let group = try TestFaces.photo("_multi", "01.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            // Enrolment keeps the largest face; the same photo as probe matches it exactly.
            let id = try await client.createRecord(NeoCheckNewFaceRecord(faceImage: group, name: "Largest", surname1: "Face"))
            let answer = try await client.identify(probe: group, againstRecord: .identifier(id), faceQA: true)
            #expect(answer.result == .warning)
            // The service doubts it: a warning names the person but is no match (issue 9, item 7).
            #expect(!answer.isMatch)
            #expect(answer.person?.identifier == id)
            #expect(answer.faceQA?.checks?.onlyOneFaceVisible == false)
            #expect(answer.faceQA?.checks?.overallPhotoQuality == false)
        }
    }

    @Test("face QA comes from the local quality measures when asked for")
    func faceQA() async throws {
        let portrait = try TestFaces.photo("jennifer_aniston", "01.jpg")
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let answer = try await client.identify(probe: try TestFaces.photo("jennifer_aniston", "02.jpg"), againstReference: portrait, faceQA: true)
            let qa = try #require(answer.faceQA)
            let rectangle = try #require(qa.faceRectangle)
            #expect(rectangle.width > 0 && rectangle.height > 0)
            #expect(qa.featurePoints?.leftEye != nil)
            #expect(qa.checks?.onlyOneFaceVisible == true)
            #expect(qa.checks?.eyesNotRed == nil)
            #expect(qa.imageFeatures?["sharpness"] != nil)
        }
    }

    @Test("a probe without a face is not executed; one that is not an image is invalid content")
    func unusableProbes() async throws {
        try await withNeoCheckEmulator(credits: 10) { harness in
            let client = try harness.client()
            let noFace = try await client.identify(
                probe: try TestFaces.photo("_noface", "01.jpg"), againstReference: try TestFaces.photo("katy_perry", "01.jpg"))
            #expect(noFace.result == .notExecuted)
            #expect(noFace.confidence == 0)
            await #expect(throws: NeoCheckError(.invalidContent, "")) {
                _ = try await client.identify(
                    probe: Array("plainly not an image".utf8), againstReference: try TestFaces.photo("katy_perry", "01.jpg"))
            }
            // Neither spent a credit.
            #expect(await harness.emulator.credits == 10)
        }
    }

    @Test("a disabled record is not matched")
    func disabledRecord() async throws {
        try await withNeoCheckEmulator { harness in
            let client = try harness.client()
            let id = try await client.createRecord(
                NeoCheckNewFaceRecord(faceImage: try TestFaces.photo("katy_perry", "01.jpg"), name: "Katy", surname1: "Perry", enabled: false))
            let answer = try await client.identify(probe: try TestFaces.photo("katy_perry", "02.jpg"), againstRecord: .identifier(id))
            #expect(answer.result == .notExecuted)
            #expect(answer.person == nil)
        }
    }

    @Test("identifications stop with insufficient credits")
    func credits() async throws {
        let reference = try TestFaces.photo("katy_perry", "01.jpg")
        try await withNeoCheckEmulator(credits: 1) { harness in
            let client = try harness.client()
            _ = try await client.identify(probe: reference, againstReference: reference)
            await #expect(throws: NeoCheckError(.insufficientCredits, "")) {
                _ = try await client.identify(probe: reference, againstReference: reference)
            }
            #expect(await harness.emulator.credits == 0)
        }
    }

    @Test("the confidence mapping is the documented logistic")
    func confidenceMapping() {
        #expect(abs(NeoCheckMatching.confidence(distance: 0.50) - 50) < 1e-9)
        #expect(NeoCheckMatching.confidence(distance: 0.30) > 95)
        #expect(NeoCheckMatching.confidence(distance: 0.65) < 10)
        #expect(NeoCheckMatching.isMatch(confidence: 50))
        #expect(!NeoCheckMatching.isMatch(confidence: 49.99))
    }
}
