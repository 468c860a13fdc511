/// im2col: unfolds the convolution windows of `batch` NCHW samples into the columns of a matrix, so
/// that a convolution becomes one GEMM.
///
/// `input` holds `batch` samples of `g.channels × g.height × g.width` floats, one after another.
/// `columns` is a `g.columnRows × ldc` row-major matrix (`ldc ≥ batch · g.outputPixels`); row
/// `(c · kh + i) · kw + j`, column `b · Ho·Wo + oh · Wo + ow` receives
/// `input[b, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]`, or 0 where that falls in the padding.
/// Rows are filled in parallel on `pool`.
public func im2col(
  _ input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  into columns: UnsafeMutablePointer<Float>, ldc: Int? = nil,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let ldc = ldc ?? batch * g.outputPixels
  precondition(batch >= 0 && ldc >= batch * g.outputPixels, "im2col: ldc \(ldc) too small")
  let rows = g.columnRows
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let col = SendablePointer(columns)
  parallelRanges(rows, work: rows * batch * g.outputPixels, threads: threads, pool: pool) { range in
    for row in range {
      let c = row / (g.kernelHeight * g.kernelWidth)
      let i = row / g.kernelWidth % g.kernelHeight
      let j = row % g.kernelWidth
      let shifted = ShiftedPlane(g, tapRow: i, tapColumn: j)
      for b in 0..<batch {
        let plane = x.base + (b * g.channels + c) * g.height * g.width  // input[b, c]: H × W
        let out = col.base + row * ldc + b * g.outputPixels  // Ho × Wo
        if let shifted {
          shifted.copy(from: plane, to: out)
          continue
        }
        for oh in 0..<g.outputHeight {
          let ih = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
          let target = out + oh * g.outputWidth
          guard ih >= 0 && ih < g.height else {
            target.update(repeating: 0, count: g.outputWidth)
            continue
          }
          let line = plane + ih * g.width
          let (first, end) = validOutputColumns(g, tap: j)
          if first > 0 { target.update(repeating: 0, count: first) }
          let iw0 = first * g.strideWidth - g.padWidth + j * g.dilationWidth
          if g.strideWidth == 1 {
            if end > first { copyFloats(line + iw0, to: target + first, count: end - first) }
          } else {
            var iw = iw0
            for ow in first..<max(first, end) {
              target[ow] = line[iw]
              iw += g.strideWidth
            }
          }
          if end < g.outputWidth {
            (target + max(end, first)).update(repeating: 0, count: g.outputWidth - max(end, first))
          }
        }
      }
    }
  }
}

/// col2im, the adjoint of ``im2col(_:geometry:batch:into:ldc:threads:pool:)``: adds every column
/// entry back into the input position it was copied from (entries from the padding are dropped).
///
/// `output` holds `batch` NCHW samples; it is overwritten (`accumulate == false`) or added to. Work is
/// split by channel, and each channel sums its entries in one fixed order, so the result is the same
/// for any thread count.
public func col2im(
  _ columns: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int, ldc: Int? = nil,
  into output: UnsafeMutablePointer<Float>, accumulate: Bool = false,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let ldc = ldc ?? batch * g.outputPixels
  precondition(batch >= 0 && ldc >= batch * g.outputPixels, "col2im: ldc \(ldc) too small")
  let col = SendablePointer(UnsafeMutablePointer(mutating: columns))
  let x = SendablePointer(output)
  let taps = g.kernelHeight * g.kernelWidth
  parallelRanges(g.channels, work: g.columnRows * batch * g.outputPixels, threads: threads, pool: pool) { range in
    for c in range {
      if !accumulate {
        for b in 0..<batch {
          (x.base + (b * g.channels + c) * g.height * g.width).update(repeating: 0, count: g.height * g.width)
        }
      }
      for tap in 0..<taps {
        let row = c * taps + tap
        let i = tap / g.kernelWidth
        let j = tap % g.kernelWidth
        let (first, end) = validOutputColumns(g, tap: j)
        guard end > first else { continue }
        let shifted = ShiftedPlane(g, tapRow: i, tapColumn: j)
        for b in 0..<batch {
          let plane = x.base + (b * g.channels + c) * g.height * g.width  // output[b, c]: H × W
          let source = col.base + row * ldc + b * g.outputPixels  // Ho × Wo
          if let shifted {
            shifted.add(from: source, to: plane)
            continue
          }
          for oh in 0..<g.outputHeight {
            let ih = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
            guard ih >= 0 && ih < g.height else { continue }
            let line = plane + ih * g.width
            let from = source + oh * g.outputWidth
            var iw = first * g.strideWidth - g.padWidth + j * g.dilationWidth
            if g.strideWidth == 1 {
              addFloats(from + first, to: line + iw, count: end - first)
              continue
            }
            for ow in first..<end {
              line[iw] += from[ow]
              iw += g.strideWidth
            }
          }
        }
      }
    }
  }
}

