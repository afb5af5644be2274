import FacegateCore
import Foundation

/// The temporal cue, with no trained model: how the face's landmarks move over the approach.
///
/// A printed photo or a screen is one flat plane. However it is moved, turned in its plane or
/// brought closer, the nose keeps its place relative to the eyes; tilting it changes that place
/// only by the cosine of the tilt (second order: a sheet tilted by 20 degrees moves the nose by 6 %
/// of its drop, which the cue allows for). A live head is not flat: the nose stands a third of an eye distance in front of
/// the eyes, so a turn of the head moves it across them and a nod moves it up or down, in
/// proportion to the angle (first order), and a camera above the door sees the head's pitch change
/// as a person walks up. The cue measures the nose's movement relative to the eyes, in eye
/// distances, beyond what the landmark finder's own noise would give at this face size.
///
/// It judges only when it sees that movement: a head in depth (score 1). A nose that stayed put is no
/// evidence of a flat face, however the face moved: a live person who keeps facing the camera as they
/// walk up to it (as a door's users are asked to, and as a kiosk at eye level always sees them) moves
/// across the frame, grows and turns in their plane exactly as a sheet does, with no parallax at all.
/// (Before, such an approach was judged flat, scored 0 and refused as an attack, wherever the faces were
/// large enough for the cue: review.) Everything else (a face that hardly moved, one too small for the
/// noise to be told apart, a face carried up flat) is left to the other cues, and to
/// `require_movement`, which then asks for a head that shows its depth.
public struct ParallaxCue: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Fewer sightings than this judge nothing.
        public var minSightings = 6
        /// The landmark finder's noise, in pixels (one standard deviation of a point).
        public var landmarkNoisePixels = 1.0
        /// The nose's movement beyond the noise (10th to 90th percentile, in eye distances) that
        /// scores 1: a head turning or nodding by about 8 degrees.
        public var liveMovement = 0.05
        /// How much a sheet tilted by hand (up to about 20 degrees each way) changes the nose's drop
        /// below the eyes by foreshortening alone: drop movement within this is not taken for depth.
        public var tiltAllowance = 0.05
        /// Faces whose noise alone would move the nose by more than this (small, far faces) are not judged.
        public var maxNoiseSpread = 0.06

        public init() {}
    }

    /// What the cue measured of one approach.
    public struct Measurement: Sendable, Hashable {
        public var sightings: Int
        /// 10th to 90th percentile of the nose's place along the eye line, in eye distances (yaw).
        public var alongSpread: Double
        /// The same of its drop below the eye line (pitch).
        public var dropSpread: Double
        /// What the landmark noise alone would spread either by, at this face size.
        public var noiseSpread: Double
        /// How far the eyes' midpoint moved, in eye distances.
        public var travel: Double
        public var scaleChange: Double
        public var rollChangeDegrees: Double
        /// 1 when the approach showed a head's depth; nil otherwise (never evidence of a flat face).
        public var score: Double?
    }

    public let settings: Settings

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    public func measure(_ sightings: [FaceSighting]) -> Measurement {
        var along: [Double] = []
        var drop: [Double] = []
        var roll: [Double] = []
        var eyeDistance: [Double] = []
        var midX: [Double] = []
        var midY: [Double] = []
        for sighting in sightings {
            let left = sighting.landmarks.rightEyeCenter
            let right = sighting.landmarks.leftEyeCenter
            let nose = sighting.landmarks.noseBase
            let vx = right.x - left.x, vy = right.y - left.y
            let squared = vx * vx + vy * vy
            guard squared >= 16, squared.isFinite, nose.x.isFinite, nose.y.isFinite else { continue }
            let centreX = (left.x + right.x) / 2, centreY = (left.y + right.y) / 2
            let ux = nose.x - centreX, uy = nose.y - centreY
            along.append((ux * vx + uy * vy) / squared)
            drop.append((vx * uy - vy * ux) / squared)
            roll.append(atan2(vy, vx) * 180 / .pi)
            eyeDistance.append(squared.squareRoot())
            midX.append(centreX)
            midY.append(centreY)
        }
        let distance = max(Self.percentile(eyeDistance, 0.5), 1)
        // The nose and the eyes' midpoint each err by the noise (the midpoint averages two points,
        // each the mean of two corners); 10th to 90th percentile of a normal spread is 2.56 sigma.
        let noise = 2.56 * settings.landmarkNoisePixels * (1.0 + 0.25).squareRoot() / distance
        var measurement = Measurement(
            sightings: along.count, alongSpread: Self.spread(along), dropSpread: Self.spread(drop), noiseSpread: noise,
            travel: (Self.spread(midX) * Self.spread(midX) + Self.spread(midY) * Self.spread(midY)).squareRoot() / distance,
            scaleChange: Self.percentile(eyeDistance, 0.9) / max(Self.percentile(eyeDistance, 0.1), 1) - 1,
            rollChangeDegrees: Self.spread(roll), score: nil)
        guard along.count >= settings.minSightings, noise <= settings.maxNoiseSpread else { return measurement }
        let movement = max(measurement.alongSpread, measurement.dropSpread - settings.tiltAllowance) - noise
        if movement >= settings.liveMovement { measurement.score = 1 }
        return measurement
    }

    static func spread(_ values: [Double]) -> Double { percentile(values, 0.9) - percentile(values, 0.1) }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
