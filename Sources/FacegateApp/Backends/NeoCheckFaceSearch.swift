import FacegateIdentify
import FacegatePolicy
import Foundation

/// The door's search through NeoCheck FaceCheck: one `POST v1/face/list/identify` per visit,
/// within the client's hourly budget.
public struct NeoCheckFaceSearch: FaceSearch, CloudDirectory {
    public let client: NeoCheckClient
    /// Records read per revocation sync: each read spends one call of the hourly budget, which the
    /// door's identifications need more, so a large cache is checked a slice at a time.
    public let recordsPerSync: Int
    /// Whether each match is confirmed by reading its record (`GET v1/face/{id}`) and refused when the
    /// record is disabled. The document does not say that list identification skips disabled records,
    /// so this is on by default; it spends one more call of the hourly budget per match.
    public let confirmsRecordEnabled: Bool
    private let syncCursor = SyncCursor()

    public init(client: NeoCheckClient, recordsPerSync: Int = 60, confirmsRecordEnabled: Bool = true) {
        self.client = client
        self.recordsPerSync = recordsPerSync
        self.confirmsRecordEnabled = confirmsRecordEnabled
    }

    public var backendName: String { "neocheck" }
    public var scoreUnit: ScoreUnit { .neoCheckConfidence }

    /// A face list named in the configuration: a GUID is an identifier, anything else a name.
    public static func listReference(_ text: String) -> NeoCheckListReference {
        UUID(uuidString: text) != nil ? .identifier(text) : .name(text)
    }

    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        guard let faceList = policy.faceList else {
            throw NeoCheckError(.invalidConfiguration, "the door names no NeoCheck face list (door.face_list)")
        }
        let answer: NeoCheckIdentification
        do {
            answer = try await client.identify(probe: probe.jpeg, againstList: Self.listReference(faceList))
        } catch {
            throw Self.classify(error)
        }
        // Only ok(0) identifies: notExecuted(1) and failed(3) are no answer, and warning(2) is the
        // service doubting its own (a probe with several faces, say), whoever it names.
        guard answer.result == .ok, let person = answer.person else { return [] }
        // A disabled record never opens the door: the reply's own word when it has one, else the record's.
        if person.enabled == false { return [] }
        if confirmsRecordEnabled, !(try await isEnabled(person.identifier)) { return [] }
        // The service's own ok/failed is by its threshold; the door applies its own to the confidence.
        return [MatchCandidate(subjectId: person.identifier, score: answer.confidence, tags: [faceList])]
    }

    /// Whether the record exists and is enabled; a cloud that cannot be asked throws `CloudUnavailable`.
    private func isEnabled(_ identifier: String) async throws -> Bool {
        do {
            return try await client.record(.identifier(identifier)).enabled
        } catch {
            // Deleted between the identification and the lookup: nobody to let in.
            guard error.code == .notFound else { throw Self.classify(error) }
            return false
        }
    }

    /// Records deleted (404) or disabled in NeoCheck, from the next slice of `subjects`.
    public func revokedSubjects(among subjects: Set<String>, policy: DoorPolicy) async throws -> Set<String> {
        let slice = await syncCursor.next(recordsPerSync, of: subjects)
        var revoked = Set<String>()
        for subject in slice {
            do {
                let record = try await client.record(.identifier(subject))
                if !record.enabled { revoked.insert(subject) }
            } catch {
                // Spelled out rather than `catch where`: that form with typed throws trips the compiler.
                guard error.code == .notFound else { throw Self.classify(error) }
                revoked.insert(subject)
            }
        }
        return revoked
    }

    /// Whether a failure means the cloud could not be asked (the offline path decides) or the call failed.
    /// A 429 or any 5xx is the cloud being unavailable, whatever code the client gave it.
    static func classify(_ error: NeoCheckError) -> any Error {
        if let status = error.status {
            if status == 429 { return CloudUnavailable(.rateLimited, error.description) }
            if (500...599).contains(status) { return CloudUnavailable(.serverError, error.description) }
        }
        return switch error.code {
        case .unreachable: CloudUnavailable(.unreachable, error.description)
        case .timeout: CloudUnavailable(.timeout, error.description)
        case .serverError: CloudUnavailable(.serverError, error.description)
        case .tooManyRequests: CloudUnavailable(.rateLimited, error.description)
        case .hourlyLimitReached: CloudUnavailable(.rateLimited, error.description)
        case .callBudgetExhausted, .insufficientCredits: CloudUnavailable(.budgetExhausted, error.description)
        default: error
        }
    }
}

/// Round-robin position over a changing set of subjects, so every cached subject is checked in turn.
private actor SyncCursor {
    private var lastChecked: String?

    func next(_ count: Int, of subjects: Set<String>) -> [String] {
        let ordered = subjects.sorted()
        guard !ordered.isEmpty, count > 0 else { return [] }
        let start = lastChecked.map { last in ordered.firstIndex { $0 > last } ?? 0 } ?? 0
        let slice = (0..<min(count, ordered.count)).map { ordered[(start + $0) % ordered.count] }
        lastChecked = slice.last
        return slice
    }
}
