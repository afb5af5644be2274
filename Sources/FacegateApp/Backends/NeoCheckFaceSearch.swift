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
    private let syncCursor = SyncCursor()

    public init(client: NeoCheckClient, recordsPerSync: Int = 60) {
        self.client = client
        self.recordsPerSync = recordsPerSync
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
        guard let person = answer.person else { return [] }
        // The service's own ok/failed is by its threshold; the door applies its own to the confidence.
        return [MatchCandidate(subjectId: person.identifier, score: answer.confidence, tags: [faceList])]
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

    static func classify(_ error: NeoCheckError) -> any Error {
        switch error.code {
        case .unreachable: CloudUnavailable(.unreachable, error.description)
        case .timeout: CloudUnavailable(.timeout, error.description)
        case .serverError: CloudUnavailable(.serverError, error.description)
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
