import Foundation
import Synchronization

/// What a command printed and how it ended.
public struct ToolRun: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String

    public init(status: Int32, output: String, errors: String) {
        self.status = status
        self.output = output
        self.errors = errors
    }

    /// The standard output as a JSON object.
    public func json() throws -> [String: any Sendable] {
        let value = try JSONSerialization.jsonObject(with: Data(output.utf8))
        guard let object = value as? [String: any Sendable] else {
            throw CocoaError(.propertyListReadCorrupt, userInfo: [NSDebugDescriptionErrorKey: "not a JSON object: \(output)"])
        }
        return object
    }
}

/// Runs commands to their end for tests, reading standard output and standard error as they come:
/// reading one pipe to its end before the other deadlocks once the child fills the other (64 KiB).
public enum ToolProcess {
    /// Runs `tool` and waits for it without blocking a thread of the cooperative pool.
    /// Standard input is `input` (a ``PseudoTerminal``'s side, to be asked as at a terminal), else
    /// `/dev/null`: never the test runner's own, which may be a terminal and would answer a command's question.
    public static func run(
        _ tool: URL, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: URL? = nil, input: FileHandle? = nil
    ) async throws -> ToolRun {
        let (process, output, errors) = prepare(tool, arguments, environment, currentDirectory, input)
        let collected = Mutex<(out: Data, err: Data)>((Data(), Data()))
        // Each chunk is read and kept under the lock, as the rest is below: a handler that had read a chunk
        // but not yet kept it when the rest was taken lost that chunk from the middle of the output (a
        // JSON answer cut in two, once, under a loaded full run).
        output.fileHandleForReading.readabilityHandler = { handle in
            collected.withLock { $0.out.append(handle.availableData) }
        }
        errors.fileHandleForReading.readabilityHandler = { handle in
            collected.withLock { $0.err.append(handle.availableData) }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
        // What arrived between the last handler call and the end, read under the same lock as the chunks.
        let (out, err) = collected.withLock {
            ($0.out + output.fileHandleForReading.readDataToEndOfFile(), $0.err + errors.fileHandleForReading.readDataToEndOfFile())
        }
        return ToolRun(status: status, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
    }

    /// Runs `tool` and waits for it on the calling thread (for synchronous tests); standard error
    /// is read on a thread of its own while standard output is read here.
    public static func runBlocking(
        _ tool: URL, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: URL? = nil
    ) throws -> ToolRun {
        let (process, output, errors) = prepare(tool, arguments, environment, currentDirectory, nil)
        try process.run()
        let errorData = Mutex(Data())
        let errorsRead = DispatchSemaphore(value: 0)
        let errorHandle = errors.fileHandleForReading
        Thread.detachNewThread {
            let data = errorHandle.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            errorsRead.signal()
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        errorsRead.wait()
        process.waitUntilExit()
        let err = errorData.withLock { $0 }
        return ToolRun(
            status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
    }
}

extension ToolProcess {
    /// Starts a long-running `tool` (a daemon, an emulator) with standard output and standard error
    /// both written to `log`, a file, so that nothing the test does not read can fill a pipe and stall it.
    public static func start(
        _ tool: URL, _ arguments: [String], environment: [String: String]? = nil, log: URL
    ) throws -> Process {
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        if let environment { process.environment = environment }
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        return process
    }

    private static func prepare(
        _ tool: URL, _ arguments: [String], _ environment: [String: String]?, _ currentDirectory: URL?, _ input: FileHandle?
    ) -> (Process, output: Pipe, errors: Pipe) {
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        process.standardInput = input ?? FileHandle.nullDevice
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        return (process, output, errors)
    }
}

/// The package's executables, built beside the test bundle by `swift build`.
public enum BuiltProducts {
    /// The folder `swift build` puts executables and the test bundle in.
    public static let folder: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    public static func executable(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// Whether every named executable is built (tests that run them are skipped otherwise).
    public static func built(_ names: String...) -> Bool {
        names.allSatisfy { FileManager.default.isExecutableFile(atPath: executable($0).path) }
    }

    public static var facegate: URL { executable("facegate") }
    public static var emulator: URL { executable("facegate-emulator") }
}
