import CKernels

/// The weight gradient of a 3×3, stride-1, padding-1 convolution by Winograd's F(2×2, 3×3): the
/// gradient of ``winogradConvolutionForward(input:geometry:batch:weight:outputChannels:bias:output:threads:pool:)``'s
/// `y = Aᵀ·[U ⊙ V]·A` with respect to `U = G·g·Gᵀ`, one group of samples (``ConvolutionGrouping``) at
/// a time. For each 2×2 block `dY` of the output gradient, `dM = A·dY·Aᵀ` (`rn_winograd_gradient_output`),
/// and summed over the tiles, `dU[ξ] (C × O) = V[ξ] (C × tiles) · dM[ξ] (tiles × O)`: 16 GEMMs of depth
/// `tiles`, 16 multiplies per tile and channel pair instead of the direct form's 36. The caller turns
/// the groups' sum into `dg = Gᵀ·dU·G` (``winogradAddWeightGradient(_:channels:outputChannels:into:threads:pool:)``).
///
/// A group's output gradient is first laid out pixel by pixel (channels contiguous, so that `dM` comes
/// out as the GEMM's packed B); its tiles then go through in blocks of ``winogradGradientBlock``:
/// `V` (the forward's input transform) and `dM` of a block, then the 16 GEMMs added into the group's
/// `dU`. Each group writes `partials + group · 16 · C · O`, `16 × C × O` (ξ, input channel, output
/// channel), computed whole by one thread in fixed loops, so the result does not depend on the thread
/// count. With a `bf16` kernel (bf16 training), the multiplies' operands are rounded to bf16 as the
/// forward's bf16 Winograd rounds its own: `V` and `dM`, made in float32 from the input and the output
/// gradient as they are (`dM` rounded into the kernel's pair rows by `rn_winograd_gradient_output_bf16`),
/// their products summed in float32 by that kernel.
func winogradWeightGradient(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, grouping: ConvolutionGrouping,
  gradOutput: UnsafePointer<Float>, outputChannels: Int, partials: UnsafeMutablePointer<Float>,
  bf16 bf16Kernel: BF16Kernel? = nil, threads: Int?, pool: ThreadPool
) {
  precondition(g.isSamePadded3x3, "winogradWeightGradient: \(g)")
  let kernel = GEMMKernel.best
  let channels = g.channels
  let pixels = g.outputPixels
  let tiles = (g.height + 1) / 2 * ((g.width + 1) / 2)
  let block = ConvolutionBlocking.winogradGradientBlock
  let vOffset = roundUp(grouping.samples * pixels * outputChannels, cacheLineFloats)
  let ldv = block + vectorSlack  // V's rows: block tiles, then what the input transform may write past them
  let vMatrix = oddLineStride(channels * ldv)  // V[ξ] apart (in halves with a bf16 kernel)
  let mMatrix = oddLineStride(block * outputChannels)  // dM[ξ] apart
  let mOffset = vOffset + (bf16Kernel == nil ? 16 : 8) * vMatrix
  // dM, with slack: the micro-kernels read B rows as whole vectors, up to nr − 1 ≤ 31 floats past O.
  let scratchFloats = mOffset + 16 * mMatrix + 2 * vectorSlack
  let native: Int32 = bf16Kernel?.isNative == true ? 1 : 0
  let matrix = channels * outputChannels  // dU[ξ]: C × O
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let dy = SendablePointer(UnsafeMutablePointer(mutating: gradOutput))
  let out = SendablePointer(partials)
  grouping.run(threads: threads, pool: pool, scratchFloats: scratchFloats) { first, count, scratch in
    let pixelMajor = scratch  // count × pixels × O: the group's output gradient, channels contiguous
    let v = scratch + vOffset  // 16 × C × ldv: V[ξ] of one block of tiles (bf16 halves with a bf16 kernel)
    let vHalves = UnsafeMutableRawPointer(v).assumingMemoryBound(to: UInt16.self)
    // 16 × block × O: dM[ξ] of the block; with a bf16 kernel, 16 × ⌈block / 2⌉ × O words: its pair rows.
    let dm = scratch + mOffset
    for s in 0..<count {
      rn_transpose_planes(
        dy.base + (first + s) * outputChannels * pixels, outputChannels, pixels,
        pixelMajor + s * pixels * outputChannels)
    }
    let partial = out.base + first / grouping.samples * 16 * matrix  // dU: 16 × C × O
    let columns = count * tiles
    kernel.variants.withUnsafeBufferPointer { variants in
      var j0 = 0
      while j0 < columns {
        let depth = min(block, columns - j0)
        forEachWinogradSegment(of: j0..<(j0 + depth), tiles: tiles) { s, t0, t1, column in
          let sample = x.base + (first + s) * g.inputCount
          let gradient = pixelMajor + s * pixels * outputChannels
          if bf16Kernel != nil {
            rn_winograd_input_bf16_rows(
              sample, channels, g.height, g.width, t0, t1, vHalves + column, ldv, vMatrix, native)
            rn_winograd_gradient_output_bf16(
              gradient, outputChannels, g.height, g.width, t0, t1, dm, mMatrix, column, native)
          } else {
            rn_winograd_input(sample, channels, g.height, g.width, t0, t1, v + column, ldv, vMatrix)
            rn_winograd_gradient_output(
              gradient, outputChannels, g.height, g.width, t0, t1, dm + column * outputChannels, mMatrix)
          }
        }
        if let bf16Kernel {
          // An odd depth's last pair completed with zeros (the transform writes garbage past the tiles).
          if depth % 2 == 1 {
            for row in 0..<16 * channels { vHalves[row / channels * vMatrix + row % channels * ldv + depth] = 0 }
          }
          for xi in 0..<16 {
            let a = vHalves + xi * vMatrix  // V[ξ]: C bf16 rows of ⌈depth / 2⌉ pairs, ldv / 2 words apart
            let b = dm + xi * mMatrix  // dM[ξ]: ⌈depth / 2⌉ pair rows of O words
            bf16Kernel.multiply(
              m: channels, n: outputChannels, pairs: (depth + 1) / 2, a: a, aRowStride: ldv / 2, aPairStride: 1, b: b,
              ldb: outputChannels, c: partial + xi * matrix, ldc: outputChannels, accumulate: j0 > 0)
          }
          j0 += block
          continue
        }
        let scales = rn_scales(alpha: 1, beta: j0 == 0 ? 0 : 1)
        for xi in 0..<16 {
          let a = v + xi * vMatrix  // V[ξ]: C × depth, row stride ldv
          let b = dm + xi * mMatrix  // dM[ξ]: depth × O
          let c = partial + xi * matrix  // dU[ξ]: C × O
          kernel.multiply(
            variants, m: channels, n: outputChannels, depth: depth, a: a, lda: ldv, b: b, ldb: outputChannels, c: c,
            ldc: outputChannels, scales: scales)
        }
        j0 += block
      }
    }
  }
}

