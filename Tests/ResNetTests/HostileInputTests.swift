import Foundation
import ResNet
import Testing

/// Damaged and hostile files, each refused with an error that names the file and says what is wrong:
/// PNGs and JPEGs cut at every offset, PNG chunks with bad CRCs, headers that declare 65535 × 65535
/// pixels (decompression bombs), and safetensors files whose header lies about the data.
@Suite struct HostileInputTests {
  /// Every strict prefix of a valid file is refused (as truncated, or as not an image when even the
  /// signature is cut), never decoded into an image with invented pixels. The one exception is a PNG
  /// cut after its last IDAT chunk, whose pixels are all there: it decodes to the full image, as in
  /// Pillow, which does not require the IEND chunk either.
  @Test(arguments: [
    "png_rgb8.png", "png_palette4.png", "png_rgba16_adam7.png", "png_rgb8_exif6.png", "jpeg_baseline.jpg",
    "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_orientation6.jpg",
  ])
  func everyTruncationIsRefused(_ file: String) throws {
    let bytes = try ImageDecoderTests.bytes(file)
    let full = try ImageDecoder().decode(bytes, name: file)
    let complete = Self.chunks(bytes).last { $0.type == "IDAT" }.map { $0.offset + 12 + $0.length } ?? bytes.count
    var kinds: [ImageError.Kind: Int] = [:]
    for length in 0..<bytes.count {
      do {
        let image = try ImageDecoder().decode(Array(bytes.prefix(length)), name: file)
        #expect(
          length >= complete && image == full,
          "\(file) cut to \(length) of \(bytes.count) bytes decoded to \(image.width)×\(image.height)")
      } catch let error as ImageError {
        #expect(error.path == file && !error.reason.isEmpty)
        kinds[error.kind, default: 0] += 1
      }
    }
    // Only the first few bytes (no complete signature) may count as "not an image".
    #expect(kinds[.notAnImage, default: 0] <= 8, "\(kinds)")
    #expect(kinds[.truncated, default: 0] + kinds[.corrupt, default: 0] >= complete - 8, "\(kinds)")
  }

  /// A PNG's chunks, as (offset, length, type).
  static func chunks(_ png: [UInt8]) -> [(offset: Int, length: Int, type: String)] {
    var result: [(Int, Int, String)] = []
    var at = 8
    while at + 8 <= png.count {
      let length = png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
      result.append((at, length, String(decoding: png[at + 4..<at + 8], as: UTF8.self)))
      at += 12 + length
    }
    return result
  }

  /// A wrong CRC on any chunk, critical or ancillary (an eXIf chunk here), is refused as corrupt, as
  /// Pillow does.
  @Test(arguments: ["png_rgb8.png", "png_palette4.png", "png_rgb8_trns.png", "png_rgb8_exif6.png"])
  func badCRCsAreRefused(_ file: String) throws {
    let bytes = try ImageDecoderTests.bytes(file)
    _ = try ImageDecoder().decode(bytes, name: file)
    let chunks = Self.chunks(bytes).filter { $0.type != "IEND" }
    #expect(chunks.count >= 2)
    for chunk in chunks {
      var damaged = bytes
      damaged[chunk.offset + 8 + chunk.length] ^= 0x40
      #expect {
        try ImageDecoder().decode(damaged, name: file)
      } throws: { error in
        let error = error as? ImageError
        return error?.kind == .corrupt && error?.path == file && error?.reason.contains("CRC") == true
      }
    }
  }
}

