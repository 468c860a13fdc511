import ResNetKernels
import Testing

/// The prepared float32 convolution's paths against a float64 sum: the GEMM path, which packs its B
/// blocks straight from the input (no column matrix), and the packed-weight path, which unfolds and
/// packs the column matrix as its A, on strides, paddings, dilations and kernels of every shape,
/// depths of several GEMM slices, and groups of several samples whose boundaries fall inside register
/// tiles; Winograd's F(4×4, 3×3) on planes whose sides are not multiples of 4, blocks of tiles
/// that start inside a tile row or span two samples, the smallest plane it takes and a block shared by
/// threads; and the stride-2 Winograd path on odd and even planes, several GEMM slices, blocks shared by
/// threads and one tile per sample.
@Suite struct PreparedConvolutionUnfoldingTests {
  struct Case: Sendable, CustomStringConvertible {
    let geometry: ConvGeometry
    let outputChannels: Int
    let batch: Int
    var path = PreparedConvolution.Path.gemm
    var description: String { "\(path.rawValue) \(geometry) → \(outputChannels), batch \(batch)" }
  }

  static let cases: [Case] = [
    // A stride-2 3×3 without padding: 432 rows (two depth slices); groups of 3 samples of 110 pixels.
    Case(
      geometry: ConvGeometry(channels: 48, height: 23, width: 21, kernel: 3, stride: 2)!, outputChannels: 72,
      batch: 20),
    // An ImageNet stem: 7×7, stride 2, padding 3, on odd sizes.
    Case(
      geometry: ConvGeometry(channels: 3, height: 45, width: 38, kernel: 7, stride: 2, padding: 3)!,
      outputChannels: 16, batch: 3),
    // Everything different along the two axes, a stride of 3.
    Case(
      geometry: ConvGeometry(
        channels: 9, height: 31, width: 29, kernel: (5, 3), stride: (3, 2), padding: (2, 1), dilation: (1, 2))!,
      outputChannels: 20, batch: 4),
    // A 1×1 stride-2 projection.
    Case(
      geometry: ConvGeometry(channels: 40, height: 14, width: 15, kernel: 1, stride: 2)!, outputChannels: 24,
      batch: 9),
    // Stride 1: too few channels for Winograd, too many output channels for the implicit path.
    Case(
      geometry: ConvGeometry(channels: 5, height: 20, width: 20, kernel: 3, padding: 1)!, outputChannels: 70,
      batch: 2),
    // Stride 1, dilation 2, padding wider than the kernel's reach on one side.
    Case(
      geometry: ConvGeometry(channels: 30, height: 17, width: 19, kernel: 3, padding: 2, dilation: 2)!,
      outputChannels: 66, batch: 3),
    // More output channels than pixels (the packed-weight path): stride 2 on a small plane, 432 rows,
    // groups of 16 pixels.
    Case(
      geometry: ConvGeometry(channels: 48, height: 9, width: 10, kernel: 3, stride: 2)!, outputChannels: 72,
      batch: 20, path: .packedWeight),
    // A 5×5 kernel at stride 1, too many output channels for the implicit path.
    Case(
      geometry: ConvGeometry(channels: 12, height: 6, width: 7, kernel: 5, padding: 2)!, outputChannels: 80,
      batch: 3, path: .packedWeight),
    // Pointwise on a plane of 132 pixels, one sample per group: A read in place, over two depth slices,
    // its last register tile of 4 pixels.
    Case(
      geometry: ConvGeometry(channels: 400, height: 12, width: 11, kernel: 1)!, outputChannels: 140, batch: 2,
      path: .packedWeight),
    // Pointwise on a 7×7 plane: a sample alone in 7 register tiles of 7 pixels, the batch in groups of two
    // samples in tiles of 8 (the last of 2).
    Case(
      geometry: ConvGeometry(channels: 32, height: 7, width: 7, kernel: 1)!, outputChannels: 80, batch: 16,
      path: .packedWeight),
    // Pointwise, in groups of several samples (one sample alone is its own column matrix).
    Case(
      geometry: ConvGeometry(channels: 30, height: 4, width: 5, kernel: 1)!, outputChannels: 40, batch: 7,
      path: .packedWeight),
    // F(4×4, 3×3): 4×3 tiles of which the last row and column overhang the plane; blocks of 16 tiles
    // that span samples.
    Case(
      geometry: ConvGeometry(channels: 16, height: 13, width: 11, kernel: 3, padding: 1)!, outputChannels: 20,
      batch: 3, path: .winograd),
    // Rows of 10 tiles (a whole vector of 8, then 2), blocks starting inside tile rows; 40 channels in.
    Case(
      geometry: ConvGeometry(channels: 40, height: 36, width: 38, kernel: 3, padding: 1)!, outputChannels: 24,
      batch: 2, path: .winograd),
    // The smallest plane F(4×4, 3×3) takes: 2×2 tiles.
    Case(
      geometry: ConvGeometry(channels: 24, height: 8, width: 8, kernel: 3, padding: 1)!, outputChannels: 48,
      batch: 5, path: .winograd),
    // One block of 12 tiles (3 samples of 2×2) to 72 output channels: its channels in two parts, its V made
    // once and shared by the threads that take them.
    Case(
      geometry: ConvGeometry(channels: 24, height: 8, width: 8, kernel: 3, padding: 1)!, outputChannels: 72,
      batch: 3, path: .winograd),
    // ResNet's stride-2 3×3 (padding 1) on the stride-2 Winograd path: 12×11 outputs, 6×6 tiles whose
    // last column overhangs the plane; blocks that span samples; element depths of 4·48 channels.
    Case(
      geometry: ConvGeometry(channels: 48, height: 23, width: 21, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 72, batch: 20, path: .winogradStride2),
    // Rows of 14 tiles (a whole vector of 8, then 6), blocks starting inside tile rows; odd input sides.
    Case(
      geometry: ConvGeometry(channels: 40, height: 49, width: 55, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 24, batch: 2, path: .winogradStride2),
    // Element depths of 4·100 channels, over two GEMM slices; an even plane.
    Case(
      geometry: ConvGeometry(channels: 100, height: 12, width: 14, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 40, batch: 3, path: .winogradStride2),
    // Few blocks (3 samples of 4×4 tiles, two blocks) and 72 output channels: each block's channels in
    // two parts, its V made once and shared by the threads that take them.
    Case(
      geometry: ConvGeometry(channels: 40, height: 15, width: 13, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 72, batch: 3, path: .winogradStride2),
    // One tile per sample, 8 channels either way.
    Case(
      geometry: ConvGeometry(channels: 8, height: 3, width: 4, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 8, batch: 5, path: .winogradStride2),
  ]

  /// `relu(conv(x) + bias + residual)` over the case's batch (or its samples `samples`).
  static func run(_ c: Case, samples: Range<Int>? = nil, threads: Int? = nil) -> [Float] {
    let g = c.geometry
    let o = c.outputChannels
    let (x, w, bias, residual) = operands(c)
    let samples = samples ?? 0..<c.batch
    let conv = PreparedConvolution(geometry: g, outputChannels: o, weight: w, bias: bias)
    #expect(conv.path == c.path, "\(c)")
    #expect(c.path != .winograd || conv.winogradTile == 4, "\(c)")
    let outputCount = o * g.outputPixels
    var y = [Float](repeating: .nan, count: samples.count * outputCount)
    x.withUnsafeBufferPointer { xp in
      residual.withUnsafeBufferPointer { rp in
        y.withUnsafeMutableBufferPointer { yp in
          conv.forward(
            xp.baseAddress! + samples.lowerBound * g.inputCount, batch: samples.count, output: yp.baseAddress!,
            residual: rp.baseAddress! + samples.lowerBound * outputCount, relu: true, threads: threads)
        }
      }
    }
    return y
  }

  static func operands(_ c: Case) -> (x: [Float], w: [Float], bias: [Float], residual: [Float]) {
    let g = c.geometry
    let o = c.outputChannels
    let xCount = c.batch * g.inputCount
    let wCount = o * g.columnRows
    let yCount = c.batch * o * g.outputPixels
    return (
      randomMatrix(rows: 1, columns: xCount, ld: xCount, seed: 1),
      randomMatrix(rows: 1, columns: wCount, ld: wCount, seed: 2), randomMatrix(rows: 1, columns: o, ld: o, seed: 3),
      randomMatrix(rows: 1, columns: yCount, ld: yCount, seed: 4)
    )
  }

  @Test("against a float64 reference", arguments: cases)
  func againstReference(_ c: Case) {
    let y = Self.run(c)
    let (x, w, bias, residual) = Self.operands(c)
    let g = c.geometry
    let (o, pixels) = (c.outputChannels, g.outputPixels)
    var failures = 0
    for s in 0..<c.batch {
      for oc in 0..<o {
        for oh in 0..<g.outputHeight {
          for ow in 0..<g.outputWidth {
            var (sum, magnitude) = (0.0, 0.0)
            for ch in 0..<g.channels {
              for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                  let ih = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
                  let iw = ow * g.strideWidth - g.padWidth + j * g.dilationWidth
                  guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                  let term =
                    Double(x[((s * g.channels + ch) * g.height + ih) * g.width + iw])
                    * Double(w[((oc * g.channels + ch) * g.kernelHeight + i) * g.kernelWidth + j])
                  sum += term
                  magnitude += abs(term)
                }
              }
            }
            let at = (s * o + oc) * pixels + oh * g.outputWidth + ow
            let expected = max(0, sum + Double(bias[oc]) + Double(residual[at]))
            let bound = 1e-5 * (magnitude + abs(Double(bias[oc])) + abs(Double(residual[at]))) + 1e-7
            if !(abs(Double(y[at]) - expected) <= bound) {
              failures += 1
              if failures <= 5 {
                Issue.record("\(c): sample \(s), channel \(oc), (\(oh), \(ow)): \(y[at]) against \(expected)")
              }
            }
          }
        }
      }
    }
    #expect(failures == 0, "\(c)")
  }

  @Test("the same bits for one thread, and for a sample alone or in a smaller batch", arguments: cases)
  func invariance(_ c: Case) {
    let all = Self.run(c)
    // Compared as a Bool, so that a failure does not print the arrays.
    let oneThread = Self.run(c, threads: 1) == all
    #expect(oneThread, "\(c): one thread")
    let outputCount = c.outputChannels * c.geometry.outputPixels
    let last = c.batch - 1
    let alone = Self.run(c, samples: last..<c.batch) == Array(all[(last * outputCount)...])
    #expect(alone, "\(c): the last sample alone")
    let middle = (c.batch / 2)..<c.batch
    let fromTheMiddle = Self.run(c, samples: middle) == Array(all[(middle.lowerBound * outputCount)...])
    #expect(fromTheMiddle, "\(c): the samples from the middle on")
  }
}
