import FacegateCore
import FacegateIdentify
import FacegateJournal
import FacegateQuality
import Foundation
import Logging

/// `facegate enrol --device`: without a running daemon, the camera is opened here and its first
/// approach enrolled, through the same gate, liveness stage and duplicate search as the daemon's.
public struct CameraEnrolment: Sendable {
    let source: any FrameSource
    let analyzer: any FrameAnalyzing
    let enrolment: DoorEnrolment
    let approach: ApproachConfiguration
    let policy: DoorPolicy
    let cloudTimeout: Duration
    let close: @Sendable () async -> Void
    let journalConfiguration: SQLiteJournal.Configuration
    let door: String
    let logger: Logger
    private let work = BlockingWorkQueue(label: "facegate.enrolment.frames")

    /// Opens the configured camera (or `overrides.source`), the quality core, the liveness stage and
    /// the backend; throws naming the key of a part that cannot be opened. Never the relay or the offline
    /// cache: an enrolment opens no door and decides nothing. The journal is opened once it has ended
    /// (``journal(_:askedBy:)``).
    public static func open(
        _ configuration: FacegateConfiguration, overrides: DoorParts.Overrides = .init(), logger: Logger
    ) async throws(DaemonStartError) -> CameraEnrolment {
        let analyzer = try DoorParts.faceAnalyzer(configuration, overrides: overrides)
        let liveness = try DoorParts.livenessStage(configuration.liveness)
        let search: any FaceSearch
        let enroller: any FaceEnrolling
        let close: @Sendable () async -> Void
        if let override = overrides.search {
            guard let overrideEnroller = overrides.enroller else { throw DaemonStartError(key: "backend", "this backend cannot enrol") }
            (search, enroller, close) = (override, overrideEnroller, {})
        } else {
            let opened = try configuration.backend.chosen.open(
                BackendOpening(
                    http: CloudHTTPPolicy(requestTimeout: configuration.backend.requestTimeout), environment: overrides.environment,
                    logger: logger))
            (search, enroller, close) = (opened.search, opened.search, opened.close)
        }
        // The camera last: it is the part another process (the daemon) may be holding.
        let source: any FrameSource
        if let override = overrides.source {
            source = override
        } else {
            do throws(DaemonStartError) {
                source = try DoorParts.frameSource(configuration.camera, needsColour: configuration.liveness.enabled, logger: logger)
            } catch {
                await close()
                throw error
            }
        }
        return CameraEnrolment(
            source: source, analyzer: analyzer,
            enrolment: DoorEnrolment(
                gate: configuration.enrolment, liveness: liveness, search: search, enroller: enroller, analyzer: analyzer, logger: logger),
            approach: configuration.approach, policy: configuration.doorPolicy,
            cloudTimeout: configuration.backend.decisionDeadline + .seconds(5), close: close,
            journalConfiguration: DoorParts.journalConfiguration(configuration), door: configuration.door.name, logger: logger)
    }

    /// Journals how the enrolment ended as the daemon journals one it takes on (a door event `enrolment`:
    /// the outcome, the subject or record and event it made, who asked; never a name or face data): it
    /// gives lasting access, and with the daemon stopped for it nothing else keeps a record of who did.
    /// Root's files in the service's folder (a journal made here, its WAL) are given to the folder's owner,
    /// so the door can still write its journal. Throws when the record is not on disk within 10 s.
    public func journal(_ outcome: EnrolmentOutcome, askedBy asker: String) async throws(JournalError) {
        let journal = SQLiteJournal(configuration: journalConfiguration, logger: logger)
        let writer = Task { await journal.run() }
        journal.record(DoorEventRecord(time: Date(), door: door, kind: .enrolment, detail: GatePipeline.journaled(outcome, askedBy: asker)))
        let written: Result<Void, JournalError>
        do {
            try await withDeadline(ContinuousClock.now.advanced(by: .seconds(10))) { try await journal.flush() }
            written = .success(())
        } catch let error as JournalError {
            written = .failure(error)
        } catch {
            written = .failure(JournalError(.ioFailure, "the journal did not take the record within 10 s"))
        }
        writer.cancel()
        await writer.value
        let path = journalConfiguration.path
        let folder = (path as NSString).deletingLastPathComponent
        for file in [path, path + "-wal", path + "-shm"] { ServiceFolderOwner.giveToTheFoldersOwner(path: file, in: folder) }
        try written.get()
    }

    /// Waits up to `limit` for someone to approach the camera and enrols their best face as `request`
    /// says; the camera is closed before the cloud is asked, and the backend's connections after.
    /// Throws when the camera fails.
    public func enrolFirstApproach(_ request: EnrolmentRequest, within limit: Duration) async throws -> EnrolmentOutcome {
        do {
            let outcome = try await enrolFirstApproachOpen(request, within: limit)
            await close()
            return outcome
        } catch {
            await close()
            throw error
        }
    }

    private func enrolFirstApproachOpen(_ request: EnrolmentRequest, within limit: Duration) async throws -> EnrolmentOutcome {
        if let invalid = enrolment.problem(with: request, policy: policy) { return invalid }
        let visit: Visit?
        do {
            visit = try await withDeadline(ContinuousClock.now.advanced(by: limit)) { try await self.firstApproach() }
        } catch is DeadlineExceeded {
            return EnrolmentOutcome(.timedOut, reason: "nobody approached within \(Int(limit.timeInterval.rounded())) s")
        }
        guard let visit else { return EnrolmentOutcome(.timedOut, reason: "the camera's frames ended before anyone approached") }
        return await enrolment.enrol(visit, as: request, policy: policy, cloudTimeout: cloudTimeout)
    }

    /// The first visit the approach selector makes of the camera's frames (nil: the frames ended first).
    private func firstApproach() async throws -> Visit? {
        var selector = ApproachSelector(configuration: approach)
        let analyzer = self.analyzer
        for try await frame in source.frames() {
            let current = selector
            let (visits, next) = try await work.run {
                var selector = current
                let faces = try analyzer.analyze(frame.image, plan: .wholeFrame, descriptorLimit: 0).faces
                let visits = selector.observe(frame: frame, faces: faces, describe: { try analyzer.descriptor(of: $0, in: $1) })
                return (visits, selector)
            }
            selector = next
            if let visit = visits.first { return visit }
        }
        return selector.finish().first
    }
}
