import FacegateCore
import FacegateImageCodec
import Foundation

/// Settings of the approach selector.
public struct ApproachConfiguration: Sendable, Equatable {
    /// Box overlap (intersection over union) at which a face continues a track.
    public var minOverlap: Double
    /// Frames without improvement, once the best face passes the gate, before the visit is emitted.
    public var settleFrames: Int
    /// The longest an approach may run from first sight before its visit is emitted anyway.
    public var approachWindow: Duration
    /// How long a face must be gone for its person to have left: shorter gaps
    /// (a missed detection, a turned head) continue the same visit.
    public var cooldown: Duration
    /// `faceQualityScore` a best face needs for the visit to go to the cloud.
    public var qualityGate: Double
    /// Faces with a smaller inter-eye distance (pixels) are ignored: passers-by far away.
    public var minInterEyeDistance: Double
    /// A best face at or above this `faceQualityScore`, looking at the camera, makes the visit ready at
    /// once instead of waiting for the quality to settle (the door opens as the person arrives); nil
    /// always waits. Never below the gate.
    public var earlyQuality: Double?
    /// Largest yaw and pitch (degrees) of a face that counts as looking at the camera for `earlyQuality`.
    public var earlyMaxPoseDegrees: Double
    /// Frames a face must have been seen in before an early or a settled decision: the liveness stage
    /// judges how the face moved, and one frame shows no movement (its parallax cue needs six).
    public var earlyMinFrames: Int
    /// How long after a person's face was last seen a face reappearing where it was lost, with the same
    /// descriptor, continues that person's visit (a head turned away for a while is not a new visitor);
    /// zero or less than the cooldown turns re-identification off. Needs descriptors (`observe`'s `describe`).
    public var reidentifyWindow: Duration
    /// Largest descriptor distance at which a reappearing face is the same person: stricter than dlib's
    /// usual 0.6, since a wrong merge would cost the second person their visit.
    public var reidentifyDistance: Float

    public init(
        minOverlap: Double = 0.3, settleFrames: Int = 5, approachWindow: Duration = .seconds(4),
        cooldown: Duration = .seconds(2), qualityGate: Double = QualityConfiguration().qualityGate,
        minInterEyeDistance: Double = 20, earlyQuality: Double? = 0.8, earlyMaxPoseDegrees: Double = 15,
        earlyMinFrames: Int = 6, reidentifyWindow: Duration = .seconds(10), reidentifyDistance: Float = 0.5
    ) {
        self.minOverlap = minOverlap
        self.settleFrames = settleFrames
        self.approachWindow = approachWindow
        self.cooldown = cooldown
        self.qualityGate = qualityGate
        self.minInterEyeDistance = minInterEyeDistance
        self.earlyQuality = earlyQuality
        self.earlyMaxPoseDegrees = earlyMaxPoseDegrees
        self.earlyMinFrames = earlyMinFrames
        self.reidentifyWindow = reidentifyWindow
        self.reidentifyDistance = reidentifyDistance
    }
}

/// Turns the faces of a frame stream into one visit per person's approach.
///
/// A pure state machine: frames' own timestamps are its clock, and it does no I/O.
/// Each face is followed across frames by box overlap with where it was, or where its motion
/// puts it now. A track emits its visit once, with its best face: at once when that face is clearly
/// good and frontal, else as soon as it passes the quality gate and has stopped improving, or when
/// the approach window ends, or when the person leaves first. After that the track is followed
/// silently until the person has been gone for the cooldown, so someone standing at the door makes
/// one visit only. A track gone longer is kept for the re-identification window: a face that
/// reappears near where it was lost and has the same descriptor (a person who turned their head
/// away for longer than the cooldown) continues it instead of starting a new visit.
public struct ApproachSelector: Sendable {
    /// A face's descriptor, computed on demand (dlib's ResNet in the daemon, some tens of ms): only when
    /// a face appears near where a track was lost.
    public typealias DescribeFace = (DetectedFace, PixelImage) throws -> FaceDescriptor

