import FacegateIdentify
import Foundation
import Yams

/// One thing wrong with a configuration file, at a key path such as `doors[0].relay.line`.
///
/// A message says what is expected, never the value found: the file holds secrets (inline ones in an
/// owner-only file) and these messages reach the journal, `facegate config check` and reload refusals.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String
    /// Line in the file (from 1), when known.
    public var line: Int?
    /// Column in the line (from 1), when known.
    public var column: Int?

    public init(path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        let location =
            switch (line, column) {
            case (let line?, let column?): " (line \(line), column \(column))"
            case (let line?, nil): " (line \(line))"
            default: ""
            }
        return "\(path.isEmpty ? "<top>" : path)\(location): \(message)"
    }
}

/// The configuration could not be used; every problem found is listed, not just the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [ConfigProblem]

    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s")\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Reads typed values out of a YAML mapping, collecting problems with their key paths
/// instead of stopping at the first, and noticing keys nobody asked for.
final class ConfigReader {
    private let node: Node?
    let path: String
    private let log: ProblemLog
    private var consumed: Set<String> = []

    final class ProblemLog {
        var problems: [ConfigProblem] = []
        /// Accepted, but likely not what was meant: said at every start and reload, and by `config check`.
        var notes: [ConfigProblem] = []
    }

    init(node: Node?, path: String = "", log: ProblemLog = ProblemLog()) {
        self.node = node
        self.path = path
        self.log = log
        if let node, node.mapping == nil, !isNull(node) {
            problem("must be a mapping of keys to values", at: node)
        }
    }

    var problems: [ConfigProblem] { log.problems }
    var notes: [ConfigProblem] { log.notes }
    var isPresent: Bool { node.map { !isNull($0) } ?? false }

    func problem(_ message: String, key: String? = nil, at node: Node? = nil) {
        let mark = (node ?? self.node)?.mark
        log.problems.append(ConfigProblem(path: childPath(key), message: message, line: mark?.line, column: mark?.column))
    }

    func note(_ message: String, key: String? = nil, at node: Node? = nil) {
        let mark = (node ?? self.node)?.mark
        log.notes.append(ConfigProblem(path: childPath(key), message: message, line: mark?.line, column: mark?.column))
    }

    private func childPath(_ key: String?) -> String {
        guard let key else { return path }
        return path.isEmpty ? key : "\(path).\(key)"
    }

    private func isNull(_ node: Node) -> Bool { node.null != nil && node.scalar?.style == .plain }

    func value(_ key: String) -> Node? {
        consumed.insert(key)
        guard let value = node?.mapping?[key], !isNull(value) else { return nil }
        return value
    }

    /// ``value(_:)`` for a key that holds one value (a flag, a number, a text). Written with nothing after it
    /// (`fail_safe:`) it is refused, not taken as left out: the default it would get (a maglock on a fire
    /// exit driven fail-secure, for one) is seldom what a key written and left blank meant. `~` or `null`,
    /// written on purpose, still mean the default.
    func singleValue(_ key: String) -> Node? {
        if let present = node?.mapping?[key], isNull(present), present.scalar?.string.isEmpty == true {
            consumed.insert(key)
            problem("has no value: write one, or leave the key out for its default", key: key, at: present)
            return nil
        }
        return value(key)
    }

    /// The value at a dotted key path under this mapping (`journal.path`), without reading it (nor marking
    /// it read); nil when the file does not write it.
    func written(_ keyPath: String) -> Node? {
        var current = node
        for key in keyPath.split(separator: ".") { current = current?.mapping?[String(key)] }
        guard let current, !isNull(current) else { return nil }
        return current
    }

    func scoped(_ key: String) -> ConfigReader {
        ConfigReader(node: value(key), path: childPath(key), log: log)
    }

    /// Readers for each element of a list of mappings.
    func list(_ key: String) -> [ConfigReader] {
        guard let node = value(key) else { return [] }
        guard let sequence = node.sequence else {
            problem("must be a list", key: key, at: node)
            return []
        }
        return sequence.enumerated().map { ConfigReader(node: $0.element, path: "\(childPath(key))[\($0.offset)]", log: log) }
    }

    func string(_ key: String, default fallback: String) -> String { string(key) ?? fallback }

    func string(_ key: String) -> String? {
        guard let node = singleValue(key) else { return nil }
        guard let scalar = node.scalar else {
            problem("must be a single value", key: key, at: node)
            return nil
        }
        return scalar.string
    }

    func strings(_ key: String) -> [String] {
        guard let node = value(key) else { return [] }
        guard let sequence = node.sequence else {
            problem("must be a list", key: key, at: node)
            return []
        }
        return sequence.compactMap { item in
            guard let text = item.scalar?.string, !text.isEmpty else {
                problem("list items must be non-empty text", key: key, at: item)
                return nil
            }
            return text
        }
    }