extension HostileInputTests {
  /// The CRC-32 of PNG chunks (ISO 3309), bit by bit.
  static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }

  /// `bytes` with big-endian `value` written at `offset` (`count` bytes).
  static func patched(_ bytes: [UInt8], at offset: Int, _ value: Int, count: Int) -> [UInt8] {
    var out = bytes
    for i in 0..<count { out[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * (count - 1 - i))) }
    return out
  }

  /// Headers that declare 65535 × 65535 pixels (4.3 gigapixels) over a few hundred bytes of data are
  /// refused from the header, before any pixel buffer exists: a PNG with a valid IHDR CRC, and a JPEG
  /// whose start-of-frame says so.
  @Test func decompressionBombsAreRefusedFromTheHeader() throws {
    let png = try ImageDecoderTests.bytes("png_rgb8.png")
    var bomb = Self.patched(Self.patched(png, at: 16, 65535, count: 4), at: 20, 65535, count: 4)
    bomb = Self.patched(bomb, at: 29, Int(Self.crc32(bomb[12..<29])), count: 4)
    let jpeg = try ImageDecoderTests.bytes("jpeg_baseline.jpg")
    let sof = try #require((0..<jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
    #expect(
      throws: ImageError(
        path: "bomb.png", kind: .tooLarge, reason: "65535×65535 is 4294836225 pixels, over the limit of 100000000")
    ) {
      try ImageDecoder().decode(bomb, name: "bomb.png")
    }
    // libjpeg-turbo refuses sides over 65500 itself; at 65500 × 65500 the decoder's own limit does.
    func jpegBomb(_ side: Int) -> [UInt8] {
      Self.patched(Self.patched(jpeg, at: sof + 5, side, count: 2), at: sof + 7, side, count: 2)
    }
    #expect(
      throws: ImageError(
        path: "bomb.jpg", kind: .tooLarge, reason: "65500×65500 is 4290250000 pixels, over the limit of 100000000")
    ) {
      try ImageDecoder().decode(jpegBomb(65500), name: "bomb.jpg")
    }
    #expect {
      try ImageDecoder().decode(jpegBomb(65535), name: "bomb.jpg")
    } throws: { error in
      let error = error as? ImageError
      return error?.kind == .corrupt && error?.reason.contains("Maximum supported image dimension is 65500") == true
    }
  }

  /// A safetensors file: the 8-byte header length, `header` (JSON text), then `dataBytes` zero bytes.
  static func safetensors(_ header: String, dataBytes: Int) -> Data {
    let text = Array(header.utf8)
    let length = (0..<8).map { UInt8(truncatingIfNeeded: text.count >> (8 * $0)) }
    return Data(length + text + [UInt8](repeating: 0, count: dataBytes))
  }

  /// Safetensors headers that lie about the data are refused with the reason, never read out of
  /// bounds: offsets past the data, overlapping or with gaps, sizes that overflow, unknown dtypes,
  /// a header length past the end, a header that is not JSON.
  @Test func lyingSafetensorsHeadersAreRefused() {
    let cases: [(header: String, dataBytes: Int, reason: String)] = [
      (
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        12, "not contiguous (gap or overlap at byte 8)"
      ),
      (
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#,
        16, "not contiguous (gap or overlap at byte 8)"
      ),
      (
        #"{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}"#, 8,
        "the header describes 400 bytes of tensor data, but the file holds 8"
      ),
      (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "offsets [0, 8] do not match F32 × [3]"),
      (#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, 4, "unsupported dtype F16"),
      (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "invalid shape"),
      (#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#, 4, "do not match"),
      // Three tensors whose offsets end 200 bytes short of Int.max: adding the header's length overflows.
      (
        #"{"a":{"dtype":"I64","shape":[1099511627776,524288],"data_offsets":[0,4611686018427387904]},"#
          + #""b":{"dtype":"I64","shape":[1099511627776,524287],"data_offsets":[4611686018427387904,9223363240761753600]},"#
          + #""c":{"dtype":"F32","shape":[2,1099511627751],"data_offsets":[9223363240761753600,9223372036854775608]}}"#,
        16, "the header describes 9223372036854775608 bytes of tensor data, but the file holds 16"
      ),
      (#"{"a":{"dtype":"F32","shape":[1]}}"#, 4, "lacks a valid dtype, shape or data_offsets"),
      (#"{"__metadata__":{"k":1}}"#, 0, "__metadata__ must map strings to strings"),
      (#"[1, 2, 3]"#, 0, "not a UTF-8 JSON object"),
      (#"{"a": "#, 0, "not a UTF-8 JSON object"),
    ]
    for (header, dataBytes, reason) in cases {
      let data = Self.safetensors(header, dataBytes: dataBytes)
      #expect(throws: SafeTensorsError.self, "\(header)") { try SafeTensorsFile(data: data, path: "x.safetensors") }
      do {
        _ = try SafeTensorsFile(data: data, path: "x.safetensors")
      } catch let error as SafeTensorsError {
        #expect(error.path == "x.safetensors" && error.reason.contains(reason), "\(header): \(error.reason)")
      } catch {
        Issue.record("\(error)")
      }
    }
    // A header length past the end of the file, and one over the 100 MB cap.
    var past = Self.safetensors("{}", dataBytes: 0)
    past[0] = 200
    #expect { try SafeTensorsFile(data: past, path: "x") } throws: { "\($0)".contains("runs past the end of the file") }
    var huge = Self.safetensors("{}", dataBytes: 0)
    huge[4] = 1
    #expect { try SafeTensorsFile(data: huge, path: "x") } throws: { "\($0)".contains("exceeds the 100 MB limit") }
  }
}