    public let configuration: ApproachConfiguration

    /// What a visit carries, kept until the visit is emitted.
    private struct Evidence: Sendable {
        var bestFrame: PixelImage
        /// How the face moved, for the liveness stage (the most recent `maxSightings`).
        var sightings: [FaceSighting]
        /// The first and the latest frame of the approach, for the liveness stage.
        var firstSample: VisitSample
        var latestSample: VisitSample
        /// The face in the latest frame, and that frame: checked against the best face before the visit
        /// goes out, and where the approach starts afresh when it is someone else's.
        var latestFace: DetectedFace
        var latestFrame: Frame
    }

    /// The best face with the pixels around it, kept after emission to re-identify the person.
    private struct Likeness: Sendable {
        var face: DetectedFace
        var image: PixelImage
    }

    private struct Track: Sendable {
        var box: PixelBox
        var previousBox: PixelBox?
        var previousSeen: Duration
        var firstSeen: Duration
        var lastSeen: Duration
        var framesSeen: Int
        var best: DetectedFace
        var bestSequence: UInt64
        var bestSeen: Duration
        var framesSinceImprovement: Int
        /// Nil once the visit is emitted.
        var evidence: Evidence?
        var likeness: Likeness?
        /// The best face's descriptor once computed; `descriptorFailed` when it could not be. Both are
        /// forgotten when a better face becomes the best.
        var descriptor: FaceDescriptor?
        var descriptorFailed = false
        /// Gone for longer than the cooldown: only re-identification continues it.
        var lost = false
        /// Sent with a best face under the gate (the window ended, or the person left, before a good face):
        /// the first face of theirs over the gate starts their approach again. Once: that second try
        /// starts from a face over the gate, so it is sent over it, and has none of its own.
        var mayRetry = false
        /// Started by a face that took a decided person's place at a size jump, clearly another's then: the
        /// decided person's descriptor. Its visit goes out only if its best face is not theirs after all (a
        /// face turned or cut off at the jump can look like another's): one decision per person.
        var tookTheSpotOf: FaceDescriptor?

        var emitted: Bool { evidence == nil }
    }

    /// About ten seconds at 30 fps: enough for any cue, bounded for a person who stays.
    static let maxSightings = 300

    private var tracks: [Track] = []
    private var visitsEmitted = 0
    /// The time of the frame observed before this one: a track last seen earlier was missed in it.
    private var previousFrameTime: Duration?
    /// How many reappearing faces continued a lost or missed track.
    public private(set) var reidentifications = 0
    /// How many approaches began afresh because the face after a miss or a jump was clearly not theirs.
    public private(set) var approachesRestarted = 0
    /// How many people sent under the gate (told to try again) were given their one second try: a face
    /// of theirs over the gate started their approach again, and a second visit.
    public private(set) var retries = 0

    /// The longest a face may be missed and still be continued by position alone (when descriptors can
    /// be had): a few frames at any usual frame rate.
    static let continuityGap: Duration = .milliseconds(500)

    /// dlib's usual line between the same person and another (descriptor distance).
    static let samePersonDistance: Float = 0.6
    /// Past this a face is clearly someone else's (a looser line than ``samePersonDistance``: a face
    /// turned or blurred after a missed detection measured 0.64 from its own best on a real clip).
    static let anotherPersonDistance: Float = 0.75

    /// Quality must rise by more than this to count as an improvement.
    private static let improvementEpsilon = 0.01

    public init(configuration: ApproachConfiguration = ApproachConfiguration()) {
        self.configuration = configuration
    }

    /// People currently followed (emitted or not; not those only remembered for re-identification).
    public var activeTracks: Int { tracks.count { !$0.lost } }

    /// Where the faces followed are expected at `time`: where their motion puts them, or where they were
    /// last seen. The detector looks there first.
    public func expectedFaces(at time: Duration) -> [PixelBox] {
        tracks.filter { !$0.lost }.map { predictedBox(of: $0, at: time) ?? $0.box }
    }

