import CKernels

extension PreparedConvolution {
  /// Winograd's F(4×4, 3×3) in float32 where ``takesWinograd4(geometry:outputChannels:)`` (`rn_winograd4_input`,
  /// `rn_winograd4_output`: 36 GEMMs per block), else F(2×2, 3×3), with the
  /// weight transformed at load (see
  /// ``winogradConvolutionForward(input:geometry:batch:weight:outputChannels:bias:output:threads:pool:)``
  /// for the transforms and the block layout). The tiles of the whole batch, sample after sample, are
  /// cut into blocks of one or two register tiles' width, and the threads take blocks as they come
  /// free — with few blocks (one small image), each block's output channels in parts, so that the
  /// threads get even shares. A tile's result does not depend on its block, its place in it or the
  /// channels computed with it (each element of a GEMM is computed alone, over the same `kc` slices),
  /// and the output transform adds the bias and the residual and applies the ReLU as it writes. In bf16
  /// the input transform writes a block's V rounded, as pair rows, and the 16 GEMMs run on the bf16
  /// micro-kernels.
  func winogradForward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue,
    threads: Int?, pool: ThreadPool
  ) {
    let g = geometry
    let kernel = GEMMKernel.best
    let (mr, nr) = bf16 == nil ? (kernel.mr, kernel.nr) : (BF16Kernel.mr, BF16Kernel.nr)
    let (channels, o) = (g.channels, outputChannels)
    let f4 = winogradTile == 4  // F(4×4, 3×3): 36 matrices, tiles of 4×4 output pixels
    let matrices = f4 ? 36 : 16
    let tiles = f4 ? (g.height + 3) / 4 * ((g.width + 3) / 4) : (g.height + 1) / 2 * ((g.width + 1) / 2)
    let lineFloats = f4 ? rn_winograd4_line_floats(g.width) : 0
    let layout = WinogradBlockLayout(channels: channels, outputChannels: o, nr: nr, matrices: matrices)
    // bf16: V's 16 matrices as pair rows, ⌈C/2⌉ × ldv words each (the slack as in float32), vbMatrix
    // words apart, in place of V in float32.
    let pairs = bf16Pairs
    let vbMatrix = oddLineStride(pairs * layout.ldv)
    let (width, ldv, vMatrix, mMatrix, mCount) = (
      layout.width, layout.ldv, layout.vMatrix, layout.mMatrix, layout.mCount
    )
    let vCount = bf16 == nil ? layout.vCount : 16 * vbMatrix + vectorSlack
    let columns = batch * tiles  // every tile of the batch, sample after sample
    let blocks = (columns + width - 1) / width
    // In bf16 U is bf16Weight, and `u` (any pointer) is not read.
    let u = SendablePointer(transformed ?? UnsafeMutablePointer(mutating: epilogue.bias))
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let bias = SendablePointer(UnsafeMutablePointer(mutating: epilogue.bias))
    let residual = epilogue.residual.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    let relu: Int32 = epilogue.relu ? 1 : 0
    let y = SendablePointer(output)
    let threadCount = max(1, min(threads ?? pool.threadCount, pool.threadCount))
    let share = WinogradBlockShare(blocks: blocks, outputChannels: o, mr: mr, threads: threadCount)
    // Block `block`'s V (its tiles' input transform) into `v`: matrices × C × ldv floats, or in bf16
    // 16 × ⌈C/2⌉ × ldv words (vbMatrix apart). F(4×4, 3×3) reads each tile row's six input rows from
    // a zero-framed line of its own (rn_winograd4_line_floats floats, on the stack).
    func transform(_ block: Int, into v: UnsafeMutablePointer<Float>) {
      let j0 = block * width
      forEachWinogradSegment(of: j0..<min(columns, j0 + width), tiles: tiles) { s, t0, t1, column in
        let sample = x.base + s * g.inputCount
        if f4 {
          withUnsafeTemporaryAllocation(of: Float.self, capacity: lineFloats) { line in
            rn_winograd4_input(
              sample, channels, g.height, g.width, t0, t1, v + column, ldv, vMatrix, line.baseAddress!)
          }
        } else if bf16 == nil {
          rn_winograd_input(sample, channels, g.height, g.width, t0, t1, v + column, ldv, vMatrix)
        } else {
          rn_winograd_input_bf16(
            sample, channels, g.height, g.width, t0, t1, v + column, ldv, vbMatrix, bf16!.isNative ? 1 : 0)
        }
      }
    }
    // Output channels `rows` of block `block` from its V: the GEMMs into `m` (matrices × O × width), then
    // the output transform with the epilogue.
    func multiply(
      _ block: Int, rows: Range<Int>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
      variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>
    ) {
      let j0 = block * width
      let ncols = min(width, columns - j0)
      if let bf16 {
        for xi in 0..<16 {  // M[ξ] (rows × tiles) = U[ξ] (rows × C) · V[ξ] (C × tiles)
          let panel = UnsafeRawPointer(v + xi * vbMatrix)
          bf16.multiply(
            m: rows.count, n: ncols, depth: channels, kc: GEMMBlocking.kc,
            a: bf16Weight! + (xi * o + rows.lowerBound) * pairs * 4, lda: pairs,
            c: m + xi * mMatrix + rows.lowerBound * width, ldc: width
          ) { pc, _ in (panel + pc / 2 * ldv * 4, ldv) }
        }
      } else {
        // M[ξ] (rows × tiles) = U[ξ] (rows × C, in panels of mr rows) · V[ξ] (C × tiles).
        let panels = (o + mr - 1) / mr
        for xi in 0..<matrices {
          let panel = UnsafePointer(v + xi * vMatrix)  // V[ξ]: C × tiles, row stride ldv
          kernel.multiplyPackedA(
            variants, m: rows.count, n: ncols, depth: channels, kc: GEMMBlocking.kc,
            a: u.base + (xi * panels + rows.lowerBound / mr) * channels * mr,
            c: m + xi * mMatrix + rows.lowerBound * width, ldc: width
          ) { pc, _ in (panel + pc * ldv, ldv) }
        }
      }
      forEachWinogradSegment(of: j0..<(j0 + ncols), tiles: tiles) { s, t0, t1, column in
        let at = (s * o + rows.lowerBound) * g.outputPixels  // output[s, rows]: rows × Ho·Wo
        let transform = f4 ? rn_winograd4_output : rn_winograd_output
        transform(
          m + rows.lowerBound * width + column, rows.count, width, mMatrix, bias.base + rows.lowerBound,
          residual.map { $0.base + at }, relu, g.height, g.width, t0, t1, y.base + at)
      }
    }
    if share.transformsOnce {
      share.runTransformingOnce(pool: pool, vFloats: vCount, scratchFloats: mCount) { block, v in
        transform(block, into: v)
      } multiply: { block, rows, v, scratch in
        let m = scratch + winogradOutputReadSlack  // matrices × O × width
        kernel.variants.withUnsafeBufferPointer { variants in
          multiply(block, rows: rows, v: v, m: m, variants: variants)
        }
      }
      return
    }
    // Per thread: V (matrices × C × ldv floats, or in bf16 16 × ⌈C/2⌉ × ldv words, vbMatrix apart),
    // then M (matrices × O × width).
    share.run(pool: pool, scratchFloats: vCount + mCount) { block, scratch in
      transform(block, into: scratch)
    } multiply: { block, rows, scratch in
      kernel.variants.withUnsafeBufferPointer { variants in
        multiply(block, rows: rows, v: scratch, m: scratch + vCount + winogradOutputReadSlack, variants: variants)
      }
    }
  }
}

