import CKernels

/// The batched forward pass of a 3×3, stride-1, padding-1 convolution by Winograd's F(2×2, 3×3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 block of output
/// comes from a 4×4 tile of input as `Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A`, 16 multiplies per tile and channel
/// pair instead of 36. Summed over channels, the 16 elementwise products become 16 GEMMs,
/// `M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C × tiles)`, with `U = G·g·Gᵀ` the transformed weight
/// and `V = Bᵀ·d·B` the transformed input tiles.
///
/// The tiles go through in blocks of one or two register tiles' width (`nr`): a block's V is transformed
/// (`rn_winograd_input`) into a buffer laid out as 16 packed GEMM panels, the micro-kernels multiply
/// it into the block's M, and `rn_winograd_output` writes the block's outputs into NCHW — so V and M
/// never leave the caches. The batch is cut into items of ``winogradSamplesPerItem(tiles:nr:batch:)``
/// samples, whose tiles run on as one sequence of blocks (from the geometry only); each item is
/// computed whole by one thread in fixed loops, so the result does not depend on the thread count. It
/// differs from the direct sum in the last bits (the transforms round), by about as much as summing in
/// another order does.
func winogradConvolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>?,
  output: UnsafeMutablePointer<Float>, threads: Int?, pool: ThreadPool
) {
  precondition(g.isSamePadded3x3, "winogradConvolutionForward: \(g)")
  let kernel = GEMMKernel.best
  let nr = kernel.nr
  let channels = g.channels
  let tiles = (g.height + 1) / 2 * ((g.width + 1) / 2)
  let layout = WinogradBlockLayout(channels: channels, outputChannels: outputChannels, nr: nr)
  let (width, ldv, vMatrix, vCount, mMatrix, mCount) =
    (layout.width, layout.ldv, layout.vMatrix, layout.vCount, layout.mMatrix, layout.mCount)
  let samples = winogradSamplesPerItem(tiles: tiles, nr: width, batch: batch)
  let items = (batch + samples - 1) / samples
  let u = convolutionScratch.take(16 * outputChannels * channels)  // U: 16 × O × C
  winogradTransformWeight(
    weight, outputChannels: outputChannels, channels: channels, into: u.pointer, threads: threads, pool: pool)
  defer { convolutionScratch.give(u) }
  let uPointer = SendablePointer(u.pointer)
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let biasPointer = bias.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
  let y = SendablePointer(output)
  let participants = max(1, min(threads ?? pool.threadCount, pool.threadCount, items))
  let queue = WorkQueue(count: items)
  pool.run(sharing: participants) { _ in
    let scratch = convolutionScratch.take(vCount + mCount)
    let v = scratch.pointer  // 16 × C × ldv
    let m = v + vCount + winogradOutputReadSlack  // 16 × O × width
    kernel.variants.withUnsafeBufferPointer { variants in
      // Each item is claimed one ahead, so that its samples can be prefetched meanwhile, block by block.
      var claimed = queue.claim()
      while let item = claimed {
        claimed = queue.claim()
        let first = item * samples
        let count = min(samples, batch - first)
        let ahead = claimed.map { x.base + $0 * samples * g.inputCount }
        let aheadCount = claimed.map { min(samples, batch - $0 * samples) * g.inputCount } ?? 0
        let columns = count * tiles  // the item's tiles, sample after sample
        var j0 = 0
        while j0 < columns {
          let ncols = min(width, columns - j0)
          if let ahead {  // the next item's share for this block
            let from = aheadCount * j0 / columns
            rn_prefetch(ahead + from, aheadCount * (j0 + ncols) / columns - from)
          }
          forEachWinogradSegment(of: j0..<(j0 + ncols), tiles: tiles) { s, t0, t1, column in
            rn_winograd_input(
              x.base + (first + s) * g.inputCount, channels, g.height, g.width, t0, t1, v + column, ldv, vMatrix)
          }
          winogradProducts(
            kernel, variants, u: uPointer.base, outputChannels: outputChannels, channels: channels, v: v, ldv: ldv,
            vMatrix: vMatrix, m: m, ldm: width, mMatrix: mMatrix, tiles: ncols)
          forEachWinogradSegment(of: j0..<(j0 + ncols), tiles: tiles) { s, t0, t1, column in
            rn_winograd_output(
              m + column, outputChannels, width, mMatrix, biasPointer?.base, nil, 0, g.height, g.width, t0, t1,
              y.base + (first + s) * outputChannels * g.outputPixels)
          }
          j0 += width
        }
      }
    }
    convolutionScratch.give(scratch)
  }
}