    /// Feeds one analysed frame; returns the visits it completes. `describe` lets a face that reappears
    /// where a track was lost continue it; without it every such face starts a new visit.
    public mutating func observe(frame: Frame, faces: [DetectedFace], describe: DescribeFace? = nil) -> [Visit] {
        var visits: [Visit] = []
        let now = frame.timestamp
        var claimed = Set<Int>()
        let candidates = faces
            .filter { $0.quality.interEyeDistance.raw >= configuration.minInterEyeDistance }
            .sorted { $0.box.area > $1.box.area }

        // Continuity first: where the face was, or where its motion puts it now. A track missed for
        // longer than a moment is continued by likeness instead, when there is a way to compare: the
        // next person in a queue steps into the spot where the last one's face was lost.
        // With the decided person's descriptor when the face was refused by their track (see below).
        var unmatched: [(face: DetectedFace, tookTheSpotOf: FaceDescriptor?)] = []
        // Without re-identification (no descriptors, or its window turned off) position continues a
        // track up to the cooldown, as the settings say; with it, the likeness pass takes over after a moment.
        let reidentifies = describe != nil && configuration.reidentifyWindow > configuration.cooldown
        for face in candidates {
            var bestTrack: Int?
            var bestOverlap = configuration.minOverlap
            var bestByNearness = false
            for (index, track) in tracks.enumerated() where !claimed.contains(index) && !track.lost {
                // (Missed for longer: the likeness pass below, which also takes it where it overlaps.)
                if reidentifies, now - track.lastSeen > Self.continuityGap { continue }
                var overlap = max(track.box.overlap(with: face.box), predictedBox(of: track, at: now)?.overlap(with: face.box) ?? 0)
                // A head that moved more than its motion said (a missed frame or two, a sudden turn) is
                // still the same face while it stays within most of a face width and at its size.
                var byNearness = false
                if overlap < configuration.minOverlap, Self.isClose(face.box, to: track.box, within: 0.75) {
                    overlap = configuration.minOverlap
                    byNearness = true
                }
                if overlap >= bestOverlap {
                    bestOverlap = overlap
                    bestTrack = index
                    bestByNearness = byNearness
                }
            }
            // Position alone is weak after a miss or a jump: another person may have stepped into the spot
            // (a visit not yet sent would go out on the first one's face, and its liveness samples mix the
            // two). There, when descriptors can be had, a face clearly not the track's best starts the
            // track's approach afresh from this frame: nothing seen before it is kept, and the visit the
            // first face was making is never sent (not decided later either, with someone else at the door).
            if let index = bestTrack, let describe, !tracks[index].emitted,
                bestByNearness || Self.sizeJumped(face.box, from: tracks[index].box) || tracks[index].lastSeen < (previousFrameTime ?? now),
                !looksLikeTrack(index, face, in: frame.image, describe: describe)
            {
                claimed.insert(index)
                tracks[index] = Self.newTrack(face, frame: frame, tookTheSpotOf: tracks[index].tookTheSpotOf)
                approachesRestarted += 1
                continue
            }
            // A decided track is checked only at a size a walking person does not jump to: the next in a
            // queue, farther back, in the spot the last one's face filled as they go through the door (before,
            // carried into the decided visit and never decided: the queue bench). Clearly another's, the face
            // is not that track's: it goes to the likeness pass (its own track, if it had one and was hidden
            // for a moment, takes it back), else starts an approach of its own, whose visit goes out only if
            // its best face is not the decided person's after all. A turned face or a miss of a decided person
            // is not checked, so the same person is not decided twice for it.
            if let index = bestTrack, let describe, tracks[index].emitted, Self.sizeJumped(face.box, from: tracks[index].box),
                !looksLikeTrack(index, face, in: frame.image, describe: describe)
            {
                unmatched.append((face, tracks[index].descriptor))
                continue
            }
            if let index = bestTrack {
                claimed.insert(index)
                continueTrack(index, with: face, frame: frame)
            } else {
                unmatched.append((face, nil))
            }
        }
        // Then likeness: a face near where a track was lost (or is being missed) with the same descriptor.
        for (face, tookTheSpotOf) in unmatched {
            if reidentifies, let describe, let index = reidentify(face, in: frame.image, excluding: claimed, at: now, describe: describe) {
                claimed.insert(index)
                reidentifications += 1
                tracks[index].lost = false
                tracks[index].previousBox = nil
                continueTrack(index, with: face, frame: frame)
                continue
            }
            // Where a person not yet decided was missed for more than a moment, a face too unlike theirs to
            // re-identify: clearly someone else's (the next in a queue stepping up), that approach ends there
            // and is never sent (left alone, it went out when its person had been gone for the cooldown, with
            // someone else at the door); otherwise (a turned or blurred face, one that cannot be described)
            // position continues it, as it would have a moment earlier.
            if reidentifies, let describe, let index = unsentTrack(inTheSpotOf: face, excluding: claimed, at: now) {
                claimed.insert(index)
                if looksLikeTrack(index, face, in: frame.image, describe: describe) {
                    continueTrack(index, with: face, frame: frame)
                } else {
                    tracks[index] = Self.newTrack(face, frame: frame, tookTheSpotOf: tookTheSpotOf ?? tracks[index].tookTheSpotOf)
                    approachesRestarted += 1
                }
                continue
            }
            tracks.append(Self.newTrack(face, frame: frame, tookTheSpotOf: tookTheSpotOf))
            claimed.insert(tracks.count - 1)
        }

        previousFrameTime = now
        var kept: [Track] = []
        for var track in tracks {
            let gone = now - track.lastSeen
            let left = gone >= configuration.cooldown
            if !track.emitted, let reason = left ? .personLeft : readiness(of: track, at: now) {
                // The decided person after all (a face turned or cut off at the jump, taken for another's):
                // no second decision; the track goes on as theirs, decided.
                if isTheDecidedPerson(&track, describe: describe) {
                    Self.settleWithoutVisit(&track)
                } else {
                    // Followed by position from frame to frame, a track can pass from one person to another who
                    // took their place between two frames (someone right behind as the first turns to the
                    // handle): the visit would go out on the first one's best face with the second at the door.
                    // Its person is checked once, as it is about to go out: the face last seen against the best.
                    if let describe, Self.latestFaceIsAnotherPerson(&track, describe: describe) {
                        approachesRestarted += 1
                        // The two mixed are never sent; whoever is there now starts an approach of their own.
                        guard !left, let evidence = track.evidence else { continue }
                        kept.append(Self.newTrack(evidence.latestFace, frame: evidence.latestFrame, tookTheSpotOf: track.tookTheSpotOf))
                        continue
                    }
                    visits.append(emit(&track, because: reason))
                }
            }
            if left {
                guard gone < configuration.reidentifyWindow else { continue }
                track.lost = true
            }
            kept.append(track)
        }
        tracks = kept
        return visits
    }

