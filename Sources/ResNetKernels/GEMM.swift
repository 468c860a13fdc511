import CKernels

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable, Hashable {
  /// op(X) = X.
  case none
  /// op(X) = Xᵀ.
  case transposed
}

/// A raw float pointer that may cross into the pool's threads (each thread writes disjoint parts).
@usableFromInline
struct SendablePointer: @unchecked Sendable {
  @usableFromInline let base: UnsafeMutablePointer<Float>
  @usableFromInline init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
}

private let gemmScratch = ScratchPool()

/// Single-precision general matrix multiply, row-major:
/// `C = alpha · op(A) · op(B) + beta · C`, with op(A) of size m × k, op(B) k × n and C m × n.
///
/// A is stored m × k (`transA == .none`, row stride `lda ≥ k`) or k × m (`.transposed`, `lda ≥ m`);
/// B is stored k × n (`ldb ≥ n`) or n × k (`ldb ≥ k`); C is m × n with `ldc ≥ n`. When `beta == 0`
/// C is only written, never read, so it may hold anything (NaN included); when `alpha == 0` or
/// `k == 0`, A and B are not read.
///
/// The work is split over up to `threads` threads of `pool` (all of them by default) by whole
/// register tiles of rows or columns, never along k, so every element of C is computed by the same
/// operations in the same order whatever the thread count: results are bitwise identical for any
/// `threads`.
///
/// `finished`, when given, is called with blocks of C (rows, columns) as soon as their values are
/// final, on the thread that computed them, while they are still in its caches: each element of C is
/// in exactly one block. A caller applies a bias, a residual or an activation there rather than in a
/// pass of its own over C.
public func sgemm(
  _ transA: Transpose, _ transB: Transpose,
  m: Int, n: Int, k: Int,
  alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0,
  c: UnsafeMutablePointer<Float>, ldc: Int,
  threads: Int? = nil, kernel: GEMMKernel = .best, pool: ThreadPool = .shared,
  finished: ((_ rows: Range<Int>, _ columns: Range<Int>) -> Void)? = nil
) {
  precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension \(m)x\(n)x\(k)")
  precondition(lda >= max(1, transA == .none ? k : m), "sgemm: lda \(lda) too small")
  precondition(ldb >= max(1, transB == .none ? n : k), "sgemm: ldb \(ldb) too small")
  precondition(ldc >= max(1, n), "sgemm: ldc \(ldc) too small")
  precondition(kernel.isSupported, "sgemm: kernel \(kernel.name) is not supported on this CPU")
  if m == 0 || n == 0 { return }
  if k == 0 || alpha == 0 {
    scale(c, rows: m, columns: n, ldc: ldc, by: beta)
    finished?(0..<m, 0..<n)
    return
  }

  let problem = GEMMProblem(
    transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
    beta: beta, c: SendablePointer(c), ldc: ldc, kernel: kernel)
  problem.run(threads: threads, pool: pool, finished: finished)
}

