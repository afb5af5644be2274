import Foundation
import Testing

/// A test that hangs must fail within minutes instead of stalling CI until its 90-minute limit: every
/// file of tests gives its suites a time limit (`.timeLimit`). This keeps it so for suites added later.
@Suite(.timeLimit(.minutes(1)))
struct TestTimeLimitTests {
    @Test("every test file's suites carry a time limit")
    func everySuiteHasATimeLimit() throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let files = try #require(FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 40, "the test sources were found")
        var missing: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            if text.contains("@Test"), !text.contains(".timeLimit(") { missing.append(file.lastPathComponent) }
        }
        #expect(missing.isEmpty, "suites without a time limit in \(missing.sorted())")
    }
}
