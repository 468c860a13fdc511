import CKernels

/// A convolution prepared once for inference on inputs of one size: its weight and bias final (a
/// BatchNorm already folded in), its algorithm chosen from its geometry, and for Winograd's path its
/// weight already transformed. ``forward(_:batch:output:residual:relu:threads:pool:)`` writes
/// `[relu](conv(x) + bias [+ residual])` with the bias, the residual add and the ReLU applied as each
/// part of the output is written, not in a pass of their own.
///
/// Every output value comes from the same operations in the same order whatever the batch it is in,
/// whatever the thread count and whichever thread computes it: the algorithm depends on the geometry
/// alone, each path's sums run over the same `kc` slices of the same micro-kernels, and the bias, the
/// residual and the ReLU follow the whole sum. So an image's result is the same bits alone or in any
/// batch. Immutable after `init`: one instance may serve any number of concurrent callers, each with
/// its own input and output.
public final class PreparedConvolution: @unchecked Sendable {
  /// How the output is computed.
  public enum Path: String, Sendable, CaseIterable {
    /// Winograd's F(4×4, 3×3) in float32 where ``takesWinograd4(geometry:outputChannels:)``, else (and in
    /// bf16) F(2×2, 3×3), with the weight transformed at load; tiles of the whole batch in blocks shared
    /// out over the threads.
    case winograd
    /// A 3×3 stride-2 convolution as Winograd's F(2×2, 2×2) on its input's four phases, with the weight
    /// transformed at load (float32, where ``takesWinogradStride2(geometry:outputChannels:)``).
    case winogradStride2 = "winograd-stride-2"
    /// Implicit GEMM: panels of the column matrix packed from a zero-framed copy of the sample, parts
    /// of each sample's columns shared out over the threads.
    case implicit
    /// im2col of groups of samples (none for a pointwise convolution of one sample), then one GEMM per group.
    case gemm
    /// The same GEMM transposed — pixels as rows, channels as columns — with the weight packed at load:
    /// for more output channels than output pixels.
    case packedWeight = "packed-weight"
  }

  /// The geometry of one input sample.
  public let geometry: ConvGeometry
  /// Output channels.
  public let outputChannels: Int
  /// The path every call takes.
  public let path: Path
  /// The weight in float32 on the implicit and GEMM paths (the others keep only their own form of it):
  /// `outputChannels × geometry.columnRows` (OIHW flattened) as it is for the implicit path, in
  /// register-tile panels of `mr` rows for the GEMM path (``packRowPanels(_:matrices:rows:columns:mr:)``:
  /// ⌈outputChannels/mr⌉ panels of columnRows × mr).
  let weight: UnsafeMutablePointer<Float>?
  /// The bias, `outputChannels`.
  let bias: UnsafeMutablePointer<Float>
  /// Winograd's U = G·g·Gᵀ of every kernel, 16 (F(2×2, 3×3)) or 36 (F(4×4, 3×3)) matrices of
  /// outputChannels × channels, each in panels of `mr` rows (``packRowPanels(_:matrices:rows:columns:mr:)``;
  /// Winograd's path), or the stride-2 path's 9 (``winogradStride2Weight(_:outputChannels:channels:mr:)``).
  let transformed: UnsafeMutablePointer<Float>?
  /// The output tile side of Winograd's path: 4 for F(4×4, 3×3), 2 for F(2×2, 3×3) (and on other paths).
  public let winogradTile: Int
  /// The weight packed by ``packWeight(_:outputChannels:columnRows:nr:)`` (the packed-weight path only).
  let packedWeight: UnsafeMutablePointer<Float>?
  /// The precision of the products.
  public let precision: Precision
  /// The bf16 micro-kernels (bf16 only).
  let bf16: BF16Kernel?
  /// In bf16, the path's form of the weight rounded to bf16, in 32-bit words of two (and no float32
  /// form): the weight's rows (implicit and GEMM paths: O × ⌈K/2⌉ words), U's 16 matrices' rows
  /// (Winograd: 16 × O × ⌈C/2⌉), or pair-row panels of 32 channels (packed weight: ⌈O/32⌉ × ⌈K/2⌉ × 32);
  /// the depth in channel-pair order where ``pairsChannels``.
  let bf16Weight: UnsafeMutableRawPointer?
  /// Words per row of the bf16 weight (implicit, GEMM, Winograd): ⌈K/2⌉, or ⌈C/2⌉ for U.
  let bf16Pairs: Int
  /// Whether the bf16 weight's depth, and so the pair rows, go by channel pairs (see
  /// ``pairsChannels(path:geometry:)``).
  let pairsChannels: Bool

