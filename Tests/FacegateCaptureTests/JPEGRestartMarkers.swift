/// Puts restart markers into a baseline JPEG without re-encoding its pixels, as `jpegtran -restart`
/// does: libturbojpeg 2.1's tj API has no restart option, and the package links only that API.
/// The Huffman-coded blocks are read and written back with the stream's own tables; only the DC
/// predictor, which every restart resets, is coded afresh. Only what `ImageCodec.encodeJPEG` writes
/// (one interleaved baseline scan, no restart markers yet) is handled.
enum JPEGRestartMarkers {
    struct Unsupported: Error, CustomStringConvertible {
        let description: String
    }

    /// The stream with a restart marker every `interval` MCUs (DRI written before the scan).
    static func insert(into jpeg: [UInt8], every interval: Int) throws -> [UInt8] {
        var tables: [Int: HuffmanTable] = [:]  // class (0 DC, 1 AC) << 4 | id
        var components: [Int: (h: Int, v: Int)] = [:]
        var width = 0, height = 0
        var output: [UInt8] = [0xFF, 0xD8]
        var i = 2
        while i + 4 <= jpeg.count {
            guard jpeg[i] == 0xFF else { throw Unsupported(description: "no marker at \(i)") }
            let marker = jpeg[i + 1]
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            let segment = Array(jpeg[(i + 4)..<(i + 2 + length)])
            if marker != 0xDA { output += jpeg[i..<(i + 2 + length)] }
            switch marker {
            case 0xC0:
                height = Int(segment[1]) << 8 | Int(segment[2])
                width = Int(segment[3]) << 8 | Int(segment[4])
                for c in 0..<Int(segment[5]) {
                    let sampling = segment[7 + 3 * c]
                    components[Int(segment[6 + 3 * c])] = (Int(sampling >> 4), Int(sampling & 0x0F))
                }
            case 0xC4:
                var j = 0
                while j < segment.count {
                    let counts = segment[(j + 1)..<(j + 17)].map(Int.init)
                    let total = counts.reduce(0, +)
                    tables[Int(segment[j])] = HuffmanTable(counts: counts, symbols: Array(segment[(j + 17)..<(j + 17 + total)]))
                    j += 17 + total
                }
            case 0xC1...0xC3, 0xC5...0xCF, 0xDD:
                throw Unsupported(description: "marker 0x\(String(marker, radix: 16)) (only baseline, without restarts)")
            case 0xDA:
                output += [0xFF, 0xDD, 0x00, 0x04, UInt8(interval >> 8), UInt8(interval & 0xFF)]
                output += jpeg[i..<(i + 2 + length)]
                let scan = (0..<Int(segment[0])).map { (id: Int(segment[1 + 2 * $0]), tables: Int(segment[2 + 2 * $0])) }
                guard scan.count > 1 else { throw Unsupported(description: "a scan of one component") }
                let maxH = scan.map { components[$0.id]!.h }.max()!, maxV = scan.map { components[$0.id]!.v }.max()!
                let mcus = ((width + 8 * maxH - 1) / (8 * maxH)) * ((height + 8 * maxV - 1) / (8 * maxV))
                // Each block of each MCU, in scan order: which table pair codes it.
                let blockTables = scan.flatMap { entry in
                    Array(repeating: (dc: tables[entry.tables >> 4]!, ac: tables[16 | entry.tables & 0x0F]!, component: entry.id),
                          count: components[entry.id]!.h * components[entry.id]!.v)
                }
                var reader = BitReader(bytes: jpeg, position: i + 2 + length)
                var writer = BitWriter()
                var readPrediction: [Int: Int] = [:], writtenPrediction: [Int: Int] = [:]
                for mcu in 0..<mcus {
                    if mcu > 0, mcu % interval == 0 {
                        writer.restart(UInt8(0xD0 + (mcu / interval - 1) % 8))
                        writtenPrediction = [:]
                    }
                    for block in blockTables {
                        // DC: decode the difference, re-code it against the predictor after restarts.
                        let category = Int(try block.dc.decode(&reader))
                        let dc = (readPrediction[block.component] ?? 0) + extend(try reader.bits(category), category)
                        readPrediction[block.component] = dc
                        let difference = dc - (writtenPrediction[block.component] ?? 0)
                        writtenPrediction[block.component] = dc
                        let size = difference == 0 ? 0 : Int.bitWidth - abs(difference).leadingZeroBitCount
                        try block.dc.encode(UInt8(size), &writer)
                        writer.write(difference >= 0 ? difference : difference + (1 << size) - 1, count: size)
                        // AC: copied symbol for symbol.
                        var k = 1
                        while k < 64 {
                            let symbol = try block.ac.decode(&reader)
                            let run = Int(symbol >> 4), size = Int(symbol & 0x0F)
                            try block.ac.encode(symbol, &writer)
                            if size == 0 {
                                if run != 15 { break }
                                k += 16
                                continue
                            }
                            writer.write(try reader.bits(size), count: size)
                            k += run + 1
                        }
                    }
                }
                output += writer.finish()
                output += [0xFF, 0xD9]
                return output
            default: break
            }
            i += 2 + length
        }
        throw Unsupported(description: "no scan")
    }

