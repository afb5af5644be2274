import FacegateIdentify
import FacegatePolicy

/// The door's search through NEC ID: one `POST /v1.1/face/search` per visit, over the door's tags.
public struct NECFaceSearch: FaceSearch, CloudDirectory {
    public let client: NECIDClient
    /// Candidates asked for: two are enough to judge the margin; a few more help the journal.
    public let limit: Int
    /// Subjects listed per page while syncing deletions.
    public let listPageSize: Int

    public init(client: NECIDClient, limit: Int = 5, listPageSize: Int = 1000) {
        self.client = client
        self.limit = limit
        self.listPageSize = listPageSize
    }

    public var backendName: String { "nec" }
    public var scoreUnit: ScoreUnit { .necScore }

    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        // Searched below the door's threshold by the margin, so a close second candidate shows up
        // and the policy can call the match ambiguous; the policy applies the threshold itself.
        let threshold = Int(max(0, min(9999, policy.threshold - (policy.minimumMargin ?? 0))).rounded(.down))
        // NEC does not say which tags a match carries; a search over one tag proves that one.
        let provenTags: Set<String> = policy.searchTags.count == 1 ? Set(policy.searchTags) : []
        do {
            let result = try await client.search(probe: probe.jpeg, threshold: threshold, limit: limit, tags: policy.searchTags)
            return result.candidates.map { MatchCandidate(subjectId: $0.id, score: Double($0.score), tags: provenTags) }
        } catch {
            throw Self.classify(error)
        }
    }

    /// Subjects NEC lists as deleted (status `D`) or no longer lists at all.
    public func revokedSubjects(among subjects: Set<String>, policy: DoorPolicy) async throws -> Set<String> {
        guard !subjects.isEmpty else { return [] }
        var active = Set<String>()
        var start = 0
        while true {
            let page: NECSubjectList
            do {
                page = try await client.listSubjects(start: start, length: listPageSize)
            } catch {
                throw Self.classify(error)
            }
            for entry in page.subjects where entry.isActive { active.insert(entry.id) }
            start += page.subjects.count
            if page.subjects.isEmpty || start >= page.total { break }
        }
        return subjects.subtracting(active)
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
