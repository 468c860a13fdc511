import CKernels

/// bf16 convolutions on the GEMM and packed-weight paths whose kernel is wider than 1×1 and whose channels
/// are even order their depth by channel pairs: pair `cp · taps + t` of a column is channels `2cp` (low
/// half) and `2cp + 1` (high half) at tap `t`. The input is then rounded and paired once, channel `2cp`
/// with `2cp + 1` at each pixel (`⌈C/2⌉ × H·W` words per sample, as `rn_bf16_pair_rows` pairs rows), and a
/// pair row is that paired input's im2col row, its words moved as they are: the unfolding gathers each
/// word once per tap instead of gathering, rounding and pairing two floats per tap. The same products as
/// the depth's own order; the pairs in which the kernel adds them differ.
extension PreparedConvolution {
  /// Whether a bf16 convolution of geometry `g` on `path` orders its depth by channel pairs.
  static func pairsChannels(path: Path, geometry g: ConvGeometry) -> Bool {
    (path == .gemm || path == .packedWeight) && g.kernelHeight * g.kernelWidth > 1 && g.channels % 2 == 0
  }

  /// `weight` (O × C·taps, channel-major) with its columns in channel-pair order: column `2(cp · taps + t)
  /// + e` holds channel `2cp + e`'s tap `t`.
  static func channelPairOrder(
    _ weight: UnsafePointer<Float>, outputChannels o: Int, geometry g: ConvGeometry
  ) -> UnsafeMutablePointer<Float> {
    let taps = g.kernelHeight * g.kernelWidth
    let k = g.columnRows
    let ordered = allocateAlignedFloats(o * k)  // O × K
    for row in 0..<o {
      let (source, target) = (weight + row * k, ordered + row * k)
      for c in 0..<g.channels {
        for t in 0..<taps { target[2 * ((c / 2) * taps + t) + c % 2] = source[c * taps + t] }
      }
    }
    return ordered
  }

  /// Words per paired sample: `C/2` planes of `H·W`.
  var pairedSampleWords: Int { geometry.channels / 2 * geometry.height * geometry.width }

  /// Samples `first ..< first + count` of `input` rounded to bf16 and paired by channels into `target`
  /// (count × ``pairedSampleWords`` words), by ranges of planes over `threads` threads.
  func pairChannels(
    _ input: UnsafePointer<Float>, first: Int, count: Int, into target: UnsafeMutableRawPointer, threads: Int,
    pool: ThreadPool
  ) {
    let g = geometry
    let plane = g.height * g.width
    let half = g.channels / 2
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let words = SendablePointer(target.assumingMemoryBound(to: Float.self))
    parallelRanges(count * half, work: count * g.inputCount, threads: threads, pool: pool) { range in
      var index = range.lowerBound
      while index < range.upperBound {
        let (s, cp) = index.quotientAndRemainder(dividingBy: half)
        let pairs = min(range.upperBound - index, half - cp)  // this sample's planes in the range
        rn_bf16_pair_rows(
          x.base + (first + s) * g.inputCount + 2 * cp * plane, plane, 2 * pairs, plane,
          words.base + index * plane, plane)
        index += pairs
      }
    }
  }

  /// Pair rows `pairs` at output pixels `columns` of sample `s` of the group starting at `first`, pair row
  /// `pairs.lowerBound + q` to `target + q · ld` words; one thread. By channel pairs, the rows of its paired
  /// form (`paired`: the group's samples as ``pairChannels(_:first:count:into:threads:pool:)`` wrote them),
  /// unfolded as they are; otherwise gathered, rounded and paired from `input`.
  func pairRows(
    _ input: UnsafePointer<Float>, first: Int, sample s: Int, paired: UnsafePointer<Float>?, pairs: Range<Int>,
    columns: Range<Int>, into target: UnsafeMutableRawPointer, ld: Int
  ) {
    if let paired {
      im2colRows(
        paired + s * pairedSampleWords, geometry: geometry, rows: pairs, columns: columns,
        into: target.assumingMemoryBound(to: Float.self), ld: ld)
    } else {
      im2colPairRows(
        input + (first + s) * geometry.inputCount, geometry: geometry, pairs: pairs, columns: columns, into: target,
        ld: ld)
    }
  }
}
