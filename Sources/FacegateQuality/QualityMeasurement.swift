import FacegateCore
import FacegateImageCodec
import Foundation

/// Computes the quality measures of one face from the gray frame, its box and landmarks.
///
/// Each measure is reported raw and mapped to 0...100 by a piecewise-linear
/// ramp whose end points are given beside it. The combined score is
///
///     faceQualityScore = (Σ wᵢ·sᵢ / Σ wᵢ) / 100 × Π_critical min(1, s_c / k_c)
///
/// with the weights in `combinedScore`: a weighted mean of the measure scores, cut
/// down when a critical measure is poor (eye distance, head position and yaw under
/// k = 50, sharpness under k = 20), since good lighting cannot save a face that is
/// tiny, cut off, turned away or blurred beyond recognition.
/// Single-face dominance is reported but not part of the score: it describes the
/// scene, and the approach selector handles several people.
public enum QualityMeasurement {
    /// Side of the square the face is resampled to before measuring sharpness, so
    /// that a face far away and one close by are judged alike.
    static let sharpnessPatch = 96

    /// Measures one face.
    /// - Parameters:
    ///   - gray: the whole frame, gray.
    ///   - box: the face box in frame pixels.
    ///   - otherFaceAreas: areas of the other faces found in the same frame.
    public static func measure(
        gray: PixelImage, box: PixelBox, landmarks: FaceLandmarks, otherFaceAreas: [Double]
    ) -> QualityMeasures {
        let rightEye = landmarks.rightEyeCenter, leftEye = landmarks.leftEyeCenter
        let eyeDistance = rightEye.distance(to: leftEye)
        let pose = PoseEstimate(landmarks: landmarks)
        let margin = min(box.left, box.top, Double(gray.width) - box.right, Double(gray.height) - box.bottom)
        let relativeMargin = box.width > 0 ? margin / box.width : -1
        let headFraction = box.height / Double(gray.height)
        let stats = LuminanceStatistics(gray: gray, box: box.clamped(width: gray.width, height: gray.height))
        let sharpness = laplacianSharpness(gray: gray, box: box, meanLuminance: stats.mean)
        let largestOther = otherFaceAreas.max() ?? 0
        let dominance = largestOther > 0 ? min(100, box.area / largestOther) : 100

        var measures = QualityMeasures(
            interEyeDistance: QualityMeasure(raw: eyeDistance, score: ramp(eyeDistance, from: 20, to: 70)),
            headSize: QualityMeasure(
                raw: headFraction,
                score: min(ramp(headFraction, from: 0.05, to: 0.15), 100 - ramp(headFraction, from: 0.85, to: 1.0))),
            headPosition: QualityMeasure(raw: relativeMargin, score: ramp(relativeMargin, from: -0.15, to: 0.05)),
            yaw: QualityMeasure(raw: pose.yaw, score: 100 - ramp(abs(pose.yaw), from: 10, to: 45)),
            roll: QualityMeasure(raw: pose.roll, score: 100 - ramp(abs(pose.roll), from: 8, to: 30)),
            pitch: QualityMeasure(raw: pose.pitch, score: 100 - ramp(abs(pose.pitch), from: 10, to: 40)),
            sharpness: QualityMeasure(raw: sharpness, score: ramp(sharpness, from: 2, to: 30)),
            luminanceMean: QualityMeasure(
                raw: stats.mean,
                score: min(ramp(stats.mean, from: 25, to: 80), 100 - ramp(stats.mean, from: 190, to: 240))),
            underExposure: QualityMeasure(raw: stats.darkFraction, score: 100 - ramp(stats.darkFraction, from: 0.02, to: 0.3)),
            overExposure: QualityMeasure(raw: stats.brightFraction, score: 100 - ramp(stats.brightFraction, from: 0.02, to: 0.3)),
            dynamicRange: QualityMeasure(raw: stats.rangeBits, score: ramp(stats.rangeBits, from: 4, to: 7)),
            singleFaceDominance: QualityMeasure(raw: dominance, score: ramp(dominance, from: 1, to: 2)),
            faceQualityScore: 0)
        measures.faceQualityScore = combinedScore(measures)
        return measures
    }

    /// The combined score in 0...1 (see the type's documentation).
    public static func combinedScore(_ m: QualityMeasures) -> Double {
        let weighted: [(QualityMeasure, Double)] = [
            (m.sharpness, 0.20), (m.yaw, 0.15), (m.interEyeDistance, 0.15), (m.luminanceMean, 0.10),
            (m.pitch, 0.10), (m.roll, 0.05), (m.underExposure, 0.05), (m.overExposure, 0.05),
            (m.dynamicRange, 0.05), (m.headPosition, 0.05), (m.headSize, 0.05),
        ]
        // Each critical measure and the score under which it starts to pull the whole down.
        let critical = [(m.interEyeDistance, 50.0), (m.headPosition, 50), (m.yaw, 50), (m.sharpness, 20)]
        let totalWeight = weighted.reduce(0) { $0 + $1.1 }
        let mean = weighted.reduce(0) { $0 + $1.0.score * $1.1 } / totalWeight / 100
        let penalty = critical.reduce(1.0) { $0 * min(1, $1.0.score / $1.1) }
        return min(1, max(0, mean * penalty))
    }