/// How a Winograd forward shares its blocks of tiles out over the threads: with few blocks, each
/// block's output channels in parts — enough units for even shares (≥ 4 per thread), parts of at least
/// 32 channels in whole register tiles — and the threads take units as they come free.
struct WinogradBlockShare {
  /// Blocks, channel parts per block, and output channels per part (whole register tiles).
  let blocks: Int, parts: Int, partRows: Int
  let outputChannels: Int
  /// The threads that take part.
  let participants: Int

  init(blocks: Int, outputChannels o: Int, mr: Int, threads: Int) {
    var parts = 1
    while blocks * parts < 4 * threads && o / (2 * parts) >= 32 { parts *= 2 }
    self.blocks = blocks
    self.parts = parts
    partRows = roundUp((o + parts - 1) / parts, mr)
    outputChannels = o
    participants = min(threads, blocks * parts)
  }

  /// The output channels of part `part`.
  func rows(_ part: Int) -> Range<Int> {
    min(outputChannels, part * partRows)..<min(outputChannels, (part + 1) * partRows)
  }

  /// Whether the blocks are few and in parts on several threads: then each thread that took a part of a
  /// block would transform the block again, and ``runTransformingOnce(pool:vFloats:scratchFloats:transform:multiply:)``
  /// makes every block's V once instead.
  var transformsOnce: Bool { parts > 1 && participants > 1 }

  /// Runs every (block, part) unit as ``run(pool:scratchFloats:transform:multiply:)`` does, with every
  /// block's V made once: first the blocks' transforms, `transform(block, v)`, shared out over the threads
  /// into one buffer of `vFloats` floats per block, then the units, `multiply(block, rows, v, scratch)`
  /// reading the block's V at `v`, each thread with `scratchFloats` floats of scratch of its own.
  func runTransformingOnce(
    pool: ThreadPool, vFloats: Int, scratchFloats: Int,
    transform: (_ block: Int, _ v: UnsafeMutablePointer<Float>) -> Void,
    multiply: (
      _ block: Int, _ rows: Range<Int>, _ v: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>
    ) -> Void
  ) {
    let shared = convolutionScratch.take(blocks * vFloats)  // blocks × vFloats
    defer { convolutionScratch.give(shared) }
    let all = SendablePointer(shared.pointer)
    let blockQueue = WorkQueue(count: blocks)
    pool.run(sharing: min(participants, blocks)) { _ in
      while let block = blockQueue.claim() { transform(block, all.base + block * vFloats) }
    }
    run(pool: pool, scratchFloats: scratchFloats) { _, _ in
    } multiply: { block, rows, scratch in
      multiply(block, rows, all.base + block * vFloats, scratch)
    }
  }

  /// Runs every (block, part) unit on `participants` threads of `pool`, each with `scratchFloats` floats
  /// of scratch of its own: `transform(block, scratch)` when a thread takes a unit of a block other than
  /// the last it transformed, then `multiply(block, rows, scratch)`.
  func run(
    pool: ThreadPool, scratchFloats: Int,
    transform: (_ block: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void,
    multiply: (_ block: Int, _ rows: Range<Int>, _ scratch: UnsafeMutablePointer<Float>) -> Void
  ) {
    let queue = WorkQueue(count: blocks * parts)
    pool.run(sharing: participants) { _ in
      let scratch = convolutionScratch.take(scratchFloats)
      var transformed = -1  // the block whose transform is in the scratch
      while let unit = queue.claim() {
        let (block, part) = unit.quotientAndRemainder(dividingBy: parts)
        if block != transformed {
          transform(block, scratch.pointer)
          transformed = block
        }
        guard !rows(part).isEmpty else { continue }
        multiply(block, rows(part), scratch.pointer)
      }
      convolutionScratch.give(scratch)
    }
  }
}
