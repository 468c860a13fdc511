import CImageCodecs

extension Image {
  /// This image encoded as a PNG (8-bit gray or RGB) by libpng.
  public func pngData() throws(ImageError) -> [UInt8] {
    var out: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = CodecMessage()
    let status = pixels.withUnsafeBufferPointer { src in
      message.withPointer { text in
        ic_png_encode(
          src.baseAddress, UInt32(width), UInt32(height), Int32(channels), &out, &size, text)
      }
    }
    defer { ic_free(out) }
    guard status == IC_OK, let out else {
      throw ImageError(path: "(PNG encoder)", kind: .unsupported, reason: message.text)
    }
    return Array(UnsafeBufferPointer(start: out, count: size))
  }
}