    /// Why a track still in view is ready for its visit to go out now; nil while it waits.
    private func readiness(of track: Track, at now: Duration) -> Visit.EmissionReason? {
        if isClearlyGood(track) { return .qualityClear }
        if track.best.quality.faceQualityScore >= configuration.qualityGate,
            track.framesSinceImprovement >= configuration.settleFrames,
            // Not before the liveness stage can see the face move: with few settle frames a visit
            // would go out on one sighting, its parallax cue silently judging nothing.
            track.framesSeen >= configuration.earlyMinFrames
        {
            return .qualitySettled
        }
        return now - track.firstSeen >= configuration.approachWindow ? .windowEnded : nil
    }

    /// The camera sent nothing for a while (unplugged, stalled): every approach not yet emitted is emitted
    /// as it was last seen and ended, so that no face seen before the silence continues into what is
    /// seen after it: whoever stands there then starts a visit of their own, decided on frames from after
    /// the silence; another person, or a photo held up meanwhile, never inherits a visit's best face or its
    /// liveness samples. A track whose visit was already sent carries nothing to inherit: it is only lost,
    /// so the same person still there is re-identified into it by likeness (no second decision for them).
    public mutating func cameraWasSilent() -> [Visit] {
        var visits: [Visit] = []
        var kept: [Track] = []
        for var track in tracks {
            if !track.emitted {
                if !isTheDecidedPerson(&track, describe: nil) { visits.append(emit(&track, because: .cameraSilent)) }
                continue
            }
            track.lost = true
            kept.append(track)
        }
        tracks = kept
        return visits
    }

