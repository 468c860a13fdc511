import Foundation
import ResNet
import Testing

/// The decoder against `Fixtures/images/make_image_fixtures.py`: every PNG and JPEG variant decoded
/// and converted exactly as Pillow does, and every refused file refused for the right reason.
struct ImageDecoderTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

  struct Manifest: Decodable {
    struct Decoded: Decodable {
      let file: String
      let width: Int
      let height: Int
      let mode: String
      let rgb: String
      let gray: String
    }
    struct Refused: Decodable {
      let file: String
      let kind: String
    }
    struct Resized: Decodable {
      let mode: String
      let width: Int
      let height: Int
      let expected: String
    }
    let decode: [Decoded]
    let errors: [Refused]
    let resize: [Resized]
  }

  static let manifest: Manifest = {
    let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
    return try! JSONDecoder().decode(Manifest.self, from: data)
  }()

  static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  static func bytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
  }

  @Test(arguments: manifest.decode.map(\.file))
  func decodesLikePillow(_ file: String) throws {
    let entry = Self.manifest.decode.first { $0.file == file }!
    let image = try ImageDecoder().decode(contentsOf: Self.path(file))
    #expect(image.width == entry.width && image.height == entry.height)
    #expect(image.mode.rawValue == entry.mode)
    #expect(image.converted(to: .rgb).pixels == (try Self.bytes(entry.rgb)))
    #expect(image.converted(to: .gray).pixels == (try Self.bytes(entry.gray)))
  }

  @Test(arguments: manifest.errors.map(\.file))
  func refusesBadFiles(_ file: String) throws {
    let expected = Self.manifest.errors.first { $0.file == file }!.kind
    let path = Self.path(file)
    do {
      _ = try ImageDecoder().decode(contentsOf: path)
      Issue.record("\(file) decoded")
    } catch let error as ImageError {
      #expect(error.kind.rawValue == expected, "\(error)")
      #expect(error.path == path)
      #expect(!error.reason.isEmpty)
    }
  }

  /// Damaged copies of every valid fixture (bytes overwritten, cut short, spliced) either decode to an
  /// image of the declared size or are refused with an ImageError: never a crash, abort or hang.
  @Test(arguments: manifest.decode.map(\.file))
  func damagedFilesAreRefusedCleanly(_ file: String) throws {
    let original = try Self.bytes(file)
    var generator = SeededGenerator(seed: 99, stream: UInt64(original.count))
    for trial in 0..<150 {
      var bytes = original
      switch trial % 3 {
      case 0:
        for _ in 0..<(1 + generator.next(below: 4)) {
          bytes[generator.next(below: bytes.count)] = UInt8(truncatingIfNeeded: generator.next())
        }
      case 1:
        bytes = Array(bytes.prefix(generator.next(below: bytes.count)))
      default:
        let at = generator.next(below: bytes.count)
        let length = generator.next(below: bytes.count - at)
        bytes.replaceSubrange(at..<at + length, with: bytes[(bytes.count - length)...])
      }
      do {
        let image = try ImageDecoder().decode(bytes, name: file)
        #expect(image.pixels.count == image.width * image.height * image.channels)
      } catch let error as ImageError {
        #expect(error.path == file && !error.reason.isEmpty)
      }
    }
  }

  @Test func pixelLimitIsCheckedFromTheHeader() throws {
    let path = Self.path("jpeg_baseline.jpg")  // 37×21 = 777 pixels
    var limits = ImageDecoder.Limits()
    limits.maxPixels = 776
    #expect(throws: ImageError(path: path, kind: .tooLarge, reason: "37×21 is 777 pixels, over the limit of 776")) {
      try ImageDecoder(limits: limits).decode(contentsOf: path)
    }
    limits.maxPixels = 777
    #expect(try ImageDecoder(limits: limits).decode(contentsOf: path).width == 37)
    limits.maxSide = 36
    #expect(throws: ImageError.self) { try ImageDecoder(limits: limits).decode(contentsOf: path) }
  }

  @Test func fileSizeLimitAndMissingFiles() throws {
    var limits = ImageDecoder.Limits()
    limits.maxFileBytes = 100
    let path = Self.path("jpeg_baseline.jpg")
    do {
      _ = try ImageDecoder(limits: limits).decode(contentsOf: path)
      Issue.record("decoded over the file limit")
    } catch let error as ImageError {
      #expect(error.kind == .unreadable)
    }
    let missing = Self.path("no_such_file.png")
    do {
      _ = try ImageDecoder().decode(contentsOf: missing)
      Issue.record("decoded a missing file")
    } catch let error as ImageError {
      #expect(error.kind == .unreadable && error.description.contains("No such file"))
    }
  }

  @Test func orientationCanBeLeftAlone() throws {
    let file = Self.path("jpeg_orientation6.jpg")
    let raw = try ImageDecoder(appliesOrientation: false).decode(contentsOf: file)
    let upright = try ImageDecoder().decode(contentsOf: file)
    #expect(raw.width == 7 && raw.height == 4 && upright.width == 4 && upright.height == 7)
    // Rotated a quarter turn clockwise: the upright top-right pixel is the stored top-left one.
    #expect((0..<3).map { upright[3, 0, $0] } == (0..<3).map { raw[0, 0, $0] })
  }

  @Test func headerWithoutDecoding() throws {
    let bytes = try Self.bytes("png_rgb8_adam7.png")
    let header = try bytes.withUnsafeBytes { try ImageDecoder().header($0, name: "x") }
    #expect(
      header
        == ImageHeader(format: .png, width: 19, height: 11, channels: 3, bitDepth: 8, interlaced: true))
  }
}
