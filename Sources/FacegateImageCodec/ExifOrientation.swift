import FacegateCore

/// A phone stores a portrait photo as the sensor saw it and says in its EXIF data how to turn it
/// upright; a face on its side is not found. Decoding applies that orientation.
enum ExifOrientation {
    /// The EXIF orientation (1...8) a JPEG's APP1 segment declares, or 1 when it declares none or
    /// the segment is malformed: the bytes are untrusted, so every offset is checked and nothing throws.
    static func of(jpeg bytes: [UInt8]) -> Int {
        var offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF {
            let marker = bytes[offset + 1]
            // Start of scan or end of image: no metadata follows.
            if marker == 0xDA || marker == 0xD9 { return 1 }
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return 1 }
            let segment = offset + 4
            if marker == 0xE1, length >= 8, bytes[segment..<segment + 6].elementsEqual([0x45, 0x78, 0x69, 0x66, 0, 0]) {
                return tiffOrientation(bytes, start: segment + 6, end: offset + 2 + length)
            }
            offset += 2 + length
        }
        return 1
    }

    /// The orientation tag (0x0112) of IFD0 in the TIFF structure at bytes[start..<end].
    private static func tiffOrientation(_ bytes: [UInt8], start: Int, end: Int) -> Int {
        guard end - start >= 8 else { return 1 }
        let littleEndian: Bool
        switch (bytes[start], bytes[start + 1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return 1
        }
        func read16(_ at: Int) -> Int? {
            guard at >= start, at + 2 <= end else { return nil }
            return littleEndian ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
        }
        func read32(_ at: Int) -> Int? {
            guard let first = read16(at), let second = read16(at + 2) else { return nil }
            return littleEndian ? first | second << 16 : first << 16 | second
        }
        guard read16(start + 2) == 42, let ifd = read32(start + 4), ifd <= end - start, let count = read16(start + ifd) else {
            return 1
        }
        for entry in 0..<count {
            let at = start + ifd + 2 + entry * 12
            guard let tag = read16(at) else { return 1 }
            // A SHORT, held in the first two bytes of the value field.
            if tag == 0x0112, read16(at + 2) == 3, let value = read16(at + 8), (1...8).contains(value) { return value }
        }
        return 1
    }

    /// `image` turned upright as EXIF orientation `orientation` asks.
    static func apply(_ orientation: Int, to image: PixelImage) -> PixelImage {
        guard (2...8).contains(orientation) else { return image }
        let width = image.width, height = image.height, channels = image.layout.bytesPerPixel
        // Orientations 5 to 8 swap the sides.
        let swapped = orientation >= 5
        let outWidth = swapped ? height : width
        let outHeight = swapped ? width : height
        let count = outWidth * outHeight * channels
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            image.pixels.withUnsafeBufferPointer { source in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        // Where the output pixel (x, y) comes from in the stored image.
                        let (sourceX, sourceY): (Int, Int)
                        switch orientation {
                        case 2: (sourceX, sourceY) = (width - 1 - x, y)
                        case 3: (sourceX, sourceY) = (width - 1 - x, height - 1 - y)
                        case 4: (sourceX, sourceY) = (x, height - 1 - y)
                        case 5: (sourceX, sourceY) = (y, x)
                        case 6: (sourceX, sourceY) = (y, height - 1 - x)
                        case 7: (sourceX, sourceY) = (width - 1 - y, height - 1 - x)
                        default: (sourceX, sourceY) = (width - 1 - y, x)
                        }
                        let from = (sourceY * width + sourceX) * channels
                        let to = (y * outWidth + x) * channels
                        for channel in 0..<channels { out[to + channel] = source[from + channel] }
                    }
                }
            }
            initialized = count
        }
        // The count matches by construction.
        return try! PixelImage(width: outWidth, height: outHeight, layout: image.layout, pixels: pixels)
    }
}