  /// Prepares a convolution of geometry `g` to `outputChannels` with `weight` (`outputChannels ×
  /// g.columnRows`) and `bias` (`outputChannels`; zeros when nil). In `.bf16`, the weight and each input
  /// are rounded to bf16 and the products accumulated in float32 by `bf16Kernel` (the bias, the residual and
  /// the ReLU stay float32); the path is the same as in float32 (Winograd's with F(2×2, 3×3)).
  public init(
    geometry g: ConvGeometry, outputChannels: Int, weight: [Float], bias: [Float]?, precision: Precision = .f32,
    bf16Kernel: BF16Kernel = .best
  ) {
    precondition(weight.count == outputChannels * g.columnRows, "PreparedConvolution: weight size")
    precondition(bias == nil || bias!.count == outputChannels, "PreparedConvolution: bias size")
    geometry = g
    self.outputChannels = outputChannels
    path = Self.path(geometry: g, outputChannels: outputChannels, precision: precision)
    winogradTile =
      path == .winograd && precision == .f32 && Self.takesWinograd4(geometry: g, outputChannels: outputChannels) ? 4 : 2
    let original = allocateAlignedFloats(weight.count)  // O × C·k·k
    original.initialize(from: weight, count: weight.count)
    self.bias = allocateAlignedFloats(outputChannels)
    self.bias.initialize(from: bias ?? [Float](repeating: 0, count: outputChannels), count: outputChannels)
    self.precision = precision
    if precision == .bf16 {
      bf16 = bf16Kernel
      (self.weight, transformed, packedWeight) = (nil, nil, nil)
      pairsChannels = Self.pairsChannels(path: path, geometry: g)
      let ordered =
        pairsChannels
        ? UnsafePointer(Self.channelPairOrder(original, outputChannels: outputChannels, geometry: g))
        : UnsafePointer(original)
      (bf16Weight, bf16Pairs) = Self.bf16Form(of: ordered, path: path, geometry: g, outputChannels: outputChannels)
      if pairsChannels { ordered.deallocate() }
      original.deallocate()
      return
    }
    (bf16, bf16Weight, bf16Pairs, pairsChannels) = (nil, nil, 0, false)
    switch path {
    case .winograd:
      let matrices = winogradTile == 4 ? 36 : 16
      let u = allocateAlignedFloats(matrices * outputChannels * g.channels)  // matrices × O × C
      defer { u.deallocate() }
      if winogradTile == 4 {
        winograd4TransformWeight(original, outputChannels: outputChannels, channels: g.channels, into: u)
      } else {
        winogradTransformWeight(original, outputChannels: outputChannels, channels: g.channels, into: u)
      }
      let packed = Self.packRowPanels(
        u, matrices: matrices, rows: outputChannels, columns: g.channels, mr: GEMMKernel.best.mr)
      (self.weight, transformed, packedWeight) = (nil, packed, nil)
      original.deallocate()
    case .winogradStride2:
      let packed = Self.winogradStride2Weight(
        original, outputChannels: outputChannels, channels: g.channels, mr: GEMMKernel.best.mr)
      (self.weight, transformed, packedWeight) = (nil, packed, nil)
      original.deallocate()
    case .packedWeight:
      let packed = Self.packWeight(
        original, outputChannels: outputChannels, columnRows: g.columnRows, nr: GEMMKernel.best.nr)
      (self.weight, transformed, packedWeight) = (nil, nil, packed)
      original.deallocate()
    case .gemm:
      let panels = Self.packRowPanels(
        original, matrices: 1, rows: outputChannels, columns: g.columnRows, mr: GEMMKernel.best.mr)
      (self.weight, transformed, packedWeight) = (panels, nil, nil)
      original.deallocate()
    case .implicit:
      (self.weight, transformed, packedWeight) = (original, nil, nil)
    }
  }

