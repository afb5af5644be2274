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
