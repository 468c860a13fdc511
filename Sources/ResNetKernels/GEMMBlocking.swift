/// The GEMM's cache blocking, in one place.
///
/// Loop nest (Goto/BLIS, with the register tile's A panel kept in L1 across the column loop):
/// for each block of `nc` columns, for each slice of `kc` depth, pack B[kc × nc] (sized for L2);
/// then for each panel of `mr` rows of A (read in place, or packed to mr × kc), run the micro-kernel
/// over the block's `nr`-column panels.
public enum GEMMBlocking {
  /// Depth of one pass of the micro-kernel (rows of a packed B panel).
  public static let kc = 384
  /// Bytes of L2 the packed B block (kc × nc floats) may take; sets nc.
  public static let packedBBytes = 512 * 1024
  /// The least work (multiply-adds) worth handing to another thread: below it, waking a worker
  /// costs more than it saves.
  public static let minimumMultiplyAddsPerThread = 1 << 16
  /// The most rows of C for which B is read in place rather than packed (see `GEMMProblem`).
  public static let directBMaximumRows = 64
  /// With a B stride that aliases, B is still read in place up to this depth (packing then costs
  /// more than the conflict misses).
  public static let directBAliasedMaximumDepth = 32
  /// The fewest columns a GEMM that reads B in place hands to its `finished` callback at once: all
  /// of C's rows for that many columns (64 rows × 128 columns: 32 KiB, still in L1 or L2).
  public static let finishedColumns = 128
  /// How many rows ahead packing prefetches B (each row of a block is a short stream the hardware
  /// prefetcher alone picks up too late).
  public static let packPrefetchRows = 4
  /// Columns per packed B block for depth `kc` and panels of `nr` columns: a multiple of `nr`.
  public static func nc(depth kc: Int, nr: Int) -> Int {
    let fit = packedBBytes / (max(kc, 1) * MemoryLayout<Float>.stride)
    return max(nr, fit / nr * nr)
  }
  /// How much more work (in tiles) the busiest thread may get from a split that re-reads the smaller
  /// operand than from the best-balanced split: 512×49×4608 split by rows (each thread reads all 0.9 MB
  /// of B) beats the equally balanced split by columns (each thread reads all 9.4 MB of A).
  public static let balanceSlack = 1.15
  /// Whether reading B in place with row stride `ldb` would put a panel's rows — dozens to hundreds
  /// of them — in the same cache sets (a stride of a multiple of 4 KiB); such B is packed instead.
  public static func aliases(ldb: Int) -> Bool {
    (ldb * MemoryLayout<Float>.stride) % 4096 == 0
  }
}

