import CKernels

/// The weight gradient of a 3×3, stride-1, padding-1 convolution without a column matrix, one group of
/// samples (``ConvolutionGrouping``) at a time.
///
/// A group's input is laid out channel by channel, its samples' planes one after another, each plane
/// `(H + 1) × (W + 1)` with a zero row above and a zero column on the left (`rn_frame_planes`, lead 1):
/// consecutive rows and planes share these as the window's padding. Output position `(s, oh, ow)` is
/// then depth `d = s·(H+1)·(W+1) + oh·(W+1) + ow`, and tap `(i, j)` of channel `c` reads the input at
/// `d + i·(W+1) + j` of channel `c`'s region — the im2col matrix's row, read in place: no copy, one
/// constant row stride for every channel of a tap. The output gradient is laid out the same way with
/// zeros at the depths that are no output position (lead 0), which the GEMM then multiplies by
/// whatever the input holds there (finite: input values or zeros). The depth is about 6% (32×32), 13%
/// (16×16) and 27% (8×8) longer than the group's pixel count.
///
/// Each group's gradient goes to its own `partials + group · K · O`, `K × O` with rows in (tap, channel)
/// order (row `t·C + c`); the caller adds the groups in group order. Every group is computed by one
/// thread with fixed loops (depth slices of ``GEMMBlocking/kc``, the B panels of the output gradient
/// packed once per slice), so the result does not depend on the thread count.
func implicitWeightGradient(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, grouping: ConvolutionGrouping,
  gradOutput: UnsafePointer<Float>, outputChannels: Int, partials: UnsafeMutablePointer<Float>,
  threads: Int?, pool: ThreadPool
) {
  precondition(g.isSamePadded3x3, "implicitWeightGradient: \(g)")
  let kernel = GEMMKernel.best
  let (mr, nr) = (kernel.mr, kernel.nr)
  let channels = g.channels
  let pixels = g.outputPixels
  let rowStride = g.width + 1
  let planeStride = (g.height + 1) * rowStride  // one sample's framed plane
  let longest = grouping.samples * planeStride  // a full group's depth
  let slack = 2 * rowStride + 2 + vectorSlack  // read past the last channel's region by the lower taps
  let kc = GEMMBlocking.kc
  let panels = (outputChannels + nr - 1) / nr
  let gradOutputOffset = roundUp(channels * longest + slack, cacheLineFloats)
  let packedOffset = gradOutputOffset + roundUp(outputChannels * longest, cacheLineFloats)
  let scratchFloats = packedOffset + roundUp(min(kc, longest) * panels * nr, cacheLineFloats)
  let weightCount = outputChannels * g.columnRows
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let dy = SendablePointer(UnsafeMutablePointer(mutating: gradOutput))
  let out = SendablePointer(partials)
  grouping.run(threads: threads, pool: pool, scratchFloats: scratchFloats) { first, count, scratch in
    let depth = count * planeStride
    let framedInput = scratch  // C × depth (+ slack): the group's input, framed with lead 1
    let framedGradient = scratch + gradOutputOffset  // O × depth: the output gradient, framed with lead 0
    let packed = scratch + packedOffset  // panels × kc × nr: one depth slice of the output gradient
    (framedInput + channels * depth).update(repeating: 0, count: slack)
    for s in 0..<count {
      rn_frame_planes(
        x.base + (first + s) * g.inputCount, channels, g.height * g.width, g.height, g.width, 1,
        framedInput + s * planeStride, depth)
      rn_frame_planes(
        dy.base + (first + s) * outputChannels * pixels, outputChannels, pixels, g.height, g.width, 0,
        framedGradient + s * planeStride, depth)
    }
    // op(B) = the framed output gradient transposed (depth × O), packed by GEMMProblem.packB.
    let partial = out.base + first / grouping.samples * weightCount  // (9·C) × O, rows (tap, channel)
    let problem = GEMMProblem(
      transA: .none, transB: .transposed, m: 9 * channels, n: outputChannels, k: depth, alpha: 1,
      a: framedInput, lda: depth, b: framedGradient, ldb: depth, beta: 0, c: SendablePointer(partial),
      ldc: outputChannels, kernel: kernel)
    kernel.variants.withUnsafeBufferPointer { variants in
      var pc = 0
      while pc < depth {
        let kcur = min(kc, depth - pc)
        problem.packB(into: packed, depth: pc..<(pc + kcur), columns: 0..<outputChannels)
        let scales = rn_scales(alpha: 1, beta: pc == 0 ? 0 : 1)
        for tap in 0..<9 {
          let tapOffset = tap / 3 * rowStride + tap % 3
          var c0 = 0
          while c0 < channels {
            let mcur = min(mr, channels - c0)
            let a = framedInput + c0 * depth + tapOffset + pc  // mcur rows of kcur, row stride depth
            var jr = 0
            while jr < outputChannels {
              let ncols = min(nr, outputChannels - jr)
              let micro = variants[kernel.variantIndex(rows: mcur, columns: ncols)]
              micro(
                kcur, a, depth, 1, packed + jr / nr * kcur * nr, nr,
                partial + (tap * channels + c0) * outputChannels + jr,
                outputChannels, scales, ncols, nil, nil)
              jr += nr
            }
            c0 += mr
          }
        }
        pc += kcur
      }
    }
  }
}