    /// A track whose approach begins with `face` in `frame`; `tookTheSpotOf`: see ``Track/tookTheSpotOf``
    /// (kept when such an approach starts afresh: a face restarting it may be the decided person's own).
    private static func newTrack(_ face: DetectedFace, frame: Frame, tookTheSpotOf: FaceDescriptor? = nil) -> Track {
        let now = frame.timestamp
        let sample = VisitSample(timestamp: now, image: frame.image, box: face.box)
        return Track(
            box: face.box, previousBox: nil, previousSeen: now, firstSeen: now, lastSeen: now, framesSeen: 1,
            best: face, bestSequence: frame.sequence, bestSeen: now, framesSinceImprovement: 0,
            evidence: Evidence(
                bestFrame: frame.image, sightings: [FaceSighting(timestamp: now, box: face.box, landmarks: face.landmarks)],
                firstSample: sample, latestSample: sample, latestFace: face, latestFrame: frame),
            tookTheSpotOf: tookTheSpotOf)
    }

    /// Whether an approach started in a decided person's spot is that person's after all: their decided
    /// track has been seen again since this one was (their face went back to it), or this one's best face
    /// is theirs (within the re-identification distance; with no `describe`, only a descriptor already
    /// computed counts). Such an approach sends nothing: one decision per person.
    private func isTheDecidedPerson(_ track: inout Track, describe: DescribeFace?) -> Bool {
        guard let decided = track.tookTheSpotOf else { return false }
        let lastSeen = track.lastSeen
        if tracks.contains(where: { $0.emitted && $0.descriptor == decided && $0.lastSeen > lastSeen }) { return true }
        let own = describe.map { Self.descriptor(of: &track, describe: $0) } ?? track.descriptor
        return own.map { $0.distance(to: decided) <= configuration.reidentifyDistance } ?? false
    }

    /// Ends the stream: every approach not yet emitted is emitted now.
    public mutating func finish() -> [Visit] {
        var visits: [Visit] = []
        for var track in tracks where !track.emitted {
            if !isTheDecidedPerson(&track, describe: nil) { visits.append(emit(&track, because: .streamEnded)) }
        }
        tracks = []
        return visits
    }

    private func isClearlyGood(_ track: Track) -> Bool {
        guard let early = configuration.earlyQuality, track.framesSeen >= configuration.earlyMinFrames else { return false }
        let quality = track.best.quality
        return quality.faceQualityScore >= max(early, configuration.qualityGate)
            && abs(quality.yaw.raw) <= configuration.earlyMaxPoseDegrees
            && abs(quality.pitch.raw) <= configuration.earlyMaxPoseDegrees
    }

    /// A face a third larger or a quarter smaller than the track's last one a frame before: a person walking
    /// up changes size far more slowly; another person taking the spot does not.
    static func sizeJumped(_ box: PixelBox, from previous: PixelBox) -> Bool {
        let ratio = box.width / max(previous.width, 1)
        return ratio < 0.75 || ratio > 1.33
    }

