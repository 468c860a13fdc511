import CZlib
import Foundation
import ResNet

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a fuzzer feeds its input to: each target runs one parser on the bytes the way the tool does,
/// and treats a thrown error as a correct answer. Only a crash, an abort, a hang or an allocation past
/// the fuzzer's limit is a finding.
enum FuzzTarget: String, CaseIterable {
  /// PNG decoding (libpng through the codec shim), then the classify path's resize and crop.
  case png
  /// JPEG decoding (libjpeg-turbo through the codec shim, EXIF orientation), then resize and crop.
  case jpeg
  /// IDX files (raw or gzip) read as images (3 dimensions) and as labels (1 dimension).
  case idx
  /// CIFAR-10 and CIFAR-100 binary batches.
  case cifar
  /// Safetensors parsing, every tensor read, then the checkpoint loader (metadata, configuration,
  /// network, state).
  case safetensors
  /// ONNX parsing (the protobuf reader), the graph match (ours node for node, or torch.onnx.export's
  /// ResNet pattern), the network and its state; an accepted model is exported again.
  case onnx

  /// Runs the target on `bytes`; returns the error the input was refused with, or nil if it was
  /// accepted.
  func run(_ bytes: UnsafeRawBufferPointer) -> (any Error)? {
    do {
      switch self {
      case .png:
        // Mutations inside a chunk would almost all die at its CRC check; with the CRCs recomputed
        // they reach the decompressor, the filters and the conversions instead.
        var fixed = [UInt8](bytes)
        Self.fixPNGChecksums(&fixed)
        try fixed.withUnsafeBytes { try Self.decodeImage($0) }
      case .jpeg: try Self.decodeImage(bytes)
      case .idx:
        try Self.withFile(bytes) { path in
          try Self.eitherAccepts(
            { _ = try IDXFile.read(path, rank: 3) }, { _ = try IDXFile.read(path, rank: 1) })
        }
      case .cifar:
        try Self.withFile(bytes) { path in
          try Self.eitherAccepts(
            { _ = try CIFARFile.split(name: "train", paths: [path], labelBytes: 1, classCount: 10) },
            { _ = try CIFARFile.split(name: "train", paths: [path], labelBytes: 2, classCount: 100) })
        }
      case .safetensors: try Self.loadCheckpoint(bytes)
      case .onnx: _ = try Model(onnxBytes: [UInt8](bytes), path: "input").onnxBytes()
      }
      return nil
    } catch {
      return error
    }
  }

  /// The decoder's own limits are lowered so that one input stays fast; they are tested on their own.
  static let decoder = ImageDecoder(
    limits: ImageDecoder.Limits(maxPixels: 1 << 22, maxSide: 1 << 16, maxFileBytes: 1 << 24, maxScans: 100))

  private static func decodeImage(_ bytes: UnsafeRawBufferPointer) throws {
    let image = try decoder.decode(bytes, name: "input")
    guard image.pixels.count == image.width * image.height * image.channels else {
      fatalError("decoded \(image.width)×\(image.height)×\(image.channels) into \(image.pixels.count) bytes")
    }
    // What `resnet classify` does next with a CIFAR-style model: shorter side to 36, crop 32 × 32.
    let preprocessing = Preprocessing(
      color: .rgb, resize: 36, height: 32, width: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
    let prepared = preprocessing.prepare(image)
    guard prepared.width == 32, prepared.height == 32 else {
      fatalError("prepared to \(prepared.width)×\(prepared.height)")
    }
  }

  /// Rewrites the CRC of every complete chunk of a PNG to match its type and data.
  static func fixPNGChecksums(_ png: inout [UInt8]) {
    var at = 8
    while at + 12 <= png.count {
      let length = png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
      guard length <= png.count - at - 12 else { return }
      let crc = png.withUnsafeBufferPointer { crc32(0, $0.baseAddress! + at + 4, UInt32(length + 4)) }
      for i in 0..<4 { png[at + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
      at += 12 + length
    }
  }

  private static func loadCheckpoint(_ bytes: UnsafeRawBufferPointer) throws {
    let file = try SafeTensorsFile(data: Data(bytes), path: "input")
    for (name, entry) in file.entries {
      switch entry.dtype {
      case .f32: _ = try file.tensor(name)
      case .i64: _ = try file.integers(name)
      }
    }
    _ = try Model(file: file)
  }

  /// Runs both readings of one input; throws the second's error when neither accepts it.
  private static func eitherAccepts(_ first: () throws -> Void, _ second: () throws -> Void) throws {
    do { try first() } catch { try second() }
  }

  /// Runs `body` on a file holding `bytes`, for the readers that take paths (one file per process,
  /// in memory where /dev/shm exists).
  private static func withFile(_ bytes: UnsafeRawBufferPointer, _ body: (String) throws -> Void) throws {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = folder + "/resnet-fuzz-\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(path)") }
    var done = 0
    while done < bytes.count {
      let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
      guard n > 0 else { fatalError("cannot write \(path)") }
      done += n
    }
    close(fd)
    defer { unlink(path) }
    try body(path)
  }
}
