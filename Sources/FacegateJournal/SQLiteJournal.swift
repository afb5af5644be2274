import FacegateCore
import Foundation
import GRDB
import Logging
import Synchronization

/// The decision and door-event journal: an SQLite file in WAL mode, written by one writer task.
///
/// The door path hands records over with ``record(_:)-(DecisionRecord)`` and friends, which never
/// wait: they append to an in-memory queue and return. ``run()`` (one task, for the life of the
/// daemon) drains that queue in batches, one transaction (one WAL sync) per batch. Call
/// ``flush()`` when you need to know that everything handed over so far is on disk.
///
/// When the disk is full or the file is read-only the journal reports it in ``status`` and logs it,
/// keeps the records it could not write in memory (bounded by `maxPendingRecords`) and retries
/// with a growing delay; records arriving while that backlog is full are dropped and counted.
///
/// This is a class around a `Mutex` rather than an actor so that handing over a record is a plain
/// synchronous call that never waits for an executor.
public final class SQLiteJournal: Sendable {
    public struct Configuration: Sendable {
        /// The SQLite file; its folder must exist.
        public var path: String
        /// Keep each decision's best-face crop (personal data: off by default).
        public var storeProbeCrops: Bool
        public var retention: JournalRetention
        /// Records kept in memory while the disk cannot take them; beyond this, new records are dropped.
        public var maxPendingRecords: Int
        /// Crop bytes kept in memory while the disk cannot take them; beyond this, crops are dropped.
        public var maxPendingCropBytes: Int
        /// Records per transaction.
        public var maxBatchSize: Int
        /// First delay before retrying a failed write; doubles up to `maxRetryDelay`.
        public var retryDelay: Duration
        public var maxRetryDelay: Duration
        /// How often retention runs (it also runs when the journal opens).
        public var retentionInterval: Duration
        /// How soon a retention pass that waited for the clock is tried again: /health shows the wait over
        /// once something vouches for the clock, not up to a whole interval later.
        public var clockWaitRetry: Duration

        public init(
            path: String, storeProbeCrops: Bool = false, retention: JournalRetention = JournalRetention(),
            maxPendingRecords: Int = 10_000, maxPendingCropBytes: Int = 16 << 20, maxBatchSize: Int = 512,
            retryDelay: Duration = .milliseconds(500), maxRetryDelay: Duration = .seconds(30),
            retentionInterval: Duration = .seconds(600), clockWaitRetry: Duration = .seconds(30)
        ) {
            self.path = path
            self.storeProbeCrops = storeProbeCrops
            self.retention = retention
            self.maxPendingRecords = maxPendingRecords
            self.maxPendingCropBytes = maxPendingCropBytes
            self.maxBatchSize = maxBatchSize
            self.retryDelay = retryDelay
            self.maxRetryDelay = maxRetryDelay
            self.retentionInterval = retentionInterval
            self.clockWaitRetry = clockWaitRetry
        }
    }

    /// A record waiting for the writer.
    enum PendingWrite: Sendable {
        case decision(DecisionRecord)
        case doorEvent(DoorEventRecord)
        case recheck(RecheckRecord)
        case relay(RelayRecord)
        case clockSeenRight(Date)

        var cropBytes: Int {
            if case .decision(let record) = self { return record.probeCrop?.count ?? 0 }
            return 0
        }
    }

    struct Sequenced: Sendable {
        var sequence: UInt64
        var write: PendingWrite
        /// When it was handed over: on the steady clock for how long it has waited, on the wall clock to say since when.
        var queued = ContinuousClock.now
        var queuedAt = Date()
    }

    struct FlushWaiter {
        var target: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    struct State {
        var pending: [Sequenced] = []
        var pendingCropBytes = 0
        var lastSequence: UInt64 = 0
        /// Every write up to this sequence number has been dealt with (written, or dropped as unwritable).
        var settledSequence: UInt64 = 0
        var waiters: [UInt64: FlushWaiter] = [:]
        var nextWaiterId: UInt64 = 0
        var running = false
        var database: DatabasePool?
        /// The last failure was SQLite saying the file is damaged: the next open checks it first.
        var suspectDamage = false
        /// The newest decision or door event handed over this run (``newestHandedTime``).
        var newestHanded: Date?
        /// Records are being refused for a full backlog (said once when it starts, once when it ends).
        var refusingForAFullBacklog = false
        var status = JournalStatus()
    }

    /// Where the daemon keeps the journal (systemd `StateDirectory=facegate`).
    public static let defaultPath = "/var/lib/facegate/journal.sqlite"

    public let configuration: Configuration
    let logger: Logger
    let state = Mutex(State())
    private let opening = Mutex(())
    private let doorbell: AsyncStream<Void>
    private let doorbellContinuation: AsyncStream<Void>.Continuation

