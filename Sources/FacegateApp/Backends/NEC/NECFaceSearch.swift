import FacegateCore
import FacegateIdentify
import Foundation
import Logging

/// The door's search through NEC ID: one `POST /v1.1/face/search` per visit, over the door's tags.
public struct NECFaceSearch: FaceSearch, CloudDirectory {
    public let client: NECIDClient
    /// Results asked for. NEC's `limit` counts events (face registrations), not subjects: a subject
    /// enrolled with several faces fills several places, and could push the second subject (the one
    /// the margin check needs) out of a small answer. So the door asks for the document's maximum.
    public let limit: Int
    /// Subjects listed per page while syncing deletions (1...1000, the document's most).
    public let listPageSize: Int
    /// Where a sync says that NEC ID's dates could not be read (by count only).
    let logger: Logger

    /// The largest `limit` the document allows for a search.
    public static let maximumLimit = 50
    /// The largest `length` the document allows for a page of the subject list.
    public static let maximumListPageSize = 1000
    /// The most events a sync believes a gallery lists (a thousand pages of the document's largest): a
    /// larger `total` is refused rather than paged through, one call at a time.
    public static let maximumListedEvents = 1_000_000

    public init(
        client: NECIDClient, limit: Int = NECFaceSearch.maximumLimit, listPageSize: Int = 1000,
        logger: Logger = Logger(label: "facegate.nec", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.limit = limit
        self.listPageSize = min(max(1, listPageSize), Self.maximumListPageSize)
        self.logger = logger
    }

    public var backendName: String { "nec" }
    public var scoreUnit: ScoreUnit { .necScore }

    public func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        // Searched below the door's threshold by the margin, so a close second candidate shows up
        // and the policy can call the match ambiguous; the policy applies the threshold itself.
        let threshold = Int(max(0, min(9999, policy.searchFloor)).rounded(.down))
        // NEC does not say which tags a match carries; a search over one tag proves that one.
        let provenTags: Set<String> = policy.searchTags.count == 1 ? Set(policy.searchTags) : []
        do {
            let result = try await client.search(probe: probe.jpeg, threshold: threshold, limit: limit, tags: policy.searchTags)
            let best = Self.bestPerSubject(result.candidates)
            var candidates = best.map { MatchCandidate(subjectId: $0.id, score: Double($0.score), tags: provenTags) }
            if let bound = Self.scoreOfSubjectsLeftOut(result.candidates, limit: limit), let first = best.first {
                // The answer was full: a subject it left out may score up to its lowest event, which the margin
                // check must see as a second. Said as the best subject (never someone else to let in), and never
                // over its own score: a reply whose events outscore their subject is none a real search gives, and
                // the stand-in must not become the best candidate, granted at a score nobody had.
                candidates.append(MatchCandidate(subjectId: first.id, score: Double(min(bound, first.score)), tags: provenTags))
            }
            return candidates
        } catch {
            throw Self.classify(error)
        }
    }

    /// The most a subject the answer left out can score: its lowest event's score when it holds `limit`
    /// events (NEC keeps the best `limit` events over the threshold, then groups them by subject: one
    /// subject enrolled with many faces can fill it, pushing out the second one the margin check needs).
    /// Nil when the answer is not full: then every subject over the floor is in it.
    static func scoreOfSubjectsLeftOut(_ candidates: [NECCandidate], limit: Int) -> Int? {
        let scores = candidates.flatMap { candidate in candidate.events.isEmpty ? [candidate.score] : candidate.events.map(\.score) }
        guard scores.count >= limit else { return nil }
        return scores.min()
    }

    /// One candidate per subject, with its best score, best first. NEC groups events by subject
    /// already (a candidate's score is its best event's); a reply that repeats a subject, one entry
    /// per event, must not look like two people (an ambiguity that is none) to the margin check.
    static func bestPerSubject(_ candidates: [NECCandidate]) -> [NECCandidate] {
        var best: [String: NECCandidate] = [:]
        for candidate in candidates where best[candidate.id].map({ candidate.score > $0.score }) ?? true {
            best[candidate.id] = candidate
        }
        return best.values.sorted { $0.score == $1.score ? $0.id < $1.id : $0.score > $1.score }
    }

    /// Subjects NEC lists as deleted (status `D`) or no longer lists at all, and subjects it changed after
    /// they were cached. NEC ID never says which tags a subject carries; changing them re-registers the
    /// subject (its old events `D`, new ones `A`, each dated), so a change after caching may have taken the
    /// subject out of the door's tags: its faces go, and an online grant caches them again if still let in.
    public func revokedSubjects(among cached: [String: Date], policy: DoorPolicy) async throws -> Set<String> {
        let sync = try await revokedSubjects(among: cached)
        if sync.unreadableDates > 0 {
            // Each such subject's faces go at every sync: the offline path loses them without this line.
            logger.warning(
                "NEC ID listed update dates facegate cannot read; those subjects' cached faces are purged",
                metadata: ["dates": "\(sync.unreadableDates)"])
        }
        return sync.revoked
    }