    /// Whether `box` is within `widths` of the larger face's width of `other`'s centre, at two thirds to
    /// one and a half times its size.
    static func isClose(_ box: PixelBox, to other: PixelBox, within widths: Double) -> Bool {
        let size = box.width / max(other.width, 1)
        return size >= 2.0 / 3 && size <= 1.5 && box.center.distance(to: other.center) <= widths * max(box.width, other.width)
    }

    /// Where a moving face should be now, from its last two sightings; nil when they are too far apart
    /// in time for their motion to say anything.
    private func predictedBox(of track: Track, at now: Duration) -> PixelBox? {
        guard let previous = track.previousBox else { return nil }
        let step = (track.lastSeen - track.previousSeen).timeInterval, ahead = (now - track.lastSeen).timeInterval
        guard step > 0, step <= 0.5, ahead <= 0.5 else { return nil }
        let k = min(3, ahead / step)
        let box = track.box
        // The centre moves on as it moved; the size grows or shrinks as it did, within bounds: the
        // detector's boxes jitter by a tenth or more from frame to frame, and carrying each edge's jitter
        // on three steps could turn a face into a box of nothing.
        let growth = min(1.4, max(0.7, pow(box.width / max(previous.width, 1), k)))
        let centre = PixelPoint(
            x: box.center.x + (box.center.x - previous.center.x) * k, y: box.center.y + (box.center.y - previous.center.y) * k)
        let halfWidth = box.width * growth / 2, halfHeight = box.height * growth / 2
        return PixelBox(left: centre.x - halfWidth, top: centre.y - halfHeight, right: centre.x + halfWidth, bottom: centre.y + halfHeight)
    }

    /// The unclaimed track, not seen in this frame, that `face` reappears near and matches by descriptor.
    private mutating func reidentify(
        _ face: DetectedFace, in image: PixelImage, excluding claimed: Set<Int>, at now: Duration, describe: DescribeFace
    ) -> Int? {
        let nearby = tracks.indices.filter { index in
            let track = tracks[index]
            guard !claimed.contains(index), track.lastSeen < now, now - track.lastSeen < configuration.reidentifyWindow else {
                return false
            }
            // About where it was lost, at about its size: a person does not jump across the frame.
            let size = face.box.width / max(track.box.width, 1)
            return size >= 0.5 && size <= 2
                && face.box.center.distance(to: track.box.center) <= max(face.box.width, track.box.width)
        }
        guard !nearby.isEmpty, let descriptor = try? describe(face, image) else { return nil }
        let ordered = nearby.sorted { face.box.center.distance(to: tracks[$0].box.center) < face.box.center.distance(to: tracks[$1].box.center) }
        for index in ordered {
            guard let known = descriptorOfTrack(index, describe: describe) else { continue }
            // Where the face was still there when the cooldown had not yet passed, the position speaks
            // for it too: the usual same-person line then. Elsewhere, or after, the stricter one.
            let inPlace = !tracks[index].lost && tracks[index].box.overlap(with: face.box) >= configuration.minOverlap
            if known.distance(to: descriptor) <= (inPlace ? Self.samePersonDistance : configuration.reidentifyDistance) { return index }
        }
        return nil
    }

    /// The nearest track not yet sent, not seen in this frame or for more than a moment before it
    /// (the position pass left it to likeness), whose face was about where `face` is.
    private func unsentTrack(inTheSpotOf face: DetectedFace, excluding claimed: Set<Int>, at now: Duration) -> Int? {
        tracks.indices
            .filter { index in
                let track = tracks[index]
                guard !claimed.contains(index), !track.emitted, now - track.lastSeen > Self.continuityGap else { return false }
                let size = face.box.width / max(track.box.width, 1)
                return size >= 0.5 && size <= 2 && face.box.center.distance(to: track.box.center) <= max(face.box.width, track.box.width)
            }
            .min { face.box.center.distance(to: tracks[$0].box.center) < face.box.center.distance(to: tracks[$1].box.center) }
    }

