extension Image {
  /// This image scaled to `width` × `height` with Pillow's bilinear filter, as torchvision's `Resize`
  /// does it through `Image.resize(size, Image.BILINEAR)`: a triangle filter widened by the scale
  /// factor when shrinking (so it antialiases), separable, horizontal pass first, 22-bit fixed-point
  /// weights and 8-bit rounding between the passes — the same arithmetic as Pillow's, so the result is
  /// Pillow's to the level.
  public func resized(width outWidth: Int, height outHeight: Int) -> Image {
    precondition(outWidth > 0 && outHeight > 0, "resize to \(outWidth)×\(outHeight)")
    return resized(width: outWidth, height: outHeight, columns: 0..<outWidth, rows: 0..<outHeight)
  }

  /// The window `columns` × `rows` of this image scaled to `width` × `height`: the same pixels as
  /// `resized(width:height:)` then cropping, but only the window is computed, and the first pass
  /// covers only the input rows the window reads (as Pillow's `resize(box=…)` reduces its passes). So
  /// a 1 × 1,000,000 strip cropped to 32 × 32 after resizing costs a 32 × 32 image, not 36 million.
  public func resized(width outWidth: Int, height outHeight: Int, columns: Range<Int>, rows: Range<Int>)
    -> Image
  {
    precondition(outWidth > 0 && outHeight > 0, "resize to \(outWidth)×\(outHeight)")
    precondition(
      columns.lowerBound >= 0 && columns.upperBound <= outWidth && rows.lowerBound >= 0
        && rows.upperBound <= outHeight && !columns.isEmpty && !rows.isEmpty,
      "window \(columns) × \(rows) of \(outWidth)×\(outHeight)")
    let vertical = outHeight != height ? ResampleKernel(inSize: height, outSize: outHeight, range: rows) : nil
    // The input rows the window reads: those of its vertical taps, or its own rows.
    let inputRows = vertical?.inputRange ?? rows
    var image =
      outWidth != width
      ? resampled(
        along: .horizontal, kernel: ResampleKernel(inSize: width, outSize: outWidth, range: columns), lines: inputRows)
      : cropped(left: columns.lowerBound, top: inputRows.lowerBound, width: columns.count, height: inputRows.count)
    if let vertical {
      image = image.resampled(along: .vertical, kernel: vertical, lines: 0..<image.width, offset: inputRows.lowerBound)
    }
    return image
  }

  /// This image resized so its shorter side is `size` and the aspect ratio is kept (the longer side
  /// truncated, as torchvision's `Resize(size)` computes it).
  public func resized(shorterSide size: Int) -> Image {
    let (w, h) = sizeAfterResizing(shorterSide: size)
    return resized(width: w, height: h)
  }

  /// The width and height `resized(shorterSide:)` gives.
  public func sizeAfterResizing(shorterSide size: Int) -> (width: Int, height: Int) {
    let (short, long) = width <= height ? (width, height) : (height, width)
    let newLong = Int(Double(size) * Double(long) / Double(short))
    return width <= height ? (size, newLong) : (newLong, size)
  }

  private enum Axis { case horizontal, vertical }

  /// One pass of Pillow's resampling along `axis`, for the output samples of `kernel.range`, over the
  /// `lines` across the axis (rows for a horizontal pass, columns for a vertical one). Along the axis,
  /// the input starts at sample `offset` of the full image the kernel was made for.
  private func resampled(along axis: Axis, kernel: ResampleKernel, lines: Range<Int>, offset: Int = 0) -> Image {
    let c = channels
    let outWidth = axis == .horizontal ? kernel.range.count : lines.count
    let outHeight = axis == .horizontal ? lines.count : kernel.range.count
    var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
    // Distance in bytes between neighbouring samples along the axis.
    let step = axis == .horizontal ? c : width * c
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<outHeight {
          for x in 0..<outWidth {
            // This output sample's index in the kernel, and its line across the axis in the input.
            let (along, line) = axis == .horizontal ? (x, lines.lowerBound + y) : (y, lines.lowerBound + x)
            let first = kernel.first[along] - offset
            let taps = kernel.count[along]
            let weights = along * kernel.size
            // The first input sample of this output sample's window, channel 0.
            let origin = axis == .horizontal ? (line * width + first) * c : (first * width + line) * c
            for k in 0..<c {
              var sum = Int64(1) << (ResampleKernel.precisionBits - 1)
              for t in 0..<taps {
                sum += Int64(src[origin + t * step + k]) * Int64(kernel.weights[weights + t])
              }
              dst[(y * outWidth + x) * c + k] = ResampleKernel.clip8(sum)
            }
          }
        }
      }
    }
    return Image(width: outWidth, height: outHeight, mode: mode, pixels: out)
  }
}

/// Pillow's bilinear resampling weights for one axis (`precompute_coeffs` and
/// `normalize_coeffs_8bpc` of its Resample.c, recomputed here from their definition).
struct ResampleKernel {
  static let precisionBits = 32 - 8 - 2

  /// The output samples described, taps per output sample, and each one's window start (in the
  /// input) and length and its fixed-point weights, `size` per output sample, indexed from
  /// `range.lowerBound`.
  let range: Range<Int>
  let size: Int
  let first: [Int]
  let count: [Int]
  let weights: [Int32]

  /// The weights of output samples `range` of a resampling from `inSize` to `outSize` samples.
  init(inSize: Int, outSize: Int, range: Range<Int>) {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1)
    let support = 1.0 * filterScale  // the triangle filter's support is 1
    size = Int(support.rounded(.up)) * 2 + 1
    var first = [Int](repeating: 0, count: range.count)
    var count = [Int](repeating: 0, count: range.count)
    var weights = [Int32](repeating: 0, count: range.count * size)
    var taps = [Double](repeating: 0, count: size)
    let reciprocal = 1 / filterScale
    for (i, xx) in range.enumerated() {
      let center = (Double(xx) + 0.5) * scale
      let lo = max(Int(center - support + 0.5), 0)
      let n = min(Int(center + support + 0.5), inSize) - lo
      var total = 0.0
      for x in 0..<n {
        let t = abs((Double(x + lo) - center + 0.5) * reciprocal)
        taps[x] = t < 1 ? 1 - t : 0
        total += taps[x]
      }
      for x in 0..<n {
        let w = total != 0 ? taps[x] / total : taps[x]
        let scaled = w * Double(1 << Self.precisionBits)
        weights[i * size + x] = Int32(w < 0 ? scaled - 0.5 : scaled + 0.5)
      }
      first[i] = lo
      count[i] = n
    }
    self.range = range
    self.first = first
    self.count = count
    self.weights = weights
  }

  /// The input samples that the output samples of `range` read.
  var inputRange: Range<Int> {
    let lower = first.min() ?? 0
    let upper = zip(first, count).map { $0 + $1 }.max() ?? lower
    return lower..<max(lower, upper)
  }

  /// A fixed-point sum back to 0…255.
  @inline(__always)
  static func clip8(_ sum: Int64) -> UInt8 {
    if sum >= Int64(1) << (precisionBits + 8) { return 255 }
    if sum <= 0 { return 0 }
    return UInt8(sum >> precisionBits)
  }
}
