/// The messages of ONNX's `onnx.proto` that a ResNet graph uses, with their field numbers, read and
/// written through ``ProtobufReader`` and ``ProtobufWriter``. Fields this tool does not use are
/// skipped when read (a subgraph attribute, doc strings, value_info, training info, functions).
struct ONNXModelProto {
  var irVersion = 0
  /// (domain, version); the default domain is "".
  var opsets: [(domain: String, version: Int)] = []
  var producerName = ""
  var producerVersion = ""
  var graph = ONNXGraphProto()
  /// `metadata_props`, in file order.
  var metadata: [(key: String, value: String)] = []
}

struct ONNXGraphProto {
  var name = ""
  var nodes: [ONNXNodeProto] = []
  var initializers: [ONNXTensorProto] = []
  var inputs: [ONNXValueInfo] = []
  var outputs: [ONNXValueInfo] = []
}

struct ONNXNodeProto {
  var name = ""
  var opType = ""
  var domain = ""
  var inputs: [String] = []
  var outputs: [String] = []
  var attributes: [ONNXAttributeProto] = []

  /// The attribute called `name`, if present.
  func attribute(_ name: String) -> ONNXAttributeProto.Value? {
    attributes.last { $0.name == name }?.value
  }
}

struct ONNXAttributeProto {
  enum Value: Equatable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(ONNXTensorProto)
    case floats([Float])
    case ints([Int])
    /// A kind of attribute this tool never needs (a graph, strings, …), by its AttributeType number.
    case other(Int)
  }
  var name: String
  var value: Value
}

/// A tensor: float32 values, or int64 ones (shapes, axes), as `data_type` says.
struct ONNXTensorProto: Equatable {
  static let float = 1
  static let int64 = 7
  var name = ""
  var dims: [Int] = []
  var dataType = 0
  var floats: [Float] = []
  var integers: [Int] = []
  /// True when the values live in a separate file (`data_location: EXTERNAL`).
  var external = false
}

/// A graph input or output: its name, element type and dimensions (a number, or nil for a named or
/// unknown dimension).
struct ONNXValueInfo: Equatable {
  var name = ""
  var elementType = 0
  var dims: [Int?]? = nil
  /// The name written for each dimension that is not a number (export only).
  var dimNames: [String] = []
}

// MARK: - Writing

extension ONNXModelProto {
  /// The file's bytes.
  func serialized() -> [UInt8] {
    var w = ProtobufWriter()
    w.int(1, irVersion)
    w.string(2, producerName)
    w.string(3, producerVersion)
    w.message(7) { graph.write(to: &$0) }
    for (domain, version) in opsets {
      w.message(8) {
        $0.string(1, domain)
        $0.int(2, version)
      }
    }
    for (key, value) in metadata {
      w.message(14) {
        $0.string(1, key)
        $0.string(2, value)
      }
    }
    return w.bytes
  }
}

extension ONNXGraphProto {
  func write(to w: inout ProtobufWriter) {
    for node in nodes { w.message(1) { node.write(to: &$0) } }
    w.string(2, name)
    for tensor in initializers { w.message(5) { tensor.write(to: &$0) } }
    for input in inputs { w.message(11) { input.write(to: &$0) } }
    for output in outputs { w.message(12) { output.write(to: &$0) } }
  }
}

extension ONNXNodeProto {
  func write(to w: inout ProtobufWriter) {
    for input in inputs { w.string(1, input) }
    for output in outputs { w.string(2, output) }
    w.string(3, name)
    w.string(4, opType)
    for attribute in attributes { w.message(5) { attribute.write(to: &$0) } }
    if !domain.isEmpty { w.string(7, domain) }
  }
}

extension ONNXAttributeProto {
  func write(to w: inout ProtobufWriter) {
    w.string(1, name)
    // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
    switch value {
    case .float(let f):
      w.float(2, f)
      w.int(20, 1)
    case .int(let i):
      w.int(3, i)
      w.int(20, 2)
    case .string(let s):
      w.string(4, s)
      w.int(20, 3)
    case .tensor(let t):
      w.message(5) { t.write(to: &$0) }
      w.int(20, 4)
    case .floats(let fs):
      for f in fs { w.float(7, f) }
      w.int(20, 6)
    case .ints(let values):
      w.packed(8, values)
      w.int(20, 7)
    case .other: preconditionFailure("only the kinds above are written")
    }
  }
}

