import FacegateCore
import Foundation

/// One decision as the pipeline reports it to observers (the demo, tests).
public struct GateOutcome: Sendable {
    /// What went to the journal.
    public var record: DecisionRecord
    public var visitNumber: Int
    /// Sequence number of the frame the visit's best face came from.
    public var bestFrameSequence: UInt64
    /// Whether the cloud was called for this visit.
    public var cloudCalled: Bool
    /// The visit's best-face crop, when one was made.
    public var probeJPEG: [UInt8]?
    /// From the face's first frame to the frame that completed the visit (the selector waiting for
    /// the best face), in the camera's time; face-first-seen to decision is this plus `latencies.total`.
    public var approach: Duration
}


extension DoorEvent {
    /// The journal's name for this event; nil for relay changes and for a grant's or manual unlock's
    /// failure, which the decisions already record.
    public var journalKind: DoorEventKind? {
        switch self {
        case .opened: .opened
        case .closed: .closed
        case .heldOpen: .heldOpen
        case .forcedOpen: .forced
        case .requestToExit: .exitButton
        case .unlockFailed(.requestToExit), .unlockRefused(.requestToExit, _): .exitButtonFailed
        case .fault: .fault
        case .unlocked, .locked, .unlockFailed, .unlockRefused: nil
        }
    }
}

/// Copies a door's events into the journal until the stream ends (the door has stopped) or the task
/// is cancelled.
public func journalDoorEvents(
    _ events: AsyncStream<DoorEvent>, of door: String, into journal: any GateJournal, metrics: DoorMetrics = .disabled
) async {
    for await event in events {
        guard let kind = event.journalKind else { continue }
        metrics.count("door_events", [("kind", kind.rawValue)])
        var detail: String?
        if case .opened(let authorized) = event { detail = authorized ? "after an unlock" : "without an unlock" }
        if case .fault(let fault) = event { detail = fault.description }
        if case .unlockFailed = event { detail = "the relay did not unlock" }
        if case .unlockRefused(_, let refusal) = event { detail = "the relay was not driven: \(refusal)" }
        journal.record(DoorEventRecord(time: Date(), door: door, kind: kind, detail: detail))
    }
}
