extension Image {
  /// This image scaled to `width` × `height` with Pillow's bilinear filter, as torchvision's `Resize`
  /// does it through `Image.resize(size, Image.BILINEAR)`: a triangle filter widened by the scale
  /// factor when shrinking (so it antialiases), separable, horizontal pass first, 22-bit fixed-point
  /// weights and 8-bit rounding between the passes — the same arithmetic as Pillow's, so the result is
  /// Pillow's to the level.
  public func resized(width outWidth: Int, height outHeight: Int) -> Image {
    precondition(outWidth > 0 && outHeight > 0, "resize to \(outWidth)×\(outHeight)")
    var image = self
    if outWidth != width {
      image = image.resampled(along: .horizontal, to: outWidth)
    }
    if outHeight != height {
      image = image.resampled(along: .vertical, to: outHeight)
    }
    return image
  }

  /// This image resized so its shorter side is `size` and the aspect ratio is kept (the longer side
  /// truncated, as torchvision's `Resize(size)` computes it).
  public func resized(shorterSide size: Int) -> Image {
    let (short, long) = width <= height ? (width, height) : (height, width)
    let newLong = Int(Double(size) * Double(long) / Double(short))
    return width <= height
      ? resized(width: size, height: newLong) : resized(width: newLong, height: size)
  }

  private enum Axis { case horizontal, vertical }

  /// One pass of Pillow's resampling along `axis`.
  private func resampled(along axis: Axis, to outSize: Int) -> Image {
    let inSize = axis == .horizontal ? width : height
    let kernel = ResampleKernel(inSize: inSize, outSize: outSize)
    let c = channels
    let outWidth = axis == .horizontal ? outSize : width
    let outHeight = axis == .horizontal ? height : outSize
    var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
    // Distance in bytes between neighbouring samples along the axis.
    let step = axis == .horizontal ? c : width * c
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<outHeight {
          for x in 0..<outWidth {
            let along = axis == .horizontal ? x : y
            let first = kernel.first[along]
            let taps = kernel.count[along]
            let weights = along * kernel.size
            // The first input sample of this output sample's window, channel 0.
            let origin =
              axis == .horizontal ? (y * width + first) * c : (first * width + x) * c
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

  /// Taps per output sample, window start and length per output sample, and the fixed-point weights,
  /// `size` per output sample.
  let size: Int
  let first: [Int]
  let count: [Int]
  let weights: [Int32]

  init(inSize: Int, outSize: Int) {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1)
    let support = 1.0 * filterScale  // the triangle filter's support is 1
    size = Int(support.rounded(.up)) * 2 + 1
    var first = [Int](repeating: 0, count: outSize)
    var count = [Int](repeating: 0, count: outSize)
    var weights = [Int32](repeating: 0, count: outSize * size)
    var taps = [Double](repeating: 0, count: size)
    let reciprocal = 1 / filterScale
    for xx in 0..<outSize {
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
        weights[xx * size + x] = Int32(w < 0 ? scaled - 0.5 : scaled + 0.5)
      }
      first[xx] = lo
      count[xx] = n
    }
    self.first = first
    self.count = count
    self.weights = weights
  }

  /// A fixed-point sum back to 0…255.
  @inline(__always)
  static func clip8(_ sum: Int64) -> UInt8 {
    if sum >= Int64(1) << (precisionBits + 8) { return 255 }
    if sum <= 0 { return 0 }
    return UInt8(sum >> precisionBits)
  }
}
