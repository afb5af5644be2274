import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Logging

/// Enrolment of one approach's best face: the stricter gate, the liveness stage, the duplicate search,
/// then the cloud's register. The running daemon uses it for the approach it diverts
/// (`facegate enrol` through the control socket); `facegate enrol --device` for the first approach
/// on a camera it opened itself.
///
/// The probe is made in memory, sent and dropped: nothing of the face is written on the box.
public struct DoorEnrolment: Sendable {
    public let gate: EnrolmentGate
    public let liveness: (any PresentationAttackDetecting)?
    public let search: any FaceSearch
    public let enroller: any FaceEnrolling
    /// Looks at the whole best frame again for other faces: the door analyses most frames only around the
    /// faces it follows and where the scene moved, so someone standing still beside the person is not
    /// among the faces its quality measures counted. Nil looks only at those.
    public let analyzer: (any FrameAnalyzing)?
    public let logger: Logger
    private let work = BlockingWorkQueue(label: "facegate.enrolment")

    public init(
        gate: EnrolmentGate, liveness: (any PresentationAttackDetecting)?, search: any FaceSearch, enroller: any FaceEnrolling,
        analyzer: (any FrameAnalyzing)? = nil, logger: Logger
    ) {
        self.gate = gate
        self.liveness = liveness
        self.search = search
        self.enroller = enroller
        self.analyzer = analyzer
        self.logger = logger
    }

    /// What is wrong with `request` at this door, before anyone is asked to approach.
    public func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> EnrolmentOutcome? {
        enroller.problem(with: request, policy: policy).map { EnrolmentOutcome(.invalidRequest, reason: $0) }
    }

    /// Enrols the visit's best face as `request` says, or says why not. `cloudTimeout` bounds each of
    /// the cloud's two calls (the duplicate search, the registration). `judged` is told when the work on
    /// the box (the liveness check, the crop, the encoding), which has no time limit of its own, is done
    /// and only the cloud's bounded calls are left.
    public func enrol(
        _ visit: Visit, as request: EnrolmentRequest, policy: DoorPolicy, cloudTimeout: Duration,
        judged: (@Sendable () async -> Void)? = nil, metrics: DoorMetrics = .disabled
    ) async -> EnrolmentOutcome {
        var outcome = await judgeAndEnrol(visit, as: request, policy: policy, cloudTimeout: cloudTimeout, judged: judged, metrics: metrics)
        if liveness == nil, outcome.quality != nil, outcome.result != .poorFace {
            // Nothing judged whether the face was a person's: the installer is told, not left to assume it.
            outcome.livenessChecked = false
            if outcome.enrolled { outcome.reason += "; " + Self.livenessNotChecked }
        }
        var metadata: Logger.Metadata = ["door": "\(policy.door)", "result": "\(outcome.result.rawValue)"]
        if let receipt = outcome.receipt { metadata["subject"] = "\(receipt.subjectId)" }
        if let duplicate = outcome.duplicateOf { metadata["duplicate_of"] = "\(duplicate)" }
        if outcome.enrolled {
            logger.notice("enrolment", metadata: metadata)
        } else {
            // A record left in the cloud is named to the installer, not in the log.
            metadata["reason"] = "\(outcome.leftInCloud.map { outcome.reason.replacingOccurrences(of: $0, with: "[record]") } ?? outcome.reason)"
            logger.warning("enrolment refused", metadata: metadata)
        }
        return outcome
    }