    public init(configuration: Configuration, logger: Logger = Logger(label: "facegate.journal")) {
        self.configuration = configuration
        self.logger = logger
        (doorbell, doorbellContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: - Handing records over (never waits)

    /// Queues a decision for the journal and returns at once.
    /// - Returns: false when it was dropped (the backlog is full, or the journal has stopped).
    @discardableResult
    public func record(_ decision: DecisionRecord) -> Bool {
        var decision = decision
        if !configuration.storeProbeCrops { decision.probeCrop = nil }
        noteHanded(decision.time)
        return enqueue(.decision(decision))
    }

    /// Queues a door event and returns at once.
    @discardableResult
    public func record(_ event: DoorEventRecord) -> Bool {
        // Not a start's `degraded` note, as on disk (``newestRecordTime()``): written at every start, often
        // before the clock is synchronised.
        if event.kind != .degraded { noteHanded(event.time) }
        return enqueue(.doorEvent(event))
    }

    /// The newest decision or door event handed over this run, written or not: with ``newestRecordTime()``
    /// (read once, at the first decision) the clock's stored witness, which the door's own events (an exit
    /// press, the door opened) move on between decisions.
    public var newestHandedTime: Date? { state.withLock { $0.newestHanded } }

    private func noteHanded(_ time: Date) {
        state.withLock { $0.newestHanded = max($0.newestHanded ?? time, time) }
    }

    /// Queues the cloud's re-check of an offline decision and returns at once.
    @discardableResult
    public func recordRecheck(_ recheck: RecheckRecord) -> Bool {
        enqueue(.recheck(recheck))
    }

    /// Queues the wall clock's reading at a moment the cloud's time vouched for it, replacing the one kept
    /// before, and returns at once: with the newest record, the clock's witness at the next start
    /// (``newestRecordTime()``).
    /// One reading is all that is kept: a newer one replaces one still queued (a disk that fails for hours
    /// does not fill the backlog with them), and one refused for a full backlog is no lost record (it is
    /// not counted as dropped: the next comes within minutes).
    @discardableResult
    public func recordClockSeenRight(at time: Date) -> Bool {
        let refused = state.withLock { state -> Bool in
            // Taken out and queued anew (a later sequence), not changed in place: the writer may be writing
            // the one queued, and settles what it wrote by sequence.
            if let queued = state.pending.lastIndex(where: { if case .clockSeenRight = $0.write { true } else { false } }) {
                state.pending.remove(at: queued)
                state.status.pendingRecords = state.pending.count
                return false
            }
            return state.pending.count >= configuration.maxPendingRecords || state.status.health == .closed
        }
        return refused ? false : enqueue(.clockSeenRight(time))
    }

    /// Queues what the relay did for a granted decision (after the decision itself) and returns at once.
    @discardableResult
    public func recordRelay(_ relay: RelayRecord) -> Bool {
        enqueue(.relay(relay))
    }

    private func enqueue(_ write: PendingWrite) -> Bool {
        enum BacklogChange { case none, filled, drained }
        let (accepted, change) = state.withLock { state -> (Bool, BacklogChange) in
            if state.status.health == .closed {
                state.status.droppedRecords += 1
                return (false, .none)
            }
            if state.pending.count >= configuration.maxPendingRecords {
                state.status.droppedRecords += 1
                if state.status.droppingSince == nil { state.status.droppingSince = Date() }
                defer { state.refusingForAFullBacklog = true }
                return (false, state.refusingForAFullBacklog ? .none : .filled)
            }
            let drained = state.refusingForAFullBacklog
            state.refusingForAFullBacklog = false
            state.status.droppingSince = nil
            var write = write
            if case .decision(var record) = write, let crop = record.probeCrop,
                state.pendingCropBytes + crop.count > configuration.maxPendingCropBytes
            {
                record.probeCrop = nil
                write = .decision(record)
                state.status.droppedProbeCrops += 1
            }
            state.lastSequence += 1
            state.pending.append(Sequenced(sequence: state.lastSequence, write: write))
            state.pendingCropBytes += write.cropBytes
            state.status.pendingRecords = state.pending.count
            return (true, drained ? .drained : .none)
        }
        // Every decision refused is lost, so the loss is said: once as it starts, not at each record (a
        // busy door would flood the log), with the count when it ends.
        switch change {
        case .none: break
        case .filled:
            logger.error(
                "journal backlog full: new records are dropped until the disk takes the backlog (facegate_journal_dropped_records_total counts them)",
                metadata: ["pending": "\(configuration.maxPendingRecords)"])
        case .drained:
            logger.notice("journal backlog no longer full: records are kept again", metadata: ["dropped_so_far": "\(status.droppedRecords)"])
        }
        if accepted { doorbellContinuation.yield() }
        return accepted
    }

    // MARK: - Waiting for the disk

    /// Waits until every record handed over before this call is on disk.
    ///
    /// Before ``run()`` starts this waits for it. Throws the write error when a write attempt fails
    /// meanwhile (the records stay queued and are retried), and ``JournalError/Code/closed`` once the
    /// writer has stopped with records still unwritten.
    public func flush() async throws(JournalError) {
        let waiterId = state.withLock { state -> UInt64? in
            if state.settledSequence >= state.lastSequence { return nil }
            state.nextWaiterId += 1
            return state.nextWaiterId
        }
        guard let waiterId else { return }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let resumeNow = state.withLock { state -> Result<Void, JournalError>? in
                        if state.settledSequence >= state.lastSequence { return .success(()) }
                        // Cancelled before the waiter was registered: the cancellation handler found nothing to resume.
                        if Task.isCancelled { return .failure(JournalError(.closed, "flush was cancelled")) }
                        if state.status.health == .closed {
                            return .failure(JournalError(.closed, "the journal writer has stopped"))
                        }
                        state.waiters[waiterId] = FlushWaiter(target: state.lastSequence, continuation: continuation)
                        return nil
                    }
                    if let resumeNow { continuation.resume(with: resumeNow.mapError { $0 as any Error }) }
                }
            } onCancel: {
                let waiter = state.withLock { $0.waiters.removeValue(forKey: waiterId) }
                waiter?.continuation.resume(throwing: CancellationError())
            }
        } catch let error as JournalError {
            throw error
        } catch {
            throw JournalError(.closed, "flush was cancelled")
        }
    }

