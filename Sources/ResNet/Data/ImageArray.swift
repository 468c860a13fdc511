/// Decoded 8-bit images of one size held in memory back to back, as IDX and CIFAR files store them
/// (after CIFAR's planes are interleaved): [count, height, width, channels] bytes.
public struct ImageArray: Sendable {
  /// Columns, rows and channels of every image.
  public let width: Int
  public let height: Int
  public let mode: ColorMode
  /// [count, height, width, channels] bytes.
  public let bytes: [UInt8]

  /// Images from their bytes; `bytes.count` must be a multiple of width × height × channels.
  public init(width: Int, height: Int, mode: ColorMode, bytes: [UInt8]) {
    precondition(bytes.count % (width * height * mode.channels) == 0)
    self.width = width
    self.height = height
    self.mode = mode
    self.bytes = bytes
  }

  /// Bytes per image.
  public var imageBytes: Int { width * height * mode.channels }

  /// How many images.
  public var count: Int { bytes.count / imageBytes }

  /// Image `index`.
  public func image(at index: Int) -> Image {
    let start = index * imageBytes
    return Image(
      width: width, height: height, mode: mode, pixels: Array(bytes[start..<start + imageBytes]))
  }

  /// The images at `indices`, in that order.
  public func subset(_ indices: [Int]) -> ImageArray {
    var out: [UInt8] = []
    out.reserveCapacity(indices.count * imageBytes)
    for i in indices { out.append(contentsOf: bytes[i * imageBytes..<(i + 1) * imageBytes]) }
    return ImageArray(width: width, height: height, mode: mode, bytes: out)
  }
}
