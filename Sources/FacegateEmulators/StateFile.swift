import Foundation

/// A Codable value kept in one JSON file of an emulator's state folder, so the
/// emulated service survives a restart as the real one would.
///
/// Writes go to a temporary file that is renamed over the old one, so a crash
/// leaves either the old state or the new, never half of one.
public actor StateFile<Value: Codable & Sendable> {
    public let url: URL
    public private(set) var value: Value

    /// Loads the file if it exists, else starts from `initial`.
    public init(directory: URL, name: String, initial: Value) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        url = directory.appendingPathComponent(name)
        if let data = try? Data(contentsOf: url) {
            do {
                value = try JSONDecoder().decode(Value.self, from: data)
            } catch {
                throw StateFileError(url: url, reason: "cannot be read: \(error)")
            }
        } else {
            value = initial
        }
    }

    /// Changes the value and writes it out before returning.
    @discardableResult
    public func update<Result: Sendable>(_ change: (inout Value) throws -> Result) throws -> Result {
        var copy = value
        let result = try change(&copy)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(copy).write(to: url, options: .atomic)
        value = copy
        return result
    }
}

public struct StateFileError: Error, CustomStringConvertible {
    public let url: URL
    public let reason: String

    public var description: String { "state file \(url.path) \(reason)" }
}