extension ONNXTensorProto {
  func write(to w: inout ProtobufWriter) {
    w.packed(1, dims)
    w.int(2, dataType)
    w.string(8, name)
    // raw_data: little-endian values back to back.
    var raw: [UInt8] = []
    if dataType == Self.float {
      raw.reserveCapacity(4 * floats.count)
      for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
    } else {
      raw.reserveCapacity(8 * integers.count)
      for i in integers { withUnsafeBytes(of: Int64(i).littleEndian) { raw.append(contentsOf: $0) } }
    }
    w.bytes(9, raw)
  }
}

extension ONNXValueInfo {
  func write(to w: inout ProtobufWriter) {
    w.string(1, name)
    w.message(2) { type in  // TypeProto
      type.message(1) { tensor in  // TypeProto.Tensor
        tensor.int(1, elementType)
        tensor.message(2) { shape in  // TensorShapeProto
          var named = dimNames.makeIterator()
          for dim in dims ?? [] {
            shape.message(1) {
              if let dim { $0.int(1, dim) } else { $0.string(2, named.next() ?? "N") }
            }
          }
        }
      }
    }
  }
}

// MARK: - Reading

extension ONNXModelProto {
  /// Parses a ModelProto. Every length is checked against the bytes that hold it, so what this
  /// allocates is bounded by the size of `bytes`.
  init(parsing bytes: [UInt8]) throws(ProtobufError) {
    var r = ProtobufReader(bytes)
    while let (field, value) = try r.next() {
      switch field {
      case 1: irVersion = try value.integer("ir_version")
      case 2: producerName = try value.string("producer_name", in: bytes)
      case 3: producerVersion = try value.string("producer_version", in: bytes)
      case 7: graph = try ONNXGraphProto(bytes, try value.range("graph"))
      case 8:
        var opset = (domain: "", version: 0)
        var m = ProtobufReader(bytes, range: try value.range("opset_import"))
        while let (f, v) = try m.next() {
          if f == 1 { opset.domain = try v.string("opset_import.domain", in: bytes) }
          if f == 2 { opset.version = try v.integer("opset_import.version") }
        }
        opsets.append(opset)
      case 14:
        var entry = (key: "", value: "")
        var m = ProtobufReader(bytes, range: try value.range("metadata_props"))
        while let (f, v) = try m.next() {
          if f == 1 { entry.key = try v.string("metadata_props.key", in: bytes) }
          if f == 2 { entry.value = try v.string("metadata_props.value", in: bytes) }
        }
        metadata.append(entry)
      default: break
      }
    }
  }
}

extension ONNXGraphProto {
  init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
    var r = ProtobufReader(bytes, range: range)
    while let (field, value) = try r.next() {
      switch field {
      case 1: nodes.append(try ONNXNodeProto(bytes, try value.range("graph.node")))
      case 2: name = try value.string("graph.name", in: bytes)
      case 5: initializers.append(try ONNXTensorProto(bytes, try value.range("graph.initializer")))
      case 11: inputs.append(try ONNXValueInfo(bytes, try value.range("graph.input")))
      case 12: outputs.append(try ONNXValueInfo(bytes, try value.range("graph.output")))
      default: break
      }
    }
  }
}

extension ONNXNodeProto {
  init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
    var r = ProtobufReader(bytes, range: range)
    while let (field, value) = try r.next() {
      switch field {
      case 1: inputs.append(try value.string("node.input", in: bytes))
      case 2: outputs.append(try value.string("node.output", in: bytes))
      case 3: name = try value.string("node.name", in: bytes)
      case 4: opType = try value.string("node.op_type", in: bytes)
      case 5: attributes.append(try ONNXAttributeProto(bytes, try value.range("node.attribute")))
      case 7: domain = try value.string("node.domain", in: bytes)
      default: break
      }
    }
  }
}

