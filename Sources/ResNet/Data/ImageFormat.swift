/// The image file formats the decoder reads, told apart by their first bytes.
public enum ImageFormat: String, Sendable {
  case png
  case jpeg

  /// The format whose signature `bytes` starts with, or nil.
  public init?(sniffing bytes: UnsafeRawBufferPointer) {
    let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    if bytes.count >= 8 && zip(bytes.prefix(8), png).allSatisfy({ $0 == $1 }) {
      self = .png
    } else if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
      self = .jpeg
    } else {
      return nil
    }
  }

  /// File name extensions (lower case) that image folders take as images of these formats.
  public static let fileExtensions: Set<String> = ["png", "jpg", "jpeg"]
}