/// `C (m × n) = A · B` as ``sgemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:threads:kernel:pool:finished:)``
/// computes it, with A packed once, ahead of the call, in register-tile panels of ``GEMMKernel/best``'s
/// `mr` rows (``PreparedConvolution/packRowPanels(_:matrices:rows:columns:mr:)``: panel p, rows
/// p·mr ..< p·mr + mr, zero past the last, is `k × mr` floats from `panels + p·k·mr`), so that each
/// micro-kernel call reads one contiguous run of A, streamed from memory in order. B is stored (`b`,
/// row stride `ldb`) or never stored: `packB(packed, depth, columns)` then writes the block of B it is
/// asked for into `packed` as nr-wide panels, exactly as ``GEMMProblem/packB(into:depth:columns:)``
/// lays them out, zero past the last column (an implicit GEMM: a convolution packs its unfolded input
/// there straight from the input), on the computing threads, each block once per thread that needs
/// it. The same operations in the same order as `sgemm` on A and B stored, so the same bits. With an
/// `epilogue`, the last depth slice's tiles go through it (C's element (i, j) to its out's) as the
/// micro-kernel stores them, instead of to C.
func sgemm(
  m: Int, n: Int, k: Int, panels: UnsafePointer<Float>, b: UnsafePointer<Float>?, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int? = nil, pool: ThreadPool = .shared,
  packB: GEMMProblem.BPacker? = nil, epilogue: TileEpilogue? = nil,
  finished: ((_ rows: Range<Int>, _ columns: Range<Int>) -> Void)? = nil
) {
  precondition(m >= 0 && n >= 0 && k >= 0 && ldc >= max(1, n), "sgemm: bad shape")
  precondition((b == nil) != (packB == nil) && ldb >= max(1, n), "sgemm: B stored or packed")
  if m == 0 || n == 0 { return }
  precondition(k > 0 || epilogue == nil, "sgemm: an epilogue needs a depth")
  if k == 0 {
    scale(c, rows: m, columns: n, ldc: ldc, by: 0)
    finished?(0..<m, 0..<n)
    return
  }
  var problem = GEMMProblem(
    transA: .none, transB: .none, m: m, n: n, k: k, alpha: 1, a: panels, lda: k, b: b ?? panels, ldb: ldb,
    beta: 0, c: SendablePointer(c), ldc: ldc, kernel: .best, packer: packB)
  problem.aIsPanels = true
  problem.epilogue = epilogue
  problem.run(threads: threads, pool: pool, finished: finished)
}

extension GEMMProblem {
  /// Runs the whole problem over up to `threads` threads of `pool`.
  fileprivate func run(threads: Int?, pool: ThreadPool, finished: ((Range<Int>, Range<Int>) -> Void)?) {
    let problem = self
    let worthwhile = max(1, m * n * k / GEMMBlocking.minimumMultiplyAddsPerThread)
    let parts = problem.partition(threads: min(threads ?? pool.threadCount, pool.threadCount, worthwhile))
    let scratchFloats = problem.scratchFloats
    if parts.count == 1 {
      let scratch = gemmScratch.take(scratchFloats)
      problem.run(rows: parts[0].rows, columns: parts[0].columns, scratch: scratch.pointer, finished: finished)
      gemmScratch.give(scratch)
      return
    }
    pool.run(participants: parts.count) { p in
      let scratch = gemmScratch.take(scratchFloats)
      problem.run(rows: parts[p].rows, columns: parts[p].columns, scratch: scratch.pointer, finished: finished)
      gemmScratch.give(scratch)
    }
  }
}

/// C = beta · C over an m × n block (beta == 0 writes zeros without reading C).
private func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by beta: Float) {
  for i in 0..<rows {
    let row = c + i * ldc
    if beta == 0 {
      row.update(repeating: 0, count: columns)
    } else if beta != 1 {
      for j in 0..<columns { row[j] *= beta }
    }
  }
}

/// One GEMM call's operands and the sequential algorithm that computes a block of C.
struct GEMMProblem: @unchecked Sendable {
  let transA: Transpose, transB: Transpose
  let m: Int, n: Int, k: Int
  let alpha: Float
  let a: UnsafePointer<Float>, lda: Int
  let b: UnsafePointer<Float>, ldb: Int
  let beta: Float
  let c: SendablePointer, ldc: Int
  let kernel: GEMMKernel
  /// Packs a block of B in place of ``packB(into:depth:columns:)`` (B is then never read): the packed
  /// panels, the block's depth and its columns.
  typealias BPacker = (_ packed: UnsafeMutablePointer<Float>, _ depth: Range<Int>, _ columns: Range<Int>) -> Void
  var packer: BPacker? = nil
  /// A is packed in register-tile panels of `kernel.mr` rows, each `k × mr` floats (a depth's rows
  /// adjacent), rather than stored m × k.
  var aIsPanels = false
  /// Applied by the micro-kernel to the last depth slice's tiles (alpha 1 only), C's element (i, j) going
  /// to the epilogue's (i, j).
  var epilogue: TileEpilogue? = nil

