import CKernels
import ResNetKernels
import Testing

/// The bf16 Winograd transforms (the forward's input transform, the weight gradient's output-gradient
/// transform) round to bf16 by AVX512_BF16's vcvtneps2bf16 where the CPU has it and by the software
/// rounding elsewhere: both must give rn_bf16_round's bits on every kind of value.
@Suite struct WinogradBF16RoundingTests {
  /// A sparse plane (most entries zero, so that many of V's entries are one input, ±) of NaNs with payloads,
  /// infinities, denormals, rounding ties, the largest float (which rounds to infinity) and plain values.
  static func input(channels: Int, height: Int, width: Int) -> [Float] {
    let specials: [Float] = [
      Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFF80_0001), Float(bitPattern: 0x7F80_8000), .infinity,
      -.infinity, 0x1p-130, -0x1p-140, Float(bitPattern: 0x0000_0001), 1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 5 * 0x1p-8),
      Float(bitPattern: 0x7F7F_FFFF), -Float(bitPattern: 0x7F7F_FFFF), 0x1p-126, -0.0, 3.140625, -2.71875e-3,
    ]
    var random = SeededGenerator(seed: 5)
    return (0..<(channels * height * width)).map { _ in
      let pick = Int(random.next() % 100)
      return pick < 60 ? 0 : pick < 85 ? specials[Int(random.next() % UInt64(specials.count))] : random.nextNormal()
    }
  }

  /// Whether two words hold the same pair of bf16 halves, a NaN matching any NaN: which operand's NaN an
  /// addition passes on (and so its sign) is the compiler's choice in each transform and ISA level.
  static func same(_ a: UInt32, _ b: UInt32) -> Bool {
    func isNaN(_ h: UInt32) -> Bool { h & 0x7F80 == 0x7F80 && h & 0x7F != 0 }
    return [0, 16].allSatisfy { shift in
      let (x, y) = (a >> shift & 0xFFFF, b >> shift & 0xFFFF)
      return x == y || (isNaN(x) && isNaN(y))
    }
  }

  @Test(
    "V in bf16 pair rows and in bf16 rows is rn_bf16_round of the float32 V, natively and in software, on NaN, ∞, denormals, ties"
  )
  func pairRowsMatchTheScalarRounding() {
    let (channels, height, width) = (5, 9, 10)  // an odd channel count: the last pair's high halves are zero
    let tiles = (height + 1) / 2 * ((width + 1) / 2)
    let (first, end) = (2, tiles)  // a range not from the first tile
    let ldv = tiles + 32  // the transforms' slack
    let x = Self.input(channels: channels, height: height, width: width)
    // The float32 V: 16 × C × ldv.
    var v = [Float](repeating: 0, count: 16 * channels * ldv)
    rn_winograd_input(x, channels, height, width, first, end, &v, ldv, channels * ldv)
    let pairs = (channels + 1) / 2
    var want = [UInt32](repeating: 0, count: 16 * pairs * ldv)
    for xi in 0..<16 {
      for c in 0..<channels {
        for t in 0..<(end - first) {
          let half = UInt32(rn_bf16_round(v[(xi * channels + c) * ldv + t]))
          want[(xi * pairs + c / 2) * ldv + t] |= c % 2 == 0 ? half : half << 16
        }
      }
    }
    for native: Int32 in BF16Kernel.nativeAvailable ? [1, 0] : [0] {
      var words = [UInt32](repeating: 0xDEAD_BEEF, count: 16 * pairs * ldv)
      words.withUnsafeMutableBytes { target in
        rn_winograd_input_bf16(x, channels, height, width, first, end, target.baseAddress!, ldv, pairs * ldv, native)
      }
      var wrong = 0
      for xi in 0..<16 {
        for p in 0..<pairs {
          for t in 0..<(end - first)
          where !Self.same(words[(xi * pairs + p) * ldv + t], want[(xi * pairs + p) * ldv + t]) {
            wrong += 1
          }
        }
      }
      #expect(wrong == 0, "native \(native): \(wrong) wrong words")
      // V in bf16 rows (the weight gradient's): 16 × C rows of ldh halves, an odd count (the matrices'
      // stride must be even: one more).
      let ldh = ldv
      let matrixHalves = channels * ldh + 1
      var halves = [UInt16](repeating: 0xBEEF, count: 16 * matrixHalves)
      rn_winograd_input_bf16_rows(x, channels, height, width, first, end, &halves, ldh, matrixHalves, native)
      var wrongHalves = 0
      for xi in 0..<16 {
        for c in 0..<channels {
          for t in 0..<(end - first) {
            let got = halves[xi * matrixHalves + c * ldh + t]
            if !Self.same(UInt32(got), UInt32(rn_bf16_round(v[(xi * channels + c) * ldv + t]))) { wrongHalves += 1 }
          }
        }
      }
      #expect(wrongHalves == 0, "native \(native): \(wrongHalves) wrong halves")
    }
  }

  @Test("dM in bf16 pair rows is rn_bf16_round of the float32 dM, natively and in software, from any column")
  func gradientPairRowsMatchTheScalarRounding() {
    let (channels, height, width) = (21, 7, 9)  // a vector of channels and a scalar tail; odd tile rows
    let tiles = (height + 1) / 2 * ((width + 1) / 2)
    let (first, end) = (3, tiles)
    // The output gradient laid out pixel by pixel, as the weight gradient transposes it.
    let dy = Self.input(channels: 1, height: height * width, width: channels)
    var dm = [Float](repeating: 0, count: 16 * tiles * channels)  // 16 × tiles × C
    rn_winograd_gradient_output(dy, channels, height, width, first, end, &dm, tiles * channels)
    let ms = (tiles + 2) / 2 * channels  // words per ξ: the pair rows of tiles + 1 columns
    for firstColumn in [0, 1] {
      // Tile t goes to column firstColumn + t − first: its half of pair row column / 2.
      var want = [UInt32](repeating: 0, count: 16 * ms)
      for xi in 0..<16 {
        for t in 0..<(end - first) {
          let column = firstColumn + t
          for o in 0..<channels {
            let half = UInt32(rn_bf16_round(dm[(xi * tiles + t) * channels + o]))
            want[xi * ms + column / 2 * channels + o] |= column % 2 == 0 ? half : half << 16
          }
        }
      }
      for native: Int32 in BF16Kernel.nativeAvailable ? [1, 0] : [0] {
        // An odd first column adds its halves to the low ones written before (here: zeros).
        var words = [UInt32](repeating: firstColumn == 0 ? 0xDEAD_BEEF : 0, count: 16 * ms)
        words.withUnsafeMutableBytes { target in
          rn_winograd_gradient_output_bf16(
            dy, channels, height, width, first, end, target.baseAddress!, ms, firstColumn, native)
        }
        var wrong = 0
        for xi in 0..<16 {
          for column in firstColumn..<(firstColumn + end - first) {
            let row = xi * ms + column / 2 * channels
            for o in 0..<channels where !Self.same(words[row + o], want[row + o]) { wrong += 1 }
          }
        }
        #expect(wrong == 0, "first column \(firstColumn), native \(native): \(wrong) wrong words")
      }
    }
  }
}
