import FacegateCore
import FacegateDoor
import FacegateJournal
import Foundation

/// What `/health` says: each part of the door ok, degraded or failed, with its last problem and
/// when it was seen, and whether the door can decide at all (HTTP 200) or not (503).
///
/// Details are the same words the log uses: kinds of failure, never a secret, a configuration value,
/// a subject or face data.
public struct DoorHealthReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable, Comparable {
        case ok, degraded, failed
        /// Turned off by the configuration (the offline cache): not a fault.
        case off

        private var rank: Int { [.off: 0, .ok: 0, .degraded: 1, .failed: 2][self]! }
        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
    }

    public struct Component: Sendable, Codable, Equatable {
        public var status: Status
        /// The problem, while there is one.
        public var lastError: String?
        /// When the problem was first seen (or the part last answered, while ok).
        public var since: Date?

        public init(status: Status, lastError: String? = nil, since: Date? = nil) {
            self.status = status
            self.lastError = lastError
            self.since = since
        }

        enum CodingKeys: String, CodingKey { case status, lastError = "last_error", since }
    }

    public var camera: Component
    public var cloud: Component
    public var relay: Component
    public var journal: Component
    public var offlineCache: Component
    /// The decision loop: failed while one decision (or an enrolment's work on the box) has been under way
    /// past the limit the watchdog holds it to (a stage hung in a call that does not return): no visit
    /// behind it is decided until it ends.
    public var decision: Component
    /// The wall clock, as the cloud's time (or, without it, the journal's and the cache's dates) shows it:
    /// degraded while it cannot be trusted, when no schedule applies and nobody is let in offline.
    public var clock: Component
    /// The cloud answers but refuses every search (a rotated secret, a revoked key): nobody can be
    /// identified, and the offline cache does not stand in for a refusal as it does for an outage.
    public var cloudRefuses: Bool

    /// Frames arrive, decisions end, the relay and the journal work, and the cloud or the offline cache can identify.
    /// The cache stands in only on a clock that can be trusted: on a wrong one every offline grant is refused,
    /// so with the cloud away nobody can be let in.
    public var canDecide: Bool {
        camera.status != .failed && decision.status != .failed && relay.status != .failed && journal.status != .failed
            && !cloudRefuses
            && (cloud.status != .failed || (offlineCache.status == .ok && clock.status == .ok))
    }

    /// The worst of the parts (a cloud away with the cache standing in is degraded, not failed).
    public var status: Status {
        guard canDecide else { return .failed }
        return [camera, decision, cloud, relay, journal, offlineCache, clock].map(\.status).max().map { $0 == .failed ? .degraded : $0 } ?? .ok
    }

    public init(
        camera: Component, cloud: Component, relay: Component, journal: Component, offlineCache: Component,
        decision: Component = Component(status: .ok), clock: Component = Component(status: .ok), cloudRefuses: Bool = false
    ) {
        self.decision = decision
        self.cloudRefuses = cloudRefuses
        self.camera = camera
        self.cloud = cloud
        self.relay = relay
        self.journal = journal
        self.offlineCache = offlineCache
        self.clock = clock
    }

    enum CodingKeys: String, CodingKey {
        case status, canDecide = "can_decide", camera, decision, cloud, relay, journal, offlineCache = "offline_cache", clock
        case cloudRefuses = "cloud_refuses"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        camera = try container.decode(Component.self, forKey: .camera)
        cloud = try container.decode(Component.self, forKey: .cloud)
        relay = try container.decode(Component.self, forKey: .relay)
        journal = try container.decode(Component.self, forKey: .journal)
        offlineCache = try container.decode(Component.self, forKey: .offlineCache)
        // A daemon from before the clock (or the decision loop) was reported does not say.
        decision = try container.decodeIfPresent(Component.self, forKey: .decision) ?? Component(status: .ok)
        clock = try container.decodeIfPresent(Component.self, forKey: .clock) ?? Component(status: .ok)
        cloudRefuses = try container.decodeIfPresent(Bool.self, forKey: .cloudRefuses) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(canDecide, forKey: .canDecide)
        try container.encode(camera, forKey: .camera)
        try container.encode(decision, forKey: .decision)
        try container.encode(cloud, forKey: .cloud)
        try container.encode(relay, forKey: .relay)
        try container.encode(journal, forKey: .journal)
        try container.encode(offlineCache, forKey: .offlineCache)
        try container.encode(clock, forKey: .clock)
        try container.encode(cloudRefuses, forKey: .cloudRefuses)
    }

    /// The JSON `/health` serves (ISO 8601 times, keys sorted).
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        // Plain values only: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data("{\"status\":\"failed\"}".utf8)
    }
}

