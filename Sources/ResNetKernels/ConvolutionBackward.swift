import CKernels

/// The backward pass of ``convolutionForward(input:geometry:batch:weight:outputChannels:bias:output:workspace:threads:pool:)``:
/// `gradWeight += gradOutput · columnsᵀ` and `columns' = weightᵀ · gradOutput`, then col2im.
///
/// - `gradOutput`: `batch × outputChannels × Ho·Wo`;
/// - `gradWeight` (`outputChannels × g.columnRows`) and `gradBias` (`outputChannels`) are added to;
/// - `gradInput` (`batch × g.inputCount`), when given, is overwritten;
/// - `workspace`: grown to `g.columnRows × g.outputPixels` floats when a single sample needs im2col.
///
/// A batch is cut into the forward pass's groups; each group's weight gradient is one GEMM with
/// `k = samples · Ho·Wo` into a buffer of its own, and the groups' buffers are then added to
/// `gradWeight` in group order. The grouping depends only on the batch and the geometry, so the
/// gradients are bitwise the same for any thread count. In `.bf16`, the products' operands are rounded to
/// bf16 and summed in float32 (see ConvolutionBF16.swift).
public func convolutionBackward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, gradOutput: UnsafePointer<Float>,
  gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>? = nil,
  gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer, precision: Precision = .f32,
  bf16Kernel: BF16Kernel = .best, threads: Int? = nil, pool: ThreadPool = .shared
) {
  if precision == .bf16 {
    bf16ConvolutionBackward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
      gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, gradInput: gradInput,
      workspace: workspace, bf16Kernel: bf16Kernel, threads: threads, pool: pool)
    return
  }
  float32ConvolutionBackward(
    input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels, gradOutput: gradOutput,
    gradWeight: gradWeight, gradBias: gradBias, gradInput: gradInput, workspace: workspace, threads: threads,
    pool: pool)
}

/// The float32 backward pass; with a `winogradBF16` kernel, a Winograd weight gradient runs in bf16 on it
/// (its transformed operands rounded; the other paths read their operands as they are).
func float32ConvolutionBackward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int, weight: UnsafePointer<Float>,
  outputChannels: Int, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
  gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer,
  winogradBF16: BF16Kernel? = nil, threads: Int?, pool: ThreadPool
) {
  if let gradBias {
    addBiasGradient(gradOutput, batch: batch, channels: outputChannels, pixels: g.outputPixels, into: gradBias)
  }
  guard batch > 0 else { return }
  let plan = ConvolutionPlan(
    geometry: g, outputChannels: outputChannels, batch: batch, inputGradient: gradInput != nil)
  let problem = ConvolutionBackward(
    input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
    gradOutput: gradOutput, threads: threads, pool: pool)
  if plan.weightGradient == .singleSample {
    problem.singleSample(gradWeight: gradWeight, gradInput: gradInput, workspace: workspace)
    return
  }
  let grouping = ConvolutionGrouping(geometry: g, batch: batch)
  // Each group's weight gradient goes to a partial of its own (K × O, or 16 × C × O for Winograd);
  // the partials are then added to gradWeight in group order.
  let partialCount =
    plan.weightGradient == .winograd ? 16 * g.channels * outputChannels : outputChannels * g.columnRows
  let partials = convolutionScratch.take(grouping.groups * partialCount)
  defer { convolutionScratch.give(partials) }
  switch plan.weightGradient {
  case .winograd:
    winogradWeightGradient(
      input: input, geometry: g, grouping: grouping, gradOutput: gradOutput, outputChannels: outputChannels,
      partials: partials.pointer, bf16: winogradBF16, threads: threads, pool: pool)
  case .implicit:
    implicitWeightGradient(
      input: input, geometry: g, grouping: grouping, gradOutput: gradOutput, outputChannels: outputChannels,
      partials: partials.pointer, threads: threads, pool: pool)
  case .groupedIm2col, .singleSample:
    problem.grouped(
      grouping, partials: partials.pointer, gradInput: plan.inputGradient == .groupedCol2im ? gradInput : nil)
  }
  switch plan.inputGradient {
  case .winograd(let back): problem.flippedConvolution(back, winograd: true, into: gradInput!)
  case .implicit(let back): problem.flippedConvolution(back, winograd: false, into: gradInput!)
  case .none, .singleSample, .groupedCol2im: break
  }
  if plan.weightGradient == .winograd {
    problem.addWinogradPartials(partials.pointer, groups: grouping.groups, into: gradWeight)
  } else {
    problem.addPartials(
      partials.pointer, groups: grouping.groups, rowsByTap: plan.weightGradient == .implicit, into: gradWeight)
  }
}

