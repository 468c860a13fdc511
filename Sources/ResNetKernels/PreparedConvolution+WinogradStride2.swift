import CKernels

extension PreparedConvolution {
  /// The kernel taps (0 ... 2) summed into axis value a of U (a < 5): w0, w0 + w2, w2, w1, w1.
  private static let stride2Taps = [[0], [0, 2], [2], [1], [1]]
  /// The Winograd element (0 ... 2) of axis value a.
  private static let stride2Element = [0, 1, 2, 0, 1]
  /// For each Winograd element (r, s), row-major: its first matrix of V and its axis pairs (a, b) in the
  /// order of their matrices, as `rn_winograd_s2_slot` places them (see `winograd_stride2.c`).
  static let stride2Elements: [(first: Int, pairs: [(a: Int, b: Int)])] = (0..<9).map { e in
    let pairs = (0..<25).map { ($0 / 5, $0 % 5) }.filter { 3 * stride2Element[$0.0] + stride2Element[$0.1] == e }
    let ordered = pairs.map { (slot: Int(rn_winograd_s2_slot(Int32($0.0), Int32($0.1))), a: $0.0, b: $0.1) }
      .sorted { $0.slot < $1.slot }
    return (ordered[0].slot, ordered.map { ($0.a, $0.b) })
  }

  /// Whether a float32 convolution of geometry `g` to `outputChannels` takes the stride-2 Winograd
  /// path: 3×3, stride 2, padding 1, with enough channels either way
  /// (``ConvolutionBlocking/winogradMinimumChannels``) and a transformed weight (25/9 of the weight) of
  /// at most ``ConvolutionBlocking/winogradStride2MaximumWeightBytes``.
  public static func takesWinogradStride2(geometry g: ConvGeometry, outputChannels: Int) -> Bool {
    let bytes = 25 * outputChannels * g.channels * MemoryLayout<Float>.stride
    return g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 2 && g.strideWidth == 2
      && g.padHeight == 1 && g.padWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
      && g.channels >= ConvolutionBlocking.winogradMinimumChannels
      && outputChannels >= ConvolutionBlocking.winogradMinimumChannels
      && bytes <= ConvolutionBlocking.winogradStride2MaximumWeightBytes
  }

  /// U of the stride-2 path: for each of the 9 elements e, an `outputChannels × (pairs·channels)`
  /// matrix (column j·channels + c: the element's j-th axis pair, input channel c) in register-tile
  /// panels of `mr` rows (``packRowPanels(_:matrices:rows:columns:mr:)``), element after element.
  static func winogradStride2Weight(
    _ weight: UnsafePointer<Float>, outputChannels o: Int, channels: Int, mr: Int
  ) -> UnsafeMutablePointer<Float> {
    let panels = (o + mr - 1) / mr
    let total = 25 * panels * mr * channels
    let packed = allocateAlignedFloats(total)  // Σₑ ⌈O/mr⌉ × pairs·C × mr
    packed.initialize(repeating: 0, count: total)
    var base = packed
    for (_, pairs) in stride2Elements {
      let depth = pairs.count * channels
      for (j, (a, b)) in pairs.enumerated() {
        for row in 0..<o {
          let to = base + (row / mr * depth + j * channels) * mr + row % mr
          for c in 0..<channels {
            let w = weight + (row * channels + c) * 9  // the 3×3 kernel, row-major
            var sum: Float = 0
            for k in stride2Taps[a] {
              for l in stride2Taps[b] { sum += w[3 * k + l] }
            }
            to[c * mr] = sum
          }
        }
      }
      base += panels * depth * mr
    }
    return packed
  }