    private static func extend(_ value: Int, _ size: Int) -> Int {
        size > 0 && value < 1 << (size - 1) ? value - (1 << size) + 1 : value
    }

    struct HuffmanTable {
        private var codes: [UInt8: (code: Int, length: Int)] = [:]
        private var symbolsByCode: [Int: [Int: UInt8]] = [:]  // length → code → symbol

        init(counts: [Int], symbols: [UInt8]) {
            var code = 0, next = 0
            for length in 1...16 {
                for _ in 0..<counts[length - 1] {
                    codes[symbols[next]] = (code, length)
                    symbolsByCode[length, default: [:]][code] = symbols[next]
                    code += 1
                    next += 1
                }
                code <<= 1
            }
        }

        func decode(_ reader: inout BitReader) throws -> UInt8 {
            var code = 0
            for length in 1...16 {
                code = code << 1 | (try reader.bits(1))
                if let symbol = symbolsByCode[length]?[code] { return symbol }
            }
            throw Unsupported(description: "no Huffman code matches")
        }

        func encode(_ symbol: UInt8, _ writer: inout BitWriter) throws {
            guard let entry = codes[symbol] else { throw Unsupported(description: "symbol \(symbol) not in the table") }
            writer.write(entry.code, count: entry.length)
        }
    }

    /// Entropy-coded bits, with the 0x00 stuffed after each 0xFF taken out.
    struct BitReader {
        let bytes: [UInt8]
        var position: Int
        private var buffer = 0, count = 0

        init(bytes: [UInt8], position: Int) {
            self.bytes = bytes
            self.position = position
        }

        mutating func bits(_ n: Int) throws -> Int {
            while count < n {
                guard position < bytes.count, !(bytes[position] == 0xFF && bytes[position + 1] != 0) else {
                    throw Unsupported(description: "the scan ended early")
                }
                buffer = buffer << 8 | Int(bytes[position])
                position += bytes[position] == 0xFF ? 2 : 1
                count += 8
            }
            count -= n
            let value = (buffer >> count) & ((1 << n) - 1)
            buffer &= (1 << count) - 1
            return value
        }
    }

    struct BitWriter {
        private(set) var bytes: [UInt8] = []
        private var buffer = 0, count = 0

        mutating func write(_ value: Int, count n: Int) {
            for bit in stride(from: n - 1, through: 0, by: -1) {
                buffer = buffer << 1 | (value >> bit) & 1
                count += 1
                if count == 8 { flushByte() }
            }
        }

        /// Pads the byte with ones, as the standard asks, then writes RSTn.
        mutating func restart(_ marker: UInt8) {
            pad()
            bytes += [0xFF, marker]
        }

        mutating func finish() -> [UInt8] {
            pad()
            return bytes
        }

        private mutating func pad() {
            while count != 0 { write(1, count: 1) }
        }

        private mutating func flushByte() {
            bytes.append(UInt8(buffer))
            if buffer == 0xFF { bytes.append(0) }
            buffer = 0
            count = 0
        }
    }
}
