import FacegateIdentify
import FacegatePolicy

/// The door's search through NEC ID: one `POST /v1.1/face/search` per visit.
public struct NECFaceSearch: FaceSearch {
    public let client: NECIDClient
    /// Tags searched; a subject matches if it carries any (NEC's OR).
    public let tags: [String]
    /// Candidates asked for: two are enough to judge the margin; a few more help the journal.
    public let limit: Int

    public init(client: NECIDClient, tags: [String], limit: Int = 5) {
        self.client = client
        self.tags = tags
        self.limit = limit
    }

    public var backendName: String { "nec" }
    public var scoreUnit: ScoreUnit { .necScore }

    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        // Searched below the door's threshold by the margin, so a close second candidate shows up
        // and the policy can call the match ambiguous; the policy applies the threshold itself.
        let threshold = Int(max(0, min(9999, policy.threshold - (policy.minimumMargin ?? 0))).rounded(.down))
        do {
            let result = try await client.search(probe: probe.jpeg, threshold: threshold, limit: limit, tags: tags)
            return result.candidates.map { MatchCandidate(subjectId: $0.id, score: Double($0.score)) }
        } catch {
            throw Self.classify(error)
        }
    }

    /// Whether a failure means the cloud could not be asked (the offline path decides) or the search failed.
    static func classify(_ error: NECIDError) -> any Error {
        switch error.code {
        case .unreachable: return CloudUnavailable(.unreachable, error.description)
        case .timeout, .serviceTimeout: return CloudUnavailable(.timeout, error.description)
        case .serviceError:
            if error.httpStatus == 429 { return CloudUnavailable(.rateLimited, error.description) }
            if let status = error.httpStatus, status >= 500 { return CloudUnavailable(.serverError, error.description) }
            return error
        default:
            return error
        }
    }
}
