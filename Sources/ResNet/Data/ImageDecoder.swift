import CImageCodecs

/// What a file's header says, read without decoding its pixels.
public struct ImageHeader: Sendable, Equatable {
  /// PNG or JPEG.
  public let format: ImageFormat
  /// Columns and rows as stored (before any EXIF rotation).
  public let width: Int
  public let height: Int
  /// Channels the decoded image has: 1 (gray) or 3 (RGB; palettes, CMYK and YCCK become RGB).
  public let channels: Int
  /// Bits per sample in the file.
  public let bitDepth: Int
  /// Interlaced (PNG Adam7) or progressive (JPEG).
  public let interlaced: Bool

  /// A header with these fields.
  public init(
    format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int, interlaced: Bool
  ) {
    self.format = format
    self.width = width
    self.height = height
    self.channels = channels
    self.bitDepth = bitDepth
    self.interlaced = interlaced
  }
}

/// Decodes PNG and JPEG files to 8-bit gray or RGB images through libpng and libjpeg-turbo.
///
/// The format is chosen by the file's magic bytes. PNGs of every colour type and bit depth become
/// gray (gray, gray + alpha) or RGB (RGB, RGBA, palette): 16-bit samples keep their high byte, sub-byte
/// gray is scaled to 0…255, alpha and tRNS are dropped, no gamma is applied — what Pillow's
/// `convert("L")`/`convert("RGB")` give. JPEGs decode with libjpeg's accurate integer DCT and fancy
/// upsampling (Pillow's settings); CMYK and YCCK (Adobe-inverted, as Photoshop writes them) become RGB
/// with Pillow's formula. The EXIF orientation is applied. Sizes are checked against `limits` from the
/// header, before any pixel buffer is allocated.
public struct ImageDecoder: Sendable {
  /// Bounds on what the decoder accepts, checked before allocating.
  public struct Limits: Sendable, Equatable {
    /// Most pixels (width × height) in one image; 100 megapixels by default.
    public var maxPixels: Int
    /// Longest side in pixels.
    public var maxSide: Int
    /// Largest file read into memory.
    public var maxFileBytes: Int
    /// Most scans in a progressive JPEG (each re-reads the whole image).
    public var maxScans: Int

    /// Limits; the defaults suit photographs up to 100 megapixels.
    public init(
      maxPixels: Int = 100_000_000, maxSide: Int = 1 << 20, maxFileBytes: Int = 1 << 30,
      maxScans: Int = 1000
    ) {
      self.maxPixels = maxPixels
      self.maxSide = maxSide
      self.maxFileBytes = maxFileBytes
      self.maxScans = maxScans
    }
  }

  /// The bounds this decoder enforces.
  public var limits: Limits
  /// Whether the EXIF orientation is applied (as `ImageOps.exif_transpose` does).
  public var appliesOrientation: Bool

  /// A decoder with the given limits.
  public init(limits: Limits = Limits(), appliesOrientation: Bool = true) {
    self.limits = limits
    self.appliesOrientation = appliesOrientation
  }

  /// Decodes the file at `path`.
  public func decode(contentsOf path: String) throws -> Image {
    let bytes: [UInt8]
    do {
      bytes = try readFile(path, maxBytes: limits.maxFileBytes)
    } catch {
      throw ImageError(path: path, kind: .unreadable, reason: error.reason)
    }
    return try decode(bytes, name: path)
  }

  /// Decodes an encoded image held in memory; `name` is what errors call it.
  public func decode(_ bytes: [UInt8], name: String) throws -> Image {
    try bytes.withUnsafeBytes { try decode($0, name: name) }
  }

  /// Decodes an encoded image held in memory; `name` is what errors call it.
  public func decode(_ bytes: UnsafeRawBufferPointer, name: String) throws -> Image {
    let session = try Session(bytes, name: name, limits: limits)
    defer { ic_decoder_free(session.decoder) }
    let header = session.header
    let stored = Int(header.channels)
    var pixels = [UInt8](repeating: 0, count: Int(header.width) * Int(header.height) * stored)
    var message = CodecMessage()
    let status = pixels.withUnsafeMutableBufferPointer { out in
      message.withPointer { text in
        session.format == .png
          ? ic_png_finish(session.decoder, out.baseAddress, text)
          : ic_jpeg_finish(session.decoder, out.baseAddress, Int32(limits.maxScans), text)
      }
    }
    try check(status, message, name: name)
    if stored == 4 { pixels = invertedCMYKToRGB(pixels) }
    var image = Image(
      width: Int(header.width), height: Int(header.height), mode: stored == 1 ? .gray : .rgb,
      pixels: pixels)
    if appliesOrientation, let exif = header.exif, header.exif_length > 0,
      let orientation = ExifOrientation(
        exif: UnsafeRawBufferPointer(start: exif, count: header.exif_length))
    {
      image = orientation.apply(to: image)
    }
    return image
  }

