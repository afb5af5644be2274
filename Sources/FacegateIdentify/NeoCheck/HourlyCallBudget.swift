import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The client's own count of the service's calls-per-hour limit, so the daemon
/// knows before calling whether a call is affordable.
///
/// A token bucket holding at most `callsPerHour` calls and refilled at
/// `callsPerHour` an hour. When the service says the limit is reached anyway
/// (another client with the same user, a restart without a state file), the
/// bucket is emptied so no further call is wasted on a certain refusal.
///
/// With a state file the bucket survives restarts: it is written (atomically,
/// temporary file then rename) after every change, stamped with the wall clock,
/// and refilled on load for the time that passed. A wall clock that went
/// backwards refills nothing rather than something.
///
/// A state file that exists but cannot be used (unreadable, corrupt, invalid numbers) does not stop
/// the client: the budget guards the service's cost, not the door. It starts as if the hour had just
/// been spent (empty, stamped now) and refills at its hourly rate, so it never spends more than the
/// limit whatever the lost file said; at NeoCheck's 3600 calls an hour the first call is affordable
/// within a second. The file is left as it is until the first change overwrites it, and
/// ``stateProblem`` says why, for the daemon to log.
///
/// The file is the account's count for every process that names it (the door, `facegate neocheck
/// --budget-file`): each change re-reads it and writes it back under an exclusive `flock` on a lock file
/// beside it (`<file>.lock`), so two processes spend one hour between them rather than one each, and
/// neither overwrites the other's spending with its own older count.
public actor HourlyCallBudget {
    public nonisolated let callsPerHour: Int
    public let stateFile: URL?
    /// Why the state file could not be used at start, or nil when it was (or there was none).
    public nonisolated let stateProblem: StateProblem?

    public enum StateProblem: String, Sendable, Hashable {
        /// The file exists but cannot be read (permissions, not a regular file).
        case unreadable
        /// It holds something other than a saved budget.
        case corrupt
        /// It holds numbers that are not finite.
        case invalidNumbers = "invalid numbers"
    }
    private let now: @Sendable () -> Date
    /// How long a change waits for another process's lock on the state file before going ahead unlocked.
    private let lockWait: Duration
    private var available: Double
    private var updatedAt: Date

    /// - Parameters:
    ///   - callsPerHour: the service's limit (3600 for NeoCheck FaceCheck).
    ///   - stateFile: where to keep the bucket across restarts; nil keeps it in memory.
    ///   - now: the wall clock.
    ///   - lockWait: how long a change waits for the state file's lock (another process's change).
    /// - Throws: `invalidConfiguration` when the limit is not positive. A state file that exists but
    ///   cannot be used starts the budget spent (see ``stateProblem``) rather than throwing.
    public init(
        callsPerHour: Int = 3600, stateFile: URL? = nil, now: @escaping @Sendable () -> Date = { Date() },
        lockWait: Duration = .seconds(2)
    ) throws(NeoCheckError) {
        guard callsPerHour > 0 else {
            throw NeoCheckError(.invalidConfiguration, "calls per hour must be positive, got \(callsPerHour)")
        }
        self.callsPerHour = callsPerHour
        self.stateFile = stateFile
        self.now = now
        self.lockWait = lockWait
        let start = now()
        available = Double(callsPerHour)
        updatedAt = start
        guard let stateFile, FileManager.default.fileExists(atPath: stateFile.path) else {
            stateProblem = nil
            return
        }
        let problem: StateProblem
        load: do {
            let data: Data
            do {
                // Only a regular file is read: a FIFO there would hang the start.
                let type = try FileManager.default.attributesOfItem(atPath: stateFile.path)[.type] as? FileAttributeType
                guard type == .typeRegular else { throw CocoaError(.fileReadUnknown) }
                data = try Data(contentsOf: stateFile)
            } catch {
                problem = .unreadable
                break load
            }
            guard let saved = try? JSONDecoder().decode(SavedBudget.self, from: data) else {
                problem = .corrupt
                break load
            }
            guard saved.available.isFinite, saved.updatedAt.timeIntervalSince1970.isFinite else {
                problem = .invalidNumbers
                break load
            }
            // Kept under the current limit, in case it was lowered since.
            available = min(max(saved.available, 0), Double(callsPerHour))
            updatedAt = min(saved.updatedAt, start)
            stateProblem = nil
            return
        }
        // The hour counts as spent: refilled from now at the hourly rate, never over the limit.
        available = 0
        stateProblem = problem
    }

    /// Whole calls affordable now.
    public var remaining: Int {
        withSharedState(saving: false) {}
        return Int(available)
    }

    /// Whether `calls` calls are affordable now, without spending them.
    public func canAfford(_ calls: Int = 1) -> Bool {
        withSharedState(saving: false) {}
        return available >= Double(calls)
    }

    /// Spends one call, or throws `callBudgetExhausted` with the wait until one is affordable.
    public func spend() throws(NeoCheckError) {
        try withSharedState { () throws(NeoCheckError) in
            guard available >= 1 else {
                throw NeoCheckError(
                    .callBudgetExhausted, "the hourly budget of \(callsPerHour) calls is spent; no call was made",
                    retryAfter: waitForOneCall())
            }
            available -= 1
        }
    }

    /// Spends one call that is made whether or not the budget has one: a clean-up (a record a failed
    /// enrolment made, deleted again) is worth a call over the limit. An empty budget stays at zero rather
    /// than going into debt: such calls are rare, and the service counts its limit itself.
    public func spendBeyondLimit() {
        withSharedState { available = max(0, available - 1) }
    }

    /// Empties the bucket: the service has said the limit is reached.
    public func exhaust() {
        withSharedState { available = 0 }
    }

    /// Runs `change` on the count as the state file holds it now (another process may have spent since),
    /// refilled to now, and writes it back when `saving` and `change` returned; all under the file's lock.
    /// Without a state file, on the count in memory.
    private func withSharedState<Failure: Error>(saving: Bool = true, _ change: () throws(Failure) -> Void) throws(Failure) {
        guard let stateFile else {
            refill()
            try change()
            return
        }
        let lock = StateLock(beside: stateFile, waitingAtMost: lockWait)
        defer { lock.release() }
        adoptSavedState(from: stateFile)
        refill()
        try change()
        if saving { save() }
    }

    /// The count the state file holds, when it holds one; the one in memory otherwise (a file gone or
    /// broken since the start loses nothing: the next save writes it again).
    private func adoptSavedState(from stateFile: URL) {
        guard let type = try? FileManager.default.attributesOfItem(atPath: stateFile.path)[.type] as? FileAttributeType,
            type == .typeRegular, let data = try? Data(contentsOf: stateFile),
            let saved = try? JSONDecoder().decode(SavedBudget.self, from: data),
            saved.available.isFinite, saved.updatedAt.timeIntervalSince1970.isFinite
        else { return }
        available = min(max(saved.available, 0), Double(callsPerHour))
        updatedAt = min(saved.updatedAt, now())
    }

    /// How long until one call is affordable (zero when one is now).
    public func waitForOneCall() -> Duration {
        let missing = max(0, 1 - available)
        let seconds = missing * 3600 / Double(callsPerHour)
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    private func refill() {
        let time = now()
        let elapsed = time.timeIntervalSince(updatedAt)
        if elapsed > 0 {
            available = min(Double(callsPerHour), available + elapsed * Double(callsPerHour) / 3600)
        }
        // A clock that went back moves the stamp back too, refilling nothing for it.
        updatedAt = time
    }

    private func save() {
        guard let stateFile else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        // A budget that cannot be written costs accuracy after a restart, not the call.
        try? encoder.encode(SavedBudget(available: available, updatedAt: updatedAt)).write(to: stateFile, options: .atomic)
        guard geteuid() == 0 else { return }
        // Through a descriptor opened without following a link: the folder is the service's, and a link put
        // there in place of the file must not make root give another file away.
        let fd = open(stateFile.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        Self.giveToTheFoldersOwner(fd, in: stateFile.deletingLastPathComponent())
    }

    /// Root writing the door's file (`sudo facegate neocheck --budget-file /var/lib/facegate/...`) gives it
    /// to the owner of its folder, the service's user: the rename made it root's, and mode 0600 under root's
    /// umask would leave the door unable to read the count, so the door's next save would overwrite the
    /// command's spending with its own older count. Only a file root owns (the one it just wrote or made),
    /// regular and with no other name (a hard link to another file), by its open descriptor (`fchown`, never
    /// a path, which a symbolic link could redirect).
    static func giveToTheFoldersOwner(_ fd: Int32, in folder: URL) {
        guard geteuid() == 0 else { return }
        var owner = stat(), file = stat()
        guard stat(folder.path, &owner) == 0, owner.st_uid != 0, fstat(fd, &file) == 0, isOwnRegularFile(file), file.st_uid == 0 else { return }
        _ = fchown(fd, owner.st_uid, owner.st_gid)
    }

    /// A regular file with one name: not another file reached through a hard link someone put in the folder.
    static func isOwnRegularFile(_ file: stat) -> Bool { file.st_mode & S_IFMT == S_IFREG && file.st_nlink == 1 }

    private struct SavedBudget: Codable {
        var available: Double
        var updatedAt: Date

        private enum CodingKeys: String, CodingKey { case available, updatedAt }

        init(available: Double, updatedAt: Date) {
            self.available = available
            self.updatedAt = updatedAt
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            available = try container.decode(Double.self, forKey: .available)
            updatedAt = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: .updatedAt))
        }
    }
}