  var kc: Int { min(GEMMBlocking.kc, k) }
  var nc: Int { GEMMBlocking.nc(depth: kc, nr: kernel.nr) }
  /// A is read in place (no packing) whenever it is stored m × k — measured faster here than packing
  /// even at 4 KiB strides (1024² A: 88 against 76 GFLOPS); a transposed A is packed.
  var readsAInPlace: Bool { transA == .none }
  /// B is read in place (columns outer, A's row panels inner) when it is stored k × n and A is short:
  /// each B panel then comes from memory once and is reused from L1 by every row panel. Not when B's
  /// stride aliases in the caches (a panel's rows would share a few sets) unless the panel is only a
  /// few rows deep. Decided from the whole problem, so every thread count takes the same path.
  var readsBInPlace: Bool {
    packer == nil && transB == .none && m <= GEMMBlocking.directBMaximumRows
      && (!GEMMBlocking.aliases(ldb: ldb) || k <= GEMMBlocking.directBAliasedMaximumDepth)
  }

  /// Floats of scratch one thread needs, each part 64-byte aligned: packed B (the kc × nc block, or
  /// one kc × nr tail panel when B is read in place), packed A (one mr × kc panel, or all of a slice's
  /// panels when B is read in place).
  var scratchFloats: Int {
    packedAOffset + roundUp((readsBInPlace ? roundUp(m, kernel.mr) : kernel.mr) * kc, 16)
  }
  private var packedAOffset: Int {
    roundUp(kc * (readsBInPlace ? kernel.nr : min(nc, roundUp(n, kernel.nr))), 16)
  }

  /// Splits C into at most `threads` blocks of whole register tiles, by rows or by columns. The split
  /// that leaves the busiest thread the fewest tiles wins; when both are within `balanceSlack` of each
  /// other, the one that makes every thread re-read the smaller operand wins instead (a column split
  /// has each thread stream all of A, m·k floats; a row split all of B, k·n floats).
  func partition(threads: Int) -> [(rows: Range<Int>, columns: Range<Int>)] {
    let mr = kernel.mr
    let nr = kernel.nr
    let rowTiles = (m + mr - 1) / mr
    let columnTiles = (n + nr - 1) / nr
    let t = max(1, threads)
    let byColumns = min(t, columnTiles)
    let byRows = min(t, rowTiles)
    let columnCost = Double((columnTiles + byColumns - 1) / byColumns * rowTiles)
    let rowCost = Double((rowTiles + byRows - 1) / byRows * columnTiles)
    let balanced = max(columnCost, rowCost) <= min(columnCost, rowCost) * GEMMBlocking.balanceSlack
    let splitColumns = balanced ? m * k <= k * n : columnCost <= rowCost
    if splitColumns {
      return split(tiles: columnTiles, into: byColumns).map {
        (0..<m, ($0.lowerBound * nr)..<min(n, $0.upperBound * nr))
      }
    }
    return split(tiles: rowTiles, into: byRows).map {
      (($0.lowerBound * mr)..<min(m, $0.upperBound * mr), 0..<n)
    }
  }

  /// Computes C[rows, columns]; `rows` and `columns` start on tile boundaries. `finished` as in ``sgemm``.
  func run(
    rows: Range<Int>, columns: Range<Int>, scratch: UnsafeMutablePointer<Float>,
    finished: ((Range<Int>, Range<Int>) -> Void)? = nil
  ) {
    kernel.variants.withUnsafeBufferPointer { variants in
      let driver = MacroKernel(problem: self, variants: variants, scratch: scratch, finished: finished)
      if readsBInPlace {
        driver.runReadingBInPlace(rows: rows, columns: columns, packedTail: scratch, packedA: scratch + packedAOffset)
      } else {
        driver.runPackingB(rows: rows, columns: columns, packedB: scratch, packedA: scratch + packedAOffset)
      }
    }
  }
}

