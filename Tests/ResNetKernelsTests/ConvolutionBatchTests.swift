import ResNetKernels
import Testing

/// Weight, bias and input gradients of a convolution computed from the definition, in Float64:
/// `dW[o, c, i, j] = Σ dy[b, o, oh, ow] · x[b, c, ih, iw]`, `dx[b, c, ih, iw] = Σ dy[b, o, oh, ow] · W[o, c, i, j]`.
func directConvolutionGradients(
  _ x: [Float], _ g: ConvGeometry, batch: Int, weight: [Float], outputChannels: Int, gradOutput dy: [Float]
) -> (weight: [Double], bias: [Double], input: [Double]) {
  var dw = [Double](repeating: 0, count: outputChannels * g.columnRows)
  var db = [Double](repeating: 0, count: outputChannels)
  var dx = [Double](repeating: 0, count: batch * g.inputCount)
  for b in 0..<batch {
    for o in 0..<outputChannels {
      for oh in 0..<g.outputHeight {
        for ow in 0..<g.outputWidth {
          let d = Double(dy[((b * outputChannels + o) * g.outputHeight + oh) * g.outputWidth + ow])
          db[o] += d
          for c in 0..<g.channels {
            for i in 0..<g.kernelHeight {
              for j in 0..<g.kernelWidth {
                let ih = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
                let iw = ow * g.strideWidth - g.padWidth + j * g.dilationWidth
                guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                let wi = ((o * g.channels + c) * g.kernelHeight + i) * g.kernelWidth + j
                let xi = ((b * g.channels + c) * g.height + ih) * g.width + iw
                dw[wi] += d * Double(x[xi])
                dx[xi] += d * Double(weight[wi])
              }
            }
          }
        }
      }
    }
  }
  return (dw, db, dx)
}

/// Geometries whose batches split into several groups, the last one short, with the batch and the
/// output channels.
let groupedGeometries: [(ConvGeometry, batch: Int, outputChannels: Int)] = [
  (ConvGeometry(channels: 3, height: 24, width: 24, kernel: 3, stride: 1, padding: 1)!, 19, 5),  // 3 per group
  // 3×3, padding 1 with more channels than a register tile has rows (8) and more outputs than it has
  // columns (16 or 32): the implicit weight gradient's edge tiles, 6 per group.
  (ConvGeometry(channels: 12, height: 10, width: 10, kernel: 3, stride: 1, padding: 1)!, 45, 40),
  (ConvGeometry(channels: 4, height: 20, width: 20, kernel: 1, stride: 1, padding: 0)!, 19, 5),  // pointwise, 3
  // Dilated and oblong: the input gradient through the implicit path with other paddings, 3 per group.
  (
    ConvGeometry(channels: 3, height: 9, width: 11, kernel: (3, 5), stride: (1, 1), padding: (2, 2), dilation: (2, 1))!,
    23, 5
  ),
  (ConvGeometry(channels: 2, height: 30, width: 29, kernel: 3, stride: 2, padding: 1)!, 11, 5),  // stride 2, 2
  (ConvGeometry(channels: 2, height: 33, width: 35, kernel: 1, stride: 2, padding: 0)!, 11, 5),  // projection, 2
]

@Suite("Batched convolution: several groups of samples")
struct ConvolutionBatchTests {
  @Test("forward and backward match the definition, and give the same bits for 1, 2, 3 and 5 threads")
  func groupedPasses() {
    for (g, batch, outputChannels) in groupedGeometries {
      let grouping = ConvolutionGrouping(geometry: g, batch: batch)
      #expect(grouping.groups > 1 && batch % grouping.samples != 0, "\(g): not several uneven groups")
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 21)
      let w = randomMatrix(rows: outputChannels, columns: g.columnRows, ld: g.columnRows, seed: 22)
      let bias = randomMatrix(rows: 1, columns: outputChannels, ld: outputChannels, seed: 23)
      let outputCount = batch * outputChannels * g.outputPixels
      let dy = randomMatrix(rows: 1, columns: outputCount, ld: outputCount, seed: 24)
      let startWeightGradient = randomMatrix(rows: 1, columns: w.count, ld: w.count, seed: 25)

      func run(threads: Int) -> (y: [Float], dw: [Float], db: [Float], dx: [Float]) {
        let y = convolutionForward(
          x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias, threads: threads,
          pool: oversubscribedPool)
        let gradients = convolutionBackward(
          x, g, batch: batch, weight: w, outputChannels: outputChannels, gradOutput: dy,
          gradWeight: startWeightGradient, gradBias: [Float](repeating: 1, count: outputChannels), threads: threads,
          pool: oversubscribedPool)
        return (y, gradients.weight, gradients.bias!, gradients.input)
      }

      let one = run(threads: 1)
      let expectedY = directConvolution(x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias)
      let reference = directConvolutionGradients(
        x, g, batch: batch, weight: w, outputChannels: outputChannels, gradOutput: dy)
      func worst(_ got: [Float], _ want: [Double], plus base: [Float]? = nil) -> Double {
        zip(got.indices, want).map { i, v in abs(Double(got[i]) - (v + Double(base?[i] ?? 0))) / (abs(v) + 1) }.max()!
      }
      #expect(worst(one.y, expectedY) < 1e-5, "\(g): forward")
      // Each weight and bias gradient sums batch · Ho·Wo (up to 11,000) terms: looser bounds, still far
      // below the error of a group missed or counted twice.
      #expect(worst(one.dw, reference.weight, plus: startWeightGradient) < 1e-4, "\(g): weight gradient")
      let biasTolerance = max(1e-5, 2e-9 * Double(batch * g.outputPixels))
      #expect(worst(one.db, reference.bias.map { $0 + 1 }) < biasTolerance, "\(g): bias gradient")
      // Each input gradient sums up to O·kh·kw products (360 for 40 outputs): a bound that grows with them.
      let inputTolerance = max(1e-5, 1e-7 * Double(outputChannels * g.kernelHeight * g.kernelWidth))
      #expect(worst(one.dx, reference.input) < inputTolerance, "\(g): input gradient")
      for threads in [2, 3, 5] {
        let other = run(threads: threads)
        #expect(
          bitwiseEqual(one.y, other.y) && bitwiseEqual(one.dw, other.dw) && bitwiseEqual(one.db, other.db)
            && bitwiseEqual(one.dx, other.dx), "\(g): \(threads) threads differ")
      }
    }
  }
}
