/// An ONNX graph prepared for matching against a ResNet: its constants (initializers, `Constant`
/// nodes and `Identity` copies of either), the one data input and output, which nodes read each
/// value, and which nodes a match has used. Errors name the file and the first node that does not fit.
struct ONNXGraphReader {
  let path: String
  let nodes: [ONNXNodeProto]
  /// Constant values by name.
  private(set) var constants: [String: ONNXTensorProto] = [:]
  /// The value each `Identity` output stands for.
  private var aliases: [String: String] = [:]
  /// The nodes that read each (non-constant, de-aliased) value, in graph order.
  private var readers: [String: [Int]] = [:]
  /// Nodes a match has accounted for (constants and identities count as used).
  private var used: Set<Int> = []
  /// The data input's name and dimensions (`[N, C, H, W]`; nil where not a number).
  let inputName: String
  let inputDims: [Int?]
  /// The graph's one output.
  let outputName: String

  init(_ proto: ONNXModelProto, path: String) throws {
    self.path = path
    let graph = proto.graph
    nodes = graph.nodes
    func fail(_ reason: String) -> ONNXError { ONNXError(path: path, reason: reason) }
    for tensor in graph.initializers {
      guard !tensor.external else {
        throw fail(
          "initializer '\(tensor.name)' keeps its values in an external file; only self-contained files are read")
      }
      constants[tensor.name] = tensor
    }
    for (index, node) in nodes.enumerated() {
      guard node.domain.isEmpty || node.domain == "ai.onnx" else {
        throw fail("\(Self.describe(node, index)) is from operator domain '\(node.domain)', not ONNX's own")
      }
      if node.opType == "Constant" {
        guard node.outputs.count == 1, case .tensor(let t)? = node.attribute("value") else {
          throw fail("\(Self.describe(node, index)) is a Constant without a tensor value")
        }
        constants[node.outputs[0]] = t
        used.insert(index)
      } else if node.opType == "Identity" {
        guard node.inputs.count == 1, node.outputs.count == 1 else {
          throw fail("\(Self.describe(node, index)) is an Identity without one input and one output")
        }
        if let t = constants[node.inputs[0]] {
          constants[node.outputs[0]] = t
        } else {
          aliases[node.outputs[0]] = aliases[node.inputs[0]] ?? node.inputs[0]
        }
        used.insert(index)
      }
    }
    let constantNames = Set(constants.keys)
    let dataInputs = graph.inputs.filter { !constantNames.contains($0.name) }
    guard dataInputs.count == 1, let input = dataInputs.first else {
      throw fail("the graph has \(dataInputs.count) data inputs; a classifier has one (the image batch)")
    }
    guard input.elementType == ONNXTensorProto.float, let dims = input.dims, dims.count == 4 else {
      throw fail("input '\(input.name)' is not a float32 tensor of 4 dimensions [N, C, H, W]")
    }
    guard graph.outputs.count == 1 else {
      throw fail("the graph has \(graph.outputs.count) outputs; a classifier has one (the logits)")
    }
    (inputName, inputDims, outputName) = (input.name, dims, graph.outputs[0].name)
    for (index, node) in nodes.enumerated() where !used.contains(index) {
      for name in Set(node.inputs.map(resolve)) where !name.isEmpty && constants[name] == nil {
        readers[name, default: []].append(index)
      }
    }
  }

  /// "node 12 'layer1.0.conv1' (Conv)".
  static func describe(_ node: ONNXNodeProto, _ index: Int) -> String {
    "node \(index) '\(node.name)' (\(node.opType))"
  }

  /// An error about node `index`.
  func fail(_ index: Int, _ reason: String) -> ONNXError {
    ONNXError(path: path, reason: "\(Self.describe(nodes[index], index)) does not fit a ResNet: \(reason)")
  }

  /// An error about the graph.
  func fail(_ reason: String) -> ONNXError { ONNXError(path: path, reason: reason) }

  /// The value `name` stands for, through Identity nodes.
  func resolve(_ name: String) -> String { aliases[name] ?? name }

  /// The nodes reading value `name`.
  func readers(of name: String) -> [Int] { readers[resolve(name)] ?? [] }

  /// Node `index`'s input `i` as a value name (resolved), or nil when absent.
  func input(_ index: Int, _ i: Int) -> String? {
    let inputs = nodes[index].inputs
    return i < inputs.count && !inputs[i].isEmpty ? resolve(inputs[i]) : nil
  }

  /// Node `index`'s input `i` as a constant, or throws naming the node.
  func constant(_ index: Int, _ i: Int, _ what: String) throws -> ONNXTensorProto {
    guard let name = input(index, i), let t = constants[name] else {
      throw fail(index, "its \(what) is not a constant of the file")
    }
    return t
  }

  /// Node `index`'s input `i` as float32 values of `dims`, or throws.
  func floats(_ index: Int, _ i: Int, _ what: String, dims: [Int]? = nil) throws -> ONNXTensorProto {
    let t = try constant(index, i, what)
    guard t.dataType == ONNXTensorProto.float else { throw fail(index, "its \(what) '\(t.name)' is not float32") }
    if let dims, t.dims != dims {
      throw fail(index, "its \(what) '\(t.name)' has dims \(t.dims), expected \(dims)")
    }
    return t
  }

  /// Marks node `index` used and returns its one output, after checking it has one.
  mutating func use(_ index: Int) throws -> String {
    guard nodes[index].outputs.count == 1 else {
      throw fail(index, "it has \(nodes[index].outputs.count) outputs, expected 1")
    }
    used.insert(index)
    return nodes[index].outputs[0]
  }

  /// The one node reading `value`, which must be one of `ops`.
  func soleReader(of value: String, _ ops: Set<String>, after index: Int) throws -> Int {
    let r = readers(of: value)
    guard r.count == 1 else {
      throw fail(index, "its output feeds \(r.count) nodes, expected one \(ops.sorted().joined(separator: " or "))")
    }
    guard ops.contains(nodes[r[0]].opType) else {
      throw fail(r[0], "expected \(ops.sorted().joined(separator: " or ")) after \(Self.describe(nodes[index], index))")
    }
    return r[0]
  }

  /// Throws naming the first node no match has used.
  func checkAllUsed() throws {
    if let index = nodes.indices.first(where: { !used.contains($0) }) {
      throw fail(index, "it is not part of the network's path from input to logits")
    }
  }

  /// Node `index`'s integer list attribute `name`, or `fallback` when absent.
  func ints(_ index: Int, _ name: String, _ fallback: [Int]) throws -> [Int] {
    switch nodes[index].attribute(name) {
    case nil: return fallback
    case .ints(let v)?: return v
    default: throw fail(index, "attribute \(name) is not a list of integers")
    }
  }

  /// Node `index`'s integer attribute `name`, or `fallback` when absent.
  func int(_ index: Int, _ name: String, _ fallback: Int) throws -> Int {
    switch nodes[index].attribute(name) {
    case nil: return fallback
    case .int(let v)?: return v
    default: throw fail(index, "attribute \(name) is not an integer")
    }
  }

  /// Node `index`'s float attribute `name`, or `fallback` when absent.
  func float(_ index: Int, _ name: String, _ fallback: Float) throws -> Float {
    switch nodes[index].attribute(name) {
    case nil: return fallback
    case .float(let v)?: return v
    default: throw fail(index, "attribute \(name) is not a float")
    }
  }
}
