/// How many channels an image has and what they mean.
public enum ColorMode: String, Sendable, Codable, CaseIterable {
  /// One channel of luma.
  case gray
  /// Three channels, red, green, blue.
  case rgb

  /// Channels per pixel.
  public var channels: Int { self == .gray ? 1 : 3 }

  /// The mode with this many channels, if any.
  public init?(channels: Int) {
    switch channels {
    case 1: self = .gray
    case 3: self = .rgb
    default: return nil
    }
  }
}

/// An 8-bit image, pixels interleaved row by row (height × width × channels bytes), as a decoder
/// produces it and the transforms consume it.
public struct Image: Sendable, Equatable {
  /// Columns.
  public let width: Int
  /// Rows.
  public let height: Int
  /// Gray or RGB.
  public let mode: ColorMode
  /// [height, width, channels] bytes.
  public var pixels: [UInt8]

  /// Channels per pixel (1 or 3).
  public var channels: Int { mode.channels }

  /// An image from its pixels; `pixels.count` must be width × height × channels.
  public init(width: Int, height: Int, mode: ColorMode, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0 && pixels.count == width * height * mode.channels)
    self.width = width
    self.height = height
    self.mode = mode
    self.pixels = pixels
  }

  /// An image filled with one value.
  public init(width: Int, height: Int, mode: ColorMode, repeating value: UInt8 = 0) {
    self.init(
      width: width, height: height, mode: mode,
      pixels: [UInt8](repeating: value, count: width * height * mode.channels))
  }

  /// The sample at column `x`, row `y`, channel `c`.
  public subscript(x: Int, y: Int, c: Int) -> UInt8 {
    pixels[(y * width + x) * mode.channels + c]
  }

  /// This image in another mode, as Pillow's `convert("L")` / `convert("RGB")` do: luma
  /// L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16 (ITU-R 601-2 with Pillow's rounding), gray → RGB by
  /// copying the gray value to all three channels.
  public func converted(to target: ColorMode) -> Image {
    if target == mode { return self }
    let count = width * height
    var out = [UInt8](repeating: 0, count: count * target.channels)
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        if target == .gray {
          for i in 0..<count {
            dst[i] = luma(src[3 * i], src[3 * i + 1], src[3 * i + 2])
          }
        } else {
          for i in 0..<count {
            let v = src[i]
            dst[3 * i] = v
            dst[3 * i + 1] = v
            dst[3 * i + 2] = v
          }
        }
      }
    }
    return Image(width: width, height: height, mode: target, pixels: out)
  }
}

/// Pillow's ITU-R 601-2 luma in 16-bit fixed point with rounding.
@inline(__always)
func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
  let red = UInt32(r) * 19595
  let green = UInt32(g) * 38470
  let blue = UInt32(b) * 7471
  return UInt8((red + green + blue + 0x8000) >> 16)
}
