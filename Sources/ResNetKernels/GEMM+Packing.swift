extension GEMMProblem {
  /// Packs op(B)[depth, columns] into nr-wide panels: panel p holds kcur rows of nr floats,
  /// `packed[p * kcur * nr + kk * nr + j] = op(B)[depth.lowerBound + kk][columns.lowerBound + p * nr + j]`,
  /// zero past the last column.
  func packB(into packed: UnsafeMutablePointer<Float>, depth: Range<Int>, columns: Range<Int>) {
    let nr = kernel.nr
    let kcur = depth.count
    var panel = packed
    var j0 = columns.lowerBound
    while j0 < columns.upperBound {
      let width = min(nr, columns.upperBound - j0)
      switch transB {
      case .none:  // B is k × n: row kk of the panel is contiguous in B
        var source = b + depth.lowerBound * ldb + j0
        var row = panel
        for _ in 0..<kcur {
          row.update(from: source, count: width)
          if width < nr { (row + width).update(repeating: 0, count: nr - width) }
          source += ldb
          row += nr
        }
      case .transposed:  // B is n × k: column j of the panel is contiguous in B
        if width < nr { panel.update(repeating: 0, count: kcur * nr) }
        for j in 0..<width {
          let source = b + (j0 + j) * ldb + depth.lowerBound
          var target = panel + j
          for kk in 0..<kcur {
            target.pointee = source[kk]
            target += nr
          }
        }
      }
      panel += kcur * nr
      j0 += nr
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
