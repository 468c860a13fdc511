import Foundation
import ResNet
import Testing

/// Transforms against Pillow (resize, from the fixture script) and against hand-computed values.
struct ImageTransformTests {
  @Test(arguments: ImageDecoderTests.manifest.resize.map { "\($0.mode) \($0.width)x\($0.height)" })
  func resizeMatchesPillow(_ label: String) throws {
    let entry = ImageDecoderTests.manifest.resize.first {
      "\($0.mode) \($0.width)x\($0.height)" == label
    }!
    let source = try ImageDecoder().decode(contentsOf: ImageDecoderTests.path("resize_source.png"))
      .converted(to: ColorMode(rawValue: entry.mode)!)
    let resized = source.resized(width: entry.width, height: entry.height)
    let expected = try ImageDecoderTests.bytes(entry.expected)
    #expect(resized.width == entry.width && resized.height == entry.height)
    // Same arithmetic as Pillow, so the same bytes (the issue allows 1 level; none is needed).
    #expect(resized.pixels == expected)
  }

  @Test func shorterSideKeepsAspectLikeTorchvision() {
    let image = Image(width: 37, height: 23, mode: .gray, repeating: 9)
    let r = image.resized(shorterSide: 10)
    #expect(r.width == 16 && r.height == 10)  // int(10 * 37 / 23) = int(16.08…)
    #expect(r.pixels.allSatisfy { $0 == 9 })  // weights sum to one: a flat image stays flat
    let tall = Image(width: 3, height: 10, mode: .gray).resized(shorterSide: 4)
    #expect(tall.width == 4 && tall.height == 13)  // int(4 * 10 / 3) = 13
  }

  /// A 4×3 gray image holding 0…11, row by row.
  static let ramp = Image(width: 4, height: 3, mode: .gray, pixels: (0..<12).map { UInt8($0) })

  /// `prepare` computes only the cropped window of the resize: the same bytes as resizing the whole
  /// image and then cropping, for upscales, downscales, crops larger than the image and odd offsets.
  @Test func preparedWindowEqualsResizeThenCrop() {
    var generator = SeededGenerator(seed: 5)
    for trial in 0..<60 {
      let mode: ColorMode = trial % 2 == 0 ? .gray : .rgb
      let (w, h) = (1 + generator.next(below: 70), 1 + generator.next(below: 70))
      let pixels = (0..<w * h * mode.channels).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      let image = Image(width: w, height: h, mode: mode, pixels: pixels)
      let resize = 1 + generator.next(below: 48)
      let (cw, ch) = (1 + generator.next(below: 56), 1 + generator.next(below: 56))
      let p = Preprocessing(
        color: mode, resize: resize, height: ch, width: cw, mean: Array(repeating: 0, count: mode.channels),
        std: Array(repeating: 1, count: mode.channels))
      let expected = image.resized(shorterSide: resize).centerCropped(width: cw, height: ch)
      #expect(p.prepare(image) == expected, "\(w)×\(h) → shorter side \(resize), crop \(cw)×\(ch)")
    }
  }

  /// A 1 × 400,000 strip resized to a shorter side of 256 would be 256 × 102 million pixels; the
  /// window costs 224 × 224. At a size where the full resize is affordable (a 1 × 300 strip), the
  /// window equals the crop of the full resize.
  @Test func extremeAspectRatiosStayBounded() {
    let strip = Image(width: 1, height: 400_000, mode: .gray, pixels: (0..<400_000).map { UInt8($0 % 251) })
    let p = Preprocessing(color: .gray, resize: 256, height: 224, width: 224, mean: [0], std: [1])
    let prepared = p.prepare(strip)
    #expect(prepared.width == 224 && prepared.height == 224)
    let small = Image(width: 1, height: 300, mode: .gray, pixels: (0..<300).map { UInt8($0 % 251) })
    #expect(p.prepare(small) == small.resized(shorterSide: 256).centerCropped(width: 224, height: 224))
  }

  @Test func centerCropRoundsHalfToEvenAndPads() {
    // (4 − 1) / 2 = 1.5 → 2 and (3 − 2) / 2 = 0.5 → 0, as Python's round() gives.
    #expect(Self.ramp.centerCropped(width: 1, height: 2).pixels == [2, 6])
    // Larger than the image: zero padding around it, offset round(-0.5) = 0 and round(-1) = -1.
    let padded = Self.ramp.centerCropped(width: 5, height: 5)
    #expect(padded.pixels[0..<5] == [0, 0, 0, 0, 0])
    #expect(padded.pixels[5..<10] == [0, 1, 2, 3, 0])
    #expect(padded.pixels[20..<25] == [0, 0, 0, 0, 0])
  }

  @Test func cropWithPaddingAndFlip() {
    let crop = Self.ramp.cropped(left: -1, top: 1, width: 3, height: 3)
    #expect(crop.pixels == [0, 4, 5, 0, 8, 9, 0, 0, 0])
    #expect(Self.ramp.flippedHorizontally().pixels == [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8])
    let rgb = Image(width: 2, height: 1, mode: .rgb, pixels: [1, 2, 3, 4, 5, 6])
    #expect(rgb.flippedHorizontally().pixels == [4, 5, 6, 1, 2, 3])
  }

  @Test func conversionUsesPillowsLuma() {
    let rgb = Image(width: 3, height: 1, mode: .rgb, pixels: [255, 0, 0, 0, 255, 0, 10, 20, 30])
    // (19595·255 + 2¹⁵) >> 16 = 76, (38470·255 + 2¹⁵) >> 16 = 150, (…) = 18.
    #expect(rgb.converted(to: .gray).pixels == [76, 150, 18])
    #expect(rgb.converted(to: .gray).converted(to: .rgb).pixels == [76, 76, 76, 150, 150, 150, 18, 18, 18])
  }

  @Test func normalizeWritesPlanes() {
    let rgb = Image(width: 2, height: 1, mode: .rgb, pixels: [0, 51, 255, 255, 102, 0])
    var out = [Float](repeating: .nan, count: 6)
    rgb.normalize(into: &out, mean: [0.5, 0.2, 0.1], std: [0.5, 0.1, 2])
    let expected: [Float] = [-1, 1, (0.2 - 0.2) / 0.1, (0.4 - 0.2) / 0.1, (1 - 0.1) / 2, (0 - 0.1) / 2]
    for (a, b) in zip(out, expected) { #expect(abs(a - b) < 1e-6) }
  }
}
