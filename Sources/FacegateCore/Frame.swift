/// One camera frame as it leaves the capture stage.
public struct Frame: Sendable {
    /// Increasing number of the frame in its stream; gaps mean dropped frames.
    public var sequence: UInt64
    /// Monotonic capture time (a camera's: the driver's timestamp where it advances, else when the
    /// frame was dequeued).
    public var timestamp: Duration
    public var image: PixelImage
    /// The capture stage's own time for this frame: a camera's dequeue and conversion, a replay's
    /// decoding; nil when the source does not measure it.
    public var captureTime: Duration?

    public init(sequence: UInt64, timestamp: Duration, image: PixelImage, captureTime: Duration? = nil) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.image = image
        self.captureTime = captureTime
    }
}

/// A stream of frames from a camera or a replay.
public protocol FrameSource: Sendable {
    /// Frames until the source ends or the task is cancelled.
    func frames() -> AsyncThrowingStream<Frame, any Error>
}

/// One person's approach to the door, reduced to its best face.
///
/// The approach selector emits at most one of these per approach; it is what
/// the identify stage sends to the cloud.
public struct Visit: Sendable {
    /// Increasing number of the visit since the selector started.
    public var number: Int
    public var firstSeen: Duration
    public var lastSeen: Duration
    /// Frames in which this person's face was tracked.
    public var framesSeen: Int
    /// Sequence number of the frame the best face came from.
    public var bestFrameSequence: UInt64
    public var bestFace: DetectedFace
    /// The frame the best face came from, for the descriptor and the crop.
    public var bestFrame: PixelImage
    /// Why the selector emitted the visit.
    public var emittedBecause: EmissionReason
    /// Whether the best face passed the configured quality gate.
    public var passedQualityGate: Bool
    /// Where the face was in each analysed frame up to the emission (oldest first, the most recent
    /// few hundred): how it moved, for the liveness stage.
    public var sightings: [FaceSighting]
    /// A few frames of the approach (its first, its best, its last), for the liveness stage.
    public var samples: [VisitSample]

    public enum EmissionReason: String, Sendable, Codable {
        /// The best face was clearly good and frontal: decided as the person arrives.
        case qualityClear
        /// The quality passed the gate and stopped improving.
        case qualitySettled
        /// The approach window ran out.
        case windowEnded
        /// The person left the view.
        case personLeft
        /// The stream ended.
        case streamEnded
        /// The camera sent nothing for a while: who stood there then is not known to be who stands there now.
        case cameraSilent
    }

    public init(
        number: Int, firstSeen: Duration, lastSeen: Duration, framesSeen: Int, bestFrameSequence: UInt64,
        bestFace: DetectedFace, bestFrame: PixelImage, emittedBecause: EmissionReason, passedQualityGate: Bool,
        sightings: [FaceSighting] = [], samples: [VisitSample] = []
    ) {
        self.sightings = sightings
        self.samples = samples
        self.number = number
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.framesSeen = framesSeen
        self.bestFrameSequence = bestFrameSequence
        self.bestFace = bestFace
        self.bestFrame = bestFrame
        self.emittedBecause = emittedBecause
        self.passedQualityGate = passedQualityGate
    }
}