    /// Whether `face` may be the person of track `index`: not clearly another by descriptor; true when
    /// either cannot be described (position is then all there is, as without descriptors).
    private mutating func looksLikeTrack(_ index: Int, _ face: DetectedFace, in image: PixelImage, describe: DescribeFace) -> Bool {
        guard let known = descriptorOfTrack(index, describe: describe), let descriptor = try? describe(face, image) else { return true }
        return known.distance(to: descriptor) <= Self.anotherPersonDistance
    }

    /// Whether the face last seen of a track not yet sent is clearly not its best face's person; false
    /// when it is the best face, or when either cannot be described.
    private static func latestFaceIsAnotherPerson(_ track: inout Track, describe: DescribeFace) -> Bool {
        guard let evidence = track.evidence, evidence.latestFrame.timestamp != track.bestSeen,
            let known = descriptor(of: &track, describe: describe),
            let latest = try? describe(evidence.latestFace, evidence.latestFrame.image)
        else { return false }
        return known.distance(to: latest) > anotherPersonDistance
    }

    private mutating func descriptorOfTrack(_ index: Int, describe: DescribeFace) -> FaceDescriptor? {
        Self.descriptor(of: &tracks[index], describe: describe)
    }

    private static func descriptor(of track: inout Track, describe: DescribeFace) -> FaceDescriptor? {
        if let known = track.descriptor { return known }
        guard !track.descriptorFailed else { return nil }
        let best = track.best
        let source = track.evidence.map { Likeness(face: best, image: $0.bestFrame) } ?? track.likeness
        let descriptor = source.flatMap { try? describe($0.face, $0.image) }
        track.descriptor = descriptor
        track.descriptorFailed = descriptor == nil
        return descriptor
    }

    /// Continues track `index` with `face`; a person sent under the gate whose face is now over it starts
    /// their approach again instead (their one second try: told to try again, they are decided again
    /// while they stand there, not only once gone for the re-identification window).
    private mutating func continueTrack(_ index: Int, with face: DetectedFace, frame: Frame) {
        if tracks[index].mayRetry, face.quality.faceQualityScore >= configuration.qualityGate {
            tracks[index] = Self.newTrack(face, frame: frame)
            retries += 1
            return
        }
        update(&tracks[index], with: face, frame: frame)
    }

    private func update(_ track: inout Track, with face: DetectedFace, frame: Frame) {
        track.previousBox = track.box
        track.previousSeen = track.lastSeen
        track.box = face.box
        track.lastSeen = frame.timestamp
        track.framesSeen += 1
        guard var evidence = track.evidence else { return }
        track.evidence = nil  // keeps the arrays uniquely referenced while they grow
        evidence.sightings.append(FaceSighting(timestamp: frame.timestamp, box: face.box, landmarks: face.landmarks))
        if evidence.sightings.count > Self.maxSightings { evidence.sightings.removeFirst(evidence.sightings.count - Self.maxSightings) }
        evidence.latestSample = VisitSample(timestamp: frame.timestamp, image: frame.image, box: face.box)
        evidence.latestFace = face
        evidence.latestFrame = frame
        if face.quality.faceQualityScore > track.best.quality.faceQualityScore + Self.improvementEpsilon {
            track.best = face
            // The descriptor was the earlier best face's (often a small or blurred one, or one that
            // could not be described): later checks compare with this one.
            track.descriptor = nil
            track.descriptorFailed = false
            evidence.bestFrame = frame.image
            track.bestSequence = frame.sequence
            track.bestSeen = frame.timestamp
            track.framesSinceImprovement = 0
        } else {
            track.framesSinceImprovement += 1
        }
        track.evidence = evidence
    }

