/// The EXIF orientation tag (0x0112): how the stored pixels must be flipped or rotated to appear
/// upright. Values as in the TIFF/EXIF specification; `apply` does what Pillow's
/// `ImageOps.exif_transpose` does.
public enum ExifOrientation: Int, Sendable {
  case up = 1
  case mirrored = 2
  case down = 3
  case mirroredDown = 4
  case transposed = 5
  case rotatedClockwise = 6
  case transverse = 7
  case rotatedCounterClockwise = 8

  /// The orientation in a raw EXIF block (TIFF header first), or nil when absent or unreadable.
  /// Every offset is bounds-checked; a malformed block is treated as having no orientation.
  public init?(exif: UnsafeRawBufferPointer) {
    guard exif.count >= 8 else { return nil }
    let little: Bool
    switch (exif[0], exif[1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ at: Int) -> Int? {
      guard at >= 0, at + 2 <= exif.count else { return nil }
      let a = Int(exif[at])
      let b = Int(exif[at + 1])
      return little ? a | b << 8 : a << 8 | b
    }
    func u32(_ at: Int) -> Int? {
      guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
      return lo | hi << 16
    }
    guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
    for entry in 0..<entries {
      let at = ifd + 2 + 12 * entry
      guard let tag = u16(at) else { return nil }
      if tag == 0x0112 {
        guard u16(at + 2) == 3, let value = u16(at + 8) else { return nil }
        self.init(rawValue: value)
        return
      }
    }
    return nil
  }

  /// Whether width and height swap.
  public var swapsSides: Bool { rawValue >= 5 }

  /// `image` turned upright.
  public func apply(to image: Image) -> Image {
    if self == .up { return image }
    let w = image.width
    let h = image.height
    let c = image.channels
    let outWidth = swapsSides ? h : w
    let outHeight = swapsSides ? w : h
    var out = [UInt8](repeating: 0, count: image.pixels.count)
    image.pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<outHeight {
          for x in 0..<outWidth {
            let (sx, sy): (Int, Int)
            switch self {
            case .up: (sx, sy) = (x, y)
            case .mirrored: (sx, sy) = (w - 1 - x, y)
            case .down: (sx, sy) = (w - 1 - x, h - 1 - y)
            case .mirroredDown: (sx, sy) = (x, h - 1 - y)
            case .transposed: (sx, sy) = (y, x)
            case .rotatedClockwise: (sx, sy) = (y, h - 1 - x)
            case .transverse: (sx, sy) = (w - 1 - y, h - 1 - x)
            case .rotatedCounterClockwise: (sx, sy) = (w - 1 - y, x)
            }
            let from = (sy * w + sx) * c
            let to = (y * outWidth + x) * c
            for k in 0..<c { dst[to + k] = src[from + k] }
          }
        }
      }
    }
    return Image(width: outWidth, height: outHeight, mode: image.mode, pixels: out)
  }
}
