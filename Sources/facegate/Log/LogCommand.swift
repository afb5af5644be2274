import FacegateCore
import ArgumentParser
import FacegateJournal
import Foundation

/// `facegate log`: reads the decision journal (works while the daemon is writing it).
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Prints the door's decisions (or door events) from the journal, oldest first.",
        discussion: """
            Times are printed in UTC. --since and --until take an age (30m, 12h, 2d, 1w) or a date \
            (2026-11-21, 2026-11-21T08:30, 2026-11-21T08:30:00Z; local time unless a zone is given).
            """
    )

    @Option(help: ArgumentHelp("The journal file.", valueName: "path"))
    var database = SQLiteJournal.defaultPath

    @Option(help: ArgumentHelp("Only entries at or after this time.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only entries before this time.", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only this door.", valueName: "name"))
    var door: String?

    @Option(
        help: ArgumentHelp(
            "Only this outcome (repeatable): \(Decision.Outcome.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "outcome"))
    var outcome: [String] = []

    @Option(help: ArgumentHelp("Only the last this many written (the newest, whatever times a clock set back gave them).", valueName: "count"))
    var limit: Int?

    @Flag(help: ArgumentHelp("Print door events (\(DoorEventKind.allCases.map(\.rawValue).joined(separator: ", "))) instead of decisions."))
    var doorEvents = false

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "CSV with a header line (a field a spreadsheet would take for a formula, one starting with = + - or @, gets a ' in front).")
    var csv = false

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
        for name in outcome where Decision.Outcome(rawValue: name) == nil {
            throw ValidationError(
                "unknown outcome '\(name)'; outcomes are: \(Decision.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if doorEvents && !outcome.isEmpty { throw ValidationError("--outcome applies to decisions, not to --door-events") }
    }

    func run() throws {
        let now = Date()
        let sinceDate = try since.map { text throws(JournalError) in try JournalTimeArgument.parse(text, now: now) }
        let untilDate = try until.map { text throws(JournalError) in try JournalTimeArgument.parse(text, now: now) }
        let reader = try JournalReader(path: database)
        var output = StandardOutput()
        defer { output.flush() }

        if doorEvents {
            if csv { output.line(JournalExport.csvLine(JournalExport.doorEventCSVHeader)) }
            try reader.forEachDoorEvent(DoorEventQuery(since: sinceDate, until: untilDate, door: door, limit: limit)) { event in
                if json {
                    output.line(try JournalExport.jsonLine(DoorEventLogLine(event)))
                } else if csv {
                    output.line(JournalExport.csvRow(event))
                } else {
                    output.line(
                        "\(JournalExport.timestamp(event.time))  \(TerminalText.printable(event.door))  \(event.kind.rawValue)"
                            + (event.detail.map { "  \(TerminalText.printable($0))" } ?? ""))
                }
            }
            return
        }

        let outcomes = Set(outcome.compactMap(Decision.Outcome.init(rawValue:)))
        let query = DecisionQuery(since: sinceDate, until: untilDate, door: door, outcomes: outcomes.isEmpty ? nil : outcomes, limit: limit)
        if csv { output.line(JournalExport.csvLine(JournalExport.decisionCSVHeader)) }
        try reader.forEachDecision(query) { decision in
            if json {
                output.line(try JournalExport.jsonLine(DecisionLogLine(decision)))
            } else if csv {
                output.line(JournalExport.csvRow(decision))
            } else {
                output.line(Self.text(decision))
            }
        }
    }

    /// The human form: time, door, outcome, who, score, latency, the relay when it did not open, reason;
    /// what came from outside (the
    /// cloud's subject ids, a manual unlock's reason) with its control characters escaped.
    static func text(_ journaled: JournaledDecision) -> String {
        let record = journaled.record
        let d = record.decision
        var parts = [
            JournalExport.timestamp(record.time), TerminalText.printable(record.door), d.outcome.rawValue,
            d.subjectId.map(TerminalText.printable) ?? "-",
        ]
        if let best = d.bestScore {
            parts.append("score \(best.formatted(.number.grouping(.never).precision(.fractionLength(0...3))))")
        }
        if let total = record.latencies.total {
            let (seconds, attoseconds) = total.components
            parts.append("\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms")
        }
        if let status = journaled.recheckStatus { parts.append("recheck \(status.rawValue)") }
        // A grant the door did not open for (the relay failed, or a reload withheld it) must not read as
        // a plain grant; nor one whose relay's result never reached the journal (a power cut, or a disk
        // that failed, between the grant's commit and the relay's record).
        if let relay = record.relay {
            if !relay.opened { parts.append("relay \(relay.rawValue)") }
        } else if d.outcome.opensDoor {
            parts.append("relay unknown")
        }
        return parts.joined(separator: "  ") + "  " + TerminalText.printable(d.reason)
    }
}

/// Buffered standard output (a journal can hold millions of lines).
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 64 * 1024 { flush() }
    }

    mutating func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
