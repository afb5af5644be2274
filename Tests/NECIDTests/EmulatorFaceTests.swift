import FacegateCore
import FacegateEmulators
import FacegateIdentify
import Foundation
import Testing
import FacegateTesting

/// The client against the live emulator with real photographs: registration,
/// events, search, verify and extract, matched by facegate's own face core.
@Suite(.timeLimit(.minutes(5))) struct EmulatorFaceTests {
    func expect<T>(_ code: NECIDError.Code, _ call: () async throws(NECIDError) -> T) async {
        do {
            let value = try await call()
            Issue.record("expected \(code), got \(value)")
        } catch {
            #expect(error.code == code, "\(error)")
        }
    }

    @Test func subjectsEventsSearchAndVerify() async throws {
        try await withNECEmulator { emulator in
            let client = emulator.client()
            try await client.createTag("staff")
            try await client.createTag("visitor")
            await expect(.notFound) { () throws(NECIDError) in try await client.listSubjects() }

            let amy = try await client.registerSubject(face: try face("bbt_amy/01.png"), tags: ["staff"])
            let amyFace = try #require(amy.attributes)
            #expect(amyFace.faceQualityScore > 0)
            #expect(amyFace.faceArea.right > amyFace.faceArea.left)
            let howard = try await client.registerSubject(face: try face("bbt_howard/01.png"), tags: ["visitor"])
            #expect(amy.id != howard.id)

            // The same person lands well above the default threshold; nobody else does.
            let search = try await client.search(probe: try face("bbt_amy/02.png"))
            let best = try #require(search.candidates.first)
            #expect(best.id == amy.id)
            #expect(best.score > 7000)
            #expect(best.events.first?.id == amy.eventId)
            #expect(!search.candidates.contains { $0.id == howard.id })
            #expect(search.attributes != nil)

            // A stranger is "no match", not an error.
            let stranger = try await client.search(probe: try face("bbt_sheldon/01.png"))
            #expect(stranger.candidates.isEmpty)
            // With the threshold at 0 everyone is a candidate, limited by `limit`.
            let everyone = try await client.search(probe: try face("bbt_sheldon/01.png"), threshold: 0, limit: 1)
            #expect(everyone.candidates.count == 1)
            #expect(everyone.candidates[0].score < 7000)
            // Tags filter with OR.
            #expect(try await client.search(probe: try face("bbt_amy/02.png"), tags: ["visitor"]).candidates.isEmpty)
            #expect(try await client.search(probe: try face("bbt_amy/02.png"), tags: ["visitor", "staff"]).candidates.first?.id == amy.id)

            // Verify, face against probe and subject against probe.
            let same = try await client.verify(face: try face("bbt_amy/01.png"), probe: try face("bbt_amy/03.png"))
            #expect(same.isVerified)
            #expect((same.score ?? 0) > 7000)
            let different = try await client.verify(face: try face("bbt_amy/01.png"), probe: try face("bbt_howard/02.png"))
            #expect(!different.isVerified)
            let subject = try await client.verify(subjectID: howard.id, probe: try face("bbt_howard/02.png"))
            #expect(subject.isVerified)
            #expect(subject.id == howard.id)
            #expect(!(try await client.verify(subjectID: howard.id, probe: try face("bbt_amy/02.png"))).isVerified)

            // Events: a second face for Amy, then updated, then removed.
            let second = try await client.registerEvent(subjectID: amy.id, face: try face("bbt_amy/04.png"), tags: ["staff"])
            let secondEventID = try #require(second.eventId)
            #expect(second.id == amy.id)
            #expect(try await client.listEvents(subjectID: amy.id).events.count == 2)
            let updated = try await client.updateEvent(subjectID: amy.id, eventID: secondEventID, face: try face("bbt_amy/05.png"))
            #expect(updated.eventId == second.eventId)
            let rows = try await client.listSubjects()
            #expect(rows.total == 4)
            #expect(rows.subjects.filter { $0.eventId == second.eventId }.compactMap(\.status).sorted() == ["A", "D"])
            #expect(try await client.listSubjects(start: 1, length: 2, direction: .desc).subjects.count == 2)
            try await client.unregisterEvent(subjectID: amy.id, eventID: secondEventID)
            #expect(try await client.listEvents(subjectID: amy.id).events.map(\.id) == [amy.eventId])
            await expect(.notFound) { () throws(NECIDError) in try await client.unregisterEvent(subjectID: amy.id, eventID: secondEventID) }
            await expect(.notFound) { () throws(NECIDError) in try await client.registerEvent(subjectID: "nobody", face: try! face("bbt_amy/04.png")) }

            // Update a subject, then unregister it: it no longer matches.
            let replaced = try await client.updateSubject(id: howard.id, face: try face("bbt_howard/03.png"), tags: ["visitor"])
            #expect(replaced.id == howard.id)
            try await client.unregisterSubject(id: amy.id)
            #expect(try await client.search(probe: try face("bbt_amy/02.png")).candidates.isEmpty)
            await expect(.notFound) { () throws(NECIDError) in try await client.unregisterSubject(id: amy.id) }
            await expect(.notFound) { () throws(NECIDError) in try await client.listEvents(subjectID: amy.id) }
            let gallery = try await client.listGalleries().first
            #expect(gallery?.count == 1)
        }
    }

    @Test func imagesWithoutOneGoodFaceAreRefused() async throws {
        try await withNECEmulator { emulator in
            let client = emulator.client()
            let noFace = try face("_noface/01.jpg")
            let group = try face("_multi/01.jpg")
            await expect(.noFace) { () throws(NECIDError) in try await client.registerSubject(face: noFace) }
            await expect(.noFace) { () throws(NECIDError) in try await client.search(probe: noFace) }
            await expect(.multipleFaces) { () throws(NECIDError) in try await client.registerSubject(face: group) }
            await expect(.invalidRequest) { () throws(NECIDError) in try await client.registerSubject(face: Array("not an image".utf8)) }

            // Extract returns up to `limit` faces of a group photo.
            let all = try await client.extract(image: group)
            #expect(all.faces.count >= 2)
            let one = try await client.extract(image: group, limit: 1)
            #expect(one.faces.count == 1)
            await expect(.noFace) { () throws(NECIDError) in try await client.extract(image: noFace) }

            // A gallery demanding near-perfect faces refuses ordinary ones (2002).
            let strict = try await client.createGallery(name: "Strict", faceMinimumQualityScore: 0.999, size: 10)
            let strictClient = emulator.client(apiKey: strict.apiKey)
            await expect(.poorQuality) { () throws(NECIDError) in try await strictClient.registerSubject(face: try! face("bbt_amy/01.png")) }
        }
    }

    @Test func bulkRegistrationRunsInTheBackgroundWithPagedProgress() async throws {
        try await withNECEmulator(jobPageSize: 2) { emulator in
            let bucket = emulator.stateDirectory.appendingPathComponent("bucket")
            for (name, source) in [("amy.png", "bbt_amy/01.png"), ("raj.png", "bbt_raj/01.png"), ("dog.jpg", "_noface/01.jpg")] {
                try Data(try face(source)).write(to: bucket.appendingPathComponent(name))
            }
            let client = emulator.client()
            try await client.createTag("bulk")
            let job = try await client.bulkRegister([
                NECBulkRegistration(filename: "amy.png", tags: ["bulk"]), NECBulkRegistration(filename: "raj.png"),
                NECBulkRegistration(filename: "dog.jpg"), NECBulkRegistration(filename: "missing.jpg"),
                NECBulkRegistration(filename: "../escape.jpg"),
            ])

            var records: [NECJobRecord] = []
            for _ in 0..<600 {
                records = []
                var pagingID: String?
                var pages = 0
                repeat {
                    let page = try await client.jobProgress(batchID: job.batchId, pagingID: pagingID)
                    #expect(page.processed.count <= 2)
                    records += page.processed
                    pagingID = page.hasMorePages ? page.lastEvaluatedKey : nil
                    pages += 1
                } while pagingID != nil
                #expect(pages == 3)
                if records.allSatisfy(\.isProcessed) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(records.map(\.filename) == ["amy.png", "raj.png", "dog.jpg", "missing.jpg", "../escape.jpg"])
            #expect(records.map { $0.registerStatus ?? "" } == ["Success", "Success", "Failed", "Failed", "Failed"])
            #expect(records[0].subjectId?.isEmpty == false)
            #expect(records[0].attributesJson?.contains("faceQualityScore") == true)
            #expect(records[2].reason?.contains("No face") == true)

            let found = try await client.search(probe: try face("bbt_amy/02.png"), tags: ["bulk"])
            #expect(found.candidates.first?.id == records[0].subjectId)
            await expect(.notFound) { () throws(NECIDError) in try await client.jobProgress(batchID: "no-such-batch") }
        }
    }

    @Test func stateSurvivesARestart() async throws {
        let first = try await NECEmulatorHarness.start()
        let registered: NECRegistration
        do {
            let client = first.client()
            try await client.createTag("kept")
            registered = try await client.registerSubject(face: try face("bbt_leonard/01.png"), tags: ["kept"])
        } catch {
            try? await first.stop()
            throw error
        }
        try await first.stop(removingState: false)

        let second = try await NECEmulatorHarness.start(stateDirectory: first.stateDirectory)
        do {
            let client = second.client()
            #expect(try await client.listTags() == ["kept"])
            #expect(try await client.listSubjects().subjects.map(\.id) == [registered.id])
            let match = try await client.search(probe: try face("bbt_leonard/02.png"))
            #expect(match.candidates.first?.id == registered.id)
        } catch {
            try? await second.stop()
            throw error
        }
        try await second.stop()
    }
}