/// An exclusive `flock` on `<state file>.lock`, held while a budget reads, changes and writes its file. A
/// lock file of its own: the state file is replaced by a rename at each save, so a lock on it would be on
/// a file no longer there. Opened read-only (a lock needs no more) and made 0644 (it holds nothing), so
/// the door's service can take a lock file root made, and root the service's. Waited for at most
/// `waitingAtMost` (2 s for the door: a change holds it for a read and a write; only a holder stopped
/// mid-change keeps it longer); past that, or when the lock file cannot be opened (another user's
/// folder), the change goes ahead unlocked: the budget guards the service's cost, never the door.
struct StateLock {
    private let descriptor: Int32

    init(beside stateFile: URL, waitingAtMost wait: Duration) {
        let path = stateFile.path + ".lock"
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            descriptor = -1
            return
        }
        var info = stat()
        guard fstat(fd, &info) == 0, HourlyCallBudget.isOwnRegularFile(info) else {
            close(fd)
            descriptor = -1
            return
        }
        // Whatever the umask (the service's is 0077): another user must open it to take the lock.
        if info.st_uid == geteuid() { _ = fchmod(fd, 0o644) }
        HourlyCallBudget.giveToTheFoldersOwner(fd, in: stateFile.deletingLastPathComponent())
        // One try every 2 ms.
        let tries = max(1, Int(wait.components.seconds * 500 + wait.components.attoseconds / 2_000_000_000_000_000))
        for _ in 0..<tries {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                descriptor = fd
                return
            }
            guard errno == EWOULDBLOCK || errno == EINTR else { break }
            usleep(2000)
        }
        close(fd)
        descriptor = -1
    }

    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
