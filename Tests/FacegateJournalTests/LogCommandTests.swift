import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

/// Runs a built executable from beside this test binary and collects its output.
struct BuiltTool {
    let path: String

    init(_ name: String) {
        path = BuiltProducts.executable(name).path
    }

    var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let run = try ToolProcess.runBlocking(URL(fileURLWithPath: path), arguments)
        return (run.status, run.output, run.errors)
    }
}

@Suite("facegate log", .timeLimit(.minutes(5)))
struct LogCommandTests {
    static let facegate = BuiltTool("facegate")

    @Test("filters and prints decisions as text, JSON lines and CSV; door events on request", .enabled(if: facegate.exists, "facegate is built by `swift build`"))
    func log() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        let now = Date()
        try await withRunningJournal(.init(path: path)) { journal in
            journal.record(DecisionRecord(time: now.addingTimeInterval(-3 * 86_400), door: "front", decision: sampleDecision(subject: "old"), backend: "nec"))
            // "old" has no relay record (a power cut between the grant's commit and the relay's): "relay unknown".
            let alice = DecisionRecord(time: now.addingTimeInterval(-600), door: "front", decision: sampleDecision(subject: "alice"), backend: "nec")
            journal.record(alice)
            journal.recordRelay(RelayRecord(decisionId: alice.id, result: .unlocked))
            // Granted, the door not opened: a relay that failed, a grant a reload withheld.
            let failed = DecisionRecord(time: now.addingTimeInterval(-500), door: "side", decision: sampleDecision(subject: "bob"), backend: "nec")
            let withheld = DecisionRecord(time: now.addingTimeInterval(-400), door: "side", decision: sampleDecision(subject: "carol"), backend: "nec")
            journal.record(failed)
            journal.recordRelay(RelayRecord(decisionId: failed.id, result: .failed))
            journal.record(withheld)
            journal.recordRelay(RelayRecord(decisionId: withheld.id, result: .withheld))
            journal.record(
                DecisionRecord(time: now.addingTimeInterval(-300), door: "back", decision: sampleDecision(.deniedUnknown, subject: nil), backend: "nec"))
            journal.record(DoorEventRecord(time: now.addingTimeInterval(-590), door: "front", kind: .opened))
            journal.record(DoorEventRecord(time: now.addingTimeInterval(-580), door: "front", kind: .closed))
            try await journal.flush()
        }
        let tool = Self.facegate

        let text = try tool.run(["log", "--database", path])
        #expect(text.status == 0)
        #expect(text.output.split(separator: "\n").count == 5)
        let side = text.output.split(separator: "\n").filter { $0.contains("  side  ") }
        #expect(side.count == 2 && side.first?.contains("  bob  ") == true && side.first?.contains("  relay failed  ") == true, "\(side)")
        #expect(side.last?.contains("  relay withheld  ") == true, "a grant the door did not open for never reads as a plain grant: \(side)")
        #expect(!text.output.split(separator: "\n").contains { $0.contains("  alice  ") && $0.contains("relay") }, "an opened door says nothing more")
        let old = text.output.split(separator: "\n").filter { $0.contains("  old  ") }
        #expect(old.count == 1 && old.first?.contains("  relay unknown  ") == true, "a grant whose relay was never recorded: \(old)")
        #expect(!text.output.split(separator: "\n").contains { $0.contains("denied-unknown") && $0.contains("relay") })

