import ResNetKernels
import Testing

/// Training convolutions in bf16 (forward, weight and input gradient) against float64 sums over the
/// operands rounded to bf16, on every plan a training step takes; and the same bits for any thread count
/// and on the emulated kernel.
@Suite struct ConvolutionBF16Tests {
  struct Case: Sendable, CustomStringConvertible {
    let name: String
    let geometry: ConvGeometry
    let batch: Int
    let outputChannels: Int
    var description: String { "\(name): \(geometry) × \(batch) → \(outputChannels)" }
  }

  static let cases: [Case] = [
    Case(
      name: "Winograd forward and gradients",
      geometry: ConvGeometry(channels: 16, height: 12, width: 10, kernel: 3, padding: 1)!, batch: 3, outputChannels: 16),
    Case(
      name: "Winograd, groups of two samples of 25 tiles and a last group of one (pairs across samples, an odd depth)",
      geometry: ConvGeometry(channels: 8, height: 10, width: 9, kernel: 3, padding: 1)!, batch: 15, outputChannels: 8),
    Case(
      name: "the CIFAR stem (implicit)",
      geometry: ConvGeometry(channels: 3, height: 11, width: 9, kernel: 3, padding: 1)!, batch: 3, outputChannels: 8),
    Case(
      name: "stride 2 (im2col groups, col2im)",
      geometry: ConvGeometry(channels: 12, height: 9, width: 9, kernel: 3, stride: 2, padding: 1)!, batch: 3,
      outputChannels: 24),
    Case(
      name: "a 1×1 stride-2 projection",
      geometry: ConvGeometry(channels: 16, height: 8, width: 8, kernel: 1, stride: 2)!, batch: 2, outputChannels: 32),
    Case(
      name: "the ImageNet stem (7×7, stride 2)",
      geometry: ConvGeometry(channels: 3, height: 18, width: 17, kernel: 7, stride: 2, padding: 3)!, batch: 2,
      outputChannels: 8),
    Case(
      name: "one sample",
      geometry: ConvGeometry(channels: 16, height: 10, width: 10, kernel: 3, padding: 1)!, batch: 1,
      outputChannels: 16),
  ]

  struct Result {
    let y: [Float], dw: [Float], dx: [Float]
  }

  struct Operands {
    let x: [Float], w: [Float], dy: [Float], startWeightGradient: [Float]

    init(_ c: Case) {
      let g = c.geometry
      let inputs = c.batch * g.inputCount
      let outputs = c.batch * c.outputChannels * g.outputPixels
      let weights = c.outputChannels * g.columnRows
      x = randomMatrix(rows: 1, columns: inputs, ld: inputs, seed: 41)
      w = randomMatrix(rows: 1, columns: weights, ld: weights, seed: 42)
      dy = randomMatrix(rows: 1, columns: outputs, ld: outputs, seed: 43)
      startWeightGradient = randomMatrix(rows: 1, columns: weights, ld: weights, seed: 44)
    }
  }

  static func run(
    _ c: Case, _ o: Operands, kernel: BF16Kernel = .best, threads: Int? = nil, pool: ThreadPool = .shared
  ) -> Result {
    let y = convolutionForward(
      o.x, c.geometry, batch: c.batch, weight: o.w, outputChannels: c.outputChannels, bias: nil, precision: .bf16,
      bf16Kernel: kernel, threads: threads, pool: pool)
    let gradients = convolutionBackward(
      o.x, c.geometry, batch: c.batch, weight: o.w, outputChannels: c.outputChannels, gradOutput: o.dy,
      gradWeight: o.startWeightGradient, gradBias: nil, precision: .bf16, bf16Kernel: kernel, threads: threads,
      pool: pool)
    return Result(y: y, dw: gradients.weight, dx: gradients.input)
  }