  /// `path`'s bf16 form of `weight` (see ``bf16Weight``) and its words per row.
  private static func bf16Form(
    of weight: UnsafePointer<Float>, path: Path, geometry g: ConvGeometry, outputChannels o: Int
  ) -> (UnsafeMutableRawPointer, Int) {
    let k = g.columnRows
    switch path {
    case .winograd:
      let pairs = (g.channels + 1) / 2
      let u = allocateAlignedFloats(16 * o * g.channels)  // 16 × O × C
      defer { u.deallocate() }
      winogradTransformWeight(weight, outputChannels: o, channels: g.channels, into: u)
      let target = UnsafeMutableRawPointer(allocateAlignedFloats(16 * o * pairs))
      _ = roundRowsToBF16(u, rows: 16 * o, columns: g.channels, ld: g.channels, into: target)
      return (target, pairs)
    case .packedWeight:
      let nr = BF16Kernel.nr
      let pairs = (k + 1) / 2
      let panels = (o + nr - 1) / nr
      let packed = packWeight(weight, outputChannels: o, columnRows: k, nr: nr)  // panels × K × nr
      defer { packed.deallocate() }
      let target = UnsafeMutableRawPointer(allocateAlignedFloats(panels * pairs * nr))
      for panel in 0..<panels {
        rn_bf16_pair_rows(packed + panel * k * nr, nr, k, nr, target + panel * pairs * nr * 4, nr)
      }
      return (target, pairs)
    case .winogradStride2:
      preconditionFailure("PreparedConvolution: the stride-2 Winograd path is float32 only")
    case .implicit, .gemm:
      let pairs = (k + 1) / 2
      let target = UnsafeMutableRawPointer(allocateAlignedFloats(o * pairs))
      _ = roundRowsToBF16(weight, rows: o, columns: k, ld: k, into: target)
      return (target, pairs)
    }
  }

  deinit {
    weight?.deallocate()
    bias.deallocate()
    transformed?.deallocate()
    packedWeight?.deallocate()
    bf16Weight?.deallocate()
  }

  /// The path for geometry `g` to `outputChannels` in `precision`: Winograd for a 3×3, stride-1, padding-1
  /// convolution with enough channels (``ConvolutionBlocking/winogradMinimumChannels``) whose planes
  /// have at least ``ConvolutionBlocking/winogradInferenceMinimumTiles`` tiles
  /// (``ConvolutionBlocking/winogradInferenceMinimumTilesBF16`` in bf16; on smaller planes the
  /// transformed weight, 16/9 the size of the weight, is read for too few tiles); in float32, the
  /// stride-2 Winograd path where ``takesWinogradStride2(geometry:outputChannels:)``; otherwise implicit
  /// GEMM for other stride-1 kernels of at most ``GEMMBlocking/directBMaximumRows`` output channels,
  /// otherwise im2col + GEMM — transposed, with the weight packed at load, when the output has more
  /// channels than pixels.
  public static func path(geometry g: ConvGeometry, outputChannels: Int, precision: Precision = .f32) -> Path {
    let tiles = (g.height + 1) / 2 * ((g.width + 1) / 2)
    let transformedBytes = 16 * outputChannels * g.channels * MemoryLayout<Float>.stride
    let minimumTiles =
      precision == .bf16
      ? ConvolutionBlocking.winogradInferenceMinimumTilesBF16 : ConvolutionBlocking.winogradInferenceMinimumTiles
    if g.takesWinogradPath(outputChannels: outputChannels)
      && (tiles >= minimumTiles
        || transformedBytes <= ConvolutionBlocking.winogradInferenceSmallWeightBytes)
    {
      return .winograd
    }
    if precision == .f32 && takesWinogradStride2(geometry: g, outputChannels: outputChannels) {
      return .winogradStride2
    }
    if g.takesImplicitPath(outputChannels: outputChannels) { return .implicit }
    return g.outputPixels < outputChannels ? .packedWeight : .gemm
  }

