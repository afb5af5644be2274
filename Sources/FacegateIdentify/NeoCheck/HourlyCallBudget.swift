import FacegateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The client's own count of the service's calls-per-hour limit, so the daemon
/// knows before calling whether a call is affordable.
///
/// A sliding hour: a call is affordable while fewer than `callsPerHour` calls were made in the hour
/// before it, as the service counts (NeoCheck: "a maximum number of requests per hour"). Calls are
/// counted in 10-second slots (``CallWindow``), and every slot a call still in the service's hour can
/// be in is counted, so the count errs by at most one slot's calls, on the safe side. (Before, a token
/// bucket of `callsPerHour` refilled at `callsPerHour` an hour: after a quiet hour it let a burst of a
/// full hour through and then the hour's refill on top, up to twice the limit in one hour, and the
/// service's refusals stopped the identifications and the revocation sync alike.) When the service says
/// the limit is reached anyway (another client with the same user, a restart without a state file),
/// the hour is counted as spent, as if evenly over it, so calls come back at the hourly rate as the
/// oldest leave it and none is wasted on a certain refusal meanwhile.
///
/// With a state file the count survives restarts: it is written (atomically, temporary file then
/// rename) after every change, its slots placed by the wall clock. A wall clock that went back (or a
/// file written by a clock that ran ahead) frees nothing at once: the counted calls are taken as made
/// up to now, so each leaves the hour at most an hour later by the clock as it now reads. (Kept where
/// the clock had been, a box corrected from a day ahead would have had NeoCheck refused for that day,
/// deciding offline and revoking no one: second review.)
///
/// A state file that exists but cannot be used (unreadable, corrupt, invalid numbers) does not stop
/// the client: the budget guards the service's cost, not the door. It starts as if the hour had just
/// been spent evenly, so calls come back at the hourly rate (at NeoCheck's 3600 calls an hour, the
/// first within ten seconds) and it never spends more than the limit whatever the lost file said. The
/// file is left as it is until the first change overwrites it, and ``stateProblem`` says why, for the
/// daemon to log. A file of the earlier format (a token bucket's count) is read as that many calls
/// made evenly over the last hour.
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
    /// What the lock file's name adds to the state file's (``StateLock``).
    public static let lockSuffix = ".lock"

    public enum StateProblem: String, Sendable, Hashable, Error {
        /// The file exists but cannot be read (permissions, not a regular file).
        case unreadable
        /// It holds something other than a saved budget.
        case corrupt
        /// It holds numbers that are not finite, or out of any range a saved budget has.
        case invalidNumbers = "invalid numbers"
    }
    private let now: @Sendable () -> Date
    /// How long a change waits for another process's lock on the state file before going ahead unlocked.
    private let lockWait: Duration
    private var window: CallWindow

    /// - Parameters:
    ///   - callsPerHour: the service's limit (3600 for NeoCheck FaceCheck).
    ///   - stateFile: where to keep the count across restarts; nil keeps it in memory.
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
        window = CallWindow(at: start)
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
            switch SavedBudget.window(from: data, callsPerHour: callsPerHour, at: start) {
            case .success(let saved):
                window = saved
                stateProblem = nil
                return
            case .failure(let why):
                problem = why
            }
        }
        // The hour counts as spent, evenly: calls come back at the hourly rate, never over the limit.
        window.spreadOverTheHour(callsPerHour)
        stateProblem = problem
    }

    /// Whole calls affordable now.
    public var remaining: Int {
        withSharedState(saving: false) {}
        return max(0, callsPerHour - window.total)
    }

    /// Whether `calls` calls are affordable now, without spending them.
    public func canAfford(_ calls: Int = 1) -> Bool {
        withSharedState(saving: false) {}
        return window.total + calls <= callsPerHour
    }

    /// Spends one call, or throws `callBudgetExhausted` with the wait until one is affordable.
    public func spend() throws(NeoCheckError) {
        try withSharedState { () throws(NeoCheckError) in
            guard window.total < callsPerHour else {
                throw NeoCheckError(
                    .callBudgetExhausted, "the hourly budget of \(callsPerHour) calls is spent; no call was made",
                    retryAfter: waitForOneCall())
            }
            window.count(1)
        }
    }

    /// Spends one call that is made whether or not the budget has one: a clean-up (a record a failed
    /// enrolment made, deleted again) is worth a call over the limit. A spent hour is not counted past
    /// its limit: such calls are rare, and the service counts its limit itself.
    public func spendBeyondLimit() {
        withSharedState { if window.total < callsPerHour { window.count(1) } }
    }

    /// Counts the hour as spent: the service has said the limit is reached.
    public func exhaust() {
        withSharedState { window.spreadOverTheHour(callsPerHour - window.total) }
    }

    /// Runs `change` on the count as the state file holds it now (another process may have spent since),
    /// moved on to now, and writes it back when `saving` and `change` returned; all under the file's lock.
    /// Without a state file, on the count in memory.
    private func withSharedState<Failure: Error>(saving: Bool = true, _ change: () throws(Failure) -> Void) throws(Failure) {
        guard let stateFile else {
            window.moveOn(to: now())
            try change()
            return
        }
        let lock = StateLock(beside: stateFile, waitingAtMost: lockWait)
        defer { lock.release() }
        let time = now()
        // A window moved back (the clock went back since it was saved) is saved even by a read: kept in the
        // file where the clock had been, each later read would take it from there again, and free nothing.
        let savedMovedBack = adoptSavedState(from: stateFile, at: time)
        let movedBack = window.moveOn(to: time) || savedMovedBack
        try change()
        if saving || movedBack { save() }
    }

    /// Takes in the count the state file holds (another process's spending since), slot by slot the larger
    /// of it and the one in memory: the file holds every call this budget counted as long as its saves
    /// succeed, and when one fails (a full disk, a card remounted read-only) the file's older count must not
    /// undo the calls made since. (Before, it replaced the count in memory: each spend re-read the same old
    /// file and added one, so the door called without limit until the service refused.) A file gone or
    /// broken since the start loses nothing either: the next save writes it again.
    /// - Returns: whether the saved count was moved back to now (see ``CallWindow/moveOn(to:)``).
    private func adoptSavedState(from stateFile: URL, at time: Date) -> Bool {
        guard let type = try? FileManager.default.attributesOfItem(atPath: stateFile.path)[.type] as? FileAttributeType,
            type == .typeRegular, let data = try? Data(contentsOf: stateFile),
            case .success(var saved) = SavedBudget.window(from: data, callsPerHour: callsPerHour, at: time, earlierFormat: false)
        else { return false }
        let movedBack = saved.moveOn(to: time)
        window.moveOn(to: time)
        window.takeTheLarger(of: saved)
        return movedBack
    }

    /// How long until one call is affordable (zero when one is now).
    public func waitForOneCall() -> Duration {
        let seconds = window.secondsUntilFree(window.total - callsPerHour + 1, at: now())
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    private func save() {
        guard let stateFile else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A count that cannot be written costs accuracy after a restart, not the call: the count in memory
        // goes on (``adoptSavedState(from:at:)`` keeps it over the file's older one).
        try? encoder.encode(SavedBudget(window: window)).write(to: stateFile, options: .atomic)
        guard geteuid() == 0 else { return }
        // Through a descriptor opened without following a link: the folder is the service's, and a link put
        // there in place of the file must not make root give another file away.
        let fd = open(stateFile.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        ServiceFolderOwner.giveToTheFoldersOwner(fd, in: stateFile.deletingLastPathComponent().path)
    }

    /// The state file: the window's slots, or (written by an earlier facegate) a token bucket's count.
    private struct SavedBudget: Codable {
        var slot: Int64?
        var counts: [Int]?
        var available: Double?
        var updatedAt: Double?

        init(window: CallWindow) {
            slot = window.newestSlot
            counts = window.counts
        }

        /// - Parameter earlierFormat: whether a token bucket's count is read too: at the start only. Read again at each
        ///   change it would be spread over the hour anew each time (the file is left as it is until a save).
        static func window(from data: Data, callsPerHour: Int, at time: Date, earlierFormat: Bool = true) -> Result<CallWindow, StateProblem> {
            guard let saved = try? JSONDecoder().decode(SavedBudget.self, from: data) else { return .failure(.corrupt) }
            if let slot = saved.slot, let counts = saved.counts {
                // Within a century of now either way: the slots' arithmetic cannot overflow on a hostile file.
                let now = CallWindow.slot(of: time)
                guard counts.count == CallWindow.slotCount, counts.allSatisfy({ $0 >= 0 && $0 <= 1_000_000 }),
                    (-CallWindow.slotsInACentury * 2...CallWindow.slotsInACentury * 2).contains(slot),
                    (-CallWindow.slotsInACentury...CallWindow.slotsInACentury).contains(slot - now)
                else {
                    return .failure(.invalidNumbers)
                }
                // As saved: moved on to now by the change that reads it, which saves it when that moves it back.
                return .success(CallWindow(newestSlot: slot, counts: counts))
            }
            // The earlier token bucket: what it had spent (refilled to now at its rate) as calls made evenly.
            guard earlierFormat else { return .failure(.corrupt) }
            guard let available = saved.available, let updatedAt = saved.updatedAt else { return .failure(.corrupt) }
            guard available.isFinite, updatedAt.isFinite else { return .failure(.invalidNumbers) }
            let elapsed = max(0, time.timeIntervalSince1970 - updatedAt)
            let left = min(Double(callsPerHour), max(0, available) + elapsed * Double(callsPerHour) / 3600)
            var window = CallWindow(at: time)
            window.spreadOverTheHour(callsPerHour - Int(left.rounded(.down)))
            return .success(window)
        }
    }
}

/// Calls made in the last hour, counted in 10-second slots of the wall clock: the slot now and the 360
/// before it, every slot a call still in the service's hour can be in.
struct CallWindow: Equatable {
    static let slotSeconds: Int64 = 10
    static let slotCount = Int(3600 / slotSeconds) + 1
    static let slotsInACentury: Int64 = 100 * 366 * 86_400 / slotSeconds

    /// The newest slot counted (wall-clock seconds / 10); `counts.last` is its count.
    private(set) var newestSlot: Int64
    /// Oldest slot first.
    private(set) var counts: [Int]

    init(newestSlot: Int64, counts: [Int]) {
        self.newestSlot = newestSlot
        self.counts = counts
    }

    init(at time: Date) {
        self.init(newestSlot: Self.slot(of: time), counts: Array(repeating: 0, count: Self.slotCount))
    }

    var total: Int { counts.reduce(0, +) }

    static func slot(of time: Date) -> Int64 {
        let seconds = time.timeIntervalSince1970
        // A clock read outside the range a slot's arithmetic can hold is taken as the epoch.
        guard seconds.isFinite, abs(seconds) < 1e15 else { return 0 }
        return Int64((seconds / Double(slotSeconds)).rounded(.down))
    }

    /// Moves the window on to `time`: slots that fell out of the hour are forgotten. A time before the
    /// newest slot (the clock went back, or was ahead when the file was written) frees nothing: the window
    /// is moved back to it whole, so its calls count as made up to now and leave within the hour.
    /// - Returns: whether it moved back.
    @discardableResult
    mutating func moveOn(to time: Date) -> Bool {
        let slot = Self.slot(of: time)
        guard slot > newestSlot else {
            defer { newestSlot = slot }
            return slot < newestSlot
        }
        let shift = slot - newestSlot
        if shift >= Int64(Self.slotCount) {
            counts = Array(repeating: 0, count: Self.slotCount)
        } else {
            counts.removeFirst(Int(shift))
            counts.append(contentsOf: repeatElement(0, count: Int(shift)))
        }
        newestSlot = slot
        return false
    }

    mutating func count(_ calls: Int) { counts[counts.count - 1] += calls }

    /// Slot by slot, the larger count of this window and `other`, both moved on to the same time.
    mutating func takeTheLarger(of other: CallWindow) {
        guard other.newestSlot == newestSlot, other.counts.count == counts.count else {
            // Not the case after both moved on to one time; if it ever were, the larger hour is the safe side.
            if other.total > total { self = other }
            return
        }
        for index in counts.indices { counts[index] = max(counts[index], other.counts[index]) }
    }

    /// Adds `calls` as if made evenly over the hour, so they leave it at the hourly rate.
    mutating func spreadOverTheHour(_ calls: Int) {
        guard calls > 0 else { return }
        let n = counts.count
        for index in 0..<n {
            counts[index] += (index + 1) * calls / n - index * calls / n
        }
    }

    /// Seconds from `time` until `needed` of the counted calls have left the hour (0 when none need to).
    func secondsUntilFree(_ needed: Int, at time: Date) -> Double {
        guard needed > 0 else { return 0 }
        var freed = 0
        for (index, calls) in counts.enumerated() {
            freed += calls
            guard freed >= needed else { continue }
            // The slot leaves the window when the newest slot is `slotCount` past it.
            let leaves = Double((newestSlot - Int64(counts.count - 1) + Int64(index) + Int64(Self.slotCount)) * Self.slotSeconds)
            return max(0, leaves - time.timeIntervalSince1970)
        }
        return 3600
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
        let path = stateFile.path + HourlyCallBudget.lockSuffix
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            descriptor = -1
            return
        }
        var info = stat()
        guard fstat(fd, &info) == 0, ServiceFolderOwner.isOwnRegularFile(info) else {
            close(fd)
            descriptor = -1
            return
        }
        // Whatever the umask (the service's is 0077): another user must open it to take the lock.
        if info.st_uid == geteuid() { _ = fchmod(fd, 0o644) }
        ServiceFolderOwner.giveToTheFoldersOwner(fd, in: stateFile.deletingLastPathComponent().path)
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