/// The two loop nests around the micro-kernel, for one thread's block of C.
struct MacroKernel {
  let problem: GEMMProblem
  let variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>
  let scratch: UnsafeMutablePointer<Float>
  /// Called with each block of C once its last depth slice is added (see ``sgemm``).
  let finished: ((Range<Int>, Range<Int>) -> Void)?

  /// One micro-kernel call: C[i..<i+mcur, j..<j+ncols] from an A panel and a B panel, through the
  /// problem's epilogue if `last` (the last depth slice) and it has one.
  @inline(__always)
  func tile(
    _ kcur: Int, rows mcur: Int, a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
    b: UnsafePointer<Float>, bRowStride: Int, row i: Int, column j: Int, columns ncols: Int,
    scales: rn_scales, last: Bool, prefetch: UnsafePointer<Float>?
  ) {
    let p = problem
    let micro = variants[p.kernel.variantIndex(rows: mcur, columns: ncols)]
    let c = p.c.base + i * p.ldc + j
    if last, let e = p.epilogue {
      var tile = e.tile(row: i, column: j)
      micro(kcur, a, aRowStride, aColumnStride, b, bRowStride, c, p.ldc, scales, ncols, prefetch, &tile)
    } else {
      micro(kcur, a, aRowStride, aColumnStride, b, bRowStride, c, p.ldc, scales, ncols, prefetch, nil)
    }
  }

  /// Where the A panel of rows `ir..<ir+mcur`, depth slice from `pc`, is read: in place, or packed.
  @inline(__always)
  func aPanel(
    ir: Int, mcur: Int, pc: Int, kcur: Int, packInto packed: UnsafeMutablePointer<Float>
  ) -> (UnsafePointer<Float>, rowStride: Int, columnStride: Int) {
    let p = problem
    if p.aIsPanels { return (p.a + (ir / p.kernel.mr * p.k + pc) * p.kernel.mr, 1, p.kernel.mr) }
    if p.readsAInPlace { return (p.a + ir * p.lda + pc, p.lda, 1) }
    p.packA(into: packed, rows: ir..<(ir + mcur), depth: pc..<(pc + kcur))
    return (UnsafePointer(packed), 1, p.kernel.mr)
  }

  /// Goto/BLIS order: for each nc × kc block of B, pack it (it stays in L2); for each A panel (kept
  /// in L1), sweep the block's panels. After the last slice, each A panel's rows of the block are
  /// finished as soon as they are swept.
  func runPackingB(
    rows: Range<Int>, columns: Range<Int>, packedB: UnsafeMutablePointer<Float>,
    packedA: UnsafeMutablePointer<Float>
  ) {
    let p = problem
    let mr = p.kernel.mr
    let nr = p.kernel.nr
    var jc = columns.lowerBound
    while jc < columns.upperBound {
      let ncur = min(p.nc, columns.upperBound - jc)
      var pc = 0
      while pc < p.k {
        let kcur = min(p.kc, p.k - pc)
        let last = pc + kcur == p.k
        p.packB(into: packedB, depth: pc..<(pc + kcur), columns: jc..<(jc + ncur))
        let scales = rn_scales(alpha: p.alpha, beta: pc == 0 ? p.beta : 1)
        var ir = rows.lowerBound
        while ir < rows.upperBound {
          let mcur = min(mr, rows.upperBound - ir)
          let (a, aRowStride, aColumnStride) = aPanel(ir: ir, mcur: mcur, pc: pc, kcur: kcur, packInto: packedA)
          var jr = 0
          while jr < ncur {
            let b = UnsafePointer(packedB + (jr / nr) * kcur * nr)  // kcur × nr
            tile(
              kcur, rows: mcur, a: a, aRowStride: aRowStride, aColumnStride: aColumnStride, b: b, bRowStride: nr,
              row: ir, column: jc + jr, columns: min(nr, ncur - jr), scales: scales, last: last, prefetch: nil)
            jr += nr
          }
          if last { finished?(ir..<(ir + mcur), jc..<(jc + ncur)) }
          ir += mr
        }
        pc += kcur
      }
      jc += ncur
    }
  }

