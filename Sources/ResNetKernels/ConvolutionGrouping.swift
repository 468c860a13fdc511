/// How a batch is cut into groups of samples for the batched convolution path: enough samples that a
/// group's column matrix has about ``ConvolutionBlocking/groupColumns`` columns (or as many as the
/// caller asks), and at least
/// ``ConvolutionBlocking/minimumGroups`` groups when the batch has the samples. Depends only on the geometry and the
/// batch, never on the thread count.
public struct ConvolutionGrouping: Sendable {
  /// Samples per group (the last group may have fewer), and the number of groups.
  public let samples: Int, groups: Int
  /// Output pixels per sample, and samples in the batch.
  let pixels: Int, batchSize: Int

  /// The grouping of `batch` samples of geometry `g`, groups of about `columns` columns.
  public init(geometry g: ConvGeometry, batch: Int, columns: Int = ConvolutionBlocking.groupColumns) {
    pixels = g.outputPixels
    let minimumGroups = ConvolutionBlocking.minimumGroups
    let fewGroups = (batch + minimumGroups - 1) / minimumGroups
    samples = max(1, min(batch, columns / max(1, pixels), fewGroups))
    groups = (batch + samples - 1) / samples
    batchSize = batch
  }

  /// Columns of a full group's matrices.
  var columns: Int { samples * pixels }
  /// The row stride of a group's matrices: the columns rounded up to a cache line, one more line when
  /// that is a multiple of 4 KiB (so the GEMM can read the column matrix in place, its rows not all
  /// falling into the same cache sets).
  var rowStride: Int {
    let stride = roundUp(columns, cacheLineFloats)
    return GEMMBlocking.aliases(ldb: stride) ? stride + cacheLineFloats : stride
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
    pool.run(sharing: participants) { _ in
      let scratch = convolutionScratch.take(scratchFloats)
      while let group = queue.claim() {
        let first = group * samples
        body(first, min(samples, batchSize - first), scratch.pointer)
      }
      convolutionScratch.give(scratch)
    }
  }

  /// Runs `body(first sample, sample count, scratch, inner)` for every group: with at least as many
  /// groups as `threads` (more than one), the groups shared out over the threads as ``run(threads:pool:scratchFloats:_:)``
  /// does, each with `inner` = 1; otherwise one group after another on the calling thread with `inner`
  /// = `threads`, for the body to share out the group's work itself.
  func runSharing(
    threads: Int, pool: ThreadPool, scratchFloats: Int,
    _ body: (_ first: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>, _ inner: Int) -> Void
  ) {
    if groups >= threads && threads > 1 {
      run(threads: threads, pool: pool, scratchFloats: scratchFloats) { body($0, $1, $2, 1) }
      return
    }
    let scratch = convolutionScratch.take(scratchFloats)
    defer { convolutionScratch.give(scratch) }
    for index in 0..<groups {
      let first = index * samples
      body(first, min(samples, batchSize - first), scratch.pointer, threads)
    }
  }
}