/// The convolution paths' thresholds and block sizes, in one place (``ConvolutionPlan`` decides with them).
public enum ConvolutionBlocking {
  /// The fewest input and output channels for which a 3×3 stride-1 convolution takes Winograd's
  /// F(2×2, 3×3): with fewer, the transforms cost more than the multiplies they save.
  public static let winogradMinimumChannels = 8
  /// The smallest plane side on which a prepared float32 convolution on Winograd's path takes F(4×4, 3×3)
  /// rather than F(2×2, 3×3): 2.25 multiplies per output against 4, for transforms that cost about
  /// the same per output (on smaller planes the 4×4 tiles overhang the plane too much).
  public static let winograd4MinimumSide = 8
  /// The fewest 4×4 tiles per plane for which a prepared float32 convolution takes F(4×4, 3×3) whatever
  /// its weight's size: ResNet's 14×14 planes have 16. Measured with the weight packed at load, AMD Zen 3,
  /// 2 threads, against F(2×2, 3×3): ResNet-50's 256→256 at 14×14 1.19 → 1.05 ms at batch 1 and 26 →
  /// 22 ms at batch 32; its 128→128 at 28×28 1.02 → 1.14 ms at batch 1 but 28 → 19.7 ms at batch 32
  /// (an algorithm is chosen by geometry alone, the same at every batch size).
  public static let winograd4MinimumTiles = 16
  /// The fewest tiles per plane (of 2×2 output pixels) for which a prepared inference convolution takes
  /// Winograd's path: on smaller planes its transformed weight, 16/9 the size of the weight, is read
  /// for too few tiles to pay. ResNet's 7×7 planes have 16: with the weight packed at load their
  /// 512→512 layers went from 2.1–2.2 to 1.35–1.45 ms at batch 1 and from 51–57 to 33–35 ms at batch
  /// 32 (AMD Zen 3, 2 threads).
  public static let winogradInferenceMinimumTiles = 16
  /// The same in bf16, where the micro-kernel multiplies twice as fast and the transformed weight costs
  /// relatively more to read: ResNet's 7×7 planes (16 tiles) take the packed-weight path instead. AMD
  /// Zen 4, 2 threads, batch 1: ResNet-18's 512→512 layers at 7×7 0.89–0.92 → 0.70–0.72 ms; its
  /// 256→256 at 14×14 (49 tiles) stay on Winograd's path (0.47–0.50 ms, 0.67–0.72 on the other).
  public static let winogradInferenceMinimumTilesBF16 = 17
  /// The largest transformed weight (bytes) for which a prepared inference convolution takes
  /// Winograd's path on planes of fewer tiles: one that stays in L2 is reread cheaply.
  public static let winogradInferenceSmallWeightBytes = 1 << 20
  /// The largest transformed weight (25/9 of the weight) for which a prepared 3×3 stride-2 convolution
  /// takes the stride-2 Winograd path: a batch of one image reads all of it for a few tiles. AMD Zen 3,
  /// ResNet-50, 2 threads: 128→128 from 56×56 (1.6 MB) 14–22% faster at batch 1 and 11% at batch 32;
  /// 256→256 from 28×28 (6.5 MB) level at batch 1 and 11–15% faster at batch 32; 512→512 from 14×14
  /// (26 MB, left to the packed-weight path) not measured.
  public static let winogradStride2MaximumWeightBytes = 8 << 20
  /// Columns per chunk of a prepared convolution's GEMM: each chunk's output gets its bias, residual
  /// and ReLU while it is still in L2 (a chunk of 256 output channels is 512 KiB).
  public static let epilogueChunkColumns = 512
  /// For one sample, the bf16 GEMM path runs a chunk's register tiles row tiles outer (each tile's rows of
  /// the weight held in L1 while the chunk's pair rows stream past) for at most this many output channels,
  /// column panels outer (each panel of pair rows held in L1 while the weight streams past) for more. Measured on AMD Zen 4,
  /// ResNet-50 at batch 1: the stem (64 channels, 74 pairs) 10% faster rows outer, 256→128 5%; 64→256
  /// and 128→512 7–20% faster columns outer.
  public static let bf16RowsOuterMaximumChannels = 128
  /// The narrowest chunk the GEMM path cuts a group's columns into to give each thread several pieces
  /// (narrower chunks reread the weight from L2 too often).
  public static let minimumChunkColumns = 128
  /// Tiles per block of the Winograd weight gradient: the depth of its GEMMs.
  public static let winogradGradientBlock = 64
  /// The widest register tile (nr) the implicit path packs panels for (`RN_PACK_MAX_RUNS` in im2col.c).
  public static let implicitMaximumColumns = 128
  /// The column count a group of samples aims at (``ConvolutionGrouping``): wide enough for an
  /// efficient GEMM (and, in the weight gradient, a deep one), small enough that a group's columns stay
  /// in the caches.
  public static let groupColumns = 2048
  /// The column count a group of samples aims at on a prepared convolution's GEMM path: a sample of
  /// 784 pixels (ResNet's 28×28 planes) is a group of its own, so that its GEMM writes straight into
  /// the output (and reads a pointwise convolution's input in place) rather than staging a group's
  /// sums — 3 MB for 512 channels of two samples, more than the caches keep — and copying them out.
  /// AMD Zen 3, ResNet-50 at batch 32, 2 threads: its 28×28 1×1 layers 11–32% faster than with
  /// ``groupColumns``.
  public static let inferenceGroupColumns = 1024
  /// The column count a group of samples aims at on a prepared convolution's packed-weight path: one
  /// sample of ResNet's 14×14 planes, whose transposed sums (pixels × channels, 800 KB for 1024
  /// channels) are copied into the output from a group's staging matrix — 3.2 MB for four samples.
  /// AMD Zen 3, ResNet-50 at batch 32, 2 threads: its 14×14 1×1 layers 0.74–0.89 of their time with
  /// ``groupColumns``; groups of two or four samples of its 7×7 planes measured the same.
  public static let packedWeightGroupColumns = 256
  /// The packed-weight path reads one sample of a pointwise stride-1 convolution in place as its A (each
  /// micro-kernel step 8 pixels of one plane) on planes of at least this many pixels, rather than packing
  /// it. AMD Zen 4, ResNet-50 at batch 1: its 14×14 1×1 layers 6–16% faster in place, its 7×7 ones 5–8%
  /// slower (a 49-pixel plane's rows share cache lines between depths, and the register tiles straddle them).
  public static let packedWeightInPlaceMinimumPixels = 128
  /// How many pieces per thread work shared out through a ``WorkQueue`` is cut into (where it can
  /// be): on a shared machine one core often runs a third slower than the other while both are busy,
  /// and with one piece per thread the faster one would then wait for the slower.
  public static let piecesPerThread = 4
  /// The fewest groups a batch is cut into (when it has that many samples), so that the threads'
  /// shares of the groups come out even: with 4 groups on 2 threads, one short group leaves a thread
  /// idle for most of a group's time.
  public static let minimumGroups = 8
}