  /// For short A: for each kc slice, A's panels (packed if needed) stay in L1/L2 while B streams
  /// through once, panel by panel, read in place; the kernel prefetches the next B panel. Only a
  /// ragged last panel is packed (zero-padded), so no read goes past B's columns. After the last
  /// slice, the columns are finished in strips of ``GEMMBlocking/finishedColumns`` or more.
  func runReadingBInPlace(
    rows: Range<Int>, columns: Range<Int>, packedTail: UnsafeMutablePointer<Float>,
    packedA: UnsafeMutablePointer<Float>
  ) {
    let p = problem
    let mr = p.kernel.mr
    let nr = p.kernel.nr
    var pc = 0
    while pc < p.k {
      let kcur = min(p.kc, p.k - pc)
      let last = pc + kcur == p.k
      var unfinished = columns.lowerBound  // the first column not yet finished (last slice)
      let scales = rn_scales(alpha: p.alpha, beta: pc == 0 ? p.beta : 1)
      // A's panels for this slice: (pointer, row stride, column stride) by panel index, on the stack.
      let panelCount = (rows.count + mr - 1) / mr
      withUnsafeTemporaryAllocation(of: (UnsafePointer<Float>, Int, Int).self, capacity: panelCount) { panels in
        for index in 0..<panelCount {
          let ir = rows.lowerBound + index * mr
          let mcur = min(mr, rows.upperBound - ir)
          panels.initializeElement(
            at: index, to: aPanel(ir: ir, mcur: mcur, pc: pc, kcur: kcur, packInto: packedA + index * mr * kcur))
        }
        var jr = columns.lowerBound
        while jr < columns.upperBound {
          let ncols = min(nr, columns.upperBound - jr)
          var b = p.b + pc * p.ldb + jr  // kcur rows of B, stride ldb
          var bRowStride = p.ldb
          if ncols < nr {
            p.packB(into: packedTail, depth: pc..<(pc + kcur), columns: jr..<(jr + ncols))
            b = UnsafePointer(packedTail)
            bRowStride = nr
          }
          let next = jr + nr + nr <= columns.upperBound ? b + nr : nil
          for index in 0..<panelCount {
            let row = rows.lowerBound + index * mr
            let (a, aRowStride, aColumnStride) = panels[index]
            tile(
              kcur, rows: min(mr, rows.upperBound - row), a: a, aRowStride: aRowStride, aColumnStride: aColumnStride,
              b: b, bRowStride: bRowStride, row: row, column: jr, columns: ncols, scales: scales, last: last,
              prefetch: index == 0 ? next : nil)
          }
          jr += nr
          if last, let finished, jr - unfinished >= GEMMBlocking.finishedColumns || jr >= columns.upperBound {
            finished(rows, unfinished..<min(jr, columns.upperBound))
            unfinished = jr
          }
        }
      }
      pc += kcur
    }
  }
}

/// Splits `tiles` tiles into `parts` contiguous ranges whose sizes differ by at most one.
func split(tiles: Int, into parts: Int) -> [Range<Int>] {
  let base = tiles / parts
  let extra = tiles % parts
  var ranges: [Range<Int>] = []
  var start = 0
  for p in 0..<parts {
    let size = base + (p < extra ? 1 : 0)
    ranges.append(start..<(start + size))
    start += size
  }
  return ranges
}

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

/// The height of the register tiles `rows` rows are cut into, at most `mr`: ⌈rows / mr⌉ tiles as near
/// equal in height as can be, the last no taller (49 rows of a 7×7 plane: 7 tiles of 7, not 6 of 8 and a
/// lone row, which loads as much per depth as a full tile). A row's sums do not depend on its tile.
func tileHeight(rows: Int, mr: Int) -> Int {
  let tiles = max(1, (rows + mr - 1) / mr)
  return max(1, (rows + tiles - 1) / tiles)
}
