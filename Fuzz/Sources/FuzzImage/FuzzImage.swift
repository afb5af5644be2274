import FacegateImageCodec

/// The camera and replay decoders on arbitrary bytes: `ImageCodec.decode` sniffs JPEG or PNG and decodes
/// it with libturbojpeg or libpng; `ImageCodec.decodeFrame` decodes a camera's MJPEG frame (warnings it
/// decodes whole accepted, a missing end marker put back) at the size its frame header states, as the
/// camera path does at the negotiated size. A thrown `ImageError` is a refusal (fine); a trap or a
/// memory error is a finding. The `jpeg` and `png` targets run this with their own seed corpora.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let image = try ImageCodec.decode(bytes)
        // The decoded image must be what it claims: width x height RGB pixels.
        precondition(image.pixels.count == image.width * image.height * image.layout.bytesPerPixel)
    } catch {
        _ = error.description.utf8.count
    }
    let (width, height) = frameHeaderSize(bytes) ?? (640, 480)
    if let frame = bytes.withUnsafeBytes({ try? ImageCodec.decodeFrame($0, width: width, height: height) }) {
        precondition(frame.width == width && frame.height == height && frame.pixels.count == width * height * 3)
    }
    return 0
}

/// The width and height in the first SOF0-SOF2 segment, read as a camera's negotiated size would be.
private func frameHeaderSize(_ bytes: [UInt8]) -> (Int, Int)? {
    var i = 2
    while i + 8 < bytes.count, bytes[i] == 0xFF {
        if (0xC0...0xC2).contains(bytes[i + 1]) {
            return (Int(bytes[i + 7]) << 8 | Int(bytes[i + 8]), Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]))
        }
        i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
    }
    return nil
}
