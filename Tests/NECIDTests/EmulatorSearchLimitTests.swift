import FacegateIdentify
import Foundation
import Testing
import FacegateTesting

/// Issue 9, item 8: the emulator applies a search's `limit` as NEC's document says, to events
/// ("limit of total events returned"), then groups them by subject.
@Suite(.timeLimit(.minutes(5))) struct EmulatorSearchLimitTests {
    @Test func limitCountsEventsNotSubjects() async throws {
        try await withNECEmulator { emulator in
            let client = emulator.client()
            // One subject with three events of one photo, and the same person enrolled again.
            let many = try await client.registerSubject(face: try face("angelina_jolie/01.jpg"))
            for _ in 0..<2 { _ = try await client.registerEvent(subjectID: many.id, face: try face("angelina_jolie/01.jpg")) }
            let again = try await client.registerSubject(face: try face("angelina_jolie/02.jpg"))
            let probe = try face("angelina_jolie/01.jpg")

            // The three identical events outrank the other subject: a limit of 3 is filled by them.
            let three = try await client.search(probe: probe, threshold: 0, limit: 3)
            #expect(three.candidates.map(\.id) == [many.id])
            #expect(three.candidates.first?.events.count == 3)
            // One more place lets the second subject in, with its one event.
            let four = try await client.search(probe: probe, threshold: 0, limit: 4)
            #expect(four.candidates.map(\.id) == [many.id, again.id])
            #expect(four.candidates.map(\.events.count) == [3, 1])
            // A limit of 1 is one event, of the best subject.
            let one = try await client.search(probe: probe, threshold: 0, limit: 1)
            #expect(one.candidates.map(\.events.count) == [1])
        }
    }
}
