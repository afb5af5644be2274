import Foundation
import FacegateTesting

/// The shared test data (`SharedTestData`), as the NEC tests read it.
enum TestData {
    static var root: URL { SharedTestData.root }

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: url(relative)))
    }

    static func text(_ url: URL) throws -> String {
        String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }
}

/// A face photo of the shared test data.
func face(_ relative: String) throws -> [UInt8] { try TestData.bytes("faces/" + relative) }
