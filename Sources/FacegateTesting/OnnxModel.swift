// Test support: ONNX models written by the tests themselves, to check what the liveness stage takes.

/// Just enough of the ONNX protobuf (onnx.proto, ir_version 7, opset 11) to write a chain of operators
/// without attributes or weights.
public enum OnnxModel {
    struct Message {
        var encoded: [UInt8] = []

        mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                encoded.append(UInt8(value & 0x7f) | 0x80)
                value >>= 7
            }
            encoded.append(UInt8(value))
        }

        mutating func int(_ field: UInt64, _ value: Int) {
            varint(field << 3)
            varint(UInt64(value))
        }

        mutating func bytes(_ field: UInt64, _ bytes: [UInt8]) {
            varint(field << 3 | 2)
            varint(UInt64(bytes.count))
            encoded += bytes
        }

        mutating func string(_ field: UInt64, _ text: String) { bytes(field, Array(text.utf8)) }

        mutating func message(_ field: UInt64, _ build: (inout Message) -> Void) {
            var inner = Message()
            build(&inner)
            bytes(field, inner.encoded)
        }
    }

    /// The 1x3x80x80 input through `operators` in a chain to a 1x3 output (the texture models' shapes).
    public static func chain(_ operators: [String]) -> [UInt8] {
        var model = Message()
        model.int(1, 7)  // ir_version
        model.message(8) { $0.int(2, 11) }  // opset_import: the default domain, version 11
        model.message(7) { graph in
            for (index, op) in operators.enumerated() {
                graph.message(1) { node in
                    node.string(1, index == 0 ? "input" : "t\(index - 1)")
                    node.string(2, index == operators.count - 1 ? "output" : "t\(index)")
                    node.string(3, "node\(index)")
                    node.string(4, op)
                }
            }
            graph.string(2, "chain")
            graph.message(11) { valueInfo(&$0, name: "input", dimensions: [1, 3, 80, 80]) }
            graph.message(12) { valueInfo(&$0, name: "output", dimensions: [1, 3]) }
        }
        return model.encoded
    }

    /// A float tensor's name and shape (ValueInfoProto).
    static func valueInfo(_ info: inout Message, name: String, dimensions: [Int]) {
        info.string(1, name)
        info.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, 1)  // FLOAT
                tensor.message(2) { shape in
                    for dimension in dimensions { shape.message(1) { $0.int(1, dimension) } }
                }
            }
        }
    }
}