    private func judgeAndEnrol(
        _ visit: Visit, as request: EnrolmentRequest, policy: DoorPolicy, cloudTimeout: Duration, judged onJudged: (@Sendable () async -> Void)?,
        metrics: DoorMetrics
    ) async -> EnrolmentOutcome {
        let backend = search.backendName
        /// Each call counted as it ends, like the door's searches.
        func counted<T>(_ call: () async throws -> T) async throws -> T {
            do {
                let value = try await call()
                metrics.cloudCall(backend: backend, .answered, for: .enrolment)
                return value
            } catch {
                metrics.cloudCall(backend: backend, Self.callResult(of: error), for: .enrolment)
                throw error
            }
        }
        if let invalid = problem(with: request, policy: policy) { return invalid }
        let quality = visit.bestFace.quality
        let problems = gate.problems(of: quality)
        guard problems.isEmpty else {
            return EnrolmentOutcome(
                .poorFace, reason: "the face cannot be enrolled: " + problems.joined(separator: "; "), quality: quality.faceQualityScore)
        }
        if let analyzer {
            let frame = visit.bestFrame, best = visit.bestFace.box
            let others: Int
            do {
                others = try await work.run {
                    try analyzer.analyze(frame, plan: .wholeFrame, descriptorLimit: 0).faces.count { $0.box.overlap(with: best) < 0.3 }
                }
            } catch {
                return EnrolmentOutcome(.poorFace, reason: "the frame could not be checked for other faces: \(error)", quality: quality.faceQualityScore)
            }
            guard others == 0 else {
                return EnrolmentOutcome(.poorFace, reason: "the face cannot be enrolled: " + EnrolmentGate.anotherFace, quality: quality.faceQualityScore)
            }
        }
        // Enrolment asks more of the liveness stage than a door does: only a face judged live is
        // enrolled, whatever the door does with an uncertain one.
        var livenessScore: Double?
        if let liveness {
            let assessment: LivenessAssessment
            do {
                assessment = try await work.run { try liveness.assess(visit) }
            } catch {
                return EnrolmentOutcome(.notLive, reason: "the liveness check failed: \(error)", quality: quality.faceQualityScore)
            }
            livenessScore = assessment.liveness
            guard assessment.verdict == .live else {
                return EnrolmentOutcome(
                    .notLive, reason: "the face was not judged live (\(assessment.verdict.rawValue)): \(assessment.reason)",
                    quality: quality.faceQualityScore, liveness: assessment.liveness)
            }
        }
        let probe: ProbeFace
        do {
            let frame = visit.bestFrame, area = visit.bestFace.attributes.headArea
            probe = try await work.run { ProbeFace(jpeg: try ImageCodec.encodeJPEG(try frame.cropped(to: area)), quality: quality) }
        } catch {
            return EnrolmentOutcome(.poorFace, reason: "the face could not be cropped: \(error)", quality: quality.faceQualityScore)
        }
        let judged = (quality: quality.faceQualityScore, liveness: livenessScore)
        await onJudged?()

        // Someone the door would already let in as another subject is not enrolled twice.
        let duplicatePolicy = enroller.duplicateSearchPolicy(for: request, door: policy)
        let candidates: [MatchCandidate]
        do {
            let search = self.search, enroller = self.enroller
            candidates = try await counted {
                try await Self.within(cloudTimeout) {
                    try await enroller.enrolledMatches(of: probe, for: request, door: policy, search: search)
                }
            }
        } catch {
            return EnrolmentOutcome(
                .cloudFailed, reason: "the duplicate search failed, so nothing was enrolled: \(Self.describe(error))",
                quality: judged.quality, liveness: judged.liveness)
        }
        // The subject asked for, in whatever case it was typed: ids differing only in case are one person to
        // the door (``SubjectIdentity``), so that subject's own face is not a duplicate of itself.
        func isTheAskedSubject(_ candidate: MatchCandidate) -> Bool {
            request.subject.map { SubjectIdentity.same($0, candidate.subjectId) } ?? false
        }
        if let match = candidates.filter({ $0.score.isFinite && $0.score >= duplicatePolicy.threshold && !isTheAskedSubject($0) })
            .max(by: { $0.score < $1.score })
        {
            return EnrolmentOutcome(
                .duplicate,
                reason: "the face matches \(match.subjectId) already (score \(Self.score(match.score)), the door's threshold "
                    + "\(Self.score(duplicatePolicy.threshold))), whether or not the door lets it in now (a disabled record is still "
                    + "that person); add a face to that subject instead, or remove it first",
                duplicateOf: match.subjectId, duplicateScore: match.score, quality: judged.quality, liveness: judged.liveness)
        }
        // A face added to an existing subject opens the door as that subject: it must already be theirs,
        // or the first person to step up while the installer waits would get their access.
        var request = request
        if let subject = request.subject {
            // The id as typed first, if the cloud holds it so; else the cloud's spelling of it.
            let theirs = candidates.filter { isTheAskedSubject($0) && $0.score.isFinite && $0.score >= duplicatePolicy.threshold }
                .max { ($0.subjectId == subject ? 1 : 0, $0.score) < ($1.subjectId == subject ? 1 : 0, $1.score) }
            guard let theirs else {
                return EnrolmentOutcome(
                    .notTheSubject,
                    reason: "the face does not match \(subject) at the door's threshold (\(Self.score(duplicatePolicy.threshold))): a face is "
                        + "added only to the person it already matches; enrol them as a new subject instead",
                    quality: judged.quality, liveness: judged.liveness)
            }
            // Added under the cloud's own spelling of the id, which its calls look the subject up by.
            request.subject = theirs.subjectId
        }
        let registration = request

        do {
            let enroller = self.enroller
            let receipt = try await counted {
                try await Self.registering(within: cloudTimeout) { try await enroller.enrol(probe, as: registration, policy: policy) }
            }
            return EnrolmentOutcome(
                .enrolled, reason: "enrolled as \(receipt.subjectId)", receipt: receipt, quality: judged.quality, liveness: judged.liveness)
        } catch let unanswered as UnansweredRegistration {
            // Cut off by the time limit: the cloud may have made it all the same (the request was sent), unless the
            // enroller says what became of what it made.
            if let partlyMade = unanswered.partlyMade {
                return EnrolmentOutcome(
                    .cloudFailed, reason: "the cloud did not enrol the face: no answer in time; \(partlyMade.aftermath)", quality: judged.quality,
                    liveness: judged.liveness, leftInCloud: partlyMade.leftInCloud)
            }
            return Self.perhapsMade(
                EnrolmentOutcome(
                    .cloudFailed,
                    reason: "no answer in time from the registration; the cloud may have enrolled the face all the same: "
                        + enroller.howToCheckAnUnansweredEnrolment(registration, policy: policy), quality: judged.quality, liveness: judged.liveness))
        } catch let unavailable as CloudUnavailable where Self.mayHaveBeenMade(unavailable) {
            // The request went (or may have) and no result came back: a timeout, a 5xx (the service may fail
            // between its write and its reply), a connection dropped. As above, the installer is told how to look.
            return Self.perhapsMade(
                EnrolmentOutcome(
                    .cloudFailed,
                    reason: "the registration got no result (\(unavailable)); the cloud may have enrolled the face all the same: "
                        + enroller.howToCheckAnUnansweredEnrolment(registration, policy: policy), quality: judged.quality, liveness: judged.liveness))
        } catch let failure as any CloudCallFailure where failure.mayHaveBeenCarriedOut {
            // The registration reached the cloud and its answer could not be read (a 2xx that is not the
            // documented reply, or one too large): the subject may be there, and may open the door.
            return Self.perhapsMade(
                EnrolmentOutcome(
                    .cloudFailed,
                    reason: "the registration's answer could not be read (\(failure)); the cloud may have enrolled the face all the same: "
                        + enroller.howToCheckAnUnansweredEnrolment(registration, policy: policy), quality: judged.quality, liveness: judged.liveness))
        } catch {
            return EnrolmentOutcome(
                .cloudFailed, reason: "the cloud did not enrol the face: \(Self.describe(error))", quality: judged.quality,
                liveness: judged.liveness, leftInCloud: (error as? PartlyMadeEnrolment)?.leftInCloud)
        }
    }

