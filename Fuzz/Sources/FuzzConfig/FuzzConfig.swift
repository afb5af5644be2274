import FacegateApp

// The configuration reader on arbitrary bytes, as `FacegateConfiguration.load(path:)` reads a file:
// UTF-8 text or a refusal, then YAML, then every key. A thrown `ConfigError` is a refusal (fine).
// Findings: a trap, a memory error, a hang, or a problem message that quotes a value from the file
// (RELIABILITY.md promises they never do: the file may hold inline secrets). The seeds and the
// dictionary write `marker` as values (secrets, names, tags, times); no message may contain it.
// (`environmentProblems()` is left out: it looks at this machine's files, not at the bytes.)

private let marker = "S3cr3tFuzzValue"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    do {
        // Both answers to "may the file hold inline secrets?", chosen by the input's length.
        _ = try FacegateConfiguration(yaml: text, file: "fuzz.yaml", fileIsPrivate: size % 2 == 0)
    } catch {
        // Key paths name keys, and a key may be anything; the message is what must hold no value.
        for problem in error.problems where problem.message.contains(marker) {
            fatalError("a configuration problem quotes a value from the file: \(problem.path)")
        }
        _ = error.description.utf8.count
    }
    return 0
}
