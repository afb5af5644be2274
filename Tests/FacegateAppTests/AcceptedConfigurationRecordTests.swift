@testable import FacegateApp
import FacegateCore
import Foundation
import Testing

/// The record of the file the door last ran on, against which the next start reads a file cut short.
@Suite(.timeLimit(.minutes(1)))
struct AcceptedConfigurationRecordTests {
    static let path = "/etc/facegate/facegate.yaml"
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

    /// What the next start finds cut from the file at `path` (by default the one recorded), through the
    /// record's encoding as the start reads it.
    func cut(_ edited: String, recorded: String = file, path: String = path) throws -> AcceptedConfigurationRecord.Cut? {
        let accepted = AcceptedConfigurationRecord(try FacegateConfiguration(yaml: recorded, fileIsPrivate: true), path: Self.path)
        let read = try JSONDecoder().decode(AcceptedConfigurationRecord.self, from: try JSONEncoder().encode(accepted))
        return read.cut(in: try FacegateConfiguration(yaml: edited, fileIsPrivate: true), path: path)
    }

    @Test func aFileCutShortIsToldFromAnEdit() throws {
        // Cut inside the last value, or at the line break before the last name (with what follows it).
        let insideAValue = try #require(try cut(Self.file.replacingOccurrences(of: "seconds: 30", with: "seconds: 3")))
        #expect(insideAValue.keys == ["door.reentry_cooldown_seconds"] && insideAValue.refusesTheStart)
        let beforeTheLastName = String(Self.file[..<Self.file.range(of: "    - mallory-9")!.lowerBound])
        let problem = try #require(try cut(beforeTheLastName)).problem
        #expect(problem.message.contains("facegate config accept") && !problem.message.contains("alice") && !problem.message.contains("30"), "\(problem)")
        // Edits: the last value changed (not cut), a value in the middle, a key added at the end, the same file.
        #expect(try cut(Self.file.replacingOccurrences(of: "seconds: 30", with: "seconds: 20")) == nil)
        #expect(try cut(Self.file.replacingOccurrences(of: "threshold: 7500", with: "threshold: 7000")) == nil)
        #expect(try cut(Self.file.replacingOccurrences(of: "alice-7", with: "alice-8")) == nil)
        #expect(try cut(Self.file + "\n  minimum_margin: 100") == nil)
        #expect(try cut(Self.file) == nil)
        // A secret changed, or rotated to a reference: an edit.
        #expect(try cut(Self.file.replacingOccurrences(of: "an-inline-secret-4f2a", with: "an-inline")) == nil)
    }

    /// A cut that loses only settings that let nobody in (the kiosk, logging) is said, not refused; one
    /// that loses anything else, the offline cache's among them (review: `enabled: false` cut off switched
    /// offline grants back on), is refused.
    @Test func onlyACutOfSettingsThatLetNobodyInIsRunOn() throws {
        let withAKiosk = Self.file + "\nkiosk:\n  enabled: true\n  preview: false\n"
        let kiosk = try #require(try cut(Self.file + "\nkiosk:\n  enabled: true\n", recorded: withAKiosk))
        #expect(kiosk.keys == ["kiosk.preview"] && !kiosk.refusesTheStart)
        #expect(!kiosk.problem.message.contains("config accept"))
        let intoTheDoor = try #require(try cut(String(Self.file[..<Self.file.range(of: "  reentry")!.lowerBound]), recorded: withAKiosk))
        #expect(intoTheDoor.refusesTheStart, "\(intoTheDoor.keys)")
        let withTheCacheOff = Self.file + "\noffline_cache:\n  max_distance: 0.35\n  enabled: false\n"
        let cache = try #require(try cut(Self.file + "\noffline_cache:\n  max_distance: 0.35\n", recorded: withTheCacheOff))
        #expect(cache.keys == ["offline_cache.enabled"] && cache.refusesTheStart)
    }

    /// Another file (a candidate checked beside the door's, a unit given another `--config`) is not compared.
    @Test func anotherFileIsNotComparedWithTheDoorsRecord() throws {
        let beforeTheLastName = String(Self.file[..<Self.file.range(of: "    - mallory-9")!.lowerBound])
        #expect(try cut(beforeTheLastName, path: "/tmp/candidate.yaml") == nil)
        #expect(try cut(beforeTheLastName, path: "/etc/facegate/../facegate/facegate.yaml") != nil, "the same file, however named")
    }

    @Test func aSecretIsKeptAsADigestOnly() throws {
        let record = AcceptedConfigurationRecord(try FacegateConfiguration(yaml: Self.file, fileIsPrivate: true), path: Self.path)
        let written = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(!written.contains("an-inline-secret") && written.contains("sha256:"), "\(written)")
        #expect(written.contains("mallory-9"))
    }
}
