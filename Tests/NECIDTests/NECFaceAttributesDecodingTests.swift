import FacegateCore
@testable import FacegateIdentify
import Foundation
import Testing

/// NEC ID sends every face attribute as a number or as a string holding one; its client reads both.
/// (FacegateCore's own types decode plain numbers: the quirk is this service's.)
@Suite(.timeLimit(.minutes(5)))
struct NECFaceAttributesDecodingTests {
    func decodeNEC(_ json: String) throws -> FaceAttributes {
        try JSONDecoder().decode(NECWireFaceAttributes.self, from: Data(json.utf8)).value
    }

    @Test func decodesNECStringsAndNumbers() throws {
        let json = """
            {"faceArea": {"left": "161", "top": "156", "right": "318", "bottom": "313"},
             "headArea": {"left": 131, "top": 86, "right": 345, "bottom": 343},
             "rightEyeCenter": {"x": "195", "y": "198"}, "leftEyeCenter": {"x": "276", "y": "191"},
             "frontalFaceScore": "0.569824", "faceRoll": "4.93922", "facePan": "-9.34863", "faceTilt": 7.613,
             "faceScore": "0.999591", "faceQualityScore": "0.86541"}
            """
        let attributes = try decodeNEC(json)
        #expect(attributes.faceArea == PixelBox(left: 161, top: 156, right: 318, bottom: 313))
        #expect(attributes.headArea.right == 345)
        #expect(attributes.facePan == -9.34863)
        #expect(attributes.faceTilt == 7.613)
        #expect(attributes.faceQualityScore == 0.86541)
    }

    @Test func rejectsNonNumericStrings() {
        let json = """
            {"faceArea": {"left": "x", "top": "1", "right": "2", "bottom": "3"},
             "headArea": {"left": 1, "top": 1, "right": 2, "bottom": 2},
             "rightEyeCenter": {"x": 1, "y": 1}, "leftEyeCenter": {"x": 1, "y": 1},
             "frontalFaceScore": 1, "faceRoll": 1, "facePan": 1, "faceTilt": 1, "faceScore": 1, "faceQualityScore": 1}
            """
        #expect(throws: DecodingError.self) {
            try decodeNEC(json)
        }
    }

    @Test func aSearchReplyReadsTheProbesAttributesEitherWay() throws {
        let json = """
            {"candidates": [], "attributes": {"faceArea": {"left": "1", "top": 2, "right": "3", "bottom": 4},
             "headArea": {"left": 1, "top": 1, "right": 2, "bottom": 2},
             "rightEyeCenter": {"x": "1", "y": 1}, "leftEyeCenter": {"x": 1, "y": "1"},
             "frontalFaceScore": "1", "faceRoll": 1, "facePan": 1, "faceTilt": 1, "faceScore": 1, "faceQualityScore": "0.5"}}
            """
        let result = try JSONDecoder().decode(NECSearchResult.self, from: Data(json.utf8))
        #expect(result.attributes?.faceArea == PixelBox(left: 1, top: 2, right: 3, bottom: 4))
        #expect(result.attributes?.faceQualityScore == 0.5)
    }

    /// The Swagger's `Attributes` requires none of its fields, and the door never reads the probe's: a search
    /// answer whose attributes lack one or hold one unreadable is still its candidates (review: the whole
    /// reply was refused as malformed, a failed search, and the enrolled person at the door refused).
    @Test(arguments: [#""faceTilt": 1, "faceScore": 1"#, #""faceTilt": "", "faceScore": 1"#, #""faceTilt": "nan", "faceScore": 1"#])
    func aSearchAnswerIsItsCandidatesWhateverTheProbesAttributes(tilt: String) throws {
        let json = """
            {"candidates": [{"id": "alice", "score": 9100, "events": [{"id": "e1", "score": 9100}]}], "attributes": {"faceArea": {"left": 1, "top": 2, "right": 3, "bottom": 4},
             "rightEyeCenter": {"x": 1, "y": 1}, "leftEyeCenter": {"x": 1, "y": 1},
             "frontalFaceScore": 1, "faceRoll": 1, "facePan": 1, \(tilt), "faceQualityScore": 0.5}}
            """
        let result = try JSONDecoder().decode(NECSearchResult.self, from: Data(json.utf8))
        #expect(result.candidates.map(\.id) == ["alice"])
        #expect(result.attributes == nil, "no headArea: not all readable")
    }
}
