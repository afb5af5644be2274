import FacegateCore

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

    public init(
        minOverlap: Double = 0.3, settleFrames: Int = 5, approachWindow: Duration = .seconds(4),
        cooldown: Duration = .seconds(2), qualityGate: Double = QualityConfiguration().qualityGate,
        minInterEyeDistance: Double = 20
    ) {
        self.minOverlap = minOverlap
        self.settleFrames = settleFrames
        self.approachWindow = approachWindow
        self.cooldown = cooldown
        self.qualityGate = qualityGate
        self.minInterEyeDistance = minInterEyeDistance
    }
}

/// Turns the faces of a frame stream into one visit per person's approach.
///
/// A pure state machine: frames' own timestamps are its clock, and it does no I/O.
/// Each face is followed across frames by box overlap. A track emits its visit
/// once, with its best face, as soon as that face passes the quality gate and has
/// stopped improving, or when the approach window ends, or when the person leaves
/// first. After that the track is followed silently until the person has been
/// gone for the cooldown, so someone standing at the door makes one visit only.
public struct ApproachSelector: Sendable {
    public let configuration: ApproachConfiguration

    private struct Track: Sendable {
        var box: PixelBox
        var firstSeen: Duration
        var lastSeen: Duration
        var framesSeen: Int
        var best: DetectedFace
        var bestFrame: PixelImage
        var bestSequence: UInt64
        var bestSeen: Duration
        var framesSinceImprovement: Int
        var emitted: Bool
        /// How the face moved, for the liveness stage (the most recent `maxSightings`).
        var sightings: [FaceSighting]
        /// The first and the latest frame of the approach, for the liveness stage.
        var firstSample: VisitSample
        var latestSample: VisitSample
    }

    /// About ten seconds at 30 fps: enough for any cue, bounded for a person who stays.
    static let maxSightings = 300

    private var tracks: [Track] = []
    private var visitsEmitted = 0

    /// Quality must rise by more than this to count as an improvement.
    private static let improvementEpsilon = 0.01

    public init(configuration: ApproachConfiguration = ApproachConfiguration()) {
        self.configuration = configuration
    }

    /// People currently followed (emitted or not).
    public var activeTracks: Int { tracks.count }

    /// Feeds one analysed frame; returns the visits it completes.
    public mutating func observe(frame: Frame, faces: [DetectedFace]) -> [Visit] {
        var visits: [Visit] = []
        let now = frame.timestamp
        var claimed = Set<Int>()
        let candidates = faces
            .filter { $0.quality.interEyeDistance.raw >= configuration.minInterEyeDistance }
            .sorted { $0.box.area > $1.box.area }

        for face in candidates {
            var bestTrack: Int?
            var bestOverlap = configuration.minOverlap
            for (index, track) in tracks.enumerated() where !claimed.contains(index) {
                let overlap = track.box.overlap(with: face.box)
                if overlap >= bestOverlap {
                    bestOverlap = overlap
                    bestTrack = index
                }
            }
            if let index = bestTrack {
                claimed.insert(index)
                update(&tracks[index], with: face, frame: frame)
            } else {
                let sample = VisitSample(timestamp: now, image: frame.image, box: face.box)
                tracks.append(
                    Track(
                        box: face.box, firstSeen: now, lastSeen: now, framesSeen: 1, best: face, bestFrame: frame.image,
                        bestSequence: frame.sequence, bestSeen: now, framesSinceImprovement: 0, emitted: false,
                        sightings: [FaceSighting(timestamp: now, box: face.box, landmarks: face.landmarks)],
                        firstSample: sample, latestSample: sample))
                claimed.insert(tracks.count - 1)
            }
        }

        var kept: [Track] = []
        for var track in tracks {
            let gone = now - track.lastSeen
            if gone >= configuration.cooldown {
                if !track.emitted { visits.append(emit(&track, because: .personLeft)) }
                continue
            }
            if !track.emitted {
                if track.best.quality.faceQualityScore >= configuration.qualityGate,
                    track.framesSinceImprovement >= configuration.settleFrames
                {
                    visits.append(emit(&track, because: .qualitySettled))
                } else if now - track.firstSeen >= configuration.approachWindow {
                    visits.append(emit(&track, because: .windowEnded))
                }
            }
            kept.append(track)
        }
        tracks = kept
        return visits
    }

    /// Ends the stream: every approach not yet emitted is emitted now.
    public mutating func finish() -> [Visit] {
        var visits: [Visit] = []
        for var track in tracks where !track.emitted {
            visits.append(emit(&track, because: .streamEnded))
        }
        tracks = []
        return visits
    }

    private func update(_ track: inout Track, with face: DetectedFace, frame: Frame) {
        track.box = face.box
        track.lastSeen = frame.timestamp
        track.framesSeen += 1
        guard !track.emitted else { return }
        track.sightings.append(FaceSighting(timestamp: frame.timestamp, box: face.box, landmarks: face.landmarks))
        if track.sightings.count > Self.maxSightings { track.sightings.removeFirst(track.sightings.count - Self.maxSightings) }
        track.latestSample = VisitSample(timestamp: frame.timestamp, image: frame.image, box: face.box)
        if face.quality.faceQualityScore > track.best.quality.faceQualityScore + Self.improvementEpsilon {
            track.best = face
            track.bestFrame = frame.image
            track.bestSequence = frame.sequence
            track.bestSeen = frame.timestamp
            track.framesSinceImprovement = 0
        } else {
            track.framesSinceImprovement += 1
        }
    }

    private mutating func emit(_ track: inout Track, because reason: Visit.EmissionReason) -> Visit {
        track.emitted = true
        visitsEmitted += 1
        let best = VisitSample(timestamp: track.bestSeen, image: track.bestFrame, box: track.best.box)
        var samples: [VisitSample] = []
        for sample in [track.firstSample, best, track.latestSample] where !samples.contains(where: { $0.timestamp == sample.timestamp }) {
            samples.append(sample)
        }
        return Visit(
            number: visitsEmitted, firstSeen: track.firstSeen, lastSeen: track.lastSeen, framesSeen: track.framesSeen,
            bestFrameSequence: track.bestSequence, bestFace: track.best, bestFrame: track.bestFrame,
            emittedBecause: reason,
            passedQualityGate: track.best.quality.faceQualityScore >= configuration.qualityGate,
            sightings: track.sightings, samples: samples)
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
            samples: [VisitSample(timestamp: .zero, image: image, box: face.box)])
    }
}