/// `gradBias[o] += Σ gradOutput[b, o, ·]` over the batch, sample by sample.
func addBiasGradient(
  _ gradOutput: UnsafePointer<Float>, batch: Int, channels: Int, pixels: Int, into gradBias: UnsafeMutablePointer<Float>
) {
  for b in 0..<batch {
    for o in 0..<channels {
      let row = gradOutput + (b * channels + o) * pixels
      var sum: Float = 0
      for p in 0..<pixels { sum += row[p] }
      gradBias[o] += sum
    }
  }
}

/// The operands of one convolution backward pass, and its paths (``ConvolutionPlan`` chooses).
private struct ConvolutionBackward {
  let input: UnsafePointer<Float>  // batch × C × H × W
  let geometry: ConvGeometry
  let batch: Int
  let weight: UnsafePointer<Float>  // O × K
  let outputChannels: Int
  let gradOutput: UnsafePointer<Float>  // batch × O × Ho·Wo
  let threads: Int?
  let pool: ThreadPool

  /// One sample: gradWeight += gradOutput · columnsᵀ, then the input gradient through its column
  /// matrix (or in place for a pointwise convolution) and col2im; each GEMM split over the threads.
  func singleSample(
    gradWeight: UnsafeMutablePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer
  ) {
    let g = geometry
    let (k, pixels) = (g.columnRows, g.outputPixels)
    let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
    let matrix = columnMatrix(input, geometry: g, columns: columns, threads: threads, pool: pool)
    sgemm(
      .none, .transposed, m: outputChannels, n: k, k: pixels, a: gradOutput, lda: pixels, b: matrix,
      ldb: pixels, beta: 1, c: gradWeight, ldc: k, threads: threads, pool: pool)
    guard let gradInput else { return }
    sgemm(
      .transposed, .none, m: k, n: pixels, k: outputChannels, a: weight, lda: k, b: gradOutput, ldb: pixels,
      c: columns ?? gradInput, ldc: pixels, threads: threads, pool: pool)
    if let columns { col2im(columns, geometry: g, batch: 1, into: gradInput, threads: threads, pool: pool) }
  }

  /// Per group: the group's weight gradient into its partial (K × O, rows in im2col's (channel, tap)
  /// order), and with `gradInput` the group's input gradient through its column matrix and col2im.
  func grouped(
    _ grouping: ConvolutionGrouping, partials: UnsafeMutablePointer<Float>, gradInput: UnsafeMutablePointer<Float>?
  ) {
    let g = geometry
    let (k, pixels, outputChannels) = (g.columnRows, g.outputPixels, outputChannels)
    let weightCount = outputChannels * k
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
    let dy = SendablePointer(UnsafeMutablePointer(mutating: gradOutput))
    let dx = gradInput.map { SendablePointer($0) }
    let out = SendablePointer(partials)
    let pool = pool
    let ld = grouping.rowStride
    grouping.run(threads: threads, pool: pool, scratchFloats: (k + outputChannels) * ld) {
      first, count, scratch in
      let n = count * pixels
      let columns = scratch  // K × n (row stride ld): the group's samples side by side
      let gathered = scratch + k * ld  // O × n (row stride ld): the group's output gradient
      im2col(x.base + first * g.inputCount, geometry: g, batch: count, into: columns, ldc: ld, threads: 1, pool: pool)
      for s in 0..<count {
        for o in 0..<outputChannels {
          (gathered + o * ld + s * pixels).update(
            from: dy.base + ((first + s) * outputChannels + o) * pixels, count: pixels)
        }
      }
      // The group's weight gradient, transposed: K × O = columns (K × n) · gatheredᵀ (n × O). This way
      // round the GEMM packs the O × n output gradient, not the K × n columns (K = 9·C for 3×3).
      sgemm(
        .none, .transposed, m: k, n: outputChannels, k: n, a: columns, lda: ld, b: gathered, ldb: ld,
        c: out.base + first / grouping.samples * weightCount, ldc: outputChannels, threads: 1, pool: pool)
      guard let dx else { return }
      sgemm(
        .transposed, .none, m: k, n: n, k: outputChannels, a: w.base, lda: k, b: gathered, ldb: ld,
        c: columns, ldc: ld, threads: 1, pool: pool)
      col2im(
        columns, geometry: g, batch: count, ldc: ld, into: dx.base + first * g.inputCount, threads: 1, pool: pool)
    }
  }

