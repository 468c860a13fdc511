import CKernels

/// A 2-D convolution forward pass through im2col + SGEMM, the engine's reference composition:
/// `output[b, o] = Σ_c weight[o, c] ⋆ input[b, c] (+ bias[o])`.
///
/// - `input`: `batch` samples of `g.channels × g.height × g.width` (NCHW);
/// - `weight`: `outputChannels × g.columnRows`, i.e. OIHW flattened;
/// - `output`: `batch` samples of `outputChannels × g.outputHeight × g.outputWidth`, overwritten;
/// - `workspace`: grown to `g.columnRows × g.outputPixels` floats when a single sample needs im2col.
///
/// A batch of more than one sample is cut into groups of ``ConvolutionGrouping/samples(for:)``
/// samples; the pool's threads take whole groups, and each group is one single-threaded GEMM,
/// `staged (O × n) = weight (O × K) · columns (K × n)` over its `n = samples · Ho·Wo` columns, whose rows
/// are then copied into NCHW. A single sample is one GEMM written in place, split over the threads; a
/// 1×1 kernel with stride 1 and no padding then skips im2col (the sample is its own column matrix).
/// Which path runs depends only on the batch and the geometry, so results are bitwise the same for any
/// thread count. In `.bf16`, the products' operands are rounded to bf16 and summed in float32 by
/// `bf16Kernel` (see ConvolutionBF16.swift).
public func convolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>? = nil,
  output: UnsafeMutablePointer<Float>, workspace: ScratchBuffer, precision: Precision = .f32,
  bf16Kernel: BF16Kernel = .best, threads: Int? = nil, pool: ThreadPool = .shared
) {
  guard batch > 0 else { return }
  if precision == .bf16 {
    bf16ConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels, bias: bias,
      output: output, bf16Kernel: bf16Kernel, threads: threads, pool: pool)
    return
  }
  let k = g.columnRows
  let pixels = g.outputPixels
  switch ConvolutionPlan(geometry: g, outputChannels: outputChannels, batch: batch).forward {
  case .singleSample:
    let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
    let matrix = columnMatrix(input, geometry: g, columns: columns, threads: threads, pool: pool)
    fillWithBias(output, bias: bias, rows: outputChannels, pixels: pixels)
    sgemm(
      .none, .none, m: outputChannels, n: pixels, k: k, a: weight, lda: k, b: matrix, ldb: pixels,
      beta: bias == nil ? 0 : 1, c: output, ldc: pixels, threads: threads, pool: pool)
    return
  case .winograd:
    winogradConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
      bias: bias, output: output, threads: threads, pool: pool)
    return
  case .implicit:
    implicitConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
      bias: bias, output: output, threads: threads, pool: pool)
    return
  case .groupedIm2col:
    groupedConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels, bias: bias,
      output: output, threads: threads, pool: pool)
  }
}

/// The forward pass by groups of samples: im2col of each group, one single-threaded GEMM into a staging
/// matrix, its rows copied into NCHW (plus the bias).
private func groupedConvolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int, weight: UnsafePointer<Float>,
  outputChannels: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int?,
  pool: ThreadPool
) {
  let k = g.columnRows
  let pixels = g.outputPixels
  let grouping = ConvolutionGrouping(geometry: g, batch: batch)
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
  let biasPointer = bias.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
  let y = SendablePointer(output)
  let ld = grouping.rowStride
  grouping.run(threads: threads, pool: pool, scratchFloats: (k + outputChannels) * ld) {
    first, count, scratch in
    let n = count * pixels
    let columns = scratch  // K × n (row stride ld): the group's samples side by side
    let staged = scratch + k * ld  // O × n (row stride ld)
    im2col(x.base + first * g.inputCount, geometry: g, batch: count, into: columns, ldc: ld, threads: 1, pool: pool)
    sgemm(
      .none, .none, m: outputChannels, n: n, k: k, a: w.base, lda: k, b: columns, ldb: ld,
      c: staged, ldc: ld, threads: 1, pool: pool)
    for s in 0..<count {
      for o in 0..<outputChannels {
        let target = y.base + ((first + s) * outputChannels + o) * pixels  // output[first + s, o]: Ho·Wo
        let source = staged + o * ld + s * pixels
        if let biasPointer {
          let value = biasPointer.base[o]
          for p in 0..<pixels { target[p] = source[p] + value }
        } else {
          target.update(from: source, count: pixels)
        }
      }
    }
  }
}

let convolutionScratch = ScratchPool()

/// Sets each of `rows` planes of `pixels` floats to its channel's bias (nothing without a bias).
private func fillWithBias(_ output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, pixels: Int) {
  guard let bias else { return }
  for o in 0..<rows { (output + o * pixels).update(repeating: bias[o], count: pixels) }
}

/// The column matrix (`g.columnRows × g.outputPixels`) of one sample (`C × H × W`): im2col into
/// `columns`, or the sample itself when `columns` is nil (the pointwise path).
func columnMatrix(
  _ sample: UnsafePointer<Float>, geometry g: ConvGeometry, columns: UnsafeMutablePointer<Float>?, threads: Int?,
  pool: ThreadPool
) -> UnsafePointer<Float> {
  guard let columns else { return sample }
  im2col(sample, geometry: g, batch: 1, into: columns, threads: threads, pool: pool)
  return UnsafePointer(columns)
}
