import FacegateImageCodec

/// The camera and replay decoder on arbitrary bytes: `ImageCodec.decode` sniffs JPEG or PNG and decodes
/// it with libturbojpeg or libpng. A thrown `ImageError` is a refusal (fine); a trap or a memory error is
/// a finding. The `jpeg` and `png` targets run this with their own seed corpora.
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
    return 0
}
