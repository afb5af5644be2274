import FacegateCore

extension KeyedDecodingContainer {
    /// Decodes a number sent either as a JSON number or as a string holding one,
    /// as NEC ID does for every face attribute.
    public func decodeLenientDouble(forKey key: Key) throws -> Double {
        if let number = try? decode(Double.self, forKey: key) {
            return number
        }
        let text = try decode(String.self, forKey: key)
        guard let number = Double(text.trimmingWhitespace()), number.isFinite else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "expected a number, got \"\(text.prefix(40))\"")
        }
        return number
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}

/// NEC ID's face attributes as they come over the wire: every number may be a JSON number or a string
/// holding one. A quirk of this service, so it stays with its client; FacegateCore's types decode plainly.
struct NECWireFaceAttributes: Decodable {
    let value: FaceAttributes

    private enum CodingKeys: String, CodingKey {
        case faceArea, headArea, rightEyeCenter, leftEyeCenter
        case faceScore, frontalFaceScore, faceRoll, facePan, faceTilt, faceQualityScore
    }

    private struct Box: Decodable {
        let value: PixelBox
        private enum CodingKeys: String, CodingKey { case left, top, right, bottom }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            value = PixelBox(
                left: try c.decodeLenientDouble(forKey: .left), top: try c.decodeLenientDouble(forKey: .top),
                right: try c.decodeLenientDouble(forKey: .right), bottom: try c.decodeLenientDouble(forKey: .bottom))
        }
    }

    private struct Point: Decodable {
        let value: PixelPoint
        private enum CodingKeys: String, CodingKey { case x, y }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            value = PixelPoint(x: try c.decodeLenientDouble(forKey: .x), y: try c.decodeLenientDouble(forKey: .y))
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        value = FaceAttributes(
            faceArea: try c.decode(Box.self, forKey: .faceArea).value,
            headArea: try c.decode(Box.self, forKey: .headArea).value,
            rightEyeCenter: try c.decode(Point.self, forKey: .rightEyeCenter).value,
            leftEyeCenter: try c.decode(Point.self, forKey: .leftEyeCenter).value,
            faceScore: try c.decodeLenientDouble(forKey: .faceScore),
            frontalFaceScore: try c.decodeLenientDouble(forKey: .frontalFaceScore),
            faceRoll: try c.decodeLenientDouble(forKey: .faceRoll),
            facePan: try c.decodeLenientDouble(forKey: .facePan),
            faceTilt: try c.decodeLenientDouble(forKey: .faceTilt),
            faceQualityScore: try c.decodeLenientDouble(forKey: .faceQualityScore))
    }
}

extension KeyedDecodingContainer {
    /// NEC ID's face attributes, numbers as numbers or strings.
    func decodeNECAttributes(forKey key: Key) throws -> FaceAttributes {
        try decode(NECWireFaceAttributes.self, forKey: key).value
    }

    func decodeNECAttributesIfPresent(forKey key: Key) throws -> FaceAttributes? {
        try decodeIfPresent(NECWireFaceAttributes.self, forKey: key)?.value
    }
}