  /// The input gradient of a stride-1 convolution as the convolution `back` (see
  /// ``ConvGeometry/inputGradientGeometry(outputChannels:)``) of the output gradient with the flipped
  /// weight, by Winograd or by the implicit path.
  func flippedConvolution(_ back: ConvGeometry, winograd: Bool, into gradInput: UnsafeMutablePointer<Float>) {
    let g = geometry
    let flipped = convolutionScratch.take(outputChannels * g.columnRows)
    defer { convolutionScratch.give(flipped) }
    g.flippedForInputGradient(weight, outputChannels: outputChannels, into: flipped.pointer)
    if winograd {
      winogradConvolutionForward(
        input: gradOutput, geometry: back, batch: batch, weight: flipped.pointer, outputChannels: g.channels,
        bias: nil, output: gradInput, threads: threads, pool: pool)
    } else {
      implicitConvolutionForward(
        input: gradOutput, geometry: back, batch: batch, weight: flipped.pointer, outputChannels: g.channels,
        bias: nil, output: gradInput, threads: threads, pool: pool)
    }
  }

  /// gradWeight += Gᵀ·dU·G, dU the groups' 16 × C × O partials added in group order.
  func addWinogradPartials(
    _ partials: UnsafeMutablePointer<Float>, groups: Int, into gradWeight: UnsafeMutablePointer<Float>
  ) {
    let g = geometry
    let partialCount = 16 * g.channels * outputChannels
    let sums = convolutionScratch.take(partialCount)
    defer { convolutionScratch.give(sums) }
    let du = SendablePointer(sums.pointer)  // 16 × C × O
    let source = SendablePointer(partials)
    parallelRanges(partialCount, work: groups * partialCount, threads: threads, pool: pool) { range in
      let target = du.base + range.lowerBound
      target.update(from: source.base + range.lowerBound, count: range.count)
      for group in 1..<groups {
        rn_add_floats(source.base + group * partialCount + range.lowerBound, target, range.count)
      }
    }
    winogradAddWeightGradient(
      sums.pointer, channels: g.channels, outputChannels: outputChannels, into: gradWeight, threads: threads,
      pool: pool)
  }

  /// gradWeight += the groups' K × O partials, added in group order to each weight; partial rows are
  /// (channel, tap) from im2col, (tap, channel) with `rowsByTap` (the implicit path). By runs of the
  /// partials' order (row, output channel): a run gathered from gradWeight, each group's run added as a
  /// vector, the run scattered back — the same additions in the same order as one weight at a time.
  func addPartials(
    _ partials: UnsafeMutablePointer<Float>, groups: Int, rowsByTap: Bool, into gradWeight: UnsafeMutablePointer<Float>
  ) {
    let g = geometry
    let k = g.columnRows
    let outputChannels = outputChannels
    let weightCount = outputChannels * k
    let dw = SendablePointer(gradWeight)
    let source = SendablePointer(partials)
    let taps = g.kernelHeight * g.kernelWidth
    let run = 1024
    parallelRanges(weightCount, work: groups * weightCount, threads: threads, pool: pool) { range in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: run) { buffer in
        let sums = buffer.baseAddress!  // one run of the sums, in the partials' order
        // Where partial j (row, o) goes in gradWeight (O × K).
        func target(_ j: Int) -> Int {
          let (row, o) = j.quotientAndRemainder(dividingBy: outputChannels)
          return o * k + (rowsByTap ? row % g.channels * taps + row / g.channels : row)
        }
        var start = range.lowerBound
        while start < range.upperBound {
          let count = min(run, range.upperBound - start)
          for j in 0..<count { sums[j] = dw.base[target(start + j)] }
          for group in 0..<groups { rn_add_floats(source.base + group * weightCount + start, sums, count) }
          for j in 0..<count { dw.base[target(start + j)] = sums[j] }
          start += count
        }
      }
    }
  }
}
