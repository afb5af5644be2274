import FacegateCore
import FacegateJournal
import FacegateOfflineCache
import FacegatePolicy
import Foundation
import Logging

/// Keeps the offline fallback honest while the cloud is reachable: offline decisions are re-checked
/// against the cloud (the answer is journaled beside them) and people the cloud has deleted or
/// disabled are purged from the cache.
public struct OfflineMaintenance: Sendable {
    public struct Settings: Sendable {
        /// How often pending re-checks are tried.
        public var recheckInterval: Duration
        /// Re-checks per round: each is one cloud call.
        public var rechecksPerRound: Int
        /// How often deletions in the cloud are synced into the cache.
        public var revocationSyncInterval: Duration
        /// How often faces and re-checks past their life are deleted from the disk (they never match).
        public var expiryPurgeInterval: Duration
        /// Rounds in which the cloud may fail a re-check (a refusal, a reply no search gives) before it
        /// is given up: journaled `failed`, and an offline grant's faces purged, since the cloud never
        /// confirmed them. A failure ends the round, so only the oldest waiting re-check counts one: a key
        /// being rotated costs some delay, and a cloud that refuses for long gives one up every this many
        /// rounds (20: ten minutes at the 30 s interval), not all of them at once.
        public var recheckAttempts: Int

        public init(
            recheckInterval: Duration = .seconds(30), rechecksPerRound: Int = 20, revocationSyncInterval: Duration = .seconds(600),
            recheckAttempts: Int = 20, expiryPurgeInterval: Duration = .seconds(3600)
        ) {
            self.expiryPurgeInterval = expiryPurgeInterval
            self.recheckInterval = recheckInterval
            self.rechecksPerRound = rechecksPerRound
            self.revocationSyncInterval = revocationSyncInterval
            self.recheckAttempts = recheckAttempts
        }
    }

    /// What one round did, for logs and tests.
    public struct RecheckReport: Sendable, Hashable {
        public var journaled: [RecheckRecord] = []
        /// The cloud could not be asked; the rest wait for the next round.
        public var cloudUnavailable = false
    }

    public let search: any FaceSearch
    public let directory: (any CloudDirectory)?
    public let cache: any OfflineFaceStore
    public let journal: any GateJournal
    public let settings: Settings
    public let logger: Logger
    public let now: @Sendable () -> Date