    /// ``revokedSubjects(among:policy:)``, and how many listed dates could not be read (each counts as a change).
    ///
    /// A listing that fails after some pages (a page timing out, a 5xx, a malformed page) throws
    /// ``PartialRevocationSync`` with what the pages read before it proved: each entry's verdict rests on that
    /// entry and the cached date alone, so a subject deleted or re-registered after caching is proven changed
    /// whatever the later pages say. Proven means: listed on a page that passed the page checks (a failing or
    /// malformed page's own rows count for nothing), with a readable date after caching (a date that cannot be
    /// read counts as a change only in a complete listing, so a garbled page cannot revoke en masse). A subject
    /// merely missing from an incomplete listing is never revoked. With nothing proven the failure is thrown.
    func revokedSubjects(among cached: [String: Date]) async throws -> (revoked: Set<String>, unreadableDates: Int) {
        guard !cached.isEmpty else { return ([], 0) }
        let dates = NECUpdateDates()
        var active = Set<String>()
        var changed = Set<String>()
        // Changes shown by a readable date on a page that passed its checks: what a failed listing still proves.
        var provenChanged = Set<String>()
        var unreadable = 0
        var start = 0
        // Pages the first page's total allows: those it implies at the length asked, and one more for events
        // registered while the sync reads. A listing that has not ended by then is refused, not followed.
        var pagesAllowed = 1
        var pagesRead = 0
        func failed(_ error: any Error) -> any Error {
            provenChanged.isEmpty ? error : PartialRevocationSync(revoked: provenChanged, pagesRead: pagesRead, cause: error)
        }
        while true {
            let page: NECSubjectList
            do {
                // NEC ID's JSON 404 for a gallery with no subjects at all: nobody cached is there any more (a
                // 404 page that is not NEC ID's JSON stays an error, and nothing is purged on its word).
                page = try await client.listSubjects(start: start, length: listPageSize, emptyWhenNotFound: start == 0)
            } catch {
                throw failed(Self.classify(error))
            }
            pagesRead += 1
            if pagesRead == 1 {
                guard (0...Self.maximumListedEvents).contains(page.total) else {
                    throw NECIDError(.malformedResponse, "listSubjects: NEC ID lists a total of \(page.total) events, more than facegate pages through")
                }
                pagesAllowed = (page.total + listPageSize - 1) / listPageSize + 1
            }
            var pageActive = Set<String>(), pageChanged = Set<String>(), pageProven = Set<String>(), pageUnreadable = 0
            for entry in page.subjects {
                guard let cachedSince = cached[entry.id] else { continue }
                if entry.isActive { pageActive.insert(entry.id) }
                // An update date that cannot be read (or none) could be any date: the face goes (in a complete listing).
                let updated = entry.lastUpdated.flatMap(dates.read)
                if updated == nil { pageUnreadable += 1 }
                let allowance = Self.updateClockAllowance
                // A face retired after the subject was cached (an update: its tags may differ now), or about
                // then; or one registered well after it (a retired one's slot may be recycled already). The
                // enrolment a cached face came from, just before it, changes nothing.
                let changedSince =
                    entry.isActive
                    ? (updated ?? .distantFuture) > cachedSince.addingTimeInterval(allowance)
                    : (updated ?? .distantFuture) > cachedSince.addingTimeInterval(-allowance)
                if changedSince {
                    pageChanged.insert(entry.id)
                    if updated != nil { pageProven.insert(entry.id) }
                }
            }
            start += page.subjects.count
            if start < page.total {
                // Short of the end, a page must be as long as asked (the document pages by `length`): a shorter
                // one makes little or no progress, and the rows it skipped would read as subjects gone.
                guard page.subjects.count == listPageSize else {
                    throw failed(
                        NECIDError(
                            .malformedResponse,
                            "listSubjects: a page of \(page.subjects.count) subjects short of the listed total (\(listPageSize) asked)"))
                }
            }
            // The page passed its checks: its rows count.
            active.formUnion(pageActive)
            changed.formUnion(pageChanged)
            provenChanged.formUnion(pageProven)
            unreadable += pageUnreadable
            if start >= page.total { break }
            guard pagesRead < pagesAllowed else {
                throw failed(NECIDError(.malformedResponse, "listSubjects: the listing did not end within the \(pagesAllowed) pages its total implies"))
            }
        }
        return (Set(cached.keys).subtracting(active).union(changed), unreadable)
    }

    /// How far NEC ID's clock and this box's may disagree (as the door's clock check allows): a face retired
    /// up to this long before a subject was cached still counts as after it (it is cached again at its next
    /// online grant).
    static let updateClockAllowance: TimeInterval = 300

    /// NEC ID's `lastUpdated` ("2018-12-18T00:27:56.427+00:00"), with or without the fraction of a second.
    static func updateTime(_ text: String) -> Date? { NECUpdateDates().read(text) }

    /// Whether a failure means the cloud could not be asked (the offline path decides) or the search failed.
    /// A 429 or any 5xx is the cloud being unavailable whatever its body says (NEC's JSON with an
    /// `errorCode`, a proxy's HTML page, nothing): the service or its gateway could not answer.
    static func classify(_ error: NECIDError) -> any Error {
        if let status = error.httpStatus {
            if status == 429 { return CloudUnavailable(.rateLimited, error.description) }
            if (500...599).contains(status) { return CloudUnavailable(.serverError, error.description) }
        }
        switch error.code {
        case .unreachable: return CloudUnavailable(.unreachable, error.description)
        case .timeout, .serviceTimeout: return CloudUnavailable(.timeout, error.description)
        default: return error
        }
    }
}

/// Reads NEC ID's `lastUpdated` dates; one per sync, so its formatters are made once.
struct NECUpdateDates {
    private let withFraction: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
    private let whole = ISO8601DateFormatter()

    func read(_ text: String) -> Date? { withFraction.date(from: text) ?? whole.date(from: text) }
}
