import CoreMetrics
import FacegateCore
import Synchronization

/// What the door counts and times, through swift-metrics: counters and the per-stage histograms are
/// updated as things happen; the gauges (offline cache size, journal backlog, call budget) are set
/// when the metrics are read (``StatusServer``).
///
/// Made from one injected factory (a Prometheus registry in the daemon, nothing in tests that do not
/// look), never the process-wide `MetricsSystem`: two doors in one process (tests, the demo) keep
/// their own figures. Labels carry kinds and outcomes only: never a subject id, a name or face data.
public struct DoorMetrics: Sendable {
    public let factory: any MetricsFactory
    /// Cumulative figures read from elsewhere (the journal's own counts), turned into counter increments.
    private let lastSeen = SeenTotals()

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts nothing (the default for a pipeline nobody scrapes).
    public static var disabled: DoorMetrics { DoorMetrics(factory: NOOPMetricsHandler.instance) }

    /// The stages a decision's latency is measured in (the journal's `StageLatencies`).
    public enum Stage: String, Sendable, CaseIterable {
        case capture, quality, cloud, policy, relay, total
    }

    func count(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        guard amount > 0 else { return }
        Counter(label: "facegate_\(name)_total", dimensions: dimensions, factory: factory).increment(by: amount)
    }

    func gauge(_ name: String, _ value: Double) {
        Gauge(label: "facegate_\(name)", factory: factory).record(value)
    }

    /// Counts up to a cumulative figure kept elsewhere (a journal's failed writes since it opened).
    func countUp(_ name: String, to total: UInt64) {
        let delta = lastSeen.advance(name, to: total)
        count(name, by: Int(clamping: delta))
    }

    /// Each latency a decision record carries, in its stage's histogram.
    func record(_ latencies: StageLatencies) {
        let measured: [(Stage, Duration?)] = [
            (.capture, latencies.capture), (.quality, latencies.quality), (.cloud, latencies.cloud), (.policy, latencies.policy),
            (.relay, latencies.relay), (.total, latencies.total),
        ]
        for case let (stage, duration?) in measured {
            CoreMetrics.Timer(label: "facegate_stage_seconds", dimensions: [("stage", stage.rawValue)], factory: factory)
                .recordNanoseconds(Int64(clamping: duration.nanosecondsRoundedDown))
        }
    }

    /// Sets every counter the door has to zero where it has not counted yet, so that a scrape lists
    /// them all from the start (a rate over a counter that appears late loses its first increments).
    func declareCounters(backend: String) {
        for name in [
            "frames", "frames_analysed", "frames_skipped", "frames_rejected", "visits", "liveness_refusals", "liveness_errors", "offline_cache_hits", "unlock_failures",
            "grants_withheld", "journal_dropped_records", "journal_write_errors", "door_events_dropped", "visit_retries",
        ] {
            Counter(label: "facegate_\(name)_total", factory: factory).increment(by: 0)
        }
        for scan in ["whole_frame", "region"] {
            Counter(label: "facegate_detector_runs_total", dimensions: [("scan", scan)], factory: factory).increment(by: 0)
        }
        for purpose in CloudCallPurpose.allCases {
            for result in CloudCallResult.allCases {
                Counter(
                    label: "facegate_cloud_calls_total", dimensions: [("backend", backend), ("purpose", purpose.rawValue), ("result", result.rawValue)],
                    factory: factory
                ).increment(by: 0)
            }
        }
        for outcome in Decision.Outcome.allCases {
            Counter(label: "facegate_decisions_total", dimensions: [("outcome", outcome.rawValue)], factory: factory).increment(by: 0)
        }
        // The kinds the door's own events are counted under (`degraded` is journaled at start-up, not counted):
        // a forced door after a restart must show as an increase.
        for kind in DoorEventKind.allCases where kind != .degraded {
            Counter(label: "facegate_door_events_total", dimensions: [("kind", kind.rawValue)], factory: factory).increment(by: 0)
        }
    }

    /// How a cloud call ended, for `facegate_cloud_calls_total{result}`.
    public enum CloudCallResult: String, Sendable, CaseIterable {
        /// The service answered with a result (a match or none).
        case answered
        /// It could not be reached in time (network, outage, deadline, budget spent).
        case unavailable
        /// It answered with something other than a result (a refused request, a bad reply).
        case failed
        /// The door stopped (past its grace) before it answered: says nothing of the cloud.
        case abandoned
    }

    /// What a cloud call was for, for `facegate_cloud_calls_total{purpose}`: enrolment's calls spend the same
    /// budget (NeoCheck's hourly one) as the door's searches.
    public enum CloudCallPurpose: String, Sendable, CaseIterable {
        /// A visit's search.
        case decision
        /// An enrolment's duplicate search or registration (a NeoCheck registration is its record's creation,
        /// its add to the list and, when that fails, its delete: one call here, up to three of the budget).
        case enrolment
    }

    func cloudCall(backend: String, _ identification: Identification) {
        let result: CloudCallResult =
            switch identification {
            case .cloud: .answered
            case .unavailable, .offline: .unavailable
            case .failed: .failed
            }
        cloudCall(backend: backend, result)
    }

    func cloudCall(backend: String, _ result: CloudCallResult, for purpose: CloudCallPurpose = .decision) {
        count("cloud_calls", [("backend", backend), ("purpose", purpose.rawValue), ("result", result.rawValue)])
    }

    /// Counted as the decision is made, before the relay moves (as the journal records it): a grant whose
    /// relay then failed is in `granted` too, and in `facegate_unlock_failures_total`; one a reload refused
    /// before the relay moved, in `facegate_grants_withheld_total`.
    func decision(_ outcome: Decision.Outcome) {
        count("decisions", [("outcome", outcome.rawValue)])
    }
}

/// The last cumulative value seen of each figure counted up to.
private final class SeenTotals: Sendable {
    private let totals = Mutex<[String: UInt64]>([:])

    /// How far `name` moved since last time (0 if it went back: a journal reopened).
    func advance(_ name: String, to total: UInt64) -> UInt64 {
        totals.withLock { seen in
            defer { seen[name] = total }
            return total > seen[name, default: 0] ? total - seen[name, default: 0] : 0
        }
    }
}

extension Duration {
    var nanosecondsRoundedDown: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A cloud backend that spends a budget of calls (NeoCheck's hourly one): what is left, for `/metrics`.
public protocol CallBudgetReporting: Sendable {
    /// Calls affordable now; nil without a budget.
    var callsLeft: Int? { get async }
}
