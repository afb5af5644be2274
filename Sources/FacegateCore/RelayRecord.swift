import Foundation

/// What the relay did for a granted decision, written after the grant itself is on disk.
///
/// The daemon commits a grant before it drives the relay, so a grant whose relay never moved (a line
/// that failed, a power cut in between) is still on record, and says so.
public struct RelayRecord: Sendable, Hashable {
    public enum Result: String, Sendable, Hashable, Codable {
        /// The relay was driven to its unlocked level.
        case unlocked
        /// The relay could not be driven: the person was granted but the door did not open.
        case failed
        /// The relay was not driven: a reload that came while the grant was being committed refuses it
        /// (a deny-list edit, say), so the door stayed locked.
        case withheld

        /// Whether the door was opened.
        public var opened: Bool { self == .unlocked }
    }

    /// The granted decision's `DecisionRecord.id`.
    public var decisionId: UUID
    public var result: Result
    /// Whether the door was opened for the grant.
    public var opened: Bool { result.opened }
    /// How long driving the relay took.
    public var latency: Duration?
    /// Visit ready to relay driven: the decision's total, now that it is known.
    public var total: Duration?

    public init(decisionId: UUID, result: Result, latency: Duration? = nil, total: Duration? = nil) {
        self.decisionId = decisionId
        self.result = result
        self.latency = latency
        self.total = total
    }
}
