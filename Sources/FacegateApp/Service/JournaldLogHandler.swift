import Foundation
import Logging

/// swift-log output for journald: one event per line on stderr, with the syslog priority prefix
/// (`<6>`) that systemd turns into the entry's priority, then the message and stable `key=value` fields.
///
/// Values are flattened onto one line so an event can never be split or forged by a newline in a value.
public struct JournaldLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, write: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.logLevel = level
        self.write = write ?? { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var line = "<\(Self.priority(event.level))>\(Self.flatten(event.message.description))"
        line += " logger=\(label)"
        for key in fields.keys.sorted() {
            line += " \(key)=\(Self.quote(Self.flatten("\(fields[key]!)")))"
        }
        write(line)
    }

    /// syslog priorities: emerg 0 ... debug 7.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func flatten(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\u{0}" ? " " : $0 })
    }

    static func quote(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty
            ? "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            : value
    }
}
