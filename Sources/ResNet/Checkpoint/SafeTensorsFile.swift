import Foundation
import ResNetKernels

/// A parsed safetensors file: an 8-byte little-endian header length N, N bytes of JSON header, then the
/// tensors' raw little-endian bytes. Parsing validates like the reference implementation: header length
/// cap, UTF-8 JSON object, known dtypes, offsets contiguous from 0, in bounds and equal to
/// dtype size × element count, and a file length that ends exactly at the last tensor.
public struct SafeTensorsFile {
  /// Element types this reader accepts.
  public enum DType: String, Sendable {
    case f32 = "F32"
    case i64 = "I64"
    var size: Int { self == .f32 ? 4 : 8 }
  }

  /// One tensor's entry in the header.
  public struct Entry: Sendable {
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: [Int]
    /// Byte range within the data section.
    public let range: Range<Int>
  }

  /// The largest header accepted (100 MB, as the reference implementation).
  public static let maximumHeaderBytes = 100_000_000

  /// Where the file came from (for error messages).
  public let path: String
  /// The tensors by name.
  public let entries: [String: Entry]
  /// The `__metadata__` strings.
  public let metadata: [String: String]
  private let data: Data
  private let dataStart: Int

  /// Reads and validates the file at `path`.
  public init(contentsOf path: String) throws {
    // Refuse a FIFO or device before reading (a read would wait for a writer).
    do throws(FileError) { close(try openRegularFile(path).fd) } catch {
      throw SafeTensorsError(path: path, reason: "cannot read the file: \(error.reason)")
    }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
      throw SafeTensorsError(path: path, reason: "cannot read the file: \(error.localizedDescription)")
    }
    try self.init(data: data, path: path)
  }

  /// Parses and validates `data`; `path` names it in errors.
  public init(data: Data, path: String) throws {
    func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: reason) }
    guard data.count >= 8 else { throw fail("file too short for a safetensors header (\(data.count) bytes)") }
    let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard n <= UInt64(Self.maximumHeaderBytes) else { throw fail("header length \(n) exceeds the 100 MB limit") }
    guard n >= 2, Int(n) <= data.count - 8 else { throw fail("header length \(n) runs past the end of the file") }
    let headerBytes = data.subdata(in: data.startIndex + 8..<data.startIndex + 8 + Int(n))
    guard String(data: headerBytes, encoding: .utf8) != nil,
      let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any]
    else { throw fail("the header is not a UTF-8 JSON object") }
    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in header {
      if name == "__metadata__" {
        guard let dict = value as? [String: Any], let strings = dict as? [String: String] else {
          throw fail("__metadata__ must map strings to strings")
        }
        metadata = strings
        continue
      }
      guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else { throw fail("tensor '\(name)' lacks a valid dtype, shape or data_offsets") }
      guard let dtype = DType(rawValue: dtypeName) else {
        throw fail("tensor '\(name)' has unsupported dtype \(dtypeName)")
      }
      guard shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
        throw fail("tensor '\(name)' has an invalid shape \(shape) or offsets \(offsets)")
      }
      let (count, overflow) = shape.reduce((1, false)) { acc, d in
        let (p, o) = acc.0.multipliedReportingOverflow(by: d)
        return (p, acc.1 || o)
      }
      guard !overflow, count <= Int.max / 8, offsets[1] - offsets[0] == count * dtype.size else {
        throw fail("tensor '\(name)': offsets \(offsets) do not match \(dtypeName) × \(shape)")
      }
      entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }
    var end = 0
    for entry in entries.values.sorted(by: {
      ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound)
    }) {
      guard entry.range.lowerBound == end else {
        throw fail("tensor data is not contiguous (gap or overlap at byte \(end))")
      }
      end = entry.range.upperBound
    }
    // Compared without adding the header's size to `end`: offsets near Int.max would overflow.
    guard end == data.count - 8 - Int(n) else {
      throw fail("the header describes \(end) bytes of tensor data, but the file holds \(data.count - 8 - Int(n))")
    }
    (self.path, self.entries, self.metadata, self.data, self.dataStart) = (path, entries, metadata, data, 8 + Int(n))
  }

  /// The float32 tensor `name`.
  public func tensor(_ name: String) throws -> Tensor {
    let entry = try entry(name, dtype: .f32)
    let result = Tensor(shape: entry.shape)
    data.withUnsafeBytes { raw in
      let bytes = UnsafeRawBufferPointer(
        rebasing: raw[(dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)])
      for i in 0..<result.count {
        result.pointer[i] = Float(
          bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
      }
    }
    return result
  }

  /// The int64 tensor `name`, as Swift integers.
  public func integers(_ name: String) throws -> [Int64] {
    let entry = try entry(name, dtype: .i64)
    return data.withUnsafeBytes { raw in
      (0..<(entry.range.count / 8)).map {
        Int64(
          littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + entry.range.lowerBound + 8 * $0, as: Int64.self))
      }
    }
  }

  /// The entry `name`, which must have `dtype`.
  private func entry(_ name: String, dtype: DType) throws -> Entry {
    guard let entry = entries[name] else { throw SafeTensorsError(path: path, reason: "no tensor named '\(name)'") }
    guard entry.dtype == dtype else {
      throw SafeTensorsError(path: path, reason: "tensor '\(name)' is not \(dtype.rawValue)")
    }
    return entry
  }
}

/// A safetensors file that could not be read, naming the file and the problem.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
  /// The file.
  public let path: String
  /// What is wrong with it.
  public let reason: String
  public var description: String { "\(path): \(reason)" }
}