  /// `matrices` matrices of `rows × columns` (row-major, one after another) as panels of `mr` rows: matrix
  /// x's panel p is `columns × mr` floats (a column's `mr` rows adjacent, zero past the last row) from
  /// `(x·⌈rows/mr⌉ + p)·columns·mr`.
  static func packRowPanels(
    _ source: UnsafePointer<Float>, matrices: Int, rows: Int, columns: Int, mr: Int
  ) -> UnsafeMutablePointer<Float> {
    let panels = (rows + mr - 1) / mr
    let packed = allocateAlignedFloats(matrices * panels * columns * mr)
    packed.initialize(repeating: 0, count: matrices * panels * columns * mr)
    for x in 0..<matrices {
      for row in 0..<rows {
        let from = source + (x * rows + row) * columns
        let to = packed + ((x * panels + row / mr) * columns) * mr + row % mr
        for column in 0..<columns { to[column * mr] = from[column] }
      }
    }
    return packed
  }

  /// Whether a float32 convolution of geometry `g` to `outputChannels` on Winograd's path takes
  /// F(4×4, 3×3): planes of at least ``ConvolutionBlocking/winograd4MinimumSide`` on each side, with
  /// at least ``ConvolutionBlocking/winograd4MinimumTiles`` of its 4×4 tiles or a transformed weight
  /// (36 matrices) of at most ``ConvolutionBlocking/winogradInferenceSmallWeightBytes``: ResNet's 56×56,
  /// 28×28 and 14×14 planes, not its 7×7 ones.
  public static func takesWinograd4(geometry g: ConvGeometry, outputChannels: Int) -> Bool {
    let tiles = (g.height + 3) / 4 * ((g.width + 3) / 4)
    let bytes = 36 * outputChannels * g.channels * MemoryLayout<Float>.stride
    return min(g.height, g.width) >= ConvolutionBlocking.winograd4MinimumSide
      && (tiles >= ConvolutionBlocking.winograd4MinimumTiles
        || bytes <= ConvolutionBlocking.winogradInferenceSmallWeightBytes)
  }

  /// Whether ``forward(_:batch:output:residual:relu:threads:pool:)`` may be given the residual as its
  /// output, to be written over: Winograd's and the GEMM path read each residual value before they write
  /// the output value at its place. A model's memory plan lets such a convolution take its residual's
  /// buffer when nothing reads the residual after it, so that the output's lines are already in cache
  /// (read for the residual) when they are written, and no separate output is streamed in from memory.
  public var acceptsResidualAsOutput: Bool { path == .winograd || path == .gemm }