    private mutating func emit(_ track: inout Track, because reason: Visit.EmissionReason) -> Visit {
        guard let evidence = track.evidence else { preconditionFailure("a track emits its visit once") }
        track.evidence = nil
        track.likeness = Self.likeness(of: track.best, in: evidence.bestFrame)
        track.mayRetry = track.best.quality.faceQualityScore < configuration.qualityGate
        visitsEmitted += 1
        let best = VisitSample(timestamp: track.bestSeen, image: evidence.bestFrame, box: track.best.box, isBestFace: true)
        // The best face first, so that it keeps its mark when it is also the first or the latest frame.
        var samples: [VisitSample] = []
        for sample in [best, evidence.firstSample, evidence.latestSample]
        where !samples.contains(where: { $0.timestamp == sample.timestamp }) {
            samples.append(sample)
        }
        samples.sort { $0.timestamp < $1.timestamp }
        return Visit(
            number: visitsEmitted, firstSeen: track.firstSeen, lastSeen: track.lastSeen, framesSeen: track.framesSeen,
            bestFrameSequence: track.bestSequence, bestFace: track.best, bestFrame: evidence.bestFrame,
            emittedBecause: reason,
            passedQualityGate: track.best.quality.faceQualityScore >= configuration.qualityGate,
            sightings: evidence.sightings, samples: samples)
    }

    /// A track taken as decided without a visit of its own (its person's was already sent).
    private static func settleWithoutVisit(_ track: inout Track) {
        guard let evidence = track.evidence else { return }
        track.evidence = nil
        track.likeness = likeness(of: track.best, in: evidence.bestFrame)
        track.tookTheSpotOf = nil
    }

    /// The best face with a margin of a face width around it, not the whole frame: an emitted track may
    /// be remembered for seconds, and a 1080p frame is 6 MB.
    private static func likeness(of face: DetectedFace, in frame: PixelImage) -> Likeness? {
        let margin = face.box.width
        let area = PixelBox(
            left: face.box.left - margin, top: face.box.top - margin, right: face.box.right + margin,
            bottom: face.box.bottom + margin
        ).clamped(width: frame.width, height: frame.height)
        let left = area.left.rounded(.down), top = area.top.rounded(.down)
        guard let crop = try? frame.cropped(to: area) else { return nil }
        return Likeness(face: face.translated(dx: -left, dy: -top), image: crop)
    }
}

extension DetectedFace {
    /// The same face with every position moved by (dx, dy): where it is in a crop of its image.
    func translated(dx: Double, dy: Double) -> DetectedFace {
        func move(_ p: PixelPoint) -> PixelPoint { PixelPoint(x: p.x + dx, y: p.y + dy) }
        func move(_ b: PixelBox) -> PixelBox { PixelBox(left: b.left + dx, top: b.top + dy, right: b.right + dx, bottom: b.bottom + dy) }
        var face = self
        face.box = move(box)
        face.landmarks = FaceLandmarks(
            rightEyeOuter: move(landmarks.rightEyeOuter), rightEyeInner: move(landmarks.rightEyeInner),
            leftEyeOuter: move(landmarks.leftEyeOuter), leftEyeInner: move(landmarks.leftEyeInner),
            noseBase: move(landmarks.noseBase))
        face.attributes.faceArea = move(attributes.faceArea)
        face.attributes.headArea = move(attributes.headArea)
        face.attributes.rightEyeCenter = move(attributes.rightEyeCenter)
        face.attributes.leftEyeCenter = move(attributes.leftEyeCenter)
        return face
    }
}

extension Visit {
    /// A still image as one visit of one sighting and one sample: what `facegate liveness` and the
    /// benchmarks judge a photo as.
    public static func still(_ image: PixelImage, face: DetectedFace, qualityGate: Double) -> Visit {
        Visit(
            number: 1, firstSeen: .zero, lastSeen: .zero, framesSeen: 1, bestFrameSequence: 0, bestFace: face, bestFrame: image,
            emittedBecause: .streamEnded, passedQualityGate: face.quality.faceQualityScore >= qualityGate,
            sightings: [FaceSighting(timestamp: .zero, box: face.box, landmarks: face.landmarks)],
            samples: [VisitSample(timestamp: .zero, image: image, box: face.box, isBestFace: true)])
    }
}