/// `gradWeight[o][c] += Gᵀ·dU[·][c][o]·G` for the 16 × C × O sum `dU` of
/// ``winogradWeightGradient(input:geometry:grouping:gradOutput:outputChannels:partials:threads:pool:)``'s
/// groups, with `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`; output channels are shared out over
/// the threads (each writes its own weights).
func winogradAddWeightGradient(
  _ du: UnsafePointer<Float>, channels: Int, outputChannels: Int, into gradWeight: UnsafeMutablePointer<Float>,
  threads: Int?, pool: ThreadPool
) {
  let matrix = channels * outputChannels
  let u = SendablePointer(UnsafeMutablePointer(mutating: du))
  let target = SendablePointer(gradWeight)
  parallelRanges(outputChannels, work: 16 * matrix, threads: threads, pool: pool) { range in
    for o in range {
      for c in 0..<channels {
        let d = u.base + c * outputChannels + o  // element ξ at d[ξ · matrix]
        // t = Gᵀ·d (3 × 4), column by column, then dg = t·G (3 × 3), row by row.
        let w = target.base + (o * channels + c) * 9  // 3 × 3
        func column(_ j: Int) -> (Float, Float, Float) {
          let (d0, d3) = (d[j * matrix], d[(12 + j) * matrix])
          let (d1, d2) = (d[(4 + j) * matrix], d[(8 + j) * matrix])
          return (d0 + (d1 + d2) * 0.5, (d1 - d2) * 0.5, (d1 + d2) * 0.5 + d3)
        }
        let (c0, c1, c2, c3) = (column(0), column(1), column(2), column(3))
        func row(_ a: Int, _ t0: Float, _ t1: Float, _ t2: Float, _ t3: Float) {
          w[3 * a] += t0 + (t1 + t2) * 0.5
          w[3 * a + 1] += (t1 - t2) * 0.5
          w[3 * a + 2] += (t1 + t2) * 0.5 + t3
        }
        row(0, c0.0, c1.0, c2.0, c3.0)
        row(1, c0.1, c1.1, c2.1, c3.1)
        row(2, c0.2, c1.2, c2.2, c3.2)
      }
    }
  }
}

/// Runs `body(sample, t0, t1, column)` for each sample's piece of the columns `range` of a run of
/// samples with `tiles` tiles each, laid side by side: sample `s`'s tiles `t0 ..< t1` are the range's
/// columns from `column` (counted from the range's start).
@inline(__always)
func forEachWinogradSegment(
  of range: Range<Int>, tiles: Int, _ body: (_ s: Int, _ t0: Int, _ t1: Int, _ column: Int) -> Void
) {
  var segment = range.lowerBound
  while segment < range.upperBound {
    let (s, t0) = segment.quotientAndRemainder(dividingBy: tiles)
    let t1 = min(tiles, t0 + range.upperBound - segment)
    body(s, t0, t1, segment - range.lowerBound)
    segment += t1 - t0
  }
}
