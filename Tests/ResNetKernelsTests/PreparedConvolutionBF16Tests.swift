import ResNetKernels
import Testing

/// Prepared convolutions in bf16, one geometry per path, against a float64 sum over the operands
/// rounded to bf16 (Winograd: over the unrounded operands, as it rounds its transforms instead).
@Suite struct PreparedConvolutionBF16Tests {
  struct Case: Sendable, CustomStringConvertible {
    let path: PreparedConvolution.Path
    let geometry: ConvGeometry
    let outputChannels: Int
    var description: String { "\(path.rawValue) \(geometry) → \(outputChannels)" }
  }

  static let cases: [Case] = [
    Case(
      path: .winograd, geometry: ConvGeometry(channels: 13, height: 16, width: 14, kernel: 3, padding: 1)!,
      outputChannels: 20),
    Case(
      path: .implicit, geometry: ConvGeometry(channels: 3, height: 10, width: 9, kernel: 5, padding: 2)!,
      outputChannels: 10),
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 16, height: 12, width: 13, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 24),
    // Odd channels (a stem's), whose depth is not ordered by channel pairs.
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 3, height: 30, width: 29, kernel: 7, stride: 2, padding: 3)!,
      outputChannels: 16),
    // 1,600 columns: several chunks, each with pair rows of its own.
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 8, height: 80, width: 79, kernel: 3, stride: 2, padding: 1)!,
      outputChannels: 24),
    // Pointwise over more than one depth slice (GEMMBlocking.kc), 99 columns: two tiles and a partial one.
    Case(
      path: .gemm, geometry: ConvGeometry(channels: 400, height: 9, width: 11, kernel: 1)!, outputChannels: 20),
    Case(
      path: .packedWeight, geometry: ConvGeometry(channels: 41, height: 6, width: 6, kernel: 1, stride: 2)!,
      outputChannels: 70),
    // A 3×3 stride-1 convolution on a 7×7 plane whose transformed weight is over 1 MiB: Winograd's in float32.
    Case(
      path: .packedWeight, geometry: ConvGeometry(channels: 130, height: 7, width: 7, kernel: 3, padding: 1)!,
      outputChannels: 136),
  ]

  @Test("ResNet's 3×3 layers on 7×7 planes take Winograd's path in float32 and the packed weight in bf16")
  func smallPlanePaths() {
    let small = ConvGeometry(channels: 512, height: 7, width: 7, kernel: 3, padding: 1)!
    let larger = ConvGeometry(channels: 256, height: 14, width: 14, kernel: 3, padding: 1)!
    #expect(PreparedConvolution.path(geometry: small, outputChannels: 512, precision: .f32) == .winograd)
    #expect(PreparedConvolution.path(geometry: small, outputChannels: 512, precision: .bf16) == .packedWeight)
    #expect(PreparedConvolution.path(geometry: larger, outputChannels: 256, precision: .f32) == .winograd)
    #expect(PreparedConvolution.path(geometry: larger, outputChannels: 256, precision: .bf16) == .winograd)
  }

  /// `y = relu(conv(x) + bias + residual)` by a bf16 prepared convolution over `batch` samples; `inPlace`:
  /// into the residual's own memory.
  static func run(
    _ c: Case, batch: Int, kernel: BF16Kernel = .best, threads: Int? = nil, inPlace: Bool = false
  ) -> (
    x: [Float], w: [Float], bias: [Float], residual: [Float], y: [Float]
  ) {
    let g = c.geometry
    let o = c.outputChannels
    let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 1)
    let w = randomMatrix(rows: 1, columns: o * g.columnRows, ld: o * g.columnRows, seed: 2)
    let bias = randomMatrix(rows: 1, columns: o, ld: o, seed: 3)
    let residual = randomMatrix(rows: 1, columns: batch * o * g.outputPixels, ld: batch * o * g.outputPixels, seed: 4)
    let conv = PreparedConvolution(
      geometry: g, outputChannels: o, weight: w, bias: bias, precision: .bf16, bf16Kernel: kernel)
    #expect(conv.path == c.path, "\(c)")
    var y = inPlace ? residual : [Float](repeating: .nan, count: residual.count)
    x.withUnsafeBufferPointer { xp in
      residual.withUnsafeBufferPointer { rp in
        y.withUnsafeMutableBufferPointer { yp in
          conv.forward(
            xp.baseAddress!, batch: batch, output: yp.baseAddress!,
            residual: inPlace ? UnsafePointer(yp.baseAddress!) : rp.baseAddress!, relu: true, threads: threads)
        }
      }
    }
    return (x, w, bias, residual, y)
  }

  /// Each case for one sample (whose GEMM-path tiles take the epilogue inside the micro-kernel) and two, into
  /// their own memory and, where the path accepts it, over the residual's.
  static let runs: [(Case, Int, Bool)] = cases.flatMap { c in
    [1, 2].flatMap { batch in
      [(c, batch, false)] + (c.path == .winograd || c.path == .gemm ? [(c, batch, true)] : [])
    }
  }

  @Test("against a float64 reference", arguments: runs)
  func againstReference(_ c: Case, batch: Int, inPlace: Bool) {
    let (x, w, bias, residual, y) = Self.run(c, batch: batch, inPlace: inPlace)
    let g = c.geometry
    let (o, pixels, k) = (c.outputChannels, g.outputPixels, g.columnRows)
    let r = BF16GEMM.rounded
    for s in 0..<batch {
      for oc in 0..<o {
        for oh in 0..<g.outputHeight {
          for ow in 0..<g.outputWidth {
            var (sum, magnitude, rawMagnitude) = (0.0, 0.0, 0.0)
            for ch in 0..<g.channels {
              for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                  let ih = oh * g.strideHeight - g.padHeight + i
                  let iw = ow * g.strideWidth - g.padWidth + j
                  guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                  let xv = x[((s * g.channels + ch) * g.height + ih) * g.width + iw]
                  let wv = w[((oc * g.channels + ch) * g.kernelHeight + i) * g.kernelWidth + j]
                  let term = Double(r(xv)) * Double(r(wv))
                  sum += term
                  magnitude += abs(term)
                  rawMagnitude += abs(Double(xv) * Double(wv))
                }
              }
            }
            let at = (s * o + oc) * pixels + oh * g.outputWidth + ow
            let extra = Double(bias[oc]) + Double(residual[at])
            let expected = max(0, sum + extra)
            // Direct paths: one float32 rounding per product pair and per slice, bias and residual. Winograd
            // rounds its transformed operands to bf16 (2^-9 each) instead of the operands themselves.
            let bound =
              c.path == .winograd
              ? 0x1p-6 * rawMagnitude + 0x1p-22 * abs(extra)
              : Double(k + 4) * 0x1p-24 * (magnitude + abs(extra))
            #expect(
              abs(Double(y[at]) - expected) <= bound,
              "\(c) batch \(batch) in place \(inPlace) y[\(s), \(oc), \(oh), \(ow)]")
          }
        }
      }
    }
  }

  @Test("the same bits for any batch, thread count and (with AVX512_BF16) kernel", arguments: cases)
  func invariance(_ c: Case) {
    let three = Self.run(c, batch: 3).y
    let perSample = c.outputChannels * c.geometry.outputPixels
    #expect(bitwiseEqual(Self.run(c, batch: 1).y, Array(three[0..<perSample])), "\(c): alone")
    #expect(bitwiseEqual(Self.run(c, batch: 3, threads: 1).y, three), "\(c): one thread")
    if c.path == .winograd || c.path == .gemm {
      #expect(bitwiseEqual(Self.run(c, batch: 3, inPlace: true).y, three), "\(c): over the residual")
      #expect(
        bitwiseEqual(Self.run(c, batch: 1, inPlace: true).y, Array(three[0..<perSample])),
        "\(c): alone, over the residual")
    }
    if BF16Kernel.nativeAvailable {
      #expect(bitwiseEqual(Self.run(c, batch: 3, kernel: .emulated).y, three), "\(c): emulated")
    }
  }
}
