import FacegateCore
import Foundation
import Testing

@Suite(.timeLimit(.minutes(5)))
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

@Suite(.timeLimit(.minutes(5)))
struct FaceDescriptorTests {
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