/// One kernel tap of a stride-1 convolution whose output rows are as wide as its input rows: the tap's
/// column-matrix row is then the input plane shifted by a fixed flat offset, with the rows and columns
/// that fall in the padding set to zero. One long copy (or add) replaces a short one per output row.
struct ShiftedPlane {
  /// Flat input index of output pixel 0 (may lie outside the plane).
  let offset: Int
  /// Output rows `firstRow..<endRow` and columns `firstColumn..<endColumn` read inside the image.
  let firstRow: Int, endRow: Int, firstColumn: Int, endColumn: Int
  /// Input pixels (H·W) and output row width and height.
  let planeCount: Int, width: Int, outputHeight: Int

  @inline(__always)
  init?(_ g: ConvGeometry, tapRow i: Int, tapColumn j: Int) {
    guard g.strideHeight == 1 && g.strideWidth == 1 && g.outputWidth == g.width else { return nil }
    let rowShift = i * g.dilationHeight - g.padHeight  // input row of output row 0
    let columnShift = j * g.dilationWidth - g.padWidth  // input column of output column 0
    (firstColumn, endColumn) = validOutputColumns(g, tap: j)
    firstRow = min(max(0, -rowShift), g.outputHeight)
    endRow = max(firstRow, min(g.outputHeight, g.height - rowShift))
    offset = rowShift * g.width + columnShift
    (planeCount, width, outputHeight) = (g.height * g.width, g.width, g.outputHeight)
  }

  /// The flat output range `start..<end` of the valid rows whose source index lies inside the plane.
  @inline(__always)
  private var span: (start: Int, end: Int) {
    (max(firstRow * width, -offset), min(endRow * width, planeCount - offset))
  }

  /// Writes the tap's row (`Ho × Wo`) from `plane` (`H × W`).
  @inline(__always)
  func copy(from plane: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>) {
    let (start, end) = span
    out.update(repeating: 0, count: firstRow * width)
    if end > start { copyFloats(plane + start + offset, to: out + start, count: end - start) }
    (out + endRow * width).update(repeating: 0, count: (outputHeight - endRow) * width)
    zeroPaddingColumns(out)
  }

  /// Adds the tap's row (`Ho × Wo`) into `plane` (`H × W`), dropping the entries from the padding.
  @inline(__always)
  func add(from source: UnsafePointer<Float>, to plane: UnsafeMutablePointer<Float>) {
    if firstColumn == 0 && endColumn == width {
      let (start, end) = span
      if end > start { addFloats(source + start, to: plane + start + offset, count: end - start) }
      return
    }
    guard endColumn > firstColumn else { return }
    for row in firstRow..<endRow {
      let from = row * width + firstColumn
      addFloats(source + from, to: plane + from + offset, count: endColumn - firstColumn)
    }
  }

  /// Zeroes the columns outside `firstColumn..<endColumn` in the valid rows of `out` (`Ho × Wo`).
  @inline(__always)
  private func zeroPaddingColumns(_ out: UnsafeMutablePointer<Float>) {
    guard firstColumn > 0 || endColumn < width else { return }
    for row in firstRow..<endRow {
      let line = out + row * width
      for column in 0..<firstColumn { line[column] = 0 }
      for column in endColumn..<width { line[column] = 0 }
    }
  }
}

/// The output columns `first..<end` whose input column for kernel column `tap` lies inside the
/// image (the others read padding).
@inline(__always)
func validOutputColumns(_ g: ConvGeometry, tap j: Int) -> (first: Int, end: Int) {
  let shift = j * g.dilationWidth - g.padWidth  // input column of output column 0
  // first: smallest ow with ow·s + shift ≥ 0; end: smallest ow with ow·s + shift ≥ W.
  let first = shift >= 0 ? 0 : (-shift + g.strideWidth - 1) / g.strideWidth
  let end = g.width - shift <= 0 ? 0 : (g.width - shift + g.strideWidth - 1) / g.strideWidth
  return (min(first, g.outputWidth), min(max(end, 0), g.outputWidth))
}

/// Runs `body` over contiguous parts of `0..<count` on up to `threads` threads of `pool`, using one
/// thread when `work` (elements touched) is too small to share.
func parallelRanges(
  _ count: Int, work: Int, threads: Int?, pool: ThreadPool, _ body: (Range<Int>) -> Void
) {
  let worthwhile = max(1, work / (1 << 15))
  let parts = max(1, min(count, threads ?? pool.threadCount, pool.threadCount, worthwhile))
  if parts == 1 {
    body(0..<count)
    return
  }
  let ranges = split(tiles: count, into: parts)
  pool.run(participants: parts) { p in body(ranges[p]) }
}
