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
/// thread count.
public func convolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>? = nil,
  output: UnsafeMutablePointer<Float>, workspace: ScratchBuffer,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let k = g.columnRows
  let pixels = g.outputPixels
  guard batch > 1 else {
    if batch == 1 {
      let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
      let matrix = columnMatrix(input, geometry: g, columns: columns, threads: threads, pool: pool)
      fillWithBias(output, bias: bias, rows: outputChannels, pixels: pixels)
      sgemm(
        .none, .none, m: outputChannels, n: pixels, k: k, a: weight, lda: k, b: matrix, ldb: pixels,
        beta: bias == nil ? 0 : 1, c: output, ldc: pixels, threads: threads, pool: pool)
    }
    return
  }
  if g.takesWinogradPath(outputChannels: outputChannels) {
    winogradConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
      bias: bias, output: output, threads: threads, pool: pool)
    return
  }
  if g.takesImplicitPath(outputChannels: outputChannels) {
    implicitConvolutionForward(
      input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
      bias: bias, output: output, threads: threads, pool: pool)
    return
  }
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
/// gradients are bitwise the same for any thread count.
public func convolutionBackward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, gradOutput: UnsafePointer<Float>,
  gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>? = nil,
  gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let k = g.columnRows
  let pixels = g.outputPixels
  if let gradBias {
    for b in 0..<batch {
      for o in 0..<outputChannels {
        let row = gradOutput + (b * outputChannels + o) * pixels
        var sum: Float = 0
        for p in 0..<pixels { sum += row[p] }
        gradBias[o] += sum
      }
    }
  }
  guard batch > 1 else {
    if batch == 1 {
      let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
      let matrix = columnMatrix(input, geometry: g, columns: columns, threads: threads, pool: pool)
      sgemm(
        .none, .transposed, m: outputChannels, n: k, k: pixels, a: gradOutput, lda: pixels, b: matrix,
        ldb: pixels, beta: 1, c: gradWeight, ldc: k, threads: threads, pool: pool)
      if let gradInput {
        sgemm(
          .transposed, .none, m: k, n: pixels, k: outputChannels, a: weight, lda: k, b: gradOutput, ldb: pixels,
          c: columns ?? gradInput, ldc: pixels, threads: threads, pool: pool)
        if let columns { col2im(columns, geometry: g, batch: 1, into: gradInput, threads: threads, pool: pool) }
      }
    }
    return
  }
  // Stride 1: the input gradient is itself a stride-1 convolution (of the output gradient, with the
  // flipped weight), taken by the implicit path without a column matrix or col2im.
  let inputGradientGeometry =
    gradInput == nil
    ? nil
    : g.inputGradientGeometry(outputChannels: outputChannels)
      .flatMap {
        $0.takesWinogradPath(outputChannels: g.channels) || $0.takesImplicitPath(outputChannels: g.channels)
          ? $0 : nil
      }
  let grouping = ConvolutionGrouping(geometry: g, batch: batch)
  let weightCount = outputChannels * k
  // 3×3, stride 1, padding 1 with enough channels: the weight gradient by Winograd's F(2×2, 3×3),
  // each group's partial the 16 × C × O transformed gradient; with fewer channels, by reading the input
  // in place (rows in (tap, channel) order). Either way when the input gradient needs no column matrix.
  let noColumnMatrix = gradInput == nil || inputGradientGeometry != nil
  let winogradWeights = noColumnMatrix && g.takesWinogradPath(outputChannels: outputChannels)
  let implicitWeights = noColumnMatrix && !winogradWeights && g.isSamePadded3x3
  let partialCount = winogradWeights ? 16 * g.channels * outputChannels : weightCount
  let partialsBuffer = convolutionScratch.take(grouping.groups * partialCount)
  defer { convolutionScratch.give(partialsBuffer) }
  let partials = SendablePointer(partialsBuffer.pointer)  // groups × K × O (or × 16 × C × O)
  if winogradWeights {
    winogradWeightGradient(
      input: input, geometry: g, grouping: grouping, gradOutput: gradOutput, outputChannels: outputChannels,
      partials: partials.base, threads: threads, pool: pool)
  } else if implicitWeights {
    implicitWeightGradient(
      input: input, geometry: g, grouping: grouping, gradOutput: gradOutput, outputChannels: outputChannels,
      partials: partials.base, threads: threads, pool: pool)
  }
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
  let dy = SendablePointer(UnsafeMutablePointer(mutating: gradOutput))
  let dx = inputGradientGeometry == nil ? gradInput.map { SendablePointer($0) } : nil
  let ld = grouping.rowStride
  if !implicitWeights && !winogradWeights {
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
        c: partials.base + first / grouping.samples * weightCount, ldc: outputChannels, threads: 1, pool: pool)
      guard let dx else { return }
      sgemm(
        .transposed, .none, m: k, n: n, k: outputChannels, a: w.base, lda: k, b: gathered, ldb: ld,
        c: columns, ldc: ld, threads: 1, pool: pool)
      col2im(
        columns, geometry: g, batch: count, ldc: ld, into: dx.base + first * g.inputCount, threads: 1, pool: pool)
    }
  }
  if let gradInput, let inputGradientGeometry {
    let flipped = convolutionScratch.take(weightCount)
    g.flippedForInputGradient(weight, outputChannels: outputChannels, into: flipped.pointer)
    if inputGradientGeometry.takesWinogradPath(outputChannels: g.channels) {
      winogradConvolutionForward(
        input: gradOutput, geometry: inputGradientGeometry, batch: batch,
        weight: flipped.pointer, outputChannels: g.channels, bias: nil, output: gradInput, threads: threads,
        pool: pool)
    } else {
      implicitConvolutionForward(
        input: gradOutput, geometry: inputGradientGeometry, batch: batch,
        weight: flipped.pointer, outputChannels: g.channels, bias: nil, output: gradInput, threads: threads,
        pool: pool)
    }
    convolutionScratch.give(flipped)
  }
  if winogradWeights {
    // dU = the groups' partials, added in group order, then gradWeight += Gᵀ·dU·G.
    let sums = convolutionScratch.take(partialCount)
    let du = SendablePointer(sums.pointer)  // 16 × C × O
    parallelRanges(partialCount, work: grouping.groups * partialCount, threads: threads, pool: pool) { range in
      let target = du.base + range.lowerBound
      target.update(from: partials.base + range.lowerBound, count: range.count)
      for group in 1..<grouping.groups {
        rn_add_floats(partials.base + group * partialCount + range.lowerBound, target, range.count)
      }
    }
    winogradAddWeightGradient(
      sums.pointer, channels: g.channels, outputChannels: outputChannels, into: gradWeight, threads: threads,
      pool: pool)
    convolutionScratch.give(sums)
    return
  }
  // gradWeight += the groups' partials, added in group order to each weight. By runs of the partials'
  // order (row, output channel): a run gathered from gradWeight, each group's run added as a vector,
  // the run scattered back — the same additions in the same order as one weight at a time.
  let dw = SendablePointer(gradWeight)
  let taps = g.kernelHeight * g.kernelWidth
  let run = 1024
  parallelRanges(weightCount, work: grouping.groups * weightCount, threads: threads, pool: pool) { range in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: run) { buffer in
      let sums = buffer.baseAddress!  // one run of the sums, in the partials' order
      // Where partial j (row, o) goes in gradWeight (O × K); rows are (channel, tap) from im2col,
      // (tap, channel) from the implicit path.
      func target(_ j: Int) -> Int {
        let (row, o) = j.quotientAndRemainder(dividingBy: outputChannels)
        return o * k + (implicitWeights ? row % g.channels * taps + row / g.channels : row)
      }
      var start = range.lowerBound
      while start < range.upperBound {
        let count = min(run, range.upperBound - start)
        for j in 0..<count { sums[j] = dw.base[target(start + j)] }
        for group in 0..<grouping.groups { rn_add_floats(partials.base + group * weightCount + start, sums, count) }
        for j in 0..<count { dw.base[target(start + j)] = sums[j] }
        start += count
      }
    }
  }
}