    /// 0 at or below `low`, 100 at or above `high`, linear between.
    static func ramp(_ value: Double, from low: Double, to high: Double) -> Double {
        guard value.isFinite else { return 0 }
        return min(100, max(0, (value - low) / (high - low) * 100))
    }

    /// The head around a face box, in the proportions of NEC ID's documented example
    /// (face 157 px wide: head 19 % wider each side, 45 % higher, 19 % lower).
    public static func headArea(of face: PixelBox) -> PixelBox {
        PixelBox(
            left: face.left - 0.19 * face.width, top: face.top - 0.45 * face.height,
            right: face.right + 0.19 * face.width, bottom: face.bottom + 0.19 * face.height)
    }

    /// Variance of the 4-neighbour Laplacian over the face, resampled to a fixed size,
    /// divided by the squared mean luminance and times 1000 so that dim and bright
    /// faces of equal focus score alike.
    static func laplacianSharpness(gray: PixelImage, box: PixelBox, meanLuminance: Double) -> Double {
        let inner = PixelBox(
            left: box.left + 0.1 * box.width, top: box.top + 0.1 * box.height,
            right: box.right - 0.1 * box.width, bottom: box.bottom - 0.1 * box.height)
        guard let crop = try? gray.cropped(to: inner),
            let patch = try? crop.resized(width: sharpnessPatch, height: sharpnessPatch)
        else { return 0 }
        let n = sharpnessPatch
        var sum = 0.0, sumSquares = 0.0
        patch.pixels.withUnsafeBufferPointer { p in
            for y in 1..<(n - 1) {
                for x in 1..<(n - 1) {
                    let i = y * n + x
                    let center = Int(p[i]) * 4
                    let value = Double(Int(p[i - 1]) + Int(p[i + 1]) + Int(p[i - n]) + Int(p[i + n]) - center)
                    sum += value
                    sumSquares += value * value
                }
            }
        }
        let count = Double((n - 2) * (n - 2))
        let variance = sumSquares / count - (sum / count) * (sum / count)
        let mean = max(meanLuminance, 16)
        return variance / (mean * mean) * 1000
    }
}

/// Head pose from the five landmarks: coarse, but enough to prefer the frontal frames of an approach.
struct PoseEstimate {
    /// Degrees; positive when the subject turns to their left.
    var yaw: Double
    /// Degrees; positive when the head leans toward the subject's left shoulder.
    var roll: Double
    /// Degrees; positive when the subject looks up.
    var pitch: Double

    /// Nose-base distance below the eye line, in eye distances, for a frontal face
    /// (measured on the frontal photos of the test set).
    static let frontalNoseDrop = 0.76

    init(landmarks: FaceLandmarks) {
        let right = landmarks.rightEyeCenter, left = landmarks.leftEyeCenter, nose = landmarks.noseBase
        let dx = left.x - right.x, dy = left.y - right.y
        let eyeDistance = max((dx * dx + dy * dy).squareRoot(), 1)
        roll = atan2(dy, dx) * 180 / .pi
        // The nose in the eye line's frame: along it (yaw) and below it (pitch).
        let ux = dx / eyeDistance, uy = dy / eyeDistance
        let mid = PixelPoint(x: (right.x + left.x) / 2, y: (right.y + left.y) / 2)
        let along = ((nose.x - mid.x) * ux + (nose.y - mid.y) * uy) / eyeDistance
        let below = (-(nose.x - mid.x) * uy + (nose.y - mid.y) * ux) / eyeDistance
        // The nose base sits about half an eye distance in front of the eye plane.
        yaw = asin(min(1, max(-1, along / 0.5))) * 180 / .pi
        pitch = asin(min(1, max(-1, (Self.frontalNoseDrop - below) / 0.5))) * 180 / .pi
    }
}

/// Grey-level statistics of the face box.
struct LuminanceStatistics {
    var mean = 0.0
    var darkFraction = 0.0
    var brightFraction = 0.0
    /// log2 of the 1st-to-99th percentile span.
    var rangeBits = 0.0

    init(gray: PixelImage, box: PixelBox) {
        let left = Int(box.left), top = Int(box.top), right = Int(box.right), bottom = Int(box.bottom)
        guard right > left, bottom > top else { return }
        var histogram = [Int](repeating: 0, count: 256)
        gray.pixels.withUnsafeBufferPointer { p in
            for y in top..<bottom {
                let row = y * gray.width
                for x in left..<right { histogram[Int(p[row + x])] += 1 }
            }
        }
        let count = (right - left) * (bottom - top)
        var total = 0
        for (level, n) in histogram.enumerated() { total += level * n }
        mean = Double(total) / Double(count)
        darkFraction = Double(histogram[0...10].reduce(0, +)) / Double(count)
        brightFraction = Double(histogram[245...255].reduce(0, +)) / Double(count)
        let low = percentile(histogram, count: count, 0.01), high = percentile(histogram, count: count, 0.99)
        rangeBits = log2(Double(high - low + 1))
    }

    private func percentile(_ histogram: [Int], count: Int, _ fraction: Double) -> Int {
        let target = Int(Double(count) * fraction)
        var seen = 0
        for (level, n) in histogram.enumerated() {
            seen += n
            if seen > target { return level }
        }
        return 255
    }
}
