import FacegateCore
import Foundation

/// The liveness stage: judges a visit from cues that fail in different ways, so that an attack has
/// to beat each of them. The visit's liveness is its weakest cue's score; a visit whose face to be
/// sent the texture cue could not judge is `uncertain` unless the rest of the visit says attack.
public struct PresentationAttackDetector: PresentationAttackDetecting {
    public struct Settings: Sendable, Equatable {
        /// A visit whose liveness is below this is an attack. Set only through the checking init: 0, a
        /// negative or a NaN threshold would judge every print and screen live.
        public private(set) var threshold = 0.5
        public var parallax = ParallaxCue.Settings()
        /// A visit the parallax cue cannot judge (too few sightings, no head turn or nod seen) is `uncertain`
        /// rather than left to the texture cue alone: a still phone screen whose edge is out of view can
        /// pass the texture cue (BENCHMARKS.md). Off by default: a person standing still at the door gives
        /// the cue nothing either, and every real approach in the test media was decided before it could judge.
        public var requireMovement = false

        public init() {}

        /// Refuses a threshold that is not finite and in (0, 1].
        public init(threshold: Double) throws(LivenessError) {
            guard Self.isValid(threshold: threshold) else {
                throw LivenessError(.invalidSettings, "the liveness threshold must be above 0 and at most 1")
            }
            self.threshold = threshold
        }

        /// Above 0 and at most 1 (NaN is neither).
        public static func isValid(threshold: Double) -> Bool { threshold > 0 && threshold <= 1 }
    }

    public let texture: TextureCue
    public let parallax: ParallaxCue
    public let settings: Settings

    public init(texture: TextureCue, settings: Settings = Settings()) {
        self.texture = texture
        self.parallax = ParallaxCue(settings: settings.parallax)
        self.settings = settings
    }

    /// Loads the texture models from `models` (or the default folders), checks they are the shipped files
    /// each under its own name (``PADModels/checkIdentity()``) and that they answer as the cue needs
    /// (``TextureCue/checkContract()``).
    public init(models: String? = nil, settings: Settings = Settings()) throws(LivenessError) {
        let folder = try PADModels.locate(models)
        try folder.checkIdentity()
        let texture = try TextureCue(folder)
        try texture.checkContract()
        self.init(texture: texture, settings: settings)
    }

    public func assess(_ visit: Visit) throws -> LivenessAssessment {
        var cues: [String: Double] = [:]
        var textureScores: [Double] = []
        var bestFaceScores: [Double] = []
        var bestFaceUnjudged = false
        for sample in visit.samples {
            guard let score = try textureScore(sample) else {
                if sample.isBestFace { bestFaceUnjudged = true }
                continue
            }
            textureScores.append(score)
            if sample.isBestFace { bestFaceScores.append(score) }
        }
        // The median: one frame of the approach unlike the others (a live person behind the phone
        // they hold up, a blink of the light) does not vouch for the visit alone. And the face the cloud
        // is sent must pass on its own: a photo held up for a moment of a live approach, sharper than
        // the live frames and so its best face, is not outvoted by them.
        if !textureScores.isEmpty {
            cues["texture"] = min(Self.median(textureScores), bestFaceScores.min() ?? .infinity)
        }
        if let score = parallax.measure(visit.sightings).score { cues["parallax"] = score }
        let parallaxJudged = cues["parallax"] != nil
        let fused = Self.fuse(cues, threshold: settings.threshold)
        // The face the cloud would be sent has no texture judgement (no crop of it, or no sample marked
        // as it): the other frames and the parallax cue cannot vouch for it (parallax passes a replayed
        // video), so it is never live. Their attack evidence still wins: with `uncertain: allow` an
        // uncertain visit would go to the cloud.
        guard !bestFaceUnjudged, !bestFaceScores.isEmpty else {
            if fused.verdict == .attack { return fused }
            return LivenessAssessment(
                liveness: 0, verdict: .uncertain, cues: [:], reason: "the texture cue could not judge the face to be sent")
        }
        // A colour camera whose frames carry no colour (a day/night camera in its infrared mode): the models
        // score every grey face as an attack, so after dark everyone would be refused as one, recorded as an
        // attack wave with nothing saying why. Still an attack (a black-and-white print filling the picture
        // looks the same), but said (review).
        if fused.verdict == .attack, cues["texture"] != nil, let best = visit.samples.first(where: \.isBestFace), Self.carriesNoColour(best.image) {
            var said = fused
            said.reason += "; the camera's frames carry no colour (a night or infrared mode?), and the texture cue scores any face without colour as an attack"
            return said
        }
        // Held still, only the texture cue judges, and a screen with its edge out of view can pass it.
        // Attack evidence still wins (a print the texture cue refuses stays an attack).
        if settings.requireMovement, !parallaxJudged, fused.verdict == .live {
            return LivenessAssessment(
                liveness: fused.liveness, verdict: .uncertain, cues: fused.cues,
                reason: "movement required: the parallax cue saw no head turn or nod (too few sightings, a face held still or carried up flat)")
        }
        return fused
    }