  @Test("against float64 sums over the operands rounded to bf16", arguments: cases)
  func againstReference(_ c: Case) {
    let g = c.geometry
    let o = Operands(c)
    let got = Self.run(c, o)
    let r = { (values: [Float]) in values.map(BF16GEMM.rounded) }
    let expectedY = directConvolution(
      r(o.x), g, batch: c.batch, weight: r(o.w), outputChannels: c.outputChannels, bias: nil)
    let expected = directConvolutionGradients(
      r(o.x), g, batch: c.batch, weight: r(o.w), outputChannels: c.outputChannels, gradOutput: r(o.dy))
    let expectedDw = zip(expected.weight, o.startWeightGradient).map { $0 + Double($1) }
    // Errors on the scale of a sum of `terms` unit-normal products (√terms). Summing the rounded operands
    // in float32 leaves ~1e-6; operands not rounded, or rounded the wrong way, leave ~1e-3 (bf16 keeps 8
    // bits); a wrong tap or channel about 1. Winograd's bf16 path rounds its transformed operands instead
    // of the operands themselves: a bf16 error of its own, grown by the output transform (seen: up to
    // 2.2e-2 forward).
    func worst(_ got: [Float], _ want: [Double], terms: Int) -> Double {
      let scale = Double(terms).squareRoot()
      return zip(got, want).map { abs(Double($0) - $1) / scale }.max()!
    }
    let forwardWinograd = PreparedConvolution.path(geometry: g, outputChannels: c.outputChannels) == .winograd
    let back = ConvolutionPlan(geometry: g, outputChannels: c.outputChannels, batch: c.batch).inputGradient
    let backWinograd: Bool
    if case .winograd(let geometry) = back {
      backWinograd = PreparedConvolution.path(geometry: geometry, outputChannels: g.channels) == .winograd
    } else {
      backWinograd = false
    }
    let weightWinograd =
      ConvolutionPlan(geometry: g, outputChannels: c.outputChannels, batch: c.batch)
      .weightGradient == .winograd
    let forwardError = worst(got.y, expectedY, terms: g.columnRows)
    let inputError = worst(got.dx, expected.input, terms: c.outputChannels * g.kernelHeight * g.kernelWidth)
    let weightError = worst(got.dw, expectedDw, terms: c.batch * g.outputPixels)
    #expect(forwardError < (forwardWinograd ? 5e-2 : 4e-6), "\(c): forward error \(forwardError)")
    #expect(inputError < (backWinograd ? 5e-2 : 4e-6), "\(c): input gradient error \(inputError)")
    #expect(weightError < (weightWinograd ? 5e-2 : 4e-6), "\(c): weight gradient error \(weightError)")
    if weightWinograd {
      // Winograd's weight gradient against its own formulas with V and dM rounded (float64 sums): what
      // is left is float32's summing (seen: 2e-7); not rounding V or dM, or rounding the input or the
      // output gradient before the transforms, leaves ~1e-3.
      let winograd = winogradBF16WeightGradientReference(
        o.x, g, batch: c.batch, outputChannels: c.outputChannels, gradOutput: o.dy)
      let exactError = worst(
        got.dw, zip(winograd, o.startWeightGradient).map { $0 + Double($1) }, terms: c.batch * g.outputPixels)
      #expect(exactError < 4e-6, "\(c): Winograd weight gradient error \(exactError)")
    }
    // The float32 pass differs from the bf16 one by bf16's rounding, not by nothing.
    let f32 = convolutionBackward(
      o.x, g, batch: c.batch, weight: o.w, outputChannels: c.outputChannels, gradOutput: o.dy,
      gradWeight: o.startWeightGradient, gradBias: nil)
    let f32WeightError = worst(f32.weight, expectedDw, terms: c.batch * g.outputPixels)
    #expect(f32WeightError > 1e-4, "\(c): float32 weight gradient error \(f32WeightError)")
  }

  @Test("the same bits for any thread count and (with AVX512_BF16) on the emulated kernel", arguments: cases)
  func invariance(_ c: Case) {
    let o = Operands(c)
    let one = Self.run(c, o, threads: 1)
    func same(_ other: Result) -> Bool {
      bitwiseEqual(one.y, other.y) && bitwiseEqual(one.dw, other.dw) && bitwiseEqual(one.dx, other.dx)
    }
    #expect(same(Self.run(c, o)), "\(c): two threads")
    #expect(same(Self.run(c, o, pool: oversubscribedPool)), "\(c): five threads")
    if BF16Kernel.nativeAvailable {
      #expect(same(Self.run(c, o, kernel: .emulated)), "\(c): emulated")
    }
  }

  @Test("rounding to bf16 kept as float32: the vector and the scalar rounding agree, ties to even")
  func rounding() {
    // Values around ties and at the edges: halfway cases both ways, denormals, infinities and NaN.
    var values: [Float] = [
      1 + 0x1p-8, 1 + 0x1p-8 + 0x1p-23, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), 0x1p-130, -0x1p-140, .infinity, -.infinity,
      .greatestFiniteMagnitude, 0, -0.0, .nan,
    ]
    var generator = SeededGenerator(seed: 7)
    for _ in 0..<1000 { values.append(generator.nextNormal() * 100) }
    var rounded = [Float](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { source in
      rounded.withUnsafeMutableBufferPointer { target in
        roundToBF16(source.baseAddress!, count: values.count, into: target.baseAddress!)
      }
    }
    #expect(bitwiseEqual(rounded, values.map(BF16GEMM.rounded)))
    #expect(rounded[0] == 1 && rounded[1] == 1 + 0x1p-7 && rounded[2] == 1 + 0x1p-6 && rounded[3] == -1)
    #expect(rounded[4] == 0 && rounded[5].bitPattern == (-0.0 as Float).bitPattern)
    #expect(rounded[8] == .infinity && rounded[11].isNaN)
  }
}
