import CKernels

extension GEMMProblem {
  /// Packs op(B)[depth, columns] into nr-wide panels: panel p holds kcur rows of nr floats,
  /// `packed[p * kcur * nr + kk * nr + j] = op(B)[depth.lowerBound + kk][columns.lowerBound + p * nr + j]`,
  /// zero past the last column.
  func packB(into packed: UnsafeMutablePointer<Float>, depth: Range<Int>, columns: Range<Int>) {
    if let packer { return packer(packed, depth, columns) }
    switch transB {
    case .none: packRowsOfB(into: packed, depth: depth, columns: columns)
    case .transposed: packColumnsOfB(into: packed, depth: depth, columns: columns)
    }
  }

  /// Packs B stored n × k: each panel column is a contiguous run of B (`rn_pack_columns`, by 16×16
  /// blocks transposed in registers).
  private func packColumnsOfB(into packed: UnsafeMutablePointer<Float>, depth: Range<Int>, columns: Range<Int>) {
    let nr = kernel.nr
    var panel = packed
    var j0 = columns.lowerBound
    while j0 < columns.upperBound {
      let width = min(nr, columns.upperBound - j0)
      rn_pack_columns(b + j0 * ldb + depth.lowerBound, ldb, width, depth.count, nr, panel)
      panel += depth.count * nr
      j0 += nr
    }
  }

  /// Packs B stored k × n, streaming each row of B once (sequential reads, as the prefetcher likes)
  /// and scattering its nr-float pieces to the panels with 8-float vector copies.
  private func packRowsOfB(into packed: UnsafeMutablePointer<Float>, depth: Range<Int>, columns: Range<Int>) {
    let nr = kernel.nr
    let kcur = depth.count
    let fullPanels = columns.count / nr
    let tail = columns.count - fullPanels * nr
    let panelStride = kcur * nr
    var source = b + depth.lowerBound * ldb + columns.lowerBound
    var target = packed  // row kk of panel 0
    for kk in 0..<kcur {
      let ahead = kk + GEMMBlocking.packPrefetchRows < kcur ? source + GEMMBlocking.packPrefetchRows * ldb : source
      rn_pack_row(source, fullPanels, nr, target, panelStride, ahead)
      if tail > 0 {
        let last = target + fullPanels * panelStride
        last.update(from: source + fullPanels * nr, count: tail)
        (last + tail).update(repeating: 0, count: nr - tail)
      }
      source += ldb
      target += nr
    }
  }

  /// Packs op(A)[rows, depth] k-major: `packed[kk * mr + r] = op(A)[rows.lowerBound + r][depth.lowerBound + kk]`.
  func packA(into packed: UnsafeMutablePointer<Float>, rows: Range<Int>, depth: Range<Int>) {
    let mr = kernel.mr
    let mcur = rows.count
    switch transA {
    case .none:  // A is m × k
      for r in 0..<mcur {
        let source = a + (rows.lowerBound + r) * lda + depth.lowerBound
        var target = packed + r
        for kk in 0..<depth.count {
          target.pointee = source[kk]
          target += mr
        }
      }
    case .transposed:  // A is k × m: the panel's column kk is contiguous
      var source = a + depth.lowerBound * lda + rows.lowerBound
      var target = packed
      for _ in 0..<depth.count {
        target.update(from: source, count: mcur)
        source += lda
        target += mr
      }
    }
  }
}
