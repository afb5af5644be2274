import FacegateCore
import FacegateIdentify
import Foundation

/// The door's search through NeoCheck FaceCheck: one `POST v1/face/list/identify` per visit,
/// within the client's hourly budget.
public struct NeoCheckFaceSearch: FaceSearch, CloudDirectory {
    public let client: NeoCheckClient
    /// Calls of the hourly budget the revocation sync leaves for identifications: it reads every
    /// cached record each sync period, stopping early (and going on from there next time) when the
    /// budget would fall under this reserve and its ``syncSlice`` is spent.
    public let syncBudgetReserve: Int
    /// Calls of the hourly budget kept for the revocation sync: identifications (and offline re-checks)
    /// are not made once only this many are left, and each sync may spend them, under the reserve too.
    /// Without it a busy door (or visits made to exhaust the budget) spent every call, the door decided
    /// from its offline cache, and the sync that revokes people disabled in NeoCheck never ran: someone
    /// disabled after being cached was let in offline until the hour refilled.
    public let syncSlice: Int
    /// Whether each match is confirmed by reading its record (`GET v1/face/{id}`) and refused when the
    /// record is disabled or not in the door's face list. The document does not say that list
    /// identification skips disabled records, so this is on by default; it spends one more call of the
    /// hourly budget per match (and, for a list named by name, one per `listNameLifetime` to read the
    /// name of the list the record is in). Without it a match rests on the identify reply alone, which
    /// names no face list.
    public let confirmsRecordEnabled: Bool
    private let syncCursor = SyncCursor()
    private let listNames: FaceListNames

    /// How long a face list's name, once read for a match, is believed: a list renamed meanwhile still
    /// counts under its old name for up to this long.
    public static let listNameLifetime: Duration = .seconds(600)

