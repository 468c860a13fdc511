import Foundation

/// Builds a safetensors file: tensors in the order added, a JSON header with sorted keys padded with
/// spaces to a multiple of 8 bytes (so the data is aligned), `__metadata__` strings. The same contents
/// always give the same bytes.
public struct SafeTensorsWriter {
  private var header: [String: Any] = [:]
  private var data: [UInt8] = []
  /// String metadata (`__metadata__`).
  public var metadata: [String: String] = [:]

  /// An empty file.
  public init() {}

  /// Adds float32 tensor `name`.
  public mutating func add(_ name: String, _ tensor: Tensor) {
    let start = data.count
    data.reserveCapacity(start + 4 * tensor.count)
    for i in 0..<tensor.count {
      withUnsafeBytes(of: tensor.pointer[i].bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [start, data.count]]
  }

  /// Adds int64 tensor `name` of `shape` (`values.count` must match).
  public mutating func add(_ name: String, integers values: [Int64], shape: [Int]) {
    precondition(shape.reduce(1, *) == values.count)
    let start = data.count
    for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    header[name] = ["dtype": "I64", "shape": shape, "data_offsets": [start, data.count]]
  }

  /// The file's bytes.
  public func bytes() throws -> [UInt8] {
    var object = header
    if !metadata.isEmpty { object["__metadata__"] = metadata }
    var json = [UInt8](
      try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    while json.count % 8 != 0 { json.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + json.count + data.count)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out += json
    out += data
    return out
  }

  /// Writes the file to `path` atomically (temporary file, fsync, rename).
  public func write(to path: String) throws {
    do {
      try writeFileAtomically(path, try bytes())
    } catch let error as FileError {
      throw SafeTensorsError(path: path, reason: "cannot write: \(error.reason)")
    }
  }
}