  /// Writes `[relu](conv(input) + bias [+ residual])` for `batch` samples: `input` is `batch ×
  /// geometry.inputCount` floats (NCHW), `output` and `residual` `batch × outputChannels × Ho × Wo`.
  /// `output` must not overlap `input`, nor `residual` unless it is exactly `residual` and
  /// ``acceptsResidualAsOutput``; the result is the same bits either way.
  public func forward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>? = nil, relu: Bool, threads: Int? = nil, pool: ThreadPool = .shared
  ) {
    guard batch > 0 else { return }
    let epilogue = ConvolutionEpilogue(bias: bias, residual: residual, relu: relu)
    switch path {
    case .winograd:
      winogradForward(input, batch: batch, output: output, epilogue: epilogue, threads: threads, pool: pool)
    case .implicit:
      implicitForward(input, batch: batch, output: output, epilogue: epilogue, threads: threads, pool: pool)
    case .gemm:
      gemmForward(input, batch: batch, output: output, epilogue: epilogue, threads: threads, pool: pool)
    case .packedWeight:
      packedWeightForward(input, batch: batch, output: output, epilogue: epilogue, threads: threads, pool: pool)
    case .winogradStride2:
      winogradStride2Forward(input, batch: batch, output: output, epilogue: epilogue, threads: threads, pool: pool)
    }
  }

  /// Groups of samples (``ConvolutionGrouping`` of about ``ConvolutionBlocking/inferenceGroupColumns``
  /// columns), each group's GEMM into a staging matrix (or straight into the output for one sample) by
  /// chunks of ``ConvolutionBlocking/epilogueChunkColumns`` columns, each block of a chunk given the
  /// epilogue (into NCHW) as soon as the GEMM has finished it
  /// (``sgemm``'s `finished`), while it is in L1 or L2. The column matrix is never stored: the GEMM
  /// packs each block of it straight from the input, a row at a time unfolded in L1 (`rn_im2col_pack`;
  /// in bf16 each chunk's columns are unfolded into pair rows), except that one sample of a pointwise
  /// stride-1 convolution is its own column matrix, read in place. With fewer groups than threads, the
  /// groups go one after another, their chunks shared out over the threads. One sample's GEMM writes
  /// straight into the output, its tiles given the epilogue inside the micro-kernel as they are stored
  /// (its arithmetic is the epilogue's), in float32 and bf16 alike; when the output is the residual and
  /// the depth spans more than one slice, each chunk's sums go to a staging matrix of the thread's own
  /// instead, so that the residual is read (in the last slice) before anything is written over it.
  private func gemmForward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue,
    threads: Int?, pool: ThreadPool
  ) {
    let g = geometry
    let (k, pixels, o) = (g.columnRows, g.outputPixels, outputChannels)
    let grouping = ConvolutionGrouping(geometry: g, batch: batch, columns: ConvolutionBlocking.inferenceGroupColumns)
    let ld = grouping.rowStride
    let participants = max(1, min(threads ?? pool.threadCount, pool.threadCount))
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let y = SendablePointer(output)
    let w = SendablePointer(weight ?? bias)  // any pointer in bf16: unread
    let nr = GEMMKernel.best.nr
    // One group: the GEMM and the epilogue, with `inner` threads inside each.
    func group(_ first: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>, inner: Int) {
      // The GEMM by chunks of columns, each block given the epilogue while it is in cache.
      let n = count * pixels
      // A multiple of `inner` chunks of at most epilogueChunkColumns (about), so that the threads' shares are even.
      let most = ConvolutionBlocking.epilogueChunkColumns
      let even = inner * ((n + inner * most - 1) / (inner * most))
      let pieces =
        min(inner * ConvolutionBlocking.piecesPerThread, n / ConvolutionBlocking.minimumChunkColumns) / inner * inner
      let chunkCount = inner > 1 ? max(even, pieces) : even
      // Chunks of whole register tiles in float32, so that only the last chunk ends in a narrower tile; of
      // whole vectors in bf16, so that no chunk's reads of its pair rows reach into the next chunk's. The
      // widest is a `chunkCount`th of the units; shared over threads, the chunks shrink toward the end
      // (WorkQueue.claimRun) so that the threads finish close together: in float32 down to one register
      // tile's columns (smaller last chunks of ResNet-50's pointwise layers left less of a thread's time
      // idle, 0.2–0.3 ms a pass against 0.7–0.8), in bf16 to minimumChunkColumns (each chunk unfolds its
      // own pair rows; smaller ones were up to 7% slower).
      let unit = bf16 == nil ? nr : BF16Kernel.width
      let units = (n + unit - 1) / unit
      let chunks = min(chunkCount, units)
      let widest = (units + chunks - 1) / chunks  // in units
      let chunk = widest * unit
      // The columns of units `run`.
      func chunkColumns(_ run: Range<Int>) -> Range<Int> { (run.lowerBound * unit)..<min(n, run.upperBound * unit) }
      // One sample of a pointwise stride-1 convolution: B is the sample, rows `pixels` apart.
      let inPlace = bf16 == nil && count == 1 && g.isPointwise
      let ldb = count == 1 ? pixels : ld  // C's row stride
      // C, O × count·pixels with row stride ldb: for one sample the output itself (rows pixels apart),
      // unless it is the residual over several depth slices — then each chunk's C is the thread's `stage`
      // (O × chunk).
      let staged = count == 1 ? y.base + first * o * pixels : scratch
      let c = SendablePointer(staged)
      // (Over one depth slice, each tile reads its residual just before it overwrites it.)
      let stagesChunks = count == 1 && epilogue.residual == UnsafePointer(output) && k > GEMMBlocking.kc
      // bf16 by channel pairs: the group's samples paired (count × pairedSampleWords words), after C.
      let paired = pairsChannels ? SendablePointer(scratch + o * ld) : nil
      // body(s, its output pixels, their first column j) for the part of each sample in columns j0 ..< j1.
      func eachSample(_ j0: Int, _ j1: Int, _ body: (_ s: Int, _ pixels: Range<Int>, _ j: Int) -> Void) {
        var j = j0
        while j < j1 {
          let s = j / pixels
          let end = min(j1, (s + 1) * pixels)
          body(s, (j - s * pixels)..<(end - s * pixels), j)
          j = end
        }
      }
      // The epilogue for output channels `rows` of the group's columns j0 + `columns` (into NCHW), their
      // sums in `sums` (column j0's, rows ldc apart).
      func apply(_ j0: Int, _ rows: Range<Int>, _ columns: Range<Int>, _ sums: UnsafePointer<Float>, _ ldc: Int) {
        eachSample(j0 + columns.lowerBound, j0 + columns.upperBound) { s, columns, j in
          for channel in rows {
            epilogue.apply(
              sums + channel * ldc + j - j0, sample: first + s, channel: channel, columns: columns, channels: o,
              pixels: pixels, output: y.base)
          }
        }
      }
      // A chunk's bf16 pair rows' stride, in words: whole vectors, and an odd number of cache lines, so that
      // the pair rows of a register tile's panel fall in different L1 sets rather than a few (a stride of a
      // power of two, or of a whole 112×112 plane's 50,176 bytes, keeps only a few KB of the panel in L1).
      let ldp = roundUp(chunk, BF16Kernel.width) | BF16Kernel.width
      // One chunk, the columns of units `run`; `line` is the thread's scratch: in float32 (not in place)
      // `chunk` (+ slack) floats, in bf16 the chunk's pair rows (⌈K/2⌉ × ldp words + a tile's width, read
      // past the last column); `stage` its O × chunk staging matrix where stagesChunks. The GEMM hands each
      // block of the chunk to the epilogue as soon as its sums are final.
      func compute(_ run: Range<Int>, _ line: UnsafeMutablePointer<Float>?, _ stage: UnsafeMutablePointer<Float>?) {
        let span = chunkColumns(run)
        let (j0, j1) = (span.lowerBound, span.upperBound)
        let (sums, ldc) = stage.map { ($0, chunk) } ?? (c.base + j0, ldb)  // C's columns j0 ..< j1
        func finish(_ rows: Range<Int>, _ columns: Range<Int>) { apply(j0, rows, columns, sums, ldc) }
        // One sample: the kernel gives each tile the epilogue as it stores it, into the output's columns j0 ..< j1.
        let at = first * o * pixels + j0
        let fused =
          count == 1
          ? TileEpilogue(
            bias: epilogue.bias, residual: epilogue.residual.map { $0 + at }, out: y.base + at, ldo: pixels,
            relu: epilogue.relu) : nil
        if let bf16 {
          let p = UnsafeMutableRawPointer(line!)
          eachSample(j0, j1) { s, columns, j in
            pairRows(
              x.base, first: first, sample: s, paired: paired.map { UnsafePointer($0.base) }, pairs: 0..<(k + 1) / 2,
              columns: columns, into: p + (j - j0) * 4, ld: ldp)
          }
          bf16.multiply(
            m: o, n: j1 - j0, depth: k, kc: GEMMBlocking.kc, a: bf16Weight!, lda: bf16Pairs, c: sums, ldc: ldc,
            epilogue: fused, rowsOuter: fused != nil && o <= ConvolutionBlocking.bf16RowsOuterMaximumChannels
          ) { pc, _ in (UnsafeRawPointer(p + pc / 2 * ldp * 4), ldp) }
          if fused == nil { finish(0..<o, 0..<(j1 - j0)) }
          return
        }
        if inPlace {
          sgemm(
            m: o, n: j1 - j0, k: k, panels: w.base, b: x.base + first * g.inputCount + j0, ldb: pixels, c: sums,
            ldc: ldc, threads: 1, pool: pool, epilogue: fused, finished: fused == nil ? finish : nil)
          return
        }
        let line = line!
        // Block columns `columns` of the chunk's B: each sample's part unfolded into its panels.
        func packB(_ packed: UnsafeMutablePointer<Float>, _ depth: Range<Int>, _ columns: Range<Int>) {
          let panelStride = depth.count * nr  // a panel: depth.count × nr
          let start = j0 + columns.lowerBound
          eachSample(start, j0 + columns.upperBound) { s, pixels, j in
            withUnsafePointer(to: g.unfoldGeometry) { unfold in
              rn_im2col_pack(
                x.base + (first + s) * g.inputCount, g.channels, unfold, depth.lowerBound, depth.count,
                pixels.lowerBound, pixels.count, j - start, nr, packed, panelStride, line)
            }
          }
          let tail = columns.count % nr  // columns of the last panel; zero past them
          if tail > 0 {
            let last = packed + columns.count / nr * panelStride
            for row in 0..<depth.count { (last + row * nr + tail).update(repeating: 0, count: nr - tail) }
          }
        }
        sgemm(
          m: o, n: j1 - j0, k: k, panels: w.base, b: nil, ldb: j1 - j0, c: sums, ldc: ldc, threads: 1, pool: pool,
          packB: packB, epilogue: fused, finished: fused == nil ? finish : nil)
      }
      // Runs chunks from the queue (or all of them), with a line of its own when unfolding and a staging
      // matrix of its own where stagesChunks.
      func computeChunks(_ next: () -> Range<Int>?) {
        let line =
          bf16 != nil
          ? convolutionScratch.take((k + 1) / 2 * ldp + BF16Kernel.nr)
          : inPlace ? nil : convolutionScratch.take(chunk + vectorSlack)
        let stage = stagesChunks ? convolutionScratch.take(o * chunk) : nil
        defer {
          line.map(convolutionScratch.give)
          stage.map(convolutionScratch.give)
        }
        while let run = next() { compute(run, line?.pointer, stage?.pointer) }
      }
      if let paired {
        pairChannels(
          x.base, first: first, count: count, into: UnsafeMutableRawPointer(paired.base), threads: inner, pool: pool)
      }
      let queue = WorkQueue(count: units)
      let smallest = min(widest, bf16 == nil ? 1 : ConvolutionBlocking.minimumChunkColumns / unit)
      func claim() -> Range<Int>? { queue.claimRun(minimum: smallest, maximum: widest, divisor: 2 * inner) }
      if inner == 1 || chunks == 1 {
        computeChunks(claim)
      } else {
        pool.run(sharing: min(inner, chunks)) { _ in computeChunks(claim) }
      }
    }
    let pairedFloats = pairsChannels ? grouping.samples * pairedSampleWords : 0
    grouping.runSharing(threads: participants, pool: pool, scratchFloats: o * ld + pairedFloats, group)
  }
}

