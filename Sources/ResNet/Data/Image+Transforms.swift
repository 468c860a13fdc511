extension Image {
  /// The `width` × `height` window whose top-left corner is at (`left`, `top`); parts of the window
  /// outside the image are filled with `fill` (so negative offsets pad).
  public func cropped(left: Int, top: Int, width outWidth: Int, height outHeight: Int, fill: UInt8 = 0)
    -> Image
  {
    let c = channels
    var out = [UInt8](repeating: fill, count: outWidth * outHeight * c)
    let x0 = max(0, -left)
    let x1 = min(outWidth, width - left)
    guard x1 > x0 else { return Image(width: outWidth, height: outHeight, mode: mode, pixels: out) }
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<outHeight {
          let sy = y + top
          guard sy >= 0 && sy < height else { continue }
          let from = (sy * width + left + x0) * c
          let to = (y * outWidth + x0) * c
          for i in 0..<(x1 - x0) * c { dst[to + i] = src[from + i] }
        }
      }
    }
    return Image(width: outWidth, height: outHeight, mode: mode, pixels: out)
  }

  /// The central `width` × `height` window, as torchvision's `CenterCrop`: offsets
  /// round((size − crop) / 2) with Python's round-half-to-even, zero padding when the crop is larger.
  public func centerCropped(width outWidth: Int, height outHeight: Int) -> Image {
    if outWidth == width && outHeight == height { return self }
    let left = Int((Double(width - outWidth) / 2).rounded(.toNearestOrEven))
    let top = Int((Double(height - outHeight) / 2).rounded(.toNearestOrEven))
    return cropped(left: left, top: top, width: outWidth, height: outHeight)
  }

  /// This image mirrored left to right.
  public func flippedHorizontally() -> Image {
    let c = channels
    var out = pixels
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<height {
          for x in 0..<width {
            let from = (y * width + x) * c
            let to = (y * width + width - 1 - x) * c
            for k in 0..<c { dst[to + k] = src[from + k] }
          }
        }
      }
    }
    return Image(width: width, height: height, mode: mode, pixels: out)
  }

  /// Writes this image into `out` ([channels, height, width] floats) as torchvision's `ToTensor` then
  /// `Normalize(mean, std)`: x / 255, minus the channel's mean, divided by its standard deviation.
  public func normalize(into out: UnsafeMutablePointer<Float>, mean: [Float], std: [Float]) {
    precondition(mean.count == channels && std.count == channels)
    let c = channels
    let plane = width * height
    pixels.withUnsafeBufferPointer { src in
      for k in 0..<c {
        let m = mean[k]
        let s = std[k]
        let dst = out + k * plane
        for i in 0..<plane {
          dst[i] = (Float(src[i * c + k]) / 255 - m) / s
        }
      }
    }
  }
}
