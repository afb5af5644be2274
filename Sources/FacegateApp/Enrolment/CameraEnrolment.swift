import FacegateCore
import FacegateIdentify
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
    private let work = BlockingWorkQueue(label: "facegate.enrolment.frames")

    /// Opens the configured camera (or `overrides.source`), the quality core, the liveness stage and
    /// the backend; throws naming the key of a part that cannot be opened. Never the relay, the
    /// journal or the offline cache: an enrolment opens no door and decides nothing.
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
            cloudTimeout: configuration.backend.decisionDeadline + .seconds(5), close: close)
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
