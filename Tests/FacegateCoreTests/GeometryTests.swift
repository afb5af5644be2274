import FacegateCore
import Foundation
import Testing

struct GeometryTests {
    @Test func overlapOfIdenticalBoxesIsOne() {
        let box = PixelBox(left: 10, top: 10, right: 110, bottom: 110)
        #expect(box.overlap(with: box) == 1)
    }

    @Test func overlapOfDisjointBoxesIsZero() {
        let a = PixelBox(left: 0, top: 0, right: 10, bottom: 10)
        let b = PixelBox(left: 20, top: 20, right: 30, bottom: 30)
        #expect(a.overlap(with: b) == 0)
        #expect(a.intersection(b) == nil)
    }

    @Test func overlapOfHalfShiftedBoxes() {
        let a = PixelBox(left: 0, top: 0, right: 10, bottom: 10)
        let b = PixelBox(left: 5, top: 0, right: 15, bottom: 10)
        // 50 shared over 150 in the union.
        #expect(abs(a.overlap(with: b) - 1.0 / 3.0) < 1e-9)
    }

    @Test func insideAndClamped() {
        let box = PixelBox(left: -5, top: 2, right: 50, bottom: 60)
        #expect(!box.isInside(width: 100, height: 100))
        let clamped = box.clamped(width: 40, height: 100)
        #expect(clamped == PixelBox(left: 0, top: 2, right: 40, bottom: 60))
        #expect(clamped.isInside(width: 40, height: 100))
    }
}

struct FaceAttributesDecodingTests {
    @Test func decodesNECStringsAndNumbers() throws {
        let json = """
            {"faceArea": {"left": "161", "top": "156", "right": "318", "bottom": "313"},
             "headArea": {"left": 131, "top": 86, "right": 345, "bottom": 343},
             "rightEyeCenter": {"x": "195", "y": "198"}, "leftEyeCenter": {"x": "276", "y": "191"},
             "frontalFaceScore": "0.569824", "faceRoll": "4.93922", "facePan": "-9.34863", "faceTilt": 7.613,
             "faceScore": "0.999591", "faceQualityScore": "0.86541"}
            """
        let attributes = try JSONDecoder().decode(FaceAttributes.self, from: Data(json.utf8))
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
            try JSONDecoder().decode(FaceAttributes.self, from: Data(json.utf8))
        }
    }

    @Test func descriptorRejectsWrongDimensionAndNonFinite() throws {
        #expect(throws: ImageError.self) { try FaceDescriptor([1, 2, 3]) }
        var values = [Float](repeating: 0, count: 128)
        values[3] = .nan
        #expect(throws: ImageError.self) { try FaceDescriptor(values) }
        let zero = try FaceDescriptor([Float](repeating: 0, count: 128))
        var ones = [Float](repeating: 0, count: 128)
        ones[0] = 3
        ones[1] = 4
        #expect(zero.distance(to: try FaceDescriptor(ones)) == 5)
    }
}