    public init(
        search: any FaceSearch, directory: (any CloudDirectory)?, cache: any OfflineFaceStore, journal: any GateJournal,
        settings: Settings, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.search = search
        self.directory = directory
        self.cache = cache
        self.journal = journal
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    /// Re-checks and syncs on their intervals until cancelled. `policy` is read each round, so a
    /// reloaded configuration applies; no re-check is tried while `cloudIsDown` says the door's own
    /// searches find the cloud away (each would only wait out its timeout).
    /// `clockIsTrusted` guards the deletion of expired faces: a clock stepped far ahead would take every
    /// face and probe off the disk for good. It must mean positive evidence that the clock (`now`) is
    /// right, as the daemon's `GatePipeline.clockIsVouchedFor` does, not merely that nothing wrong has
    /// been seen yet (a box booting with its clock far ahead, the cloud away, has seen nothing).
    public func run(
        policy: @escaping @Sendable () async -> DoorPolicy, cloudIsDown: @escaping @Sendable () async -> Bool = { false },
        clockIsTrusted: @escaping @Sendable () async -> Bool = { true }
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    if await !cloudIsDown() { _ = await recheckPending(policy: await policy()) }
                    guard (try? await Task.sleep(for: settings.recheckInterval)) != nil else { return }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if await clockIsTrusted() { await forgetExpired() }
                    guard (try? await Task.sleep(for: settings.expiryPurgeInterval)) != nil else { return }
                }
            }
            if directory != nil {
                group.addTask {
                    // Since when every sync has failed (a partial one included): past two intervals it is said at warning.
                    var failingSince: ContinuousClock.Instant?
                    while !Task.isCancelled {
                        let round = await syncRevocationsRound(policy: await policy(), failingFor: failingSince.map { .now - $0 })
                        failingSince = round.completed ? nil : (failingSince ?? .now)
                        guard (try? await Task.sleep(for: settings.revocationSyncInterval)) != nil else { return }
                    }
                }
            }
        }
    }

    /// Deletes the faces and probes past their life from the disk: expired, they never match, but a face
    /// descriptor kept past the life it was cached for is face data kept longer than promised.
    public func forgetExpired() async {
        do {
            let purged = try await cache.forgetExpired(at: now())
            if purged > 0 { logger.info("expired faces and re-checks deleted from the offline cache", metadata: ["deleted": "\(purged)"]) }
        } catch {
            logger.error("expired faces cannot be deleted from the offline cache", metadata: ["error": "\(error)"])
        }
    }

    /// One round of re-checks: asks the cloud about each offline decision's face and journals what
    /// the door would have decided online. Stops at the first sign the cloud is still away.
    public func recheckPending(policy: DoorPolicy) async -> RecheckReport {
        var report = RecheckReport()
        let pending: [PendingRecheck]
        do {
            pending = try await cache.pendingRechecks(limit: settings.rechecksPerRound, at: now())
        } catch {
            logger.error("pending re-checks cannot be read", metadata: ["error": "\(error)"])
            return report
        }
        for recheck in pending {
            if Task.isCancelled { break }
            let probe = ProbeFace(jpeg: recheck.probe, quality: nil)
            let identification: Identification
            do {
                identification = .cloud(candidates: try await search.search(probe, policy: policy), unit: search.scoreUnit)
            } catch let error as CloudUnavailable {
                // Still away: everything waits for the next round (a re-check expires with the cache's
                // recheck lifetime, not with the length of an outage).
                report.cloudUnavailable = true
                logger.debug("re-check waits for the cloud", metadata: ["reason": "\(error)"])
                break
            } catch {
                if Task.isCancelled { break }  // stopping: the search was cancelled, not failed
                // Not an answer (credentials refused, a reply no search gives): the round ends here, the
                // rest waiting as for an outage, and this one is tried again next round, up to
                // `recheckAttempts` rounds, then given up below.
                identification = .failed(cause: "\(error)")
                if recheck.attempts + 1 < settings.recheckAttempts {
                    do {
                        try await cache.noteRecheckAttempt(recheck.id)
                        logger.warning(
                            "the cloud failed a re-check; re-checks wait for the next round",
                            metadata: ["decision": "\(recheck.decisionId)", "attempt": "\(recheck.attempts + 1)", "error": "\(error)"])
                    } catch {
                        logger.error("a failed re-check could not be counted", metadata: ["error": "\(error)"])
                    }
                    break
                }
            }
            // A scratch state: the re-check must not count as an entry for the re-entry cooldown.
            var scratch = PolicyState()
            let decision = AccessPolicy.evaluate(identification, passedQualityGate: true, policy: policy, state: &scratch, at: recheck.createdAt)
            // Before the journal: a disk that cannot take the record must not leave the wrong face opening the
            // door, and a purge that fails keeps the re-check for the next round (it is not done until then).
            guard await forgetUnconfirmedGrant(recheck, by: decision, identification: identification) else { break }
            let record = RecheckRecord(
                decisionId: recheck.decisionId, time: now(), outcome: decision.outcome, subjectId: decision.subjectId,
                score: decision.bestScore, reason: decision.reason)
            guard journal.recordRecheck(record) else {
                // Its backlog full (a slow disk) or closed: the answer is not on its way to disk, so the probe stays.
                logger.warning("the journal cannot take a re-check now; re-checks wait for the next round")
                break
            }
            do {
                // The probe is dropped only once the answer is on disk.
                try await journal.flush()
                try await cache.completeRecheck(recheck.id)
            } catch {
                logger.warning("re-check journaled but not yet on disk; kept for the next round", metadata: ["error": "\(error)"])
                break
            }
            report.journaled.append(record)
            logger.notice(
                "offline decision re-checked",
                metadata: [
                    "decision": "\(recheck.decisionId)", "door": "\(recheck.door)", "outcome": "\(decision.outcome.rawValue)",
                    "subject": "\(decision.subjectId ?? "-")",
                ])
            // Given up after its last failure: a failure ends the round, this one too.
            if case .failed = identification { break }
        }
        return report
    }

    /// An offline grant the cloud does not confirm (it finds nobody or someone else, or it failed every
    /// try) may have let in the wrong face: that subject's cached faces go at once, not at the next
    /// revocation sync. False when they could not be purged: the re-check is then not done.
    private func forgetUnconfirmedGrant(_ recheck: PendingRecheck, by decision: Decision, identification: Identification) async -> Bool {
        // The same person under another spelling of the id (as the door compares ids) is a confirmation.
        guard let granted = recheck.grantedSubject, decision.subjectId.map({ SubjectIdentity.same($0, granted) }) != true else { return true }
        do {
            let faces = try await cache.forget(subjects: [granted])
            let message: Logger.Message =
                if case .cloud = identification, decision.outcome != .error {
                    "the cloud contradicts an offline grant; that subject's faces are purged from the offline cache"
                } else if case .cloud = identification {
                    "the cloud's answer to the re-check of an offline grant is not one a search gives; that subject's faces are purged from the offline cache"
                } else {
                    "the cloud failed every re-check of an offline grant; that subject's faces are purged from the offline cache"
                }
            logger.warning(message, metadata: ["decision": "\(recheck.decisionId)", "door": "\(recheck.door)", "faces": "\(faces)"])
            return true
        } catch {
            logger.error(
                "an offline grant the cloud did not confirm could not be purged from the cache; its re-check is kept for the next round",
                metadata: ["decision": "\(recheck.decisionId)", "error": "\(error)"])
            return false
        }
    }

    /// Purges from the cache every subject the cloud has deleted, disabled, taken out of the door's search
    /// or (NEC ID) changed since it was cached. Returns them.
    @discardableResult
    public func syncRevocations(policy: DoorPolicy) async -> Set<String> {
        await syncRevocationsRound(policy: policy, failingFor: nil).revoked
    }

    /// What one revocation sync did: whom it purged, and whether it read the cloud to the end.
    struct RevocationSyncRound: Sendable {
        var revoked: Set<String> = []
        var completed = false
    }

    /// One revocation sync. `failingFor` is how long every sync before this one has failed: a cloud that
    /// cannot be asked is logged at debug at first (an outage is said elsewhere), at warning once it has
    /// kept the sync from running for more than two intervals (people revoked meanwhile stay cached).
    func syncRevocationsRound(policy: DoorPolicy, failingFor: Duration?) async -> RevocationSyncRound {
        guard let directory else { return RevocationSyncRound(completed: true) }
        let cached: [String: Date]
        do {
            cached = try await cache.cachedSubjectsSince()
        } catch {
            logger.error("revocation sync failed", metadata: ["error": "\(error)"])
            return RevocationSyncRound()
        }
        guard !cached.isEmpty else { return RevocationSyncRound(completed: true) }
        let revoked: Set<String>
        do {
            revoked = try await directory.revokedSubjects(among: cached, policy: policy)
        } catch let partial as PartialRevocationSync {
            // What the pages read before the failure proved still stands: purged now, not after the outage.
            var round = RevocationSyncRound()
            do {
                let faces = try await cache.forget(subjects: partial.revoked)
                round.revoked = partial.revoked
                logger.warning(
                    "revocation sync failed partway; the subjects it proved revoked are purged from the offline cache, the rest wait for a sync that ends",
                    metadata: [
                        "subjects": "\(partial.revoked.sorted().joined(separator: ","))", "faces": "\(faces)",
                        "pages": "\(partial.pagesRead)", "error": "\(partial.cause)",
                    ])
            } catch {
                logger.error("revocation sync failed partway, and the subjects it proved revoked could not be purged", metadata: ["error": "\(error)"])
            }
            return round
        } catch let error as CloudUnavailable {
            if let failingFor, failingFor > settings.revocationSyncInterval * 2 {
                logger.warning(
                    "revocation sync has not reached the cloud for over two sync intervals; people revoked meanwhile stay in the offline cache",
                    metadata: ["reason": "\(error)"])
            } else {
                logger.debug("revocation sync waits for the cloud", metadata: ["reason": "\(error)"])
            }
            return RevocationSyncRound()
        } catch {
            logger.error("revocation sync failed", metadata: ["error": "\(error)"])
            return RevocationSyncRound()
        }
        guard !revoked.isEmpty else { return RevocationSyncRound(completed: true) }
        do {
            let faces = try await cache.forget(subjects: revoked)
            logger.notice(
                "revoked subjects purged from the offline cache",
                metadata: ["subjects": "\(revoked.sorted().joined(separator: ","))", "faces": "\(faces)"])
            return RevocationSyncRound(revoked: revoked, completed: true)
        } catch {
            logger.error("revocation sync failed", metadata: ["error": "\(error)"])
            return RevocationSyncRound()
        }
    }
}

/// A revocation sync that failed partway (a later page of a listing timing out, or malformed), with the
/// subjects the part it read proved revoked: the maintenance purges them and counts the sync as failed.
public struct PartialRevocationSync: Error, Sendable, CustomStringConvertible {
    public let revoked: Set<String>
    /// Pages the listing answered before it failed (a malformed one included).
    public let pagesRead: Int
    public let cause: any Error

    public init(revoked: Set<String>, pagesRead: Int, cause: any Error) {
        self.revoked = revoked
        self.pagesRead = pagesRead
        self.cause = cause
    }

    public var description: String { "the sync failed after \(pagesRead) pages: \(cause)" }
}