/// The scratch layout of one block of tiles of a Winograd forward pass: V (the block's transformed
/// input tiles) and M (their products with U), each as 16 matrices.
struct WinogradBlockLayout {
  /// Tiles per block: two register tiles' width where V and M of a block stay small (≤ 32 channels
  /// each way), so that fewer of the transforms' chunks of 16 tiles straddle two blocks; else one.
  let width: Int
  /// V's row stride: a block's tiles, then what the input transform may write past them; for F(4×4,
  /// 3×3) an odd number of cache lines, so that the GEMMs' reads down V's rows do not crowd a few L1
  /// sets (measured: ResNet-50's 14×14 layers at batch 1, 2 threads, 3–6% faster than at two lines).
  let ldv: Int
  /// Floats from one of V's matrices (C × ldv) to the next, and V's whole size.
  let vMatrix: Int, vCount: Int
  /// Floats from one of M's matrices (O × width) to the next, and M's whole size with slack either
  /// side for the output transform's whole-vector reads.
  let mMatrix: Int, mCount: Int

  /// The layout for `channels` in, `outputChannels` out, register tiles `nr` columns wide and
  /// `matrices` matrices (16 for F(2×2, 3×3), 36 for F(4×4, 3×3)).
  init(channels: Int, outputChannels: Int, nr: Int, matrices: Int = 16) {
    width = channels <= 32 && outputChannels <= 32 ? 2 * nr : nr
    ldv = matrices == 36 ? oddLineStride(width + vectorSlack) : width + vectorSlack
    vMatrix = oddLineStride(channels * ldv)
    vCount = matrices * vMatrix + vectorSlack
    mMatrix = oddLineStride(outputChannels * width)
    mCount = matrices * mMatrix + 2 * winogradOutputReadSlack
  }
}

/// The 16 GEMMs of a block of `tiles` tiles: `M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C × tiles)`
/// for output channels `rows` (all by default), U's 16 matrices `outputChannels × channels` apart, V's
/// `vMatrix` apart (rows `ldv` apart), M's `mMatrix` apart (rows `ldm` apart, channel o in row o).
@inline(__always)
func winogradProducts(
  _ kernel: GEMMKernel, _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, u: UnsafePointer<Float>,
  outputChannels: Int, rows: Range<Int>? = nil, channels: Int, v: UnsafePointer<Float>, ldv: Int, vMatrix: Int,
  m: UnsafeMutablePointer<Float>, ldm: Int, mMatrix: Int, tiles: Int
) {
  let rows = rows ?? 0..<outputChannels
  for xi in 0..<16 {
    let panel = v + xi * vMatrix  // V[ξ]: C × tiles, row stride ldv
    kernel.multiply(
      variants, m: rows.count, n: tiles, depth: channels, kc: GEMMBlocking.kc,
      a: u + (xi * outputChannels + rows.lowerBound) * channels, lda: channels,
      c: m + xi * mMatrix + rows.lowerBound * ldm, ldc: ldm
    ) { pc, _ in (panel + pc * ldv, ldv) }
  }
}

/// Samples per item of ``winogradConvolutionForward(input:geometry:batch:weight:outputChannels:bias:output:threads:pool:)``
/// for `tiles` tiles per sample and blocks of `nr` tiles: of 1 ... 16, the fewest whose blocks waste at
/// most 5% of their columns (the last block of an item may be short), else the least wasteful.
func winogradSamplesPerItem(tiles: Int, nr: Int, batch: Int) -> Int {
  func waste(_ s: Int) -> Double { Double(roundUp(s * tiles, nr)) / Double(s * tiles) }
  let candidates = 1...max(1, min(16, batch))
  return candidates.first { waste($0) <= 1.05 } ?? candidates.min { waste($0) < waste($1) }!
}