    /// Whether a frame has no colour anywhere: grey pixels, or colour pixels whose channels all but agree (a
    /// camera's infrared mode, its chroma flat). Read on a coarse grid of the whole frame: a grey photo held
    /// up in a colour scene still has colour around it.
    static func carriesNoColour(_ image: PixelImage) -> Bool {
        guard image.layout == .rgb24 else { return image.layout == .gray8 }
        let step = max(1, min(image.width, image.height) / 40)
        var total = 0, count = 0
        var y = 0
        while y < image.height {
            var x = 0
            while x < image.width {
                let offset = (y * image.width + x) * 3
                let r = Int(image.pixels[offset]), g = Int(image.pixels[offset + 1]), b = Int(image.pixels[offset + 2])
                total += max(r, g, b) - min(r, g, b)
                count += 1
                x += step
            }
            y += step
        }
        // Under 2 levels of 255 on average: conversion rounding, not a scene's colour.
        return count > 0 && total < 2 * count
    }

    /// The texture cue's score of one sample; nil for a face box mostly outside the picture, which gives no
    /// crop (the other samples still count). A model that fails is an error.
    private func textureScore(_ sample: VisitSample) throws(LivenessError) -> Double? {
        do {
            return try texture.score(sample.image, face: sample.box).realProbability
        } catch where error.code == .badInput {
            return nil
        }
    }

    /// The weakest cue decides: an attack has to pass every cue that could judge it.
    public static func fuse(_ cues: [String: Double], threshold: Double) -> LivenessAssessment {
        // A cue that gave no number (NaN) ranks weakest: it must not hide behind the others.
        func rank(_ value: Double) -> Double { value.isFinite ? value : -.infinity }
        guard let weakest = cues.min(by: { rank($0.value) < rank($1.value) || (rank($0.value) == rank($1.value) && $0.key < $1.key) })
        else {
            return LivenessAssessment(
                liveness: 0, verdict: .uncertain, cues: cues,
                reason: "no liveness cue could judge the visit (no usable face crop, too little movement)")
        }
        // Written as "live only if": a NaN score or threshold, or a threshold outside (0, 1] (which
        // every score would pass), is an attack, never live.
        let liveness = weakest.value.isFinite ? min(1, max(0, weakest.value)) : 0
        guard Settings.isValid(threshold: threshold) else {
            return LivenessAssessment(
                liveness: liveness, verdict: .attack, cues: cues,
                reason: "presentation attack assumed: the liveness threshold is not above 0 and at most 1")
        }
        guard liveness >= threshold else {
            return LivenessAssessment(
                liveness: liveness, verdict: .attack, cues: cues,
                reason: "presentation attack: the \(weakest.key) cue scored \(Self.format(liveness)), below \(Self.format(threshold))")
        }
        return LivenessAssessment(
            liveness: liveness, verdict: .live, cues: cues,
            reason: "live: every cue (\(cues.keys.sorted().joined(separator: ", "))) at or above \(Self.format(threshold))")
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