  /// A 3×3, stride-2, padding-1 convolution as four stride-1 convolutions of its input's phases by
  /// Winograd's F(2×2, 2×2), with U transformed and packed at load (`rn_winograd_s2_input`,
  /// `rn_winograd_s2_output`): per tile of 2×2 outputs, 9 GEMMs of depth 4, 4, 2, 4, 4, 2, 2, 2 and 1
  /// times the channels — 25 products per input channel for four outputs, against 36. Blocks of tiles
  /// and their parts of the output channels are shared out over the threads as on Winograd's path,
  /// with the same guarantees: a tile's result depends neither on its block nor on the thread count.
  func winogradStride2Forward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue,
    threads: Int?, pool: ThreadPool
  ) {
    let g = geometry
    let kernel = GEMMKernel.best
    let (mr, nr) = (kernel.mr, kernel.nr)
    let (channels, o) = (g.channels, outputChannels)
    let tiles = (g.outputHeight + 1) / 2 * ((g.outputWidth + 1) / 2)
    let lineFloats = rn_winograd_s2_line_floats(g.width)
    let width = channels <= 32 && o <= 32 ? 2 * nr : nr  // tiles per block, as on Winograd's path
    let ldv = oddLineStride(width + vectorSlack)
    let vMatrix = channels * ldv  // one pair's C × ldv: an element's pairs stacked as one matrix
    let vCount = 25 * vMatrix + vectorSlack
    let mMatrix = oddLineStride(o * width)
    let mCount = 9 * mMatrix + 2 * winogradOutputReadSlack
    let columns = batch * tiles  // every tile of the batch, sample after sample
    let blocks = (columns + width - 1) / width
    let panels = (o + mr - 1) / mr
    let u = SendablePointer(transformed!)
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let bias = SendablePointer(UnsafeMutablePointer(mutating: epilogue.bias))
    let residual = epilogue.residual.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    let relu: Int32 = epilogue.relu ? 1 : 0
    let y = SendablePointer(output)
    let threadCount = max(1, min(threads ?? pool.threadCount, pool.threadCount))
    // Block `block`'s V into `v`: 25 matrices of C × ldv, `vMatrix` apart.
    func transform(_ block: Int, into v: UnsafeMutablePointer<Float>) {
      let j0 = block * width
      forEachWinogradSegment(of: j0..<min(columns, j0 + width), tiles: tiles) { s, t0, t1, column in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: lineFloats) { line in
          rn_winograd_s2_input(
            x.base + s * g.inputCount, channels, g.height, g.width, t0, t1, v + column, ldv, vMatrix,
            line.baseAddress!)
        }
      }
    }
    // Output channels `rows` of block `block` from its V: the 9 GEMMs into `m` (9 × O × width), then the
    // output transform with the epilogue.
    func multiply(
      _ block: Int, rows: Range<Int>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
      variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>
    ) {
      let j0 = block * width
      let ncols = min(width, columns - j0)
      var element = u.base  // U of element e: ⌈O/mr⌉ panels of depth × mr
      for (e, (first, pairs)) in Self.stride2Elements.enumerated() {
        let depth = pairs.count * channels
        let stacked = UnsafePointer(v + first * vMatrix)  // depth × tiles, row stride ldv
        kernel.multiplyPackedA(
          variants, m: rows.count, n: ncols, depth: depth, kc: GEMMBlocking.kc,
          a: element + rows.lowerBound / mr * depth * mr, c: m + e * mMatrix + rows.lowerBound * width, ldc: width
        ) { pc, _ in (stacked + pc * ldv, ldv) }
        element += panels * depth * mr
      }
      forEachWinogradSegment(of: j0..<(j0 + ncols), tiles: tiles) { s, t0, t1, column in
        let at = (s * o + rows.lowerBound) * g.outputPixels  // output[s, rows]: rows × Ho·Wo
        rn_winograd_s2_output(
          m + rows.lowerBound * width + column, rows.count, width, mMatrix, bias.base + rows.lowerBound,
          residual.map { $0.base + at }, relu, g.outputHeight, g.outputWidth, t0, t1, y.base + at)
      }
    }
    let share = WinogradBlockShare(blocks: blocks, outputChannels: o, mr: mr, threads: threadCount)
    if share.transformsOnce {
      share.runTransformingOnce(pool: pool, vFloats: vCount, scratchFloats: mCount) { block, v in
        transform(block, into: v)
      } multiply: { block, rows, v, scratch in
        kernel.variants.withUnsafeBufferPointer { variants in
          multiply(block, rows: rows, v: v, m: scratch + winogradOutputReadSlack, variants: variants)
        }
      }
      return
    }
    // Per thread: V (25 × C × ldv), then M (9 × O × width).
    share.run(pool: pool, scratchFloats: vCount + mCount) { block, scratch in
      transform(block, into: scratch)
    } multiply: { block, rows, scratch in
      kernel.variants.withUnsafeBufferPointer { variants in
        multiply(block, rows: rows, v: scratch, m: scratch + vCount + winogradOutputReadSlack, variants: variants)
      }
    }
  }
}
