import FacegateIdentify
import FacegatePolicy

/// The door's search through NeoCheck FaceCheck: one `POST v1/face/list/identify` per visit,
/// within the client's hourly budget.
public struct NeoCheckFaceSearch: FaceSearch {
    public let client: NeoCheckClient
    public let list: NeoCheckListReference

    public init(client: NeoCheckClient, list: NeoCheckListReference) {
        self.client = client
        self.list = list
    }

    public var backendName: String { "neocheck" }
    public var scoreUnit: ScoreUnit { .neoCheckConfidence }

    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        let answer: NeoCheckIdentification
        do {
            answer = try await client.identify(probe: probe.jpeg, againstList: list)
        } catch {
            throw Self.classify(error)
        }
        guard let person = answer.person else { return [] }
        let listName: String =
            switch list {
            case .identifier(let id): id
            case .name(let name): name
            }
        // The service's own ok/failed is by its threshold; the door applies its own to the confidence.
        return [MatchCandidate(subjectId: person.identifier, score: answer.confidence, tags: [listName])]
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