    /// A failed registration the cloud may have carried out all the same, marked so for the journal.
    private static func perhapsMade(_ outcome: EnrolmentOutcome) -> EnrolmentOutcome {
        var outcome = outcome
        outcome.mayHaveBeenEnrolled = true
        return outcome
    }

    private static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(ContinuousClock.now.advanced(by: limit), operation: body)
    }

    /// The registration's receipt within `limit`. Past it the registration is cancelled and waited for (its
    /// clean-up is bounded by the enroller), and `UnansweredRegistration` carries what it undid or left; a
    /// receipt that comes all the same is the truth, and returned.
    private static func registering(
        within limit: Duration, _ body: @escaping @Sendable () async throws -> EnrolmentReceipt
    ) async throws -> EnrolmentReceipt {
        try await withThrowingTaskGroup(of: EnrolmentReceipt?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            if let receipt = try await group.next() ?? nil { return receipt }
            group.cancelAll()
            do {
                if let receipt = try await group.next() ?? nil { return receipt }
            } catch let partlyMade as PartlyMadeEnrolment {
                throw UnansweredRegistration(partlyMade: partlyMade)
            } catch {
                // Cancelled, or failed meanwhile: whether the cloud made it is unknown either way.
            }
            throw UnansweredRegistration(partlyMade: nil)
        }
    }

    /// A registration cut off by its time limit, and what the enroller said it made of it.
    private struct UnansweredRegistration: Error {
        var partlyMade: PartlyMadeEnrolment?
    }

    /// How an enrolment's call ended, as `facegate_cloud_calls_total{result}` counts a search's.
    private static func callResult(of error: any Error) -> DoorMetrics.CloudCallResult {
        switch error {
        case let partlyMade as PartlyMadeEnrolment: callResult(of: partlyMade.failure)
        case is CloudUnavailable, is DeadlineExceeded, is UnansweredRegistration: .unavailable
        default: .failed
        }
    }

    /// Whether a registration that ended this way may have been made all the same. A rate limit or a spent
    /// budget refused it before anything was made; a connection that failed may have done so before the
    /// request was sent or after, which the transport does not tell apart: the installer checks.
    private static func mayHaveBeenMade(_ unavailable: CloudUnavailable) -> Bool {
        switch unavailable.kind {
        case .timeout, .serverError, .unreachable: true
        case .rateLimited, .budgetExhausted: false
        }
    }

    private static func describe(_ error: any Error) -> String {
        if error is DeadlineExceeded { return "no answer in time" }
        return "\(error)"
    }

    /// What an enrolment with the liveness stage off says (one line).
    public static let livenessNotChecked = "liveness was not checked (liveness.enabled: false): a photo or a screen would have been taken"

    private static func score(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}
