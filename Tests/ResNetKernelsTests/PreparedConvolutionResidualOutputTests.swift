import ResNetKernels
import Testing

/// A prepared convolution given its residual as its output (as a model's memory plan does when nothing
/// reads the residual afterwards) writes the same bits as into an output of its own, on every path that
/// ``PreparedConvolution/acceptsResidualAsOutput``: the GEMM path for one sample (each tile's residual
/// read by the micro-kernel's epilogue just before it writes there; its sums staged when the depth
/// spans several slices, not written over the residual before the epilogue reads it), pointwise and unfolded, and for a batch
/// in groups (batch 16 puts the stride-2 case's 342 pixels in groups of two samples); Winograd's
/// F(2×2, 3×3) and F(4×4, 3×3); and both in bf16.
@Suite struct PreparedConvolutionResidualOutputTests {
  struct Case: Sendable, CustomStringConvertible {
    let path: PreparedConvolution.Path
    let geometry: ConvGeometry
    let outputChannels: Int
    var precision = Precision.f32
    var description: String { "\(path.rawValue) \(precision) \(geometry) → \(outputChannels)" }
  }

  static let cases: [Case] = [
    // Pointwise stride 1: one sample's B read in place, 930 columns in several chunks.
    Case(path: .gemm, geometry: ConvGeometry(channels: 20, height: 30, width: 31, kernel: 1)!, outputChannels: 48),
    // A depth over two slices of GEMMBlocking.kc: one sample's sums staged (the kernel's epilogue reads
    // the residual only in the last slice, after the first has been stored), with a partial last tile.
    Case(path: .gemm, geometry: ConvGeometry(channels: 400, height: 9, width: 10, kernel: 1)!, outputChannels: 24),
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 400, height: 9, width: 10, kernel: 1)!, outputChannels: 24,
      precision: .bf16),
    // Unfolded by rn_im2col_pack: 3×3 stride 2 (unpadded: padded, it takes the stride-2 Winograd path).
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 16, height: 40, width: 38, kernel: 3, stride: 2)!,
      outputChannels: 24),
    // F(2×2, 3×3) on a plane below F(4×4, 3×3)'s smallest.
    Case(
      path: .winograd, geometry: ConvGeometry(channels: 16, height: 7, width: 6, kernel: 3, padding: 1)!,
      outputChannels: 20),
    // F(4×4, 3×3), tiles overhanging the plane.
    Case(
      path: .winograd, geometry: ConvGeometry(channels: 16, height: 13, width: 11, kernel: 3, padding: 1)!,
      outputChannels: 20),
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 20, height: 30, width: 31, kernel: 1)!, outputChannels: 48,
      precision: .bf16),
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 16, height: 40, width: 38, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 24, precision: .bf16),
    Case(
      path: .winograd, geometry: ConvGeometry(channels: 16, height: 13, width: 11, kernel: 3, padding: 1)!,
      outputChannels: 20, precision: .bf16),
  ]

  @Test("the same bits written over the residual as into an output of its own", arguments: cases, [1, 3, 16])
  func overResidual(_ c: Case, batch: Int) {
    let g = c.geometry
    let o = c.outputChannels
    let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 1)
    let w = randomMatrix(rows: 1, columns: o * g.columnRows, ld: o * g.columnRows, seed: 2)
    let bias = randomMatrix(rows: 1, columns: o, ld: o, seed: 3)
    let residual = randomMatrix(rows: 1, columns: batch * o * g.outputPixels, ld: batch * o * g.outputPixels, seed: 4)
    let conv = PreparedConvolution(geometry: g, outputChannels: o, weight: w, bias: bias, precision: c.precision)
    #expect(conv.path == c.path, "\(c)")
    #expect(conv.acceptsResidualAsOutput, "\(c)")
    var separate = [Float](repeating: .nan, count: residual.count)
    var overwritten = residual
    x.withUnsafeBufferPointer { xp in
      residual.withUnsafeBufferPointer { rp in
        separate.withUnsafeMutableBufferPointer { yp in
          conv.forward(xp.baseAddress!, batch: batch, output: yp.baseAddress!, residual: rp.baseAddress!, relu: true)
        }
      }
      overwritten.withUnsafeMutableBufferPointer { yp in
        conv.forward(
          xp.baseAddress!, batch: batch, output: yp.baseAddress!, residual: UnsafePointer(yp.baseAddress!), relu: true)
      }
    }
    // Compared as a Bool, so that a failure does not print the arrays.
    let same = overwritten == separate
    #expect(same, "\(c), batch \(batch)")
    #expect(separate.contains { $0 > 0 }, "\(c): an output of all zeros proves nothing")
  }
}
