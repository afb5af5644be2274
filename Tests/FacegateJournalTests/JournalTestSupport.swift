import FacegateCore
import FacegateJournal
import FacegateTesting
import Foundation
import Testing

/// Runs `body` with a journal whose writer runs beside it, then stops the writer.
func withRunningJournal<T: Sendable>(
    _ configuration: SQLiteJournal.Configuration, _ body: (SQLiteJournal) async throws -> T
) async throws -> T {
    let journal = SQLiteJournal(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await journal.run() }
        do {
            let result = try await body(journal)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

func sampleQuality(score: Double = 0.82) -> QualityMeasures {
    let m = QualityMeasure(raw: 1, score: 50)
    return QualityMeasures(
        interEyeDistance: QualityMeasure(raw: 64, score: 90), headSize: m, headPosition: m, yaw: QualityMeasure(raw: -3.5, score: 95),
        roll: m, pitch: m, sharpness: m, luminanceMean: m, underExposure: m, overExposure: m, dynamicRange: m,
        singleFaceDominance: m, faceQualityScore: score)
}

func sampleDecision(
    _ outcome: Decision.Outcome = .granted, subject: String? = "alice", offline: Bool = false
) -> Decision {
    Decision(
        outcome: outcome, reason: "sample \(outcome.rawValue)", subjectId: subject, bestScore: offline ? 0.31 : 9120,
        secondScore: offline ? 0.52 : 4200, threshold: offline ? 0.4 : 7000, scoreUnit: offline ? .descriptorDistance : .necScore,
        offline: offline)
}

/// Times rounded to milliseconds, the precision SQLite keeps.
func wholeMilliseconds(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
}

/// Runs a command and throws when it fails (for mount, umount).
@discardableResult
func runTool(_ path: String, _ arguments: [String]) throws -> Int32 {
    try ToolProcess.runBlocking(URL(fileURLWithPath: path), arguments).status
}

/// A small tmpfs, for the full-disk and read-only tests (needs root and mount).
struct ScratchMount {
    let folder: TemporaryFolder

    static var isPossible: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")
    }

    init(sizeKiB: Int) throws {
        folder = try TemporaryFolder()
        let status = try runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKiB)k,mode=0755", "tmpfs", folder.path])
        guard status == 0 else {
            folder.remove()
            throw ScratchMountUnavailable()
        }
    }

    func remount(readOnly: Bool) throws {
        let status = try runTool("/bin/mount", ["-o", readOnly ? "remount,ro" : "remount,rw", folder.path])
        if status != 0 { throw ScratchMountUnavailable() }
    }

    func unmount() {
        _ = try? runTool("/bin/umount", ["-l", folder.path])
        folder.remove()
    }

    /// Fills what is left of the file system with a file named `filler`, then frees `leaving` bytes of it;
    /// the filler's path.
    @discardableResult
    func fill(leaving free: UInt64 = 0) throws -> String {
        let filler = folder.file("filler")
        #expect(FileManager.default.createFile(atPath: filler, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: filler))
        defer { try? handle.close() }
        let chunk = Data(repeating: 0xA5, count: 16 * 1024)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        if free > 0 { try handle.truncate(atOffset: try handle.offset() - free) }
        return filler
    }
}

struct ScratchMountUnavailable: Error {}
