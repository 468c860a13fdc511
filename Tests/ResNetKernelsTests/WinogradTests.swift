import ResNetKernels
import Testing

/// 3×3, stride-1, padding-1 convolutions that take the Winograd path, with the batch and the output
/// channels: a CIFAR stage, odd and oblong planes (partial tiles), a plane of one pixel, more than 16
/// tiles per row (two vectors, the second partial; blocks starting mid-row), blocks spanning samples,
/// several items with a short last one, and more channels than one GEMM depth slice (384).
let winogradCases: [(ConvGeometry, batch: Int, outputChannels: Int)] = [
  (ConvGeometry(channels: 16, height: 32, width: 32, kernel: 3, stride: 1, padding: 1)!, 3, 16),
  (ConvGeometry(channels: 8, height: 7, width: 7, kernel: 3, stride: 1, padding: 1)!, 5, 9),
  (ConvGeometry(channels: 12, height: 5, width: 8, kernel: 3, stride: 1, padding: 1)!, 4, 20),
  (ConvGeometry(channels: 9, height: 1, width: 1, kernel: 3, stride: 1, padding: 1)!, 2, 8),
  (ConvGeometry(channels: 8, height: 30, width: 35, kernel: 3, stride: 1, padding: 1)!, 2, 8),
  (ConvGeometry(channels: 64, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)!, 9, 64),
  (ConvGeometry(channels: 16, height: 14, width: 14, kernel: 3, stride: 1, padding: 1)!, 7, 16),
  (ConvGeometry(channels: 400, height: 3, width: 3, kernel: 3, stride: 1, padding: 1)!, 2, 8),
]

@Suite("Winograd F(2×2, 3×3) convolution")
struct WinogradTests {
  @Test("forward, input and weight gradients match the definition, and give the same bits for 1, 2 and 3 threads")
  func matchesDefinition() {
    for (g, batch, outputChannels) in winogradCases {
      #expect(g.takesWinogradPath(outputChannels: outputChannels), "\(g) → \(outputChannels)")
      // The input gradient takes the same path, from the output channels back to the input channels.
      let back = ConvGeometry(
        channels: outputChannels, height: g.height, width: g.width, kernel: 3, stride: 1, padding: 1)!
      #expect(back.takesWinogradPath(outputChannels: g.channels), "\(back) → \(g.channels)")
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 31)
      let w = randomMatrix(rows: outputChannels, columns: g.columnRows, ld: g.columnRows, seed: 32)
      let bias = randomMatrix(rows: 1, columns: outputChannels, ld: outputChannels, seed: 33)
      let outputCount = batch * outputChannels * g.outputPixels
      let dy = randomMatrix(rows: 1, columns: outputCount, ld: outputCount, seed: 34)

      let startWeightGradient = randomMatrix(rows: 1, columns: w.count, ld: w.count, seed: 35)

      func run(threads: Int) -> (y: [Float], dx: [Float], dw: [Float]) {
        let y = convolutionForward(
          x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias, threads: threads,
          pool: oversubscribedPool)
        let gradients = convolutionBackward(
          x, g, batch: batch, weight: w, outputChannels: outputChannels, gradOutput: dy,
          gradWeight: startWeightGradient, gradBias: nil, threads: threads, pool: oversubscribedPool)
        return (y, gradients.input, gradients.weight)
      }

      let one = run(threads: 1)
      let expectedY = directConvolution(x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias)
      let expected = directConvolutionGradients(
        x, g, batch: batch, weight: w, outputChannels: outputChannels, gradOutput: dy)
      let expectedDw = zip(expected.weight, startWeightGradient).map { $0 + Double($1) }
      // Each output sums 9·C products of unit-normal values (|y| ≈ 3·√C); the transforms add a few
      // roundings of partial sums that size. A wrong tile, tap or channel is off by about 1.
      func worst(_ got: [Float], _ want: [Double], terms: Int) -> Double {
        let scale = Double(terms).squareRoot()
        return zip(got, want).map { abs(Double($0) - $1) / scale }.max()!
      }
      let forwardError = worst(one.y, expectedY, terms: g.columnRows)
      let inputError = worst(one.dx, expected.input, terms: outputChannels * 9)
      // Each weight gradient sums batch · H·W products, through tiles' sums of up to 16 of them (seen:
      // up to 1.3e-6 on this scale); one tile missed or counted twice is off by about 1 / √terms ≥ 0.01.
      let weightError = worst(one.dw, expectedDw, terms: batch * g.outputPixels)
      #expect(forwardError < 2e-6, "\(g) → \(outputChannels): forward error \(forwardError)")
      #expect(inputError < 2e-6, "\(g) → \(outputChannels): input gradient error \(inputError)")
      #expect(weightError < 4e-6, "\(g) → \(outputChannels): weight gradient error \(weightError)")
      for threads in [2, 3] {
        let other = run(threads: threads)
        #expect(
          bitwiseEqual(one.y, other.y) && bitwiseEqual(one.dx, other.dx) && bitwiseEqual(one.dw, other.dw),
          "\(g): \(threads) threads differ")
      }
    }
  }

  @Test("only 3×3, stride-1, padding-1 convolutions with enough channels take the path")
  func pathChoice() {
    let same = ConvGeometry(channels: 16, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)!
    #expect(same.takesWinogradPath(outputChannels: 16))
    #expect(!same.takesWinogradPath(outputChannels: 4))
    #expect(
      !ConvGeometry(channels: 3, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)!.takesWinogradPath(
        outputChannels: 16))
    #expect(
      !ConvGeometry(channels: 16, height: 8, width: 8, kernel: 3, stride: 2, padding: 1)!.takesWinogradPath(
        outputChannels: 16))
    #expect(
      !ConvGeometry(channels: 16, height: 8, width: 8, kernel: 3, stride: 1, padding: 2, dilation: 2)!
        .takesWinogradPath(outputChannels: 16))
    #expect(
      !ConvGeometry(channels: 16, height: 8, width: 8, kernel: 1, stride: 1, padding: 0)!.takesWinogradPath(
        outputChannels: 16))
  }
}