extension PreparedConvolution {
  /// The column matrix (`geometry.columnRows × count·pixels`) of samples `first ..< first + count` of
  /// `input`, and its row stride: one sample of a pointwise convolution is its own column matrix (rows
  /// `pixels` apart); otherwise im2col into `scratch`, rows `pixels` apart for one sample and `ld` for a
  /// group.
  func columnMatrix(
    _ input: UnsafePointer<Float>, first: Int, count: Int, ld: Int, scratch: UnsafeMutablePointer<Float>,
    threads: Int, pool: ThreadPool
  ) -> (columns: UnsafePointer<Float>, ld: Int) {
    let g = geometry
    let sample = input + first * g.inputCount
    let ldb = count == 1 ? g.outputPixels : ld
    if count == 1 && g.isPointwise { return (sample, ldb) }
    im2col(sample, geometry: g, batch: count, into: scratch, ldc: ldb, threads: threads, pool: pool)
    return (UnsafePointer(scratch), ldb)
  }
}

/// What a prepared convolution applies to each output value after its sum: `[relu](sum + bias[o]
/// [+ residual])`, the residual laid out as the output.
struct ConvolutionEpilogue {
  let bias: UnsafePointer<Float>
  let residual: UnsafePointer<Float>?
  let relu: Bool

  init(bias: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool) {
    self.bias = UnsafePointer(bias)
    self.residual = residual
    self.relu = relu
  }

  /// Applies the epilogue to output pixels `columns` of channel `o` of sample `s`: `values` (those
  /// pixels' sums) go to the output at the same place, in place when they are already there.
  @inline(__always)
  func apply(
    _ values: UnsafePointer<Float>, sample s: Int, channel o: Int, columns: Range<Int>, channels: Int, pixels: Int,
    output: UnsafeMutablePointer<Float>
  ) {
    let at = (s * channels + o) * pixels + columns.lowerBound
    rn_plane_affine(
      values, residual.map { $0 + at }, output + at, columns.count, 1, bias[o], relu ? 1 : 0)
  }
}

extension ConvolutionEpilogue: @unchecked Sendable {}
