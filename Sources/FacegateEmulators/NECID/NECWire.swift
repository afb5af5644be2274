import FacegateCore
import Foundation

/// Face attributes as NEC ID sends them: every number a JSON string.
struct NECWireAttributes: Codable, Sendable {
    struct Box: Codable, Sendable {
        var left, top, right, bottom: String
    }

    struct Point: Codable, Sendable {
        var x, y: String
    }

    var faceArea: Box
    var headArea: Box
    var rightEyeCenter: Point
    var leftEyeCenter: Point
    var frontalFaceScore: String
    var faceRoll: String
    var facePan: String
    var faceTilt: String
    var faceScore: String
    var faceQualityScore: String

    init(_ attributes: FaceAttributes) {
        func pixel(_ value: Double) -> String { String(Int(value.rounded())) }
        func box(_ b: PixelBox) -> Box { Box(left: pixel(b.left), top: pixel(b.top), right: pixel(b.right), bottom: pixel(b.bottom)) }
        func point(_ p: PixelPoint) -> Point { Point(x: pixel(p.x), y: pixel(p.y)) }
        func number(_ value: Double) -> String { String(format: "%g", value) }
        faceArea = box(attributes.faceArea)
        headArea = box(attributes.headArea)
        rightEyeCenter = point(attributes.rightEyeCenter)
        leftEyeCenter = point(attributes.leftEyeCenter)
        frontalFaceScore = number(attributes.frontalFaceScore)
        faceRoll = number(attributes.faceRoll)
        facePan = number(attributes.facePan)
        faceTilt = number(attributes.faceTilt)
        faceScore = number(attributes.faceScore)
        faceQualityScore = number(attributes.faceQualityScore)
    }
}

/// A reply from the emulator before it becomes an HTTP response.
struct NECReply: Sendable {
    var status: Int
    var body: [UInt8]

    static func json(_ status: Int, _ value: some Encodable) -> NECReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return NECReply(status: status, body: Array((try? encoder.encode(value)) ?? Data("{}".utf8)))
    }

    static func empty(_ status: Int) -> NECReply { NECReply(status: status, body: []) }

    static func message(_ status: Int, _ text: String) -> NECReply {
        json(status, ["message": text])
    }

    /// The documented error body `{message, errorCode, errorType}`.
    static func error(_ kind: NECServiceError, _ text: String, status: Int = 400) -> NECReply {
        struct Body: Encodable {
            var message: String
            var errorCode: Int
            var errorType: String
        }
        return json(status, Body(message: text, errorCode: kind.rawValue, errorType: kind.name))
    }
}

/// NEC ID's error codes and types.
enum NECServiceError: Int, Sendable {
    case invalidRequest = 1001
    case duplicate = 1002
    case timeout = 1003
    case noFace = 2001
    case poorQuality = 2002
    case multipleFaces = 2003

    var name: String {
        switch self {
        case .invalidRequest: "InvalidRequest"
        case .duplicate: "Duplicate"
        case .timeout: "Timeout"
        case .noFace: "NoFace"
        case .poorQuality: "PoorQuality"
        case .multipleFaces: "MultipleFaces"
        }
    }
}

/// Thrown inside handlers to answer with an error reply.
struct NECRejection: Error {
    let reply: NECReply

    init(_ reply: NECReply) { self.reply = reply }

    static func invalid(_ text: String) -> NECRejection { NECRejection(.error(.invalidRequest, text)) }
}
