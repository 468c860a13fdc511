import CKernels

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
  let unfold = g.unfoldGeometry
  let taps = g.kernelHeight * g.kernelWidth
  // A plane at a time, all its taps' rows from one row-padded copy of it.
  parallelRanges(g.channels, work: rows * batch * g.outputPixels, threads: threads, pool: pool) { range in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: g.paddedPlaneCount) { padded in
      withUnsafePointer(to: unfold) { geometry in
        for c in range {
          for b in 0..<batch {
            // The next plane this thread unfolds: sample b + 1's, or sample 0's of channel c + 1.
            let next = b + 1 < batch ? (b + 1, c) : (0, c + 1)
            rn_im2col_plane(
              x.base + (b * g.channels + c) * g.height * g.width, geometry,
              col.base + c * taps * ldc + b * g.outputPixels, ldc, padded.baseAddress!,
              next.1 < range.upperBound ? x.base + (next.0 * g.channels + next.1) * g.height * g.width : nil)
          }
        }
      }
    }
  }
}

/// Rows `rows` of one sample's im2col matrix (see ``im2col(_:geometry:batch:into:ldc:threads:pool:)``) at
/// the output pixels `columns`, row `rows.lowerBound + q` to `target + q · ld`; one thread.
public func im2colRows(
  _ sample: UnsafePointer<Float>, geometry g: ConvGeometry, rows: Range<Int>, columns: Range<Int>,
  into target: UnsafeMutablePointer<Float>, ld: Int
) {
  precondition(
    rows.lowerBound >= 0 && rows.upperBound <= g.columnRows && columns.lowerBound >= 0
      && columns.upperBound <= g.outputPixels && ld >= columns.count, "im2colRows: ranges")
  guard !rows.isEmpty, !columns.isEmpty else { return }
  withUnsafePointer(to: g.unfoldGeometry) { unfold in
    rn_im2col_rows(sample, unfold, rows.lowerBound, rows.count, columns.lowerBound, columns.count, target, ld)
  }
}

/// im2col straight into bf16 pair rows, the B operand of the bf16 micro-kernels, without the float32
/// column matrix: for one sample (`g.inputCount` floats), pair row `p` of `pairs` holds rows `2p` (low
/// halves) and `2p + 1` (high halves; zero past the last row) of the sample's column matrix (see
/// ``im2col(_:geometry:batch:into:ldc:threads:pool:)``), at the output pixels `columns`, each value
/// rounded to bf16 as ``BF16GEMM/rounded(_:)`` rounds it — the words `rn_bf16_pair_rows` makes of that
/// matrix. Pair row `pairs.lowerBound + q` goes to `target + q · ld` 32-bit words; one thread.
public func im2colPairRows(
  _ sample: UnsafePointer<Float>, geometry g: ConvGeometry, pairs: Range<Int>, columns: Range<Int>,
  into target: UnsafeMutableRawPointer, ld: Int
) {
  precondition(
    pairs.lowerBound >= 0 && pairs.upperBound <= (g.columnRows + 1) / 2 && columns.lowerBound >= 0
      && columns.upperBound <= g.outputPixels && ld >= columns.count, "im2colPairRows: ranges")
  guard !pairs.isEmpty, !columns.isEmpty else { return }
  withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * columns.count + vectorSlack) { lines in  // two rows
    withUnsafePointer(to: g.unfoldGeometry) { unfold in
      rn_im2col_pairs(
        sample, g.channels, unfold, pairs.lowerBound, pairs.count, columns.lowerBound, columns.count, target, ld,
        lines.baseAddress!)
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
  if g.hasUnitStride {
    // Stride 1: a plane at a time, its taps added into a row-padded copy in tap order.
    let unfold = g.unfoldGeometry
    parallelRanges(g.channels, work: g.columnRows * batch * g.outputPixels, threads: threads, pool: pool) { range in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: g.paddedPlaneCount) { padded in
        withUnsafePointer(to: unfold) { geometry in
          for c in range {
            for b in 0..<batch {
              rn_col2im_stride1(
                col.base + c * taps * ldc + b * g.outputPixels, ldc, geometry,
                x.base + (b * g.channels + c) * g.height * g.width, accumulate ? 1 : 0, padded.baseAddress!)
            }
          }
        }
      }
    }
    return
  }
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
        for b in 0..<batch {
          let plane = x.base + (b * g.channels + c) * g.height * g.width  // output[b, c]: H × W
          let source = col.base + row * ldc + b * g.outputPixels  // Ho × Wo
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

extension ConvGeometry {
  /// The plane geometry of the im2col/col2im kernels (CKernels' im2col.c).
  var unfoldGeometry: rn_unfold_geometry {
    rn_unfold_geometry(
      height: height, width: width, kernel_height: kernelHeight, kernel_width: kernelWidth, pad_height: padHeight,
      pad_width: padWidth, dilation_height: dilationHeight, dilation_width: dilationWidth,
      stride_height: strideHeight, stride_width: strideWidth, output_height: outputHeight, output_width: outputWidth)
  }

  /// Whether both strides are 1.
  var hasUnitStride: Bool { strideHeight == 1 && strideWidth == 1 }

  /// Floats of scratch the plane kernels need: the plane with its rows padded on both sides, and
  /// slack for the last row's vector reads.
  var paddedPlaneCount: Int { height * (width + 2 * padWidth) + vectorSlack }
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
/// thread when `work` (elements touched) is too small to share. With several threads the parts are
/// handed out by a ``WorkQueue`` as the threads ask, so a thread slowed by a neighbour on its core
/// takes fewer: the first a ``ConvolutionBlocking/piecesPerThread``th of a thread's share, then
/// shrinking toward the end (``WorkQueue/claimRun(minimum:maximum:divisor:)``, down to what is worth
/// a part of its own), so that the threads finish close together. `body` must give the same result
/// for an index whatever part it comes in.
func parallelRanges(
  _ count: Int, work: Int, threads: Int?, pool: ThreadPool, _ body: (Range<Int>) -> Void
) {
  let worthwhile = max(1, work / (1 << 15))
  let parts = max(1, min(count, threads ?? pool.threadCount, pool.threadCount, worthwhile))
  if parts == 1 {
    body(0..<count)
    return
  }
  let most = min(count, worthwhile)  // the most parts worth their own
  let pieces = min(most, parts * ConvolutionBlocking.piecesPerThread)
  let widest = (count + pieces - 1) / pieces
  let smallest = (count + most - 1) / most
  let queue = WorkQueue(count: count)
  pool.run(sharing: parts) { _ in
    while let run = queue.claimRun(minimum: smallest, maximum: widest, divisor: 2 * parts) { body(run) }
  }
}