/// `U[ξ][o][c] = (G·g·Gᵀ)[ξ]` for each 3×3 kernel `g = weight[o][c]`, with
/// `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`: 16 matrices of `outputChannels × channels`.
/// Output channels are shared out over the pool's threads (each writes its own).
func winogradTransformWeight(
  _ weight: UnsafePointer<Float>, outputChannels: Int, channels: Int, into u: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let matrix = outputChannels * channels
  let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
  let target = SendablePointer(u)
  parallelRanges(outputChannels, work: 16 * matrix, threads: threads, pool: pool) { range in
    for o in range {
      for c in 0..<channels {
        let g = w.base + (o * channels + c) * 9  // 3 × 3
        let out = target.base + o * channels + c
        // t = G·g (4 × 3), row by row, then u = t·Gᵀ (4 × 4).
        func row(_ i: Int, _ t0: Float, _ t1: Float, _ t2: Float) {
          out[(4 * i) * matrix] = t0
          out[(4 * i + 1) * matrix] = (t0 + t1 + t2) * 0.5
          out[(4 * i + 2) * matrix] = (t0 - t1 + t2) * 0.5
          out[(4 * i + 3) * matrix] = t2
        }
        row(0, g[0], g[1], g[2])
        row(1, (g[0] + g[3] + g[6]) * 0.5, (g[1] + g[4] + g[7]) * 0.5, (g[2] + g[5] + g[8]) * 0.5)
        row(2, (g[0] - g[3] + g[6]) * 0.5, (g[1] - g[4] + g[7]) * 0.5, (g[2] - g[5] + g[8]) * 0.5)
        row(3, g[6], g[7], g[8])
      }
    }
  }
}

/// `U[ξ][o][c] = (G·g·Gᵀ)[ξ]` of Winograd's F(4×4, 3×3) for each 3×3 kernel `g = weight[o][c]`, with
/// `G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]`: 36
/// matrices of `outputChannels × channels`, computed in double precision and rounded once.
func winograd4TransformWeight(
  _ weight: UnsafePointer<Float>, outputChannels: Int, channels: Int, into u: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let matrix = outputChannels * channels
  let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
  let target = SendablePointer(u)
  // G's rows.
  let g: [(Double, Double, Double)] = [
    (1.0 / 4, 0, 0), (-1.0 / 6, -1.0 / 6, -1.0 / 6), (-1.0 / 6, 1.0 / 6, -1.0 / 6),
    (1.0 / 24, 1.0 / 12, 1.0 / 6), (1.0 / 24, -1.0 / 12, 1.0 / 6), (0, 0, 1),
  ]
  parallelRanges(outputChannels, work: 36 * matrix, threads: threads, pool: pool) { range in
    for o in range {
      for c in 0..<channels {
        let k = w.base + (o * channels + c) * 9  // 3 × 3
        let out = target.base + o * channels + c
        for i in 0..<6 {
          // Row i of G·g, then its products with Gᵀ's columns (G's rows).
          let (a, b, e) = g[i]
          let t0 = a * Double(k[0]) + b * Double(k[3]) + e * Double(k[6])
          let t1 = a * Double(k[1]) + b * Double(k[4]) + e * Double(k[7])
          let t2 = a * Double(k[2]) + b * Double(k[5]) + e * Double(k[8])
          for j in 0..<6 {
            let (p, q, r) = g[j]
            out[(6 * i + j) * matrix] = Float(p * t0 + q * t1 + r * t2)
          }
        }
      }
    }
  }
}

/// A stride of at least `floats` floats in whole cache lines, an odd number of them: the 16 matrices
/// of a transform, read or written together element by element, then fall in 16 different L1 sets
/// (at a multiple of 4 KiB apart they would all share one).
func oddLineStride(_ floats: Int) -> Int {
  ((floats + 15) / 16 | 1) * 16
}