extension ONNXAttributeProto {
  init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
    var r = ProtobufReader(bytes, range: range)
    var name = ""
    var type = 0
    var f: Float?
    var i: Int?
    var s: String?
    var t: ONNXTensorProto?
    var floats: [Float] = []
    var ints: [Int] = []
    while let (field, value) = try r.next() {
      switch field {
      case 1: name = try value.string("attribute.name", in: bytes)
      case 2:
        guard case .fixed32(let bits) = value else { throw ProtobufError(reason: "attribute.f is not a float") }
        f = Float(bitPattern: bits)
      case 3: i = try value.integer("attribute.i")
      // Strings attributes are bytes; the ones a ResNet uses (auto_pad) are ASCII.
      case 4: s = String(decoding: bytes[try value.range("attribute.s")], as: UTF8.self)
      case 5: t = try ONNXTensorProto(bytes, try value.range("attribute.t"))
      case 7: try value.appendFloats(to: &floats, "attribute.floats", in: bytes)
      case 8: try value.appendIntegers(to: &ints, "attribute.ints", in: bytes)
      case 20: type = try value.integer("attribute.type")
      default: break
      }
    }
    self.name = name
    // Files from before the `type` field say what they hold by which field is set.
    switch type {
    case 1: value = .float(f ?? 0)
    case 2: value = .int(i ?? 0)
    case 3: value = .string(s ?? "")
    case 4: value = t.map { .tensor($0) } ?? .other(4)
    case 6: value = .floats(floats)
    case 7: value = .ints(ints)
    case 0:
      if let f {
        value = .float(f)
      } else if let i {
        value = .int(i)
      } else if let s {
        value = .string(s)
      } else if let t {
        value = .tensor(t)
      } else if !floats.isEmpty {
        value = .floats(floats)
      } else {
        value = .ints(ints)
      }
    default: value = .other(type)
    }
  }
}

extension ONNXTensorProto {
  init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
    var r = ProtobufReader(bytes, range: range)
    var raw: Range<Int>?
    while let (field, value) = try r.next() {
      switch field {
      case 1: try value.appendIntegers(to: &dims, "tensor.dims", in: bytes)
      case 2: dataType = try value.integer("tensor.data_type")
      case 4: try value.appendFloats(to: &floats, "tensor.float_data", in: bytes)
      case 7: try value.appendIntegers(to: &integers, "tensor.int64_data", in: bytes)
      case 8: name = try value.string("tensor.name", in: bytes)
      case 9: raw = try value.range("tensor.raw_data")
      case 14: external = try value.integer("tensor.data_location") == 1
      default: break
      }
    }
    guard !external else { return }
    guard dims.allSatisfy({ $0 >= 0 }) else { throw ProtobufError(reason: "tensor '\(name)' has a negative dimension") }
    // The element count, refused before anything is sized by it when it exceeds what the bytes hold.
    var count = 1
    for d in dims {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow, product <= bytes.count else {
        throw ProtobufError(reason: "tensor '\(name)' declares dims \(dims), more values than the file holds")
      }
      count = product
    }
    if let raw {
      let size = dataType == Self.float ? 4 : dataType == Self.int64 ? 8 : 0
      guard size > 0 else { return }  // another element type: its values are never read
      guard raw.count == count * size else {
        throw ProtobufError(
          reason: "tensor '\(name)' has \(raw.count) bytes of raw_data, dims \(dims) need \(count * size)")
      }
      if size == 4 {
        try ProtobufReader.Value.delimited(raw).appendFloats(to: &floats, "raw_data", in: bytes)
      } else {
        integers.reserveCapacity(count)
        var i = raw.lowerBound
        while i < raw.upperBound {
          var v: UInt64 = 0
          for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
          integers.append(Int(Int64(bitPattern: v)))
          i += 8
        }
      }
    } else if dataType == Self.float, floats.count != count {
      throw ProtobufError(reason: "tensor '\(name)' holds \(floats.count) floats, dims \(dims) need \(count)")
    } else if dataType == Self.int64, integers.count != count {
      throw ProtobufError(reason: "tensor '\(name)' holds \(integers.count) integers, dims \(dims) need \(count)")
    }
  }
}

extension ONNXValueInfo {
  init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
    var r = ProtobufReader(bytes, range: range)
    while let (field, value) = try r.next() {
      switch field {
      case 1: name = try value.string("value_info.name", in: bytes)
      case 2:
        var type = ProtobufReader(bytes, range: try value.range("value_info.type"))
        while let (f, v) = try type.next() {
          guard f == 1 else { continue }
          var tensor = ProtobufReader(bytes, range: try v.range("type.tensor_type"))
          while let (tf, tv) = try tensor.next() {
            if tf == 1 { elementType = try tv.integer("tensor_type.elem_type") }
            guard tf == 2 else { continue }
            var shape = ProtobufReader(bytes, range: try tv.range("tensor_type.shape"))
            var dims: [Int?] = []
            while let (sf, sv) = try shape.next() {
              guard sf == 1 else { continue }
              var dim = ProtobufReader(bytes, range: try sv.range("shape.dim"))
              var size: Int?
              while let (df, dv) = try dim.next() {
                if df == 1 { size = try dv.integer("dim.dim_value") }
              }
              dims.append(size)
            }
            self.dims = dims
          }
        }
      default: break
      }
    }
  }
}
