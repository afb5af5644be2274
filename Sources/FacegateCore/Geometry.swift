/// A point in image pixel coordinates (origin top-left, y down).
public struct PixelPoint: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    public func distance(to other: PixelPoint) -> Double {
        let dx = other.x - x
        let dy = other.y - y
        return (dx * dx + dy * dy).squareRoot()
    }
}

/// An axis-aligned box in image pixel coordinates, edges as NEC ID reports them.
public struct PixelBox: Sendable, Hashable, Codable {
    public var left: Double
    public var top: Double
    public var right: Double
    public var bottom: Double

    public init(left: Double, top: Double, right: Double, bottom: Double) {
        self.left = left
        self.top = top
        self.right = right
        self.bottom = bottom
    }

    public var width: Double { max(0, right - left) }
    public var height: Double { max(0, bottom - top) }
    public var area: Double { width * height }
    public var center: PixelPoint { PixelPoint(x: (left + right) / 2, y: (top + bottom) / 2) }

    public func scaled(by factor: Double) -> PixelBox {
        PixelBox(left: left * factor, top: top * factor, right: right * factor, bottom: bottom * factor)
    }

    public func intersection(_ other: PixelBox) -> PixelBox? {
        let box = PixelBox(
            left: max(left, other.left), top: max(top, other.top),
            right: min(right, other.right), bottom: min(bottom, other.bottom))
        return box.width > 0 && box.height > 0 ? box : nil
    }

    /// Intersection over union, 0 for disjoint boxes.
    public func overlap(with other: PixelBox) -> Double {
        guard let shared = intersection(other) else { return 0 }
        let union = area + other.area - shared.area
        return union > 0 ? shared.area / union : 0
    }

    /// The box limited to an image of the given size.
    public func clamped(width: Int, height: Int) -> PixelBox {
        PixelBox(
            left: min(max(left, 0), Double(width)), top: min(max(top, 0), Double(height)),
            right: min(max(right, 0), Double(width)), bottom: min(max(bottom, 0), Double(height)))
    }

    /// Whether the box lies wholly inside an image of the given size.
    public func isInside(width: Int, height: Int) -> Bool {
        left >= 0 && top >= 0 && right <= Double(width) && bottom <= Double(height)
    }
}