        let recent = try tool.run(["log", "--database", path, "--since", "1d", "--json"])
        #expect(recent.status == 0)
        let lines = recent.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0["outcome"] as? String } == ["granted", "granted", "granted", "denied-unknown"])
        #expect(lines.first?["subject_id"] as? String == "alice")

        let back = try tool.run(["log", "--database", path, "--door", "back", "--csv"])
        let rows = back.output.split(separator: "\n")
        #expect(rows.count == 2)
        #expect(rows.first?.hasPrefix("time,id,door,outcome") == true)
        #expect(rows.last?.contains(",back,denied-unknown,") == true)

        let granted = try tool.run(["log", "--database", path, "--outcome", "granted", "--limit", "1", "--json"])
        #expect(granted.output.contains("\"subject_id\":\"carol\""), "the newest grant")
        #expect(granted.output.split(separator: "\n").count == 1)

        let events = try tool.run(["log", "--database", path, "--door-events", "--json"])
        #expect(events.output.split(separator: "\n").count == 2)
        #expect(events.output.contains("\"event\":\"closed\""))

        let bad = try tool.run(["log", "--database", path, "--outcome", "maybe"])
        #expect(bad.status != 0)
        #expect(bad.errors.contains("unknown outcome 'maybe'"))
        let badTime = try tool.run(["log", "--database", path, "--since", "last tuesday"])
        #expect(badTime.status != 0)
        #expect(badTime.errors.contains("cannot read the time"))
        let missing = try tool.run(["log", "--database", folder.file("none.sqlite")])
        #expect(missing.status != 0)
        #expect(missing.errors.contains("no journal at"))
    }

    /// A manual unlock's reason is whatever was typed, and subject ids are the cloud's: an escape sequence
    /// must not reach the terminal (it can erase lines of the listing), nor a formula the spreadsheet.
    @Test("text output escapes control characters; CSV output quotes what a spreadsheet would run", .enabled(if: facegate.exists, "facegate is built by `swift build`"))
    func outputIsSafeToView() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("journal.sqlite")
        try await withRunningJournal(.init(path: path)) { journal in
            journal.record(
                DecisionRecord(
                    time: Date(), door: "front", decision: Decision(outcome: .manualUnlock, reason: "delivery\u{1B}[1A\u{1B}[2K\rforged line", subjectId: "=HYPERLINK(\"http://x\")"),
                    backend: "manual"))
            journal.record(DoorEventRecord(time: Date(), door: "front\u{1B}[2J", kind: .fault, detail: "-2+3\u{1B}]0;title\u{7}"))
            journal.record(
                DecisionRecord(
                    time: Date(), door: "side", decision: Decision(outcome: .deniedUnknown, reason: "r", subjectId: "a\u{9B}2J\u{202E}b"),
                    backend: "nec"))
            try await journal.flush()
        }
        // JSON lines: the encoder escapes C0 controls; C1 controls and bidirectional overrides are escaped too.
        let json = try Self.facegate.run(["log", "--database", path, "--json"])
        #expect(json.status == 0)
        #expect(!json.output.unicodeScalars.contains { $0 == "\u{9B}" || $0 == "\u{202E}" || $0 == "\u{1B}" }, "\(json.output)")
        let sideLine = try #require(json.output.split(separator: "\n").first { $0.contains("\"side\"") })
        let parsed = try JSONSerialization.jsonObject(with: Data(sideLine.utf8)) as? [String: Any]
        #expect(parsed?["subject_id"] as? String == "a\u{9B}2J\u{202E}b", "still the id, once parsed")
        let text = try Self.facegate.run(["log", "--database", path])
        #expect(text.status == 0)
        #expect(!text.output.contains("\u{1B}") && !text.output.contains("\r"))
        #expect(text.output.contains(#"delivery\u{1B}[1A\u{1B}[2K\rforged line"#))
        let events = try Self.facegate.run(["log", "--database", path, "--door-events"])
        #expect(!events.output.contains("\u{1B}") && !events.output.contains("\u{7}"))
        #expect(events.output.contains(#"front\u{1B}[2J"#) && events.output.contains(#"-2+3\u{1B}]0;title\u{7}"#))

        let csv = try Self.facegate.run(["log", "--database", path, "--csv", "--door", "front"]).output.split(separator: "\n")
        #expect(csv.count == 2)
        #expect(csv.last?.contains(#","'=HYPERLINK(""http://x"")","#) == true, "\(csv)")
        let eventsCSV = try Self.facegate.run(["log", "--database", path, "--door-events", "--csv"]).output
        // Escaped as in the text form (before, the ESC and BEL went out raw: `log --csv | head` could rewrite lines).
        #expect(eventsCSV.contains(#",'-2+3\u{1B}]0;title\u{7}"#), "\(eventsCSV)")
        #expect(!eventsCSV.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{7}" })
        let sideCSV = try Self.facegate.run(["log", "--database", path, "--csv", "--door", "side"]).output
        #expect(!sideCSV.unicodeScalars.contains { $0 == "\u{9B}" || $0 == "\u{202E}" }, "\(sideCSV)")
    }

    @Test("its help names every outcome and every door event kind the journal keeps", .enabled(if: facegate.exists, "facegate is built by `swift build`"))
    func helpNamesEveryKind() throws {
        let help = try Self.facegate.run(["log", "--help"])
        #expect(help.status == 0)
        // Help text wraps at spaces, so a kind is looked for as a word of the joined text.
        let words = Set(help.output.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "(" || $0 == ")" || $0 == "." }).map(String.init))
        for kind in DoorEventKind.allCases.map(\.rawValue) + Decision.Outcome.allCases.map(\.rawValue) {
            #expect(words.contains(kind), "\(kind) is not in `facegate log --help`")
        }
    }
}