    /// The time of the newest decision or door event on disk, or of the clock's last reading the cloud
    /// vouched for (``recordClockSeenRight(at:)``) when that is later; nil when there is none (it throws
    /// when the file cannot be read): a clock that reads earlier than this has been set back.
    public func newestRecordTime() async throws -> Date? {
        let database = try openedDatabase(waiting: false)
        // Door events count too: at a quiet door an exit press or an opening is often the newest record. Not
        // a start's `degraded` note: written at every start, often before the clock is synchronised.
        return try await database.read { db in
            try Date.fetchOne(
                db,
                // Each table's newest date that reads as one (walking the time index down): a date the disk
                // damaged sorts above every real one, and would make every read of it fail (review).
                sql: """
                    SELECT MAX(newest) FROM (
                      SELECT (SELECT time FROM decision WHERE julianday(time) IS NOT NULL ORDER BY time DESC LIMIT 1) AS newest
                      UNION ALL SELECT (SELECT time FROM door_event WHERE kind != ? AND julianday(time) IS NOT NULL ORDER BY time DESC LIMIT 1)
                      UNION ALL SELECT time FROM clock_witness WHERE julianday(time) IS NOT NULL)
                    """,
                arguments: [DoorEventKind.degraded.rawValue])
        }
    }

    public func grants(atDoor door: String, within window: Duration, of now: Date) async throws -> [JournaledGrant] {
        let database = try openedDatabase(waiting: false)
        let opensDoor = Decision.Outcome.allCases.filter(\.opensDoor).map(\.rawValue).sorted()
        return try await database.read { db in
            // A date the disk damaged (a bit flipped on the card, which the quick check does not read) sorts
            // above every real one as text: such rows are left out of both reads (review).
            let newest = try Date.fetchOne(
                db, sql: "SELECT time FROM decision WHERE door = ? AND julianday(time) IS NOT NULL ORDER BY time DESC LIMIT 1", arguments: [door])
            let since = max(now, newest ?? now).addingTimeInterval(-window.timeInterval)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT subject_id, MAX(time) AS latest FROM decision
                    WHERE door = ? AND time >= ? AND julianday(time) IS NOT NULL AND subject_id IS NOT NULL AND (relay IS NULL OR relay NOT IN (?, ?))
                    AND outcome IN (\(opensDoor.map { _ in "?" }.joined(separator: ", ")))
                    GROUP BY subject_id
                    """,
                arguments: StatementArguments([door]) + StatementArguments([since]) + StatementArguments([RelayRecord.Result.failed.rawValue, RelayRecord.Result.withheld.rawValue])
                    + StatementArguments(opensDoor))
            // A row that still cannot be decoded is left out: decoded with the subscript it stopped the process,
            // at the first decision after every restart (review).
            return rows.compactMap { row -> JournaledGrant? in
                guard let subject = try? row.decode(String.self, forColumn: "subject_id"),
                    let time = try? row.decode(Date.self, forColumn: "latest")
                else { return nil }
                return JournaledGrant(subjectId: subject, time: time)
            }
        }
    }

    /// How the journal is doing: for the service status line and health checks.
    public var status: JournalStatus {
        state.withLock { state in
            var status = state.status
            // Read now: a write that hangs (a stalled disk) changes nothing else.
            if let oldest = state.pending.first {
                status.oldestPendingSince = oldest.queuedAt
                status.oldestPendingAge = oldest.queued.duration(to: .now)
            }
            return status
        }
    }

    // MARK: - The writer

    /// Writes queued records until the task is cancelled, then writes what is left and stops.
    ///
    /// Run it once, for the life of the daemon (a `Service`'s `run()`, cancelled on graceful shutdown).
    /// - Parameter clockIsTrusted: whether something vouches for the clock reading it is given, asked
    ///   before each retention pass: without it nothing is deleted for its age. The default asks
    ///   ``WallClockEvidence`` without the cloud's time; the daemon adds the cloud's.
    public func run(clockIsTrusted: @escaping @Sendable (Date) async -> Bool = { WallClockEvidence.vouches(for: $0) }) async {
        let alreadyRunning = state.withLock { state -> Bool in
            defer { state.running = true }
            return state.running
        }
        if alreadyRunning {
            logger.error("journal writer started twice; the second one does nothing")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            // Rings the doorbell so retention runs even when the door is quiet (at least every 30 s: a pass
            // waiting for the clock is tried again that soon).
            let interval = min(configuration.retentionInterval, configuration.clockWaitRetry)
            let bell = doorbellContinuation
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    bell.yield()
                }
            }
            await writeUntilCancelled(clockIsTrusted: clockIsTrusted)
            group.cancelAll()
        }
        finishOnShutdown()
    }

    private func writeUntilCancelled(clockIsTrusted: @Sendable (Date) async -> Bool) async {
        var bell = doorbell.makeAsyncIterator()
        // Said once each time retention starts waiting for the clock, not at every pass while it waits.
        var waitingForTheClock = false
        let clock = ContinuousClock()
        var nextRetention = clock.now
        var delay = configuration.retryDelay
        // Halved after each full-disk failure, so that what still fits on the disk gets written.
        var batchLimit = max(1, configuration.maxBatchSize)
        while !Task.isCancelled {
            let (waiting, hasDatabase) = state.withLock { state in
                (Array(state.pending.prefix(batchLimit)), state.database != nil)
            }
            var batch = waiting
            let retentionDue = clock.now >= nextRetention
            if batch.isEmpty && !retentionDue && hasDatabase {
                if await bell.next() == nil { break }
                continue
            }
            do {
                let database = try openedDatabase()
                if retentionDue {
                    nextRetention = clock.now.advanced(by: configuration.retentionInterval)
                    let now = Date()
                    let foundDamage = await runRetention(
                        database, now: now, clockIsTrusted: await clockIsTrusted(now), waitingForTheClock: &waitingForTheClock)
                    // Nothing more into that file: the next opening checks it, and sets it aside if it is damaged.
                    if foundDamage { continue }
                    // Waiting for the clock: tried again soon, so that /health shows the wait over once the
                    // cloud's time vouches for the clock, not up to a whole interval later.
                    if waitingForTheClock { nextRetention = min(nextRetention, clock.now.advanced(by: configuration.clockWaitRetry)) }
                    // It wrote what was waiting between its steps: taken afresh, so nothing is written twice.
                    batch = state.withLock { Array($0.pending.prefix(batchLimit)) }
                }
                if !batch.isEmpty {
                    try await write(batch, to: database)
                }
                delay = configuration.retryDelay
                batchLimit = min(max(1, configuration.maxBatchSize), batchLimit * 2)
            } catch {
                noteFailure(error, batch: batch)
                if Self.describe(error).code == .diskFull { batchLimit = max(1, batchLimit / 2) }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    break
                }
                delay = min(delay * 2, configuration.maxRetryDelay)
            }
        }
    }

    /// One retention pass. True when it found the file damaged: then it is checked (and, damaged, set aside)
    /// at the writer's next opening, as after a write that found damage.
    private func runRetention(_ database: DatabasePool, now: Date, clockIsTrusted: Bool, waitingForTheClock: inout Bool) async -> Bool {
        do {
            let report = try await database.writeWithoutTransaction { [configuration] db in
                try JournalRetentionRunner.apply(
                    configuration.retention, to: db, now: now, clockIsTrusted: clockIsTrusted,
                    betweenSteps: { db in self.writeWaitingRecords(in: db) })
            }
            if report.ageRetentionWaitsForTheClock {
                if !waitingForTheClock {
                    logger.warning(
                        "journal retention held back: records older than the age limit are kept while nothing vouches for the clock (no cloud time agreeing with it, nor the kernel saying a time daemon keeps it synchronised); the size limit still applies")
                }
            } else if report.ageRetentionHeldBack {
                logger.warning(
                    "journal retention held back: records older than the age limit are kept for now (a pass deletes at most a tenth, and never every record; has the clock jumped forward?)")
            }
            waitingForTheClock = report.ageRetentionWaitsForTheClock
            state.withLock { state in
                let since = state.status.retentionWaitsForTheClockSince ?? Date()
                state.status.retentionWaitsForTheClockSince = report.ageRetentionWaitsForTheClock ? since : nil
            }
            if report.deletedAnything {
                logger.info(
                    "journal retention",
                    metadata: [
                        "deleted_decisions": "\(report.deletedDecisions)", "deleted_door_events": "\(report.deletedDoorEvents)",
                        "deleted_probe_crops": "\(report.deletedProbeCrops)", "bytes": "\(report.bytesAfter)",
                    ])
            }
            state.withLock { $0.status.retentionFailingSince = nil }
            if clockIsTrusted, let maxAge = configuration.retention.maxAge {
                removeSetAsideCopies(lastWrittenBefore: now.addingTimeInterval(-maxAge.timeInterval))
            }
            return false
        } catch {
            // Retention failing (a full disk) does not stop decisions from being written, but the limits are not
            // kept meanwhile: /health says so. Damage it meets (an old page: writes only touch the newest, so
            // they go on succeeding while every pass fails and the file grows until the disk is full) is the
            // file's damage, as a write's would be (review: before, only a warning at each pass).
            let damaged = (error as? DatabaseError).map(Self.isDamage) ?? false
            state.withLock { state in
                // Until a pass succeeds, or the file is set aside: a damage the quick check then does not confirm
                // fails every pass, and says so in /health (second review).
                if state.status.retentionFailingSince == nil { state.status.retentionFailingSince = Date() }
                if damaged {
                    state.suspectDamage = true
                    state.database = nil
                }
            }
            if damaged {
                logger.error(
                    "journal retention found the file damaged; it is checked, and set aside if it is, before the next write",
                    metadata: ["error": "\(Self.describe(error).message)"])
            } else {
                logger.warning("journal retention failed", metadata: ["error": "\(Self.describe(error).message)"])
            }
            return damaged
        }
    }

    /// Between two steps of a retention pass: commits the records handed over meanwhile, so a long pass
    /// holds a grant's commit up by one step at most. A failure leaves them queued for the writer's own
    /// loop after the pass, which retries them and drops any that can never be written.
    private func writeWaitingRecords(in db: Database) {
        let batch = state.withLock { Array($0.pending.prefix(max(1, configuration.maxBatchSize))) }
        guard !batch.isEmpty else { return }
        let storeCrops = configuration.storeProbeCrops
        do {
            try db.inTransaction {
                for item in batch { try JournalWriter.insert(item.write, storeCrops: storeCrops, into: db) }
                return .commit
            }
            settle(batch, dropped: 0)
        } catch {
            return
        }
    }

    /// The open database, opening (and migrating) it first when needed. A file SQLite finds damaged (not
    /// a database, a malformed page: a failing SD card, a power cut on a card that lies about its writes)
    /// never mends by retrying: it is set aside beside itself, kept for whoever wants to recover it, and a
    /// new journal is started, so the door goes on recording instead of holding records in memory until
    /// they are lost at stop.
    /// - Parameter waiting: false for the reads on a decision's path, which must not wait for another
    ///   caller's opening (a busy file, a quick check of a large one): they throw, and are asked again.
    func openedDatabase(waiting: Bool = true) throws -> DatabasePool {
        if let database = state.withLock({ $0.database }) { return database }
        // One opening at a time: two callers finding the file damaged together would otherwise set aside
        // the new journal the first one had just started.
        if waiting { return try opening.withLock { _ in try openUnderLock() } }
        // A file suspected damaged is checked (a quick check reads all of it: seconds on an SD card) and perhaps
        // set aside by the writer, never on a decision's path, whose reads wait for no opening.
        if state.withLock({ $0.suspectDamage }) { throw JournalError(.cannotOpen, "the journal is being checked by the writer") }
        guard let opened = try opening.withLockIfAvailable({ _ in try openUnderLock() }) else {
            throw JournalError(.cannotOpen, "the journal is being opened by the writer")
        }
        return opened
    }

    private func openUnderLock() throws -> DatabasePool {
        if let database = state.withLock({ $0.database }) { return database }
        do {
            var opened: DatabasePool
            do {
                opened = try JournalSchema.openForWriting(path: configuration.path)
                if state.withLock({ $0.suspectDamage }), try !Self.passesQuickCheck(opened) {
                    try? opened.close()
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "the quick check found the file damaged")
                }
            } catch let error as DatabaseError where Self.isDamage(error) {
                try setAsideDamagedFile(because: error)
                opened = try JournalSchema.openForWriting(path: configuration.path)
            }
            state.withLock { $0.suspectDamage = false }
            return state.withLock { state in
                if let database = state.database { return database }
                state.database = opened
                return opened
            }
        } catch let error as JournalError {
            throw error
        } catch {
            if Self.isOnReadOnlyFileSystem(configuration.path) {
                throw JournalError(.readOnly, "the file system holding the journal is mounted read-only")
            }
            throw JournalError(.cannotOpen, "cannot open the journal: \(Self.describe(error).message)")
        }
    }

    /// Whether SQLite says the file itself is damaged, which no retry mends.
    static func isDamage(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    static func passesQuickCheck(_ database: DatabasePool) throws -> Bool {
        try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") == ["ok"] }
    }

    /// Renames the damaged file (and its write-ahead log with it) to `<name>.damaged-<UTC time>` beside it.
    /// Said without the path (a configuration value): the suffix is enough to find it.
    /// Deletes the damaged journals set aside beside this one (and their write-ahead logs) last written before
    /// `cutoff`: every record in such a copy is past the age limit, which holds for them as for the journal
    /// (review: they were kept for ever, a failing card's copies piling up beside it). Only by a clock
    /// something vouches for, as age retention itself.
    private func removeSetAsideCopies(lastWrittenBefore cutoff: Date) {
        let journal = URL(fileURLWithPath: configuration.path)
        let folder = journal.deletingLastPathComponent()
        let prefix = journal.lastPathComponent + ".damaged-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        var removed = 0
        for name in names where name.hasPrefix(prefix) {
            let path = folder.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)) < cutoff, unlink(path) == 0
            else { continue }
            if !name.hasSuffix("-wal") { removed += 1 }
        }
        if removed > 0 {
            logger.notice("damaged journals set aside past the age limit deleted", metadata: ["deleted": "\(removed)"])
        }
    }

    private func setAsideDamagedFile(because error: DatabaseError) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let path = configuration.path
        // Never over an earlier one (a second set-aside within the second, a clock set back onto its name).
        let stamp = ".damaged-\(formatter.string(from: Date()))"
        var suffix = stamp
        var taken = 1
        while access(path + suffix, F_OK) == 0 || access(path + suffix + "-wal", F_OK) == 0 {
            taken += 1
            suffix = "\(stamp)-\(taken)"
        }
        func failure(_ what: String) -> JournalError {
            JournalError(.cannotOpen, "the journal is damaged and its \(what) cannot be set aside: \(String(cString: strerror(errno)))")
        }
        // The write-ahead log first, with the file: frames left behind would be lost, or read into the new one.
        if rename(path + "-wal", path + suffix + "-wal") != 0, errno != ENOENT { throw failure("write-ahead log") }
        guard rename(path, path + suffix) == 0 else {
            let error = failure("file")
            _ = rename(path + suffix + "-wal", path + "-wal")
            throw error
        }
        _ = unlink(path + "-shm")
        // A new journal: the old file's failing retention is not its.
        state.withLock { $0.status.retentionFailingSince = nil }
        logger.critical(
            "the journal file is damaged: set aside beside it (suffix \(suffix)) and a new journal started; records not yet written go to the new one",
            metadata: ["error": "\(error.message ?? "SQLite error \(error.extendedResultCode.rawValue)")"])
    }

    private func write(_ batch: [Sequenced], to database: DatabasePool) async throws {
        let storeCrops = configuration.storeProbeCrops
        do {
            try await database.write { db in
                for item in batch { try JournalWriter.insert(item.write, storeCrops: storeCrops, into: db) }
            }
            settle(batch, dropped: 0)
        } catch let error as DatabaseError where !Self.isTransient(error) {
            // Something in this batch cannot be written at all: write one by one and drop the bad ones,
            // so one bad record never holds up the rest.
            var dropped = 0
            for (index, item) in batch.enumerated() {
                do {
                    try await database.write { db in try JournalWriter.insert(item.write, storeCrops: storeCrops, into: db) }
                } catch let error as DatabaseError where !Self.isTransient(error) {
                    dropped += 1
                    logger.error("journal record dropped: it cannot be written", metadata: ["error": "\(Self.describe(error).message)"])
                } catch {
                    // A temporary failure part-way (a full disk): the records before it are written or dropped
                    // already, so they leave the queue now; the retry would write them again (door events
                    // have no key to stop a second row).
                    settle(Array(batch[..<index]), dropped: dropped, writesResumed: false)
                    throw error
                }
            }
            settle(batch, dropped: dropped)
        }
    }

    /// Removes a written batch from the queue and wakes the flushes it satisfies.
    /// - Parameter writesResumed: false for the part of a batch written before a write failed: the
    ///   journal's health (and when its problem began) is left to that failure.
    private func settle(_ batch: [Sequenced], dropped: Int, writesResumed: Bool = true) {
        guard let last = batch.last?.sequence else { return }
        let (ready, recovered) = state.withLock { state -> ([FlushWaiter], Bool) in
            let cut = state.pending.prefix { $0.sequence <= last }
            state.pendingCropBytes -= cut.reduce(0) { $0 + $1.write.cropBytes }
            state.pending.removeFirst(cut.count)
            state.settledSequence = max(state.settledSequence, last)
            state.status.pendingRecords = state.pending.count
            state.status.writtenRecords += UInt64(cut.count - dropped)
            state.status.droppedRecords += UInt64(dropped)
            state.status.lastCommit = Date()
            guard writesResumed else { return (readyWaiters(&state), false) }
            let recovered = state.status.health == .failing
            state.status.health = .ok
            state.status.lastError = nil
            state.status.failingSince = nil
            // Room again: records are kept, not dropped.
            if state.pending.count < configuration.maxPendingRecords { state.status.droppingSince = nil }
            return (readyWaiters(&state), recovered)
        }
        if recovered {
            logger.notice("journal writes resumed")
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// The flushes everything settled satisfies, taken off the waiting list.
    private func readyWaiters(_ state: inout State) -> [FlushWaiter] {
        var ready: [FlushWaiter] = []
        for (id, waiter) in state.waiters where waiter.target <= state.settledSequence {
            ready.append(waiter)
            state.waiters[id] = nil
        }
        return ready
    }

    private func noteFailure(_ error: any Error, batch: [Sequenced]) {
        let journalError = Self.describe(error)
        let (waiters, isNewProblem, pending) = state.withLock { state -> ([FlushWaiter], Bool, Int) in
            let isNew = state.status.health != .failing || state.status.lastError?.code != journalError.code
            if state.status.health != .failing { state.status.failingSince = Date() }
            state.status.health = .failing
            state.status.lastError = journalError
            state.status.failedAttempts += 1
            if let error = error as? DatabaseError, Self.isDamage(error) { state.suspectDamage = true }
            // A fresh connection on the next attempt: the old one may hold a stale view of a remounted disk.
            state.database = nil
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return (waiters, isNew, state.pending.count)
        }
        if isNewProblem {
            logger.error(
                "journal cannot write; records are kept in memory and retried",
                metadata: ["error": "\(journalError.message)", "code": "\(journalError.code.rawValue)", "pending": "\(pending)"])
        }
        for waiter in waiters { waiter.continuation.resume(throwing: journalError) }
    }

    /// The last attempt at shutdown: a synchronous write that cancellation cannot interrupt.
    private func finishOnShutdown() {
        let pending = state.withLock { $0.pending }
        if !pending.isEmpty {
            do {
                let database = try openedDatabase()
                let storeCrops = configuration.storeProbeCrops
                // In batches, halved after each full-disk failure as the running writer does, so that on a nearly
                // full disk as much as fits is kept (review: the first batch that did not fit lost them all); a
                // single record that does not fit ends it.
                var next = 0
                var batchSize = max(1, configuration.maxBatchSize)
                while next < pending.count {
                    let batch = Array(pending[next..<min(pending.count, next + batchSize)])
                    do {
                        try database.write { db in
                            for item in batch { try JournalWriter.insert(item.write, storeCrops: storeCrops, into: db) }
                        }
                        settle(batch, dropped: 0)
                        next += batch.count
                    } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL && batchSize > 1 {
                        batchSize = max(1, batchSize / 2)
                    } catch let error as DatabaseError where !Self.isTransient(error) {
                        // As the running writer does: one record SQLite refuses for good is dropped alone, not the
                        // stop's last records with it (the door's `locked`, a fault from the stop's lock).
                        var dropped = 0
                        for (index, item) in batch.enumerated() {
                            do {
                                try database.write { db in try JournalWriter.insert(item.write, storeCrops: storeCrops, into: db) }
                            } catch let error as DatabaseError where !Self.isTransient(error) {
                                dropped += 1
                                logger.error("journal record dropped: it cannot be written", metadata: ["error": "\(Self.describe(error).message)"])
                            } catch {
                                settle(Array(batch[..<index]), dropped: dropped, writesResumed: false)
                                throw error
                            }
                        }
                        settle(batch, dropped: dropped)
                        next += batch.count
                    }
                }
            } catch {
                logger.error(
                    "journal stopped with records unwritten",
                    metadata: ["error": "\(Self.describe(error).message)", "lost": "\(state.withLock { $0.pending.count })"])
            }
        }
        closeDatabase()
        let (waiters, settled) = state.withLock { state -> ([FlushWaiter], UInt64) in
            state.status.health = .closed
            state.status.droppedRecords += UInt64(state.pending.count)
            state.pending.removeAll()
            state.pendingCropBytes = 0
            state.status.pendingRecords = 0
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return (waiters, state.settledSequence)
        }
        for waiter in waiters {
            if waiter.target <= settled {
                waiter.continuation.resume()
            } else {
                waiter.continuation.resume(throwing: JournalError(.closed, "the journal stopped before these records were written"))
            }
        }
        doorbellContinuation.finish()
    }

    /// Folds the write-ahead log into the file and closes it, so that the file alone holds every
    /// record written (a copy or a backup of it misses nothing, whatever ends the process next).
    /// A full or read-only disk leaves the log for the next open, which replays it.
    private func closeDatabase() {
        guard let database = state.withLock({ state -> DatabasePool? in
            defer { state.database = nil }
            return state.database
        }) else { return }
        do {
            try database.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        } catch {
            logger.warning("journal checkpoint at stop failed", metadata: ["error": "\(Self.describe(error).message)"])
        }
        try? database.close()
    }

    // MARK: - Errors

    /// Whether the folder of `path` is on a read-only mount (SQLite only says it cannot open the file).
    static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
        var info = statvfs()
        let folder = (path as NSString).deletingLastPathComponent
        guard statvfs(folder.isEmpty ? "." : folder, &info) == 0 else { return false }
        return info.f_flag & UInt(ST_RDONLY) != 0
    }

    static func isTransient(_ error: DatabaseError) -> Bool {
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED,
            .SQLITE_NOMEM, .SQLITE_PERM, .SQLITE_PROTOCOL, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_INTERRUPT:
            return true
        default:
            return false
        }
    }

    /// A `JournalError` for any failure, without SQL arguments (they could hold subject ids).
    static func describe(_ error: any Error) -> JournalError {
        if let error = error as? JournalError { return error }
        guard let error = error as? DatabaseError else {
            return JournalError(.ioFailure, String(describing: error))
        }
        let text = error.message ?? "SQLite error \(error.extendedResultCode.rawValue)"
        switch error.resultCode {
        case .SQLITE_FULL: return JournalError(.diskFull, "the disk is full: \(text)")
        case .SQLITE_READONLY, .SQLITE_PERM: return JournalError(.readOnly, "the journal is read-only: \(text)")
        case .SQLITE_CANTOPEN, .SQLITE_NOTADB: return JournalError(.cannotOpen, "cannot open the journal: \(text)")
        default: return JournalError(.ioFailure, "journal write failed: \(text)")
        }
    }
}

/// The journal's health, for the service status line and health checks.
public struct JournalStatus: Sendable, Hashable {
    public enum Health: String, Sendable, Hashable {
        /// Nothing written yet.
        case starting
        /// The last write succeeded.
        case ok
        /// The last write failed; records are kept and retried.
        case failing
        /// The writer has stopped.
        case closed
    }

    public var health: Health = .starting
    /// Why the last write failed, while `health` is `failing`.
    public var lastError: JournalError?
    /// Records waiting to be written.
    public var pendingRecords = 0
    public var writtenRecords: UInt64 = 0
    /// Records lost: the backlog was full, a record could not be written at all, or the journal stopped.
    public var droppedRecords: UInt64 = 0
    /// Probe crops left out to bound memory while the disk could not take them.
    public var droppedProbeCrops: UInt64 = 0
    public var failedAttempts: UInt64 = 0
    public var lastCommit: Date?
    /// Since when writes have been failing, while `health` is `failing`.
    public var failingSince: Date?
    /// Since when new records have been dropped for a full backlog; nil once there is room again.
    public var droppingSince: Date?
    /// When the oldest record still waiting to be written was handed over, and how long it has waited
    /// (on the steady clock); nil when none waits. A write that hangs shows only here.
    public var oldestPendingSince: Date?
    public var oldestPendingAge: Duration?
    /// Since when age retention has been held back because nothing vouches for the clock: records
    /// past the age limit are kept (the size limit still applies); nil once a pass may delete by age.
    public var retentionWaitsForTheClockSince: Date?
    /// Since when retention passes have been failing (the age and size limits are not kept); nil once one succeeds.
    public var retentionFailingSince: Date?

    public init() {}
}

extension SQLiteJournal: GateJournal {}