/// How a batch is cut into groups of samples for the batched convolution path: enough samples that a
/// group's column matrix has about ``targetColumns`` columns. Depends only on the geometry and the
/// batch, never on the thread count.
public struct ConvolutionGrouping: Sendable {
  /// The column count a group aims at: wide enough for an efficient GEMM (and, in the weight
  /// gradient, a deep one), small enough that a group's columns stay in the caches.
  public static let targetColumns = 2048
  /// The fewest groups a batch is cut into (when it has that many samples), so that the threads'
  /// shares of the groups come out even: with 4 groups on 2 threads, one short group leaves a thread
  /// idle for most of a group's time.
  public static let minimumGroups = 8
  /// Samples per group (the last group may have fewer), and the number of groups.
  public let samples: Int, groups: Int
  /// Output pixels per sample, and samples in the batch.
  let pixels: Int, batchSize: Int

  /// The grouping of `batch` samples of geometry `g`.
  public init(geometry g: ConvGeometry, batch: Int) {
    pixels = g.outputPixels
    let fewGroups = (batch + Self.minimumGroups - 1) / Self.minimumGroups
    samples = max(1, min(batch, Self.targetColumns / max(1, pixels), fewGroups))
    groups = (batch + samples - 1) / samples
    batchSize = batch
  }

  /// Columns of a full group's matrices.
  var columns: Int { samples * pixels }
  /// The row stride of a group's matrices: the columns rounded up to a cache line, one more line when
  /// that is a multiple of 4 KiB (so the GEMM can read the column matrix in place, its rows not all
  /// falling into the same cache sets).
  var rowStride: Int {
    let stride = roundUp(columns, 16)
    return GEMMBlocking.aliases(ldb: stride) ? stride + 16 : stride
  }

  /// Runs `body(first sample, sample count, scratch)` for every group, groups shared out over the
  /// pool's threads (each takes the next unclaimed group when it is free: every group is computed
  /// whole by one thread, so which one does not matter); `scratch` holds `scratchFloats` floats of the
  /// participant's own.
  func run(
    threads: Int?, pool: ThreadPool, scratchFloats: Int,
    _ body: (_ first: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void
  ) {
    let participants = max(1, min(threads ?? pool.threadCount, pool.threadCount, groups))
    let queue = WorkQueue(count: groups)
    pool.run(participants: participants) { _ in
      let scratch = convolutionScratch.take(scratchFloats)
      while let group = queue.claim() {
        let first = group * samples
        body(first, min(samples, batchSize - first), scratch.pointer)
      }
      convolutionScratch.give(scratch)
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
private func columnMatrix(
  _ sample: UnsafePointer<Float>, geometry g: ConvGeometry, columns: UnsafeMutablePointer<Float>?, threads: Int?,
  pool: ThreadPool
) -> UnsafePointer<Float> {
  guard let columns else { return sample }
  im2col(sample, geometry: g, batch: 1, into: columns, threads: threads, pool: pool)
  return UnsafePointer(columns)
}