    func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let node = singleValue(key) else { return fallback }
        guard let flag = node.bool else {
            problem("must be true or false", key: key, at: node)
            return fallback
        }
        return flag
    }

    func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>) -> Int {
        int(key, in: range) ?? fallback
    }

    func int(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let node = singleValue(key) else { return nil }
        guard let number = Self.wholeNumber(node) else {
            problem("must be a whole number", key: key, at: node)
            return nil
        }
        guard range.contains(number) else {
            problem("must be within \(range.lowerBound)...\(range.upperBound)", key: key, at: node)
            return nil
        }
        return number
    }

    func double(_ key: String, default fallback: Double, in range: ClosedRange<Double>) -> Double {
        double(key, in: range) ?? fallback
    }

    func double(_ key: String, in range: ClosedRange<Double>) -> Double? {
        double(key) { range.contains($0) ? nil : "must be within \(Self.format(range.lowerBound))...\(Self.format(range.upperBound))" }
    }

    /// A finite number (YAML's .nan and .inf are refused: a limit that is not a number cannot be compared),
    /// then `check`, which returns what is wrong with it or nil.
    func double(_ key: String, check: (Double) -> String?) -> Double? {
        guard let node = singleValue(key) else { return nil }
        guard let number = node.float ?? Self.wholeNumber(node).map(Double.init), number.isFinite else {
            problem("must be a finite number", key: key, at: node)
            return nil
        }
        if let wrong = check(number) {
            problem(wrong, key: key, at: node)
            return nil
        }
        return number
    }

    /// A decimal whole number (YAML 1.1's `_` separators allowed), nil when it is not one or does not
    /// fit. Not Yams' `node.int`: it also reads YAML 1.1's base 60 (`1:30`), whose arithmetic traps on
    /// overflow, so a typo such as `fps: 1:0:0:0:0:0:0:0:0:0:0` would kill the daemon at a reload.
    static func wholeNumber(_ node: Node) -> Int? {
        guard let text = node.scalar?.string else { return nil }
        return Int(text.filter { $0 != "_" })
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    func seconds(_ key: String, default fallback: Duration, in range: ClosedRange<Double>) -> Duration {
        guard let value = double(key, in: range) else { return fallback }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    func choice<T: RawRepresentable>(_ key: String, default fallback: T) -> T where T.RawValue == String, T: CaseIterable {
        guard let node = singleValue(key) else { return fallback }
        guard let text = node.string, let choice = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            problem("must be one of \(allowed)", key: key, at: node)
            return fallback
        }
        return choice
    }

    static func looksLikeAKey(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 40
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    /// A mapping of text to text (subject ids to display names); problems name the key, never a value.
    func textMapping(_ key: String) -> [String: String] {
        guard let node = value(key) else { return [:] }
        guard let mapping = node.mapping else {
            problem("must be a mapping", key: key, at: node)
            return [:]
        }
        var texts: [String: String] = [:]
        for (name, item) in mapping {
            guard let name = name.scalar?.string, !name.isEmpty, let text = item.scalar?.string, !text.isEmpty,
                !text.contains(where: \.isNewline)
            else {
                problem("entries must be non-empty single-line text", key: key, at: item)
                continue
            }
            texts[name] = text
        }
        return texts
    }

    /// Reports keys present in this mapping that nothing read; call after reading a section.
    /// As ``rejectUnknownKeys()``, with `known` counted as read too.
    func rejectUnknownKeys(besides known: Set<String>) {
        consumed.formUnion(known)
        rejectUnknownKeys()
    }

    func rejectUnknownKeys() {
        guard let mapping = node?.mapping else { return }
        for (keyNode, _) in mapping {
            let key = keyNode.string ?? "?"
            guard !consumed.contains(key) else {
                // Read by its text, but looked up by text and tag: a tagged key (`!!binary deny_list:`) was never
                // read, and its section would run on the default (no deny list, no schedules) without a word.
                if keyNode.tag.rawValue != Tag.Name.str.rawValue { problem("is written with a YAML tag, so it is not read: write the key plain", key: key, at: keyNode) }
                continue
            }
            // A key is named in the path only if it looks like one: a "key" with spaces or symbols is more
            // likely a value typed in the wrong place (a missing newline before a secret), so it stays out.
            if Self.looksLikeAKey(key) {
                problem("unknown key", key: key, at: keyNode)
            } else {
                problem("has an unknown key that is not a plain name", at: keyNode)
            }
        }
    }
}

extension ConfigReader {
    /// A cloud endpoint: https, or plain http to this machine only (the same rule the clients apply).
    func endpoint(_ key: String, default fallback: String) -> String {
        guard let text = string(key) else { return fallback }
        if let refusal = CloudEndpoint.refusal(text) {
            problem(refusal.description, key: key, at: value(key))
            return fallback
        }
        return text
    }

    /// A secret's reference (never its value); an inline secret only in a file readable by its owner only,
    /// and only where `inlineAllowed`.
    func secret(_ key: String, fileIsPrivate: Bool, inlineAllowed: Bool = true) -> SecretReference? {
        guard let text = string(key) else { return nil }
        let reference = SecretReference(parsing: text)
        switch reference {
        case .inline(let value) where SecretReference.looksMistyped(value):
            // `File:/etc/…` or `credentials:…` would be taken for the secret itself, and every call fail.
            problem("looks like a mistyped reference: write credential:NAME or file:/path, in lower case", key: key)
        case .inline where !inlineAllowed:
            problem("must be credential:NAME or file:/path (a key never goes in the file)", key: key)
        case .inline:
            if !fileIsPrivate {
                problem(
                    "a secret written here must not be in a file others can read: use credential:NAME or file:/path, or make the file 0600",
                    key: key)
            }
        case .credential(let name) where name.isEmpty || name.contains("/"):
            problem("credential name must be a plain file name", key: key)
        case .file(let path) where !path.hasPrefix("/"):
            problem("secret file path must be absolute", key: key)
        default:
            break
        }
        return reference
    }
}
