@testable import FacegateApp
import FacegateCore
import Foundation
import Testing

/// The record of the file the door last ran on, against which the next start reads a file cut short.
@Suite(.timeLimit(.minutes(1)))
struct AcceptedConfigurationRecordTests {
    static let file = """
        backend:
          nec: {api_key: an-inline-secret-4f2a}
        door:
          name: front
          threshold: 7500
          deny_list:
            - alice-7
            - mallory-9
          reentry_cooldown_seconds: 30
        """

    func problem(_ edited: String) throws -> ConfigProblem? {
        let accepted = AcceptedConfigurationRecord(try FacegateConfiguration(yaml: Self.file, fileIsPrivate: true))
        // Through its encoding, as the next start reads it.
        let read = try JSONDecoder().decode(AcceptedConfigurationRecord.self, from: try JSONEncoder().encode(accepted))
        return read.cutShortProblem(in: try FacegateConfiguration(yaml: edited, fileIsPrivate: true))
    }

    @Test func aFileCutShortIsToldFromAnEdit() throws {
        // Cut inside the last value, or at the line break before the last name (with what follows it).
        #expect(try problem(Self.file.replacingOccurrences(of: "seconds: 30", with: "seconds: 3"))?.path == "door.reentry_cooldown_seconds")
        let beforeTheLastName = String(Self.file[..<Self.file.range(of: "    - mallory-9")!.lowerBound])
        let cut = try #require(try problem(beforeTheLastName))
        #expect(cut.message.contains("facegate config accept") && !cut.message.contains("alice") && !cut.message.contains("30"), "\(cut)")
        // Edits: the last value changed (not cut), a value in the middle, a key added at the end, the same file.
        #expect(try problem(Self.file.replacingOccurrences(of: "seconds: 30", with: "seconds: 20")) == nil)
        #expect(try problem(Self.file.replacingOccurrences(of: "threshold: 7500", with: "threshold: 7000")) == nil)
        #expect(try problem(Self.file.replacingOccurrences(of: "alice-7", with: "alice-8")) == nil)
        #expect(try problem(Self.file + "\n  minimum_margin: 100") == nil)
        #expect(try problem(Self.file) == nil)
        // A secret changed, or rotated to a reference: an edit.
        #expect(try problem(Self.file.replacingOccurrences(of: "an-inline-secret-4f2a", with: "an-inline")) == nil)
    }

    @Test func aSecretIsKeptAsADigestOnly() throws {
        let record = AcceptedConfigurationRecord(try FacegateConfiguration(yaml: Self.file, fileIsPrivate: true))
        let written = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(!written.contains("an-inline-secret") && written.contains("sha256:"), "\(written)")
        #expect(written.contains("mallory-9"))
    }
}