    /// - Parameters:
    ///   - syncBudgetReserve: nil for a sixth of the budget's hour (600 of NeoCheck's 3600).
    ///   - syncSlice: nil for a sixtieth of the budget's hour (60 of 3600: a tenth of the hour's calls at
    ///     the default sync every 10 minutes; one under 60 calls an hour, none at one an hour).
    public init(client: NeoCheckClient, syncBudgetReserve: Int? = nil, syncSlice: Int? = nil, confirmsRecordEnabled: Bool = true) {
        self.client = client
        let callsPerHour = client.budget?.callsPerHour ?? 0
        self.syncBudgetReserve = max(0, syncBudgetReserve ?? callsPerHour / 6)
        // At least one call under 60 an hour: with none, identifications spent every call and the sync never
        // ran. None at one call an hour: kept for the sync, it would leave identifications nothing.
        self.syncSlice = max(0, syncSlice ?? (callsPerHour >= 2 ? max(1, callsPerHour / 60) : 0))
        self.confirmsRecordEnabled = confirmsRecordEnabled
        self.listNames = FaceListNames(lifetime: Self.listNameLifetime)
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
        if syncSlice > 0, let budget = client.budget, await !budget.canAfford(syncSlice + 1) {
            // Counted as the budget spent: the door decides offline, and the sync still revokes.
            throw CloudUnavailable(
                .budgetExhausted, "the hourly budget is down to the \(syncSlice) calls kept for the revocation sync; no call was made")
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
        if confirmsRecordEnabled, !(try await isEnabledMember(person.identifier, policy: policy)) { return [] }
        // The service's own ok/failed is by its threshold; the door applies its own to the confidence.
        // The tag is the door's list: only a record read back as in that list gets here with it.
        return [MatchCandidate(subjectId: person.identifier, score: answer.confidence, tags: [faceList])]
    }

    /// Whether the record exists, is enabled and is in the door's face list, as it is now (the same test
    /// the revocation sync applies). A cloud that cannot be asked throws `CloudUnavailable`; a read that
    /// answers with another record throws `malformedResponse`.
    private func isEnabledMember(_ identifier: String, policy: DoorPolicy) async throws -> Bool {
        let record: NeoCheckFaceRecord
        do {
            record = try await client.record(.identifier(identifier))
        } catch {
            // Deleted between the identification and the lookup: nobody to let in.
            guard error.code == .notFound else { throw Self.classify(error) }
            return false
        }
        // Another record's state says nothing about this one's. Not "nobody" either (the service contradicts
        // itself), and not the cloud's absence (the offline cache would decide against a cloud that answers):
        // the search fails, and the door stays shut.
        guard record.identifier.lowercased() == identifier.lowercased() else {
            throw NeoCheckError(.malformedResponse, "the face record read back is not the one the identification named", status: 200)
        }
        // Only a record that says it is enabled: one that leaves it out may be a disabled one.
        guard record.enabled == true else { return false }
        // Out of the door's list (moved, or never in it): the service's word that this is nobody for this door,
        // as the revocation sync takes it.
        var names = await listNames.current()
        let inList = try await isInDoorList(record, policy: policy, names: &names)
        await listNames.remember(names)
        return inList
    }

    /// Records deleted (404), disabled or out of the door's face list in NeoCheck, from the next slice of the cached subjects.
    ///
    /// What the service says about one record is not what a proxy, a login page or a failing token service
    /// says about every call: only the service's 404 (bare or JSON), a 400 naming the service's own errors, or
    /// a record read back disabled or out of the list revokes. A reply that cannot be read (not JSON, a status
    /// no read documents, a 404 page) leaves the record cached and the round goes on past it, so one record
    /// that always fails holds up nobody behind it; three in a row end the round (a failure that is not the
    /// records'). A record whose 200 cannot be read in three rounds that read others is revoked. A failure that is not a record's (the cloud unreachable, a 5xx or 429, a refused login, the
    /// budget spent, the sync cancelled) ends the round with what it has found so far, and that record is read
    /// first next time. With nothing found, the failure is thrown (the caller logs it).
    public func revokedSubjects(among cached: [String: Date], policy: DoorPolicy) async throws -> Set<String> {
        // A record's list and state are read as they are now: when it was cached plays no part.
        let subjects = Set(cached.keys)
        var revoked = Set<String>()
        // The names of the lists records are in, looked up once per sync when the door names its list.
        var listNames: [String: String] = [:]
        // Records read under the reserve, from the slice kept for the sync.
        var fromSlice = 0
        var unreadable: [String] = [], unreadableInARow = 0, read = Set<String>()
        var failure: (any Error)?
        rounds: for subject in await syncCursor.round(of: subjects) {
            if let budget = client.budget, await !budget.canAfford(syncBudgetReserve + 1) {
                // Under the reserve only the sync's slice is read; the rest wait for the next sync (the cursor
                // goes on from here): identifications come first.
                // A record, and the name of the list it is in when the door names its list by name.
                let calls = policy.faceList.map { UUID(uuidString: $0) == nil } == true ? 2 : 1
                guard fromSlice < syncSlice, await budget.canAfford(calls) else { break }
                fromSlice += 1
            }
            do {
                let record = try await client.record(.identifier(subject))
                let inList = try await isInDoorList(record, policy: policy, names: &listNames)
                if record.enabled != true || !inList { revoked.insert(subject) }
                unreadableInARow = 0
                read.insert(subject)
            } catch {
                switch Self.syncVerdict(on: error) {
                case .revoke:
                    revoked.insert(subject)
                    unreadableInARow = 0
                    read.insert(subject)
                case .unreadable(let countsAgainstTheRecord):
                    if countsAgainstTheRecord { unreadable.append(subject) }
                    unreadableInARow += 1
                    failure = error
                    if unreadableInARow >= Self.unreadableInARowEndsTheRound {
                        await syncCursor.checked(subject)
                        break rounds
                    }
                case .stop(let stop):
                    // The budget spent meanwhile (another client of the same user), the cloud gone: what was
                    // found so far stands, and this one is read again next time.
                    failure = Self.isBudgetSpent(stop) ? nil : stop
                    break rounds
                }
            }
            await syncCursor.checked(subject)
        }
        revoked.formUnion(await syncCursor.noteUnreadable(unreadable, read: read, limit: Self.unreadableRoundsToRevoke))
        // Said when the round read nothing: one record that cannot be read among others that could is no failed sync.
        if revoked.isEmpty, read.isEmpty, let failure { throw failure }
        return revoked
    }

    /// Unreadable records one after another that end a round: the failure is likely not theirs.
    static let unreadableInARowEndsTheRound = 3
    /// Rounds that read other records in which one record could not be read before it is revoked.
    static let unreadableRoundsToRevoke = 3

    /// What the sync makes of a failed read of one record (or of the name of the list it is in).
    enum SyncVerdict {
        /// The service said, about this record, that it is gone or refused (a 404, its own error list).
        case revoke
        /// The reply could not be read: not the service's word about the record, perhaps not even the service's.
        /// It counts against the record (revoked after three rounds that read others) only when the service
        /// answered 200 for it: a status no read documents, or a 400 without the service's errors, is a proxy's
        /// as likely, and a flaky proxy must not slowly drain the cache.
        case unreadable(countsAgainstTheRecord: Bool)
        /// Not the record's failure: the round ends here.
        case stop(any Error)
    }

    static func syncVerdict(on error: any Error) -> SyncVerdict {
        guard let error = error as? NeoCheckError else { return .stop(error) }
        // A 5xx or 429 is the cloud's, whatever code the client gave it.
        let classified = classify(error)
        if classified is CloudUnavailable { return .stop(classified) }
        switch error.code {
        case .notFound, .rejected:
            return .revoke
        case .malformedResponse, .responseTooLarge:
            // A captive portal's page, a token service answering oddly: every record would read so, and revoking
            // on it at once would empty the offline cache of a whole site.
            return .unreadable(countsAgainstTheRecord: error.status == 200)
        case .invalidContent, .badRequest, .invalidArgument, .unexpectedStatus:
            // A proxy's 403 or 407, a 404 page, a 400 without the service's errors.
            return .unreadable(countsAgainstTheRecord: false)
        case .invalidConfiguration, .invalidClient, .unsupportedGrantType, .invalidCredentials, .invalidRefreshToken, .unauthorized,
            .hourlyLimitReached, .callBudgetExhausted, .insufficientCredits, .serverError, .tooManyRequests, .unreachable, .timeout,
            .cancelled:
            return .stop(classified)
        }
    }

    private static func isBudgetSpent(_ error: any Error) -> Bool {
        (error as? CloudUnavailable)?.kind == .budgetExhausted
    }

    /// Whether the record is still in the face list the door searches (a record is in one list at most).
    private func isInDoorList(_ record: NeoCheckFaceRecord, policy: DoorPolicy, names: inout [String: String]) async throws -> Bool {
        guard let doorList = policy.faceList else { return false }
        guard let listId = record.faceListId else { return false }
        if UUID(uuidString: doorList) != nil { return listId.lowercased() == doorList.lowercased() }
        if names[listId] == nil {
            do {
                names[listId] = try await client.list(identifier: listId).name
            } catch {
                guard error.code == .notFound else { throw Self.classify(error) }
                names[listId] = ""
            }
        }
        return names[listId] == doorList
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

/// Face list names read for matches, kept for a while: a name-configured door would otherwise spend a call
/// of the hourly budget on its own list's name at every match.
private actor FaceListNames {
    private let lifetime: Duration
    private var names: [String: (name: String, readAt: ContinuousClock.Instant)] = [:]

    init(lifetime: Duration) { self.lifetime = lifetime }

    /// The names read less than `lifetime` ago, by list identifier.
    func current() -> [String: String] {
        let now = ContinuousClock.now
        return names.filter { now < $0.value.readAt + lifetime }.mapValues(\.name)
    }

    /// Keeps `read`'s names; those not already kept (or kept too long) are dated now.
    func remember(_ read: [String: String]) {
        let now = ContinuousClock.now
        names = names.filter { now < $0.value.readAt + lifetime }
        for (list, name) in read where names[list] == nil { names[list] = (name, now) }
    }
}

/// Round-robin position over a changing set of subjects: each sync starts after the last subject it
/// checked, so a sync cut short by the budget is finished by the next, and every cached subject is
/// checked in turn.
private actor SyncCursor {
    private var lastChecked: String?

    /// Every subject once, starting after the last one checked.
    func round(of subjects: Set<String>) -> [String] {
        let ordered = subjects.sorted()
        guard !ordered.isEmpty else { return [] }
        let start = lastChecked.map { last in ordered.firstIndex { $0 > last } ?? 0 } ?? 0
        return (0..<ordered.count).map { ordered[(start + $0) % ordered.count] }
    }

    func checked(_ subject: String) { lastChecked = subject }

    /// Rounds in which each record could not be read while others were.
    private var unreadableRounds: [String: Int] = [:]

    /// Counts a round's unreadable records, and forgets those `read` in it. Only a round that read others
    /// counts: a failure of every call is not the records'. Returns those unreadable in `limit` such rounds.
    func noteUnreadable(_ subjects: [String], read: Set<String>, limit: Int) -> Set<String> {
        for subject in read { unreadableRounds[subject] = nil }
        guard !read.isEmpty else { return [] }
        for subject in Set(subjects) { unreadableRounds[subject, default: 0] += 1 }
        let due = Set(unreadableRounds.filter { $0.value >= limit }.keys)
        for subject in due { unreadableRounds[subject] = nil }
        return due
    }
}

extension NeoCheckFaceSearch: CallBudgetReporting {
    public var callsLeft: Int? {
        get async { await client.budget?.remaining }
    }
}
