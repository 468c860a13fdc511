import CKernels

extension PreparedConvolution {
  /// The weight packed at load as the B operand of ``packedWeightForward(_:batch:output:epilogue:threads:pool:)``:
  /// for each panel of `nr` output channels, its `columnRows × nr` block of `weightᵀ` (row k: the
  /// panel's channels' tap k, zero past the last channel), panels `columnRows · nr` floats apart.
  static func packWeight(
    _ weight: UnsafePointer<Float>, outputChannels: Int, columnRows k: Int, nr: Int
  ) -> UnsafeMutablePointer<Float> {
    let panels = (outputChannels + nr - 1) / nr
    let packed = allocateAlignedFloats(panels * k * nr)
    packed.initialize(repeating: 0, count: panels * k * nr)
    for o in 0..<outputChannels {
      let target = packed + (o / nr) * k * nr + o % nr  // column o % nr of panel o / nr
      for row in 0..<k { target[row * nr] = weight[o * k + row] }
    }
    return packed
  }

  /// The convolution as `Cᵀ (pixels × O) = columnsᵀ (pixels × K) · weightᵀ (K × O)`, for layers with
  /// more output channels than output pixels (a small plane: ResNet's later stages at batch 1): the
  /// pixels are the GEMM's rows, packed from the column matrix in blocks of a register tile's rows
  /// (of ``tileHeight(rows:mr:)``, ``packA(_:ld:n:mr:kc:into:threads:pool:)``), and the channels its columns, whole register tiles
  /// of the weight packed once at load — so few pixels waste little of a tile, and the weight streams
  /// from memory in the order the micro-kernel reads it. Samples go in groups (``ConvolutionGrouping``
  /// of about ``ConvolutionBlocking/packedWeightGroupColumns`` columns); a group's register-tile panels
  /// of channels are shared out over the threads, or, with at least as many groups as threads, the
  /// groups are. The result is transposed into NCHW by blocks of channels, each plane given the
  /// epilogue in place as soon as it is written.
  ///
  /// Each output value is the sum over the same `kc` slices in the same order as on any other path of
  /// this class's, whatever the group it is in.
  func packedWeightForward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue,
    threads: Int?, pool: ThreadPool
  ) {
    let g = geometry
    let kernel = GEMMKernel.best
    let (mr, nr) = bf16 == nil ? (kernel.mr, kernel.nr) : (BF16Kernel.mr, BF16Kernel.nr)
    let (k, pixels, o) = (g.columnRows, g.outputPixels, outputChannels)
    let kc = min(GEMMBlocking.kc, k)
    let grouping = ConvolutionGrouping(geometry: g, batch: batch, columns: ConvolutionBlocking.packedWeightGroupColumns)
    let ld = grouping.rowStride
    let panels = (o + nr - 1) / nr
    let threadCount = max(1, min(threads ?? pool.threadCount, pool.threadCount))
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let y = SendablePointer(output)
    let w = SendablePointer(packedWeight ?? bias)  // any pointer in bf16: unread
    let pairs = (k + 1) / 2
    let ldp = roundUp(grouping.columns, cacheLineFloats) + mr  // bf16 pair rows' stride, in words
    // One sample of a pointwise stride-1 convolution on a plane of enough pixels is its own A, read in place
    // (rows one pixel apart, depths a plane apart) instead of packed.
    let inPlaceA =
      bf16 == nil && g.isPointwise && grouping.samples == 1
      && pixels >= ConvolutionBlocking.packedWeightInPlaceMinimumPixels
    // Channel panels `range` of one group whose A operand is `columns` (in float32 its column matrix
    // as packA packs it, in bf16 its pair rows): Cᵀ rows of n pixels, row stride o, into `staged`.
    func multiply(
      _ range: Range<Int>, columns: UnsafePointer<Float>, n: Int, staged: UnsafeMutablePointer<Float>
    ) {
      if let bf16 {
        // A is the columns' pair rows (⌈K/2⌉ × n words, stride ldp), read down its columns.
        let a = UnsafeRawPointer(columns)
        for panel in range {
          let b = UnsafeRawPointer(bf16Weight!) + panel * pairs * nr * 4  // ⌈K/2⌉ × nr words
          let width = min(nr, o - panel * nr)
          var pc = 0
          while pc < k {
            let kcur = min(kc, k - pc)
            bf16.multiply(
              m: n, n: width, pairs: (kcur + 1) / 2, a: a + pc / 2 * ldp * 4, aRowStride: 1, aPairStride: ldp,
              b: b + pc / 2 * nr * 4, ldb: nr, c: staged + panel * nr, ldc: o, accumulate: pc > 0)
            pc += kcur
          }
        }
        return
      }
      // A, packed by packA (or the sample in place): depth slices outermost, so that a slice (about 80 KB
      // for ResNet's 7×7 layers) stays in L2 while every panel of the range multiplies it.
      let h = tileHeight(rows: n, mr: mr)
      let blocks = (n + h - 1) / h
      kernel.variants.withUnsafeBufferPointer { variants in
        var pc = 0
        while pc < k {
          let kcur = min(kc, k - pc)
          let scales = rn_scales(alpha: 1, beta: pc == 0 ? 0 : 1)
          let slice = columns + pc * blocks * h
          for panel in range {
            let b = w.base + panel * k * nr + pc * nr  // kcur × nr
            let width = min(nr, o - panel * nr)
            // The first block prefetches the next panel's slice of the weight, streamed from memory.
            let next = panel + 1 < range.upperBound ? UnsafePointer(b + k * nr) : nil
            for block in 0..<blocks {
              let i = block * h
              let variant = variants[kernel.variantIndex(rows: min(h, n - i), columns: width)]
              let prefetch = block == 0 ? next : nil
              if inPlaceA {
                variant(
                  kcur, columns + pc * n + i, 1, n, b, nr, staged + i * o + panel * nr, o, scales, width, prefetch, nil)
              } else {
                variant(
                  kcur, slice + block * h * kcur, 1, h, b, nr, staged + i * o + panel * nr, o, scales, width,
                  prefetch, nil)
              }
            }
          }
          pc += kcur
        }
      }
    }
    // One group: the column matrix (in bf16 its pair rows, unfolded straight from the input by ranges
    // of pair rows over `inner` threads), the panels (over `inner` threads), then Cᵀ transposed into
    // NCHW with the epilogue.
    func group(_ first: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>, inner: Int) {
      let n = count * pixels
      let staged = scratch + (bf16 == nil ? k * ld : 0)  // n × O: Cᵀ
      let columns: UnsafePointer<Float>  // packed (K × n), or in bf16 ⌈K/2⌉ × n words
      if bf16 != nil {
        let pairRows = SendablePointer(staged + grouping.columns * o + vectorSlack)  // ⌈K/2⌉ × ldp words
        // By channel pairs: the group's samples paired (count × pairedSampleWords words), after the pair rows.
        let paired = pairsChannels ? SendablePointer(pairRows.base + pairs * ldp) : nil
        if let paired {
          pairChannels(
            x.base, first: first, count: count, into: UnsafeMutableRawPointer(paired.base), threads: inner, pool: pool)
        }
        parallelRanges(pairs, work: k * n, threads: inner, pool: pool) { range in
          for s in 0..<count {
            self.pairRows(
              x.base, first: first, sample: s, paired: paired.map { UnsafePointer($0.base) }, pairs: range,
              columns: 0..<pixels,
              into: UnsafeMutableRawPointer(pairRows.base) + (range.lowerBound * ldp + s * pixels) * 4, ld: ldp)
          }
        }
        columns = UnsafePointer(pairRows.base)
      } else {
        let (matrix, ldm) = columnMatrix(
          x.base, first: first, count: count, ld: ld, scratch: scratch, threads: inner, pool: pool)
        if inPlaceA {
          columns = matrix
        } else {
          let packed = staged + grouping.columns * o + vectorSlack
          packA(
            matrix, ld: ldm, n: n, mr: tileHeight(rows: n, mr: mr), kc: kc, into: packed, threads: inner, pool: pool)
          columns = UnsafePointer(packed)
        }
      }
      // The channel panels, in pieces handed out as the threads ask.
      let (c, s) = (SendablePointer(UnsafeMutablePointer(mutating: columns)), SendablePointer(staged))
      parallelRanges(panels, work: n * k * o, threads: inner, pool: pool) {
        multiply($0, columns: c.base, n: n, staged: s.base)
      }
      // Cᵀ into NCHW by 16 × 16 blocks transposed in registers, 64 channels of a sample at a time,
      // each plane then given the epilogue in place while in cache.
      let cT = SendablePointer(staged)
      let channelBlocks = (o + 63) / 64
      parallelRanges(channelBlocks, work: 2 * n * o, threads: inner, pool: pool) { blocks in
        for block in blocks {
          let c0 = block * 64
          let depth = min(64, o - c0)
          for s in 0..<count {
            let planes = y.base + ((first + s) * o + c0) * pixels  // output[first + s, c0 ..< c0 + depth]
            rn_pack_columns(cT.base + s * pixels * o + c0, o, pixels, depth, pixels, planes)
            for c in c0..<(c0 + depth) {
              epilogue.apply(
                planes + (c - c0) * pixels, sample: first + s, channel: c, columns: 0..<pixels, channels: o,
                pixels: pixels, output: y.base)
            }
          }
        }
      }
    }
    let pairedFloats = pairsChannels ? grouping.samples * pairedSampleWords : 0
    let scratchFloats =
      (bf16 == nil ? k * ld + roundUp(grouping.columns, mr) * k + vectorSlack : pairs * ldp + pairedFloats)
      + grouping.columns * o + vectorSlack
    grouping.runSharing(threads: threadCount, pool: pool, scratchFloats: scratchFloats, group)
  }

  /// The column matrix (K × n, row stride `ld`) as the A operand of packedWeightForward's GEMM: for
  /// each depth slice of `kc` rows (pc = 0, kc, …; kcur rows), its `⌈n/mr⌉` blocks of `mr` pixels, each
  /// `kcur × mr` with the pixels of a row adjacent — `packed[pc·⌈n/mr⌉·mr + b·mr·kcur + kk·mr + r]` =
  /// `columns[pc + kk][b·mr + r]` (rows past n in the last block unset: no kernel reads them). Rows of
  /// the matrix are shared out over `threads`.
  func packA(
    _ columns: UnsafePointer<Float>, ld: Int, n: Int, mr: Int, kc: Int, into packed: UnsafeMutablePointer<Float>,
    threads: Int, pool: ThreadPool
  ) {
    let k = geometry.columnRows
    let blocks = (n + mr - 1) / mr
    let target = SendablePointer(packed)
    parallelRanges(k, work: k * n, threads: threads, pool: pool) { rows in
      for row in rows {
        let pc = row / kc * kc
        let (kk, kcur) = (row - pc, min(kc, k - pc))
        rn_pack_runs(columns + row * ld, n, mr, target.base + pc * blocks * mr + kk * mr, mr * kcur)
      }
    }
  }
}
