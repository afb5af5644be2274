import FacegateCore
import FacegateImageCodec
import FacegateQuality
import Foundation
import Testing

/// A phone's portrait photo is stored sideways with an EXIF orientation; decoding turns it upright,
/// so the face in it is found. Malformed EXIF data is ignored, never a crash.
@Suite(.timeLimit(.minutes(2)))
struct ExifOrientationTests {
    /// `jpeg` with an APP1 EXIF segment declaring `orientation` (big- or little-endian TIFF) inserted after SOI.
    static func withExif(_ jpeg: [UInt8], orientation: UInt16, bigEndian: Bool = true, tiff: [UInt8]? = nil) -> [UInt8] {
        func u16(_ value: UInt16) -> [UInt8] { bigEndian ? [UInt8(value >> 8), UInt8(value & 0xFF)] : [UInt8(value & 0xFF), UInt8(value >> 8)] }
        func u32(_ value: UInt32) -> [UInt8] { bigEndian ? u16(UInt16(value >> 16)) + u16(UInt16(value & 0xFFFF)) : u16(UInt16(value & 0xFFFF)) + u16(UInt16(value >> 16)) }
        let header: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        // IFD0 at offset 8 with one entry: orientation, SHORT, count 1, the value in the field's first bytes.
        let body = tiff ?? (header + u16(42) + u32(8) + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(orientation) + [0, 0] + u32(0))
        let segment: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + body
        let length = segment.count + 2
        return Array(jpeg.prefix(2)) + [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + segment + Array(jpeg.dropFirst(2))
    }

    @Test("each EXIF orientation turns a phone photo upright", arguments: 1...8)
    func orientation(_ orientation: Int) throws {
        // A real photo, made lopsided (a bright block top-left) so that every turn is told apart.
        var rgb = try ImageCodec.decode(try TestData.bytes(TestData.faces.appendingPathComponent("tom_cruise/01.jpg")))
        rgb = try rgb.resized(width: 120, height: 80)
        var pixels = rgb.pixels
        for y in 0..<20 { for x in 0..<30 { for c in 0..<3 { pixels[(y * 120 + x) * 3 + c] = 255 } } }
        rgb = try PixelImage(width: 120, height: 80, layout: .rgb24, pixels: pixels)
        let plain = try ImageCodec.encodeJPEG(rgb, quality: 95)
        let stored = try ImageCodec.decode(plain)

        for bigEndian in [true, false] {
            let decoded = try ImageCodec.decode(Self.withExif(plain, orientation: UInt16(orientation), bigEndian: bigEndian))
            let sidesSwap = orientation >= 5
            #expect(decoded.width == (sidesSwap ? 80 : 120) && decoded.height == (sidesSwap ? 120 : 80))
            // Where the bright block (stored top-left) ends up.
            let corner: (x: Int, y: Int) =
                switch orientation {
                case 1, 5: (0, 0)
                case 2, 6: (decoded.width - 1, 0)
                case 3, 7: (decoded.width - 1, decoded.height - 1)
                default: (0, decoded.height - 1)
                }
            let at = (corner.y * decoded.width + corner.x) * 3
            #expect(decoded.pixels[at] > 240, "orientation \(orientation): the stored top-left is not at \(corner)")
            #expect(decoded.pixels.count == stored.pixels.count)
        }
    }

    @Test func aPortraitPhoneImageIsUprightAndItsFaceFound() throws {
        // Stored 640x480 with orientation 6 (pad.csv: a webcam sample from the Silent-Face repository).
        let image = try ImageCodec.decode(try TestData.bytes(TestData.root.appendingPathComponent("pad/bonafide/silentface__image_T1.jpg")))
        #expect(image.width == 480 && image.height == 640)
        #expect(try SharedAnalyzer.frames.analyze(image).faces.count == 1)
    }

    @Test func malformedExifIsIgnored() throws {
        let plain = try ImageCodec.encodeJPEG(try ImageCodec.decode(try TestData.bytes(TestData.faces.appendingPathComponent("tom_cruise/01.jpg"))))
        let reference = try ImageCodec.decode(plain)
        let hostile: [[UInt8]] = [
            [],  // no TIFF header at all
            [0x4D, 0x4D, 0, 42, 0xFF, 0xFF, 0xFF, 0xF0],  // IFD0 far outside the segment
            [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0xFF, 0xFF],  // 65535 entries in a 10-byte segment
            [0x58, 0x58, 0, 42, 0, 0, 0, 8],  // neither byte order
            [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0],  // orientation 9
        ]
        for tiff in hostile {
            let decoded = try ImageCodec.decode(Self.withExif(plain, orientation: 1, tiff: tiff))
            #expect(decoded == reference)
        }
        // A segment length running past the file's end.
        var truncated = Self.withExif(plain, orientation: 6)
        truncated[5] = 0xFF
        #expect(throws: ImageError.self) { try ImageCodec.decode(Array(truncated.prefix(40))) }
    }
}
