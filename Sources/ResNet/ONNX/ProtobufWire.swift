/// Protocol Buffers' wire format, the part ONNX files need: varints, 32- and 64-bit fixed values and
/// length-delimited fields (strings, bytes, nested messages, packed repeated numbers). A few lines of
/// ours instead of generated code: this tool reads and writes nine ONNX messages, and a reader that
/// checks every length against the bytes left is what keeps a hostile file from allocating more than
/// its own size.

/// Appends fields to a message's bytes.
struct ProtobufWriter {
  /// The message so far.
  private(set) var bytes: [UInt8] = []

  private mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7f) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  private mutating func tag(_ field: Int, _ wireType: UInt64) {
    varint(UInt64(field) << 3 | wireType)
  }

  /// An int32/int64/enum/bool field (negative values as ten-byte two's complement, as protobuf does).
  mutating func int(_ field: Int, _ value: Int) {
    tag(field, 0)
    varint(UInt64(bitPattern: Int64(value)))
  }

  /// A float field (fixed 32 bits).
  mutating func float(_ field: Int, _ value: Float) {
    tag(field, 5)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// A bytes field.
  mutating func bytes(_ field: Int, _ value: some Collection<UInt8>) {
    tag(field, 2)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  /// A string field (UTF-8).
  mutating func string(_ field: Int, _ value: String) {
    bytes(field, Array(value.utf8))
  }

  /// A packed repeated int64 field.
  mutating func packed(_ field: Int, _ values: [Int]) {
    var body = ProtobufWriter()
    for v in values { body.varint(UInt64(bitPattern: Int64(v))) }
    bytes(field, body.bytes)
  }

  /// A nested message field, built by `body`.
  mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
    var inner = ProtobufWriter()
    body(&inner)
    bytes(field, inner.bytes)
  }
}

/// Why bytes are not a well-formed protobuf message.
struct ProtobufError: Error {
  let reason: String
}

/// Reads the fields of one message out of `bytes[range]`, checking every length against the bytes that
/// are left; nested messages are read by a reader over their own range.
struct ProtobufReader {
  /// A field's value by wire type: a varint, a fixed 64- or 32-bit value, or the range of a
  /// length-delimited one within `bytes`.
  enum Value {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case delimited(Range<Int>)
  }

  let bytes: [UInt8]
  private var position: Int
  private let end: Int

  /// A reader over `bytes[range]`.
  init(_ bytes: [UInt8], range: Range<Int>? = nil) {
    self.bytes = bytes
    position = range?.lowerBound ?? 0
    end = range?.upperBound ?? bytes.count
  }

  private mutating func varint() throws(ProtobufError) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard position < end else { throw ProtobufError(reason: "a varint runs past the end of its message") }
      let byte = bytes[position]
      position += 1
      guard shift < 64 else { throw ProtobufError(reason: "a varint is longer than 10 bytes") }
      value |= UInt64(byte & 0x7f) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
  }

  private mutating func fixed(_ count: Int) throws(ProtobufError) -> UInt64 {
    guard end - position >= count else { throw ProtobufError(reason: "a fixed-size value runs past the end") }
    var value: UInt64 = 0
    for i in 0..<count { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
    position += count
    return value
  }

  /// The next field, or nil at the end of the message.
  mutating func next() throws(ProtobufError) -> (field: Int, value: Value)? {
    guard position < end else { return nil }
    let key = try varint()
    let field = Int(truncatingIfNeeded: key >> 3)
    guard field > 0, key >> 3 < 1 << 29 else { throw ProtobufError(reason: "field number \(key >> 3) is invalid") }
    switch key & 7 {
    case 0: return (field, .varint(try varint()))
    case 1: return (field, .fixed64(try fixed(8)))
    case 5: return (field, .fixed32(UInt32(try fixed(4))))
    case 2:
      let length = try varint()
      guard length <= UInt64(end - position) else {
        throw ProtobufError(
          reason: "field \(field) declares \(length) bytes but its message has \(end - position) left")
      }
      let range = position..<position + Int(length)
      position = range.upperBound
      return (field, .delimited(range))
    default: throw ProtobufError(reason: "field \(field) has wire type \(key & 7), which protobuf does not define")
    }
  }
}

extension ProtobufReader.Value {
  /// The value of an integer field (int64 two's complement).
  func integer(_ what: String) throws(ProtobufError) -> Int {
    guard case .varint(let v) = self else { throw ProtobufError(reason: "\(what) is not a varint") }
    return Int(Int64(bitPattern: v))
  }

  /// The range of a length-delimited field.
  func range(_ what: String) throws(ProtobufError) -> Range<Int> {
    guard case .delimited(let r) = self else { throw ProtobufError(reason: "\(what) is not length-delimited") }
    return r
  }

  /// A string field's text.
  func string(_ what: String, in bytes: [UInt8]) throws(ProtobufError) -> String {
    let r = try range(what)
    guard let text = String(validating: bytes[r], as: UTF8.self) else {
      throw ProtobufError(reason: "\(what) is not valid UTF-8")
    }
    return text
  }

  /// Appends a repeated int64 field's values, packed or not.
  func appendIntegers(to values: inout [Int], _ what: String, in bytes: [UInt8]) throws(ProtobufError) {
    switch self {
    case .varint(let v): values.append(Int(Int64(bitPattern: v)))
    case .delimited(let r):
      var reader = ProtobufReader(bytes, range: r)
      while true {
        // A packed run is varints back to back; read it as fields of wire type 0 would be.
        guard let v = try reader.packedVarint() else { break }
        values.append(Int(Int64(bitPattern: v)))
      }
    default: throw ProtobufError(reason: "\(what) is neither a varint nor a packed run of them")
    }
  }

  /// Appends a repeated float field's values, packed or not.
  func appendFloats(to values: inout [Float], _ what: String, in bytes: [UInt8]) throws(ProtobufError) {
    switch self {
    case .fixed32(let bits): values.append(Float(bitPattern: bits))
    case .delimited(let r):
      guard r.count % 4 == 0 else { throw ProtobufError(reason: "\(what) is \(r.count) bytes, not whole floats") }
      values.reserveCapacity(values.count + r.count / 4)
      var i = r.lowerBound
      while i < r.upperBound {
        let bits =
          UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        values.append(Float(bitPattern: bits))
        i += 4
      }
    default: throw ProtobufError(reason: "\(what) is neither a float nor a packed run of them")
    }
  }
}

extension ProtobufReader {
  /// The next varint of a packed run, or nil at its end.
  fileprivate mutating func packedVarint() throws(ProtobufError) -> UInt64? {
    guard position < end else { return nil }
    return try varint()
  }
}
