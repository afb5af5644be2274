// Test-only: writes decisions in a burst, reporting on stdout each number it knows is on disk,
// until it is killed. FacegateJournalTests SIGKILLs it and checks the file.
import FacegateCore
import FacegateJournal
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: facegate-journal-crash-writer DATABASE\n".utf8))
    exit(2)
}

let journal = SQLiteJournal(configuration: .init(path: arguments[1], retention: JournalRetention(maxAge: nil, maxBytes: nil)))
await withTaskGroup(of: Void.self) { group in
    group.addTask { await journal.run() }
    var written = 0
    while true {
        for _ in 0..<250 {
            written += 1
            let decision = Decision(
                outcome: written % 3 == 0 ? .deniedUnknown : .granted, reason: "burst", subjectId: String(written),
                bestScore: 9000, threshold: 7000, scoreUnit: .necScore)
            journal.record(DecisionRecord(time: Date(), door: "crash", decision: decision, backend: "nec"))
        }
        do {
            try await journal.flush()
            // Unbuffered, so that a line on the pipe means the flush had returned.
            FileHandle.standardOutput.write(Data("committed \(written)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("flush failed: \(error)\n".utf8))
            exit(1)
        }
    }
}
