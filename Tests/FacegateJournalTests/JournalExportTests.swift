import FacegateCore
import FacegateJournal
import Foundation
import Testing

@Suite("facegate log: times and formats", .timeLimit(.minutes(5)))
struct JournalExportTests {
    let now = Date(timeIntervalSince1970: 1_763_766_000)  // 2025-11-21T23:00:00Z
    let utc = TimeZone(identifier: "UTC")!

    @Test("ages are counted back from now", arguments: [("90s", 90.0), ("15m", 900), ("1h", 3_600), ("2d", 172_800), ("1w", 604_800), ("1.5h", 5_400)])
    func ages(text: String, seconds: Double) throws {
        #expect(try JournalTimeArgument.parse(text, now: now) == now.addingTimeInterval(-seconds))
    }

    @Test("dates and times read in the given zone unless they carry one")
    func absolute() throws {
        #expect(try JournalTimeArgument.parse("2025-11-21", now: now, timeZone: utc) == Date(timeIntervalSince1970: 1_763_683_200))
        #expect(try JournalTimeArgument.parse("2025-11-21T08:30", now: now, timeZone: utc) == Date(timeIntervalSince1970: 1_763_713_800))
        #expect(try JournalTimeArgument.parse("2025-11-21 08:30:00", now: now, timeZone: utc) == Date(timeIntervalSince1970: 1_763_713_800))
        #expect(try JournalTimeArgument.parse("2025-11-21T08:30:00Z", now: now, timeZone: TimeZone(identifier: "Asia/Tokyo")!) == Date(timeIntervalSince1970: 1_763_713_800))
        #expect(try JournalTimeArgument.parse("2025-11-21T09:30:00+01:00", now: now) == Date(timeIntervalSince1970: 1_763_713_800))
        let tokyo = try JournalTimeArgument.parse("2025-11-21T17:30", now: now, timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(tokyo == Date(timeIntervalSince1970: 1_763_713_800))
    }

    @Test("anything else is a clear error", arguments: ["", "yesterday", "-1h", "1y", "2025-13-45", "h"])
    func invalid(text: String) {
        #expect(throws: JournalError(.invalidQuery, "")) { try JournalTimeArgument.parse(text, now: now) }
    }

    @Test("CSV quotes fields with commas, quotes and line breaks")
    func csv() {
        #expect(JournalExport.csvLine(["a", nil, "b,c", "say \"hi\"", "two\nlines", ""]) == "a,,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",")
    }

    /// OWASP's CSV injection advice: a field a spreadsheet would run as a formula starts with a quote.
    @Test("CSV puts a quote before a field a spreadsheet would read as a formula, not before a number")
    func csvFormulas() {
        #expect(
            JournalExport.csvLine(["=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "a=b", "-0.5", "+7", ""])
                == #""'=HYPERLINK(""http://x"")",'+1+cmd|' /C calc'!A0,'-2+3,'@SUM(A1),'\#tx,a=b,-0.5,+7,"#)
        // A carriage return is written as `\r` (it would move a terminal's cursor back over the line).
        #expect(JournalExport.csvLine(["\r=1"]) == #"'\r=1"#)
        // CR LF is one Character in Swift, neither CR nor LF: judged on scalars, it is quoted and guarded
        // (before, "a\r\nb" went out bare and split the row, and "\r\n=1" started the next with a formula).
        #expect(JournalExport.csvLine(["a\r\nb", "x"]) == "\"a\\r\nb\",x")
        #expect(JournalExport.csvLine(["\r\n=1"]) == "\"'\\r\n=1\"")
        #expect(JournalExport.csvLine(["=\u{301}1"]) == "'=\u{301}1")
        // Escape sequences, C1 controls and bidirectional overrides never reach a terminal raw; a tab and a
        // line feed inside a field are the text's own, kept (quoted).
        #expect(JournalExport.csvLine(["a\u{1B}]52;c;eA==\u{7}b", "x\u{9B}2J\u{202E}y", "one\ttwo\nthree"])
            == #"a\u{1B}]52;c;eA==\u{7}b,x\u{9B}2J\u{202E}y,"# + "\"one\ttwo\nthree\"")
    }

    @Test("text for a terminal has its control characters and bidirectional overrides escaped")
    func printable() {
        #expect(TerminalText.printable("held \u{1B}[2K\u{1B}[1Aforged\r\nline\t\u{7F}\u{9B}\u{202E}x") == #"held \u{1B}[2K\u{1B}[1Aforged\r\nline\t\u{7F}\u{9B}\u{202E}x"#)
        #expect(TerminalText.printable("Zoë, front door – ok") == "Zoë, front door – ok")
    }

    @Test("a decision's CSV row has one field per header column, and its JSON line stable snake_case names")
    func decisionForms() throws {
        let record = DecisionRecord(
            time: now, door: "front, main", decision: Decision(outcome: .grantedOffline, reason: "cached", subjectId: "alice", bestScore: 0.31, offline: true),
            backend: "nec", latencies: StageLatencies(total: .milliseconds(250)), relay: .failed,
            liveness: LivenessAssessment(liveness: 0.91, verdict: .live, cues: ["texture": 0.91, "parallax": 1], reason: "live"))
        let journaled = JournaledDecision(record: record, recheckStatus: .pending, recheck: nil, hasProbeCrop: false)
        let row = JournalExport.csvRow(journaled)
        #expect(row.hasPrefix("2025-11-21T23:00:00.000Z,\(record.id.uuidString),\"front, main\",granted-offline,cached,nec,alice,0.31,"))
        #expect(JournalExport.decisionCSVHeader.count == 26)
        #expect(row.split(separator: ",", omittingEmptySubsequences: false).count == 26 + 1, "one more for the comma inside the quoted door name")
        let json = try JournalExport.jsonLine(DecisionLogLine(journaled))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["outcome"] as? String == "granted-offline")
        #expect(object["relay"] as? String == "failed")
        #expect(row.hasSuffix(",failed,0.91,live"))
        let liveness = try #require(object["liveness"] as? [String: Any])
        #expect(liveness["verdict"] as? String == "live" && liveness["liveness"] as? Double == 0.91)
        #expect((liveness["cues"] as? [String: Double]) == ["texture": 0.91, "parallax": 1])
        #expect(object["subject_id"] as? String == "alice")
        #expect(object["offline"] as? Bool == true)
        #expect((object["latency_ms"] as? [String: Any])?["total"] as? Double == 250)
        #expect((object["recheck"] as? [String: Any])?["status"] as? String == "pending")
        #expect(object["time"] as? String == "2025-11-21T23:00:00.000Z")
        #expect(!json.contains("\n"))
    }
}
