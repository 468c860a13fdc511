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
public func sgemm(
  _ transA: Transpose, _ transB: Transpose,
  m: Int, n: Int, k: Int,
  alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0,
  c: UnsafeMutablePointer<Float>, ldc: Int,
  threads: Int? = nil, kernel: GEMMKernel = .best, pool: ThreadPool = .shared
) {
  precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension \(m)x\(n)x\(k)")
  precondition(lda >= max(1, transA == .none ? k : m), "sgemm: lda \(lda) too small")
  precondition(ldb >= max(1, transB == .none ? n : k), "sgemm: ldb \(ldb) too small")
  precondition(ldc >= max(1, n), "sgemm: ldc \(ldc) too small")
  precondition(kernel.isSupported, "sgemm: kernel \(kernel.name) is not supported on this CPU")
  if m == 0 || n == 0 { return }
  if k == 0 || alpha == 0 {
    scale(c, rows: m, columns: n, ldc: ldc, by: beta)
    return
  }

  let problem = GEMMProblem(
    transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
    beta: beta, c: SendablePointer(c), ldc: ldc, kernel: kernel)
  let worthwhile = max(1, m * n * k / GEMMBlocking.minimumMultiplyAddsPerThread)
  let parts = problem.partition(threads: min(threads ?? pool.threadCount, pool.threadCount, worthwhile))
  let scratchFloats = problem.scratchFloats
  if parts.count == 1 {
    let scratch = gemmScratch.take(scratchFloats)
    problem.run(rows: parts[0].rows, columns: parts[0].columns, scratch: scratch.pointer)
    gemmScratch.give(scratch)
    return
  }
  pool.run(participants: parts.count) { p in
    let scratch = gemmScratch.take(scratchFloats)
    problem.run(rows: parts[p].rows, columns: parts[p].columns, scratch: scratch.pointer)
    gemmScratch.give(scratch)
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

  var kc: Int { min(GEMMBlocking.kc, k) }
  var nc: Int { GEMMBlocking.nc(depth: kc, nr: kernel.nr) }
  /// A is read in place (no packing) when it is stored m × k with a stride that does not alias in L1.
  var readsAInPlace: Bool { transA == .none && !GEMMBlocking.aliases(lda: lda) }

  /// Floats of scratch one thread needs: the packed B block (kc × nc, in nr-wide panels), one packed
  /// A panel (mr × kc), then alpha and the current beta for the micro-kernel, each 64-byte aligned.
  var scratchFloats: Int { scalesOffset + 16 }
  private var packedAOffset: Int { roundUp(kc * min(nc, roundUp(n, kernel.nr)), 16) }
  private var scalesOffset: Int { packedAOffset + roundUp(kernel.mr * kc, 16) }

  /// Splits C into at most `threads` blocks of whole register tiles, by rows or by columns —
  /// whichever leaves the busiest thread the fewest tiles (columns on a tie).
  func partition(threads: Int) -> [(rows: Range<Int>, columns: Range<Int>)] {
    let mr = kernel.mr
    let nr = kernel.nr
    let rowTiles = (m + mr - 1) / mr
    let columnTiles = (n + nr - 1) / nr
    let t = max(1, threads)
    let byColumns = min(t, columnTiles)
    let byRows = min(t, rowTiles)
    let columnCost = (columnTiles + byColumns - 1) / byColumns * rowTiles
    let rowCost = (rowTiles + byRows - 1) / byRows * columnTiles
    if columnCost <= rowCost {
      return split(tiles: columnTiles, into: byColumns).map {
        (0..<m, ($0.lowerBound * nr)..<min(n, $0.upperBound * nr))
      }
    }
    return split(tiles: rowTiles, into: byRows).map {
      (($0.lowerBound * mr)..<min(m, $0.upperBound * mr), 0..<n)
    }
  }

  /// Computes C[rows, columns]; `rows` and `columns` start on tile boundaries.
  func run(rows: Range<Int>, columns: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
    let mr = kernel.mr
    let nr = kernel.nr
    let width = kernel.width
    let vectors = kernel.vectors
    let kc = self.kc
    let nc = self.nc
    let packedB = scratch  // kc × nc: ceil(nc / nr) panels, each kc rows of nr floats
    let packedA = scratch + packedAOffset  // mr × kc, k-major: packedA[kk * mr + r]
    let scales = scratch + scalesOffset  // [alpha, beta for this k slice]
    let c = self.c.base
    kernel.variants.withUnsafeBufferPointer { variants in
      var jc = columns.lowerBound
      while jc < columns.upperBound {
        let ncur = min(nc, columns.upperBound - jc)
        var pc = 0
        while pc < k {
          let kcur = min(kc, k - pc)
          packB(into: packedB, depth: pc..<(pc + kcur), columns: jc..<(jc + ncur))
          scales[0] = alpha
          scales[1] = pc == 0 ? beta : 1
          var ir = rows.lowerBound
          while ir < rows.upperBound {
            let mcur = min(mr, rows.upperBound - ir)
            let aPanel: UnsafePointer<Float>
            let aRowStride: Int
            let aColumnStride: Int
            if readsAInPlace {
              aPanel = a + ir * lda + pc
              aRowStride = lda
              aColumnStride = 1
            } else {
              packA(into: packedA, rows: ir..<(ir + mcur), depth: pc..<(pc + kcur))
              aPanel = UnsafePointer(packedA)
              aRowStride = 1
              aColumnStride = mr
            }
            var jr = 0
            while jr < ncur {
              let ncols = min(nr, ncur - jr)
              let v = (ncols + width - 1) / width
              let micro = variants[(mcur - 1) * vectors + (v - 1)]
              micro(
                kcur, aPanel, aRowStride, aColumnStride, packedB + (jr / nr) * kcur * nr,
                c + ir * ldc + jc + jr, ldc, scales, ncols)
              jr += nr
            }
            ir += mr
          }
          pc += kcur
        }
        jc += ncur
      }
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