extension DoorHealthReport.Component {
    /// The journal's part: `failed` while it loses records or cannot get them on disk (records dropped
    /// for a full backlog, writes failing, or a record waiting longer than `stallLimit`: a write that
    /// hangs on a stalled disk), since the problem began; `degraded` while retention fails or age retention
    /// waits for a clock something vouches for (the door still decides and records).
    static func journal(_ journal: JournalStatus, stallLimit: Duration) -> Self {
        if journal.health == .closed { return Self(status: .failed, lastError: "the journal is closed") }
        var problems: [(detail: String, since: Date?)] = []
        if let since = journal.droppingSince {
            problems.append(("the backlog is full: new records are dropped (\(journal.droppedRecords) so far)", since))
        }
        if journal.health == .failing {
            problems.append((journal.lastError.map { "\($0)" } ?? "writes failing; records kept", journal.failingSince))
        }
        if let age = journal.oldestPendingAge, age > stallLimit {
            let limit = stallLimit < .seconds(1) ? "\(Int(stallLimit.timeInterval * 1000)) ms" : "\(Int(stallLimit.timeInterval)) s"
            problems.append(("records have waited over \(limit) for the disk", journal.oldestPendingSince))
        }
        if !problems.isEmpty {
            return Self(
                status: .failed, lastError: problems.map(\.detail).joined(separator: "; "), since: problems.compactMap(\.since).min())
        }
        if let since = journal.retentionFailingSince {
            return Self(
                status: .degraded, lastError: "retention is failing: the journal's age and size limits are not kept", since: since)
        }
        if let since = journal.retentionWaitsForTheClockSince {
            return Self(
                status: .degraded,
                lastError: "age retention waits for a clock something vouches for: records past the age limit are kept (the size limit still applies)",
                since: since)
        }
        return Self(status: .ok, since: journal.lastCommit)
    }
}

extension DoorHealthReport.Component {
    /// Failed unlocks in a row that mean the relay cannot be unlocked (its lock writes still work: a relay
    /// whose every write fails, an I2C expander gone, faults the door at the first failed unlock), not one bad
    /// write: the door cannot let anyone in, as the cloud's refusals in a row mean it cannot identify.
    static let persistentUnlockFailure = PipelineHealthFacts.persistentRefusal

    /// The relay's part: `failed` once the door has failed, or from ``persistentUnlockFailure`` unlocks in
    /// a row whose write failed (a grant, a manual unlock, the exit button alike); `degraded` after fewer;
    /// `ok` again as soon as one unlocks.
    static func relay(failedUnlocks: FailedUnlocks?, doorFailed: Bool, now: Date) -> Self {
        if doorFailed { return Self(status: .failed, lastError: "the door failed; the service is stopping") }
        guard let failed = failedUnlocks else { return Self(status: .ok) }
        let since = now.addingTimeInterval(-failed.failingFor.timeInterval)
        guard failed.inARow >= persistentUnlockFailure else {
            return Self(status: .degraded, lastError: "the relay did not unlock (\(failed.inARow) in a row): \(failed.lastError)", since: since)
        }
        return Self(
            status: .failed,
            lastError: "the relay did not unlock the last \(failed.inARow) times and has unlocked none since "
                + "(is its driver still there?): \(failed.lastError)",
            since: since)
    }
}

/// A problem one part of the door reported, and when.
struct HealthProblem: Sendable, Equatable {
    var detail: String
    var at: Date
}
