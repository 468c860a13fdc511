import CKernels
import ResNetKernels
import Testing

/// The bf16 pair rows that the GEMM paths unfold (`rn_im2col_pairs`: two im2col rows gathered and paired,
/// or — two adjacent taps of a kernel row at stride 2 — 32 neighbouring floats of an input row rounded
/// where they lie) and that `rn_bf16_pair_rows` pairs are rounded by AVX512_BF16's vcvtneps2bf16 and
/// vcvtne2ps2bf16 where the CPU has them and in software elsewhere: both must give `rn_bf16_round`'s bits
/// of the im2col matrix on every kind of value (NaN with payloads, ∞, denormals, ties), zero where a tap
/// falls outside the plane, and nothing written past a row's last column.
@Suite struct BF16PairRowRoundingTests {
  struct Case: Sendable, CustomStringConvertible {
    let channels: Int, height: Int, width: Int
    let kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int)
    var outputHeight: Int { (height + 2 * pad.0 - kernel.0) / stride.0 + 1 }
    var outputWidth: Int { (width + 2 * pad.1 - kernel.1) / stride.1 + 1 }
    var rows: Int { channels * kernel.0 * kernel.1 }
    var description: String {
      "\(channels)×\(height)×\(width), \(kernel.0)×\(kernel.1)/\(stride.0),\(stride.1) pad \(pad.0),\(pad.1)"
    }
    var geometry: rn_unfold_geometry {
      rn_unfold_geometry(
        height: height, width: width, kernel_height: kernel.0, kernel_width: kernel.1, pad_height: pad.0,
        pad_width: pad.1, dilation_height: 1, dilation_width: 1, stride_height: stride.0, stride_width: stride.1,
        output_height: outputHeight, output_width: outputWidth)
    }

    /// Row `row` of the im2col matrix at output pixel `pixel`, from the definition.
    func unfolded(_ x: [Float], row: Int, pixel: Int) -> Float {
      let (c, tap) = row.quotientAndRemainder(dividingBy: kernel.0 * kernel.1)
      let (i, j) = tap.quotientAndRemainder(dividingBy: kernel.1)
      let (oh, ow) = pixel.quotientAndRemainder(dividingBy: outputWidth)
      let (ih, iw) = (oh * stride.0 + i - pad.0, ow * stride.1 + j - pad.1)
      guard ih >= 0 && ih < height && iw >= 0 && iw < width else { return 0 }
      return x[(c * height + ih) * width + iw]
    }
  }

  static let cases: [Case] = [
    // A stem: 7×7 stride 2 on 3 channels (an odd depth, 147), pairs within kernel rows and across them.
    Case(channels: 3, height: 19, width: 75, kernel: (7, 7), stride: (2, 2), pad: (3, 3)),
    // Stride 2 along rows only, an even padding: the adjacent taps start on the other parity.
    Case(channels: 2, height: 6, width: 81, kernel: (1, 6), stride: (1, 2), pad: (0, 2)),
    // 3×3 stride 2 on 2 channels, output rows shorter than a vector.
    Case(channels: 2, height: 11, width: 20, kernel: (3, 3), stride: (2, 2), pad: (1, 1)),
    // Pointwise stride 1: the input's planes paired where they are.
    Case(channels: 5, height: 7, width: 9, kernel: (1, 1), stride: (1, 1), pad: (0, 0)),
  ]

  @Test("rn_im2col_pairs: rn_bf16_round of the im2col matrix, natively and in software", arguments: cases)
  func unfoldedPairs(_ c: Case) {
    let x = WinogradBF16RoundingTests.input(channels: c.channels, height: c.height, width: c.width)
    let pixels = c.outputHeight * c.outputWidth
    let pairs = (c.rows + 1) / 2
    var geometry = c.geometry
    // The whole matrix, and a range of pixels that starts and ends inside output rows.
    for (p0, n) in [(0, pixels), (c.outputWidth / 2 + 1, pixels - c.outputWidth)] {
      let ldd = n + 5
      var got = [UInt32](repeating: 0xDEAD_BEEF, count: pairs * ldd)
      var lines = [Float](repeating: 0, count: 2 * n + 16)
      rn_im2col_pairs(x, c.channels, &geometry, 0, pairs, p0, n, &got, ldd, &lines)
      var want = [UInt32](repeating: 0xDEAD_BEEF, count: pairs * ldd)
      for p in 0..<pairs {
        for q in 0..<n {
          let low = UInt32(rn_bf16_round(c.unfolded(x, row: 2 * p, pixel: p0 + q)))
          let high = 2 * p + 1 < c.rows ? UInt32(rn_bf16_round(c.unfolded(x, row: 2 * p + 1, pixel: p0 + q))) : 0
          want[p * ldd + q] = low | high << 16
        }
      }
      // Compared as a Bool, so that a failure does not print the arrays.
      let same = got == want
      #expect(same, "\(c), pixels \(p0) ..< \(p0 + n)")
    }
  }

  @Test("rn_bf16_pair_rows: rn_bf16_round of each row, natively and in software")
  func pairedRows() {
    let (k, n, lds, ldd) = (7, 45, 50, 47)  // an odd row count: the last pair's high halves are zero
    let src = WinogradBF16RoundingTests.input(channels: 1, height: k, width: lds)
    var got = [UInt32](repeating: 0xDEAD_BEEF, count: (k + 1) / 2 * ldd)
    rn_bf16_pair_rows(src, lds, k, n, &got, ldd)
    var want = [UInt32](repeating: 0xDEAD_BEEF, count: (k + 1) / 2 * ldd)
    for p in 0..<((k + 1) / 2) {
      for j in 0..<n {
        let low = UInt32(rn_bf16_round(src[2 * p * lds + j]))
        let high = 2 * p + 1 < k ? UInt32(rn_bf16_round(src[(2 * p + 1) * lds + j])) : 0
        want[p * ldd + j] = low | high << 16
      }
    }
    let same = got == want
    #expect(same)
  }
}