  /// Reads only the header of an encoded image, with the same checks as `decode`.
  public func header(_ bytes: UnsafeRawBufferPointer, name: String) throws -> ImageHeader {
    let session = try Session(bytes, name: name, limits: limits)
    defer { ic_decoder_free(session.decoder) }
    let h = session.header
    return ImageHeader(
      format: session.format, width: Int(h.width), height: Int(h.height),
      channels: h.channels == 1 ? 1 : 3, bitDepth: Int(h.bit_depth), interlaced: h.interlaced != 0)
  }

  /// The library state of one decode between reading the header and the pixels.
  private struct Session {
    let format: ImageFormat
    let decoder: OpaquePointer
    let header: ic_header

    init(_ bytes: UnsafeRawBufferPointer, name: String, limits: Limits) throws {
      guard let format = ImageFormat(sniffing: bytes) else {
        throw ImageError(
          path: name, kind: .notAnImage,
          reason: bytes.isEmpty ? "the file is empty" : "no PNG or JPEG signature at its start")
      }
      var decoder: OpaquePointer?
      var header = ic_header()
      var message = CodecMessage()
      let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
      let status = message.withPointer { text in
        format == .png
          ? ic_png_begin(base, bytes.count, &decoder, &header, text)
          : ic_jpeg_begin(base, bytes.count, &decoder, &header, text)
      }
      try check(status, message, name: name)
      guard let decoder else { throw ImageError(path: name, kind: .corrupt, reason: "no decoder") }
      let width = Int(header.width)
      let height = Int(header.height)
      var problem: String?
      if width == 0 || height == 0 {
        problem = "the header declares a \(width)×\(height) image"
      } else if width > limits.maxSide || height > limits.maxSide {
        problem = "\(width)×\(height) has a side over the limit of \(limits.maxSide) pixels"
      } else if width * height > limits.maxPixels {
        problem =
          "\(width)×\(height) is \(width * height) pixels, over the limit of \(limits.maxPixels)"
      }
      if let problem {
        ic_decoder_free(decoder)
        throw ImageError(path: name, kind: width == 0 || height == 0 ? .corrupt : .tooLarge, reason: problem)
      }
      self.format = format
      self.decoder = decoder
      self.header = header
    }
  }
}

/// A message buffer the C side writes into.
struct CodecMessage {
  private var bytes = [CChar](repeating: 0, count: Int(IC_MESSAGE_CAPACITY))

  mutating func withPointer<R>(_ body: (UnsafeMutablePointer<CChar>) -> R) -> R {
    bytes.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
  }

  var text: String {
    bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}

/// Throws the ImageError matching a codec status.
func check(_ status: ic_status, _ message: CodecMessage, name: String) throws {
  let kind: ImageError.Kind
  switch status {
  case IC_OK: return
  case IC_TRUNCATED: kind = .truncated
  case IC_UNSUPPORTED: kind = .unsupported
  case IC_NO_MEMORY: kind = .tooLarge
  default: kind = .corrupt
  }
  throw ImageError(path: name, kind: kind, reason: message.text)
}

/// Adobe-inverted CMYK (255 = no ink) to RGB as Pillow does it: unpack "CMYK;I", then
/// R = nk − c·nk/255 (rounded as Pillow's MULDIV255) with nk = 255 − k.
func invertedCMYKToRGB(_ cmyk: [UInt8]) -> [UInt8] {
  let count = cmyk.count / 4
  var rgb = [UInt8](repeating: 0, count: count * 3)
  cmyk.withUnsafeBufferPointer { src in
    rgb.withUnsafeMutableBufferPointer { dst in
      for i in 0..<count {
        let nk = Int(src[4 * i + 3])  // 255 − k, since the stored value is inverted
        for j in 0..<3 {
          let c = 255 - Int(src[4 * i + j])
          let t = c * nk + 128
          let product = ((t >> 8) + t) >> 8
          dst[3 * i + j] = UInt8(clamping: nk - product)
        }
      }
    }
  }
  return rgb
}
