import ResNetKernels

/// Reading a ResNet from an ONNX file: one this tool exported (any variant; its `resnet.*` metadata
/// says what it is and the graph must be the one ``ONNXGraphLayout`` writes), or the graph
/// `torch.onnx.export` writes for a v1 ResNet (torchvision's resnet18…152, CIFAR ResNets), matched
/// by pattern. Anything else is refused, naming the first node that does not fit.
extension Model {
  /// The largest ONNX file read: protobuf's own limit of 2 GiB.
  public static let maximumONNXBytes = Int(Int32.max)

  /// Reads the ONNX model at `path`. For a file without this tool's `resnet.*` metadata, `inputSize`
  /// sets a square input; without it the input is the size the graph declares, or for a dynamic one
  /// 224 (ImageNet stem) or 32 (CIFAR stem). A file with the metadata keeps its own size.
  public convenience init(onnxContentsOf path: String, inputSize: Int? = nil) throws {
    let bytes: [UInt8]
    do {
      bytes = try readFile(path, maxBytes: Self.maximumONNXBytes)
    } catch {
      throw ONNXError(path: path, reason: error.reason)
    }
    try self.init(onnxBytes: bytes, path: path, inputSize: inputSize)
  }

  /// The model of an ONNX file's bytes (see ``init(onnxContentsOf:inputSize:)``); errors name `path`.
  public convenience init(onnxBytes bytes: [UInt8], path: String, inputSize: Int? = nil) throws {
    let proto: ONNXModelProto
    do {
      proto = try ONNXModelProto(parsing: bytes)
    } catch {
      throw ONNXError(path: path, reason: "not a readable ONNX model: \(error.reason)")
    }
    guard proto.opsets.contains(where: { ($0.domain.isEmpty || $0.domain == "ai.onnx") && $0.version >= 7 }) else {
      throw ONNXError(path: path, reason: "the model imports no ONNX operator set of version 7 or later")
    }
    var reader = try ONNXGraphReader(proto, path: path)
    let metadata = Dictionary(proto.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    let spec: ModelSpec
    let tensors: [String: (dims: [Int], values: [Float])]
    if metadata["resnet.config"] != nil {
      spec = try ModelSpec(metadata: metadata, path: path)
      tensors = try reader.matchLayout(of: spec.configuration)
    } else {
      let found = try reader.matchTorchvision()
      spec = try Self.torchvisionSpec(found, inputDims: reader.inputDims, inputSize: inputSize, path: path)
      tensors = found.tensors
    }
    // A file whose graph describes a bigger network than its tensors can fill is refused before the
    // network is allocated (each BatchNorm's counter is not in the file).
    let held = tensors.values.reduce(0) { $0 + $1.values.count }
    guard spec.configuration.stateValueCount <= held + reader.nodes.count else {
      throw ONNXError(path: path, reason: "the graph needs more weights than the file's tensors hold")
    }
    let network = try Network(configuration: spec.configuration)
    try network.loadState(tensors, path: path)
    try self.init(spec: spec, network: network)
  }

  /// A description for a ResNet found in a file without this tool's metadata: as for a torchvision
  /// state_dict (``ModelSpec/inferred(from:inputSize:)``), with the input size the graph declares.
  private static func torchvisionSpec(
    _ found: ONNXGraphReader.Found, inputDims: [Int?], inputSize: Int?, path: String
  ) throws -> ModelSpec {
    guard inputDims[1] == nil || inputDims[1] == found.inChannels else {
      throw ONNXError(
        path: path, reason: "the input has \(inputDims[1]!) channels but the stem reads \(found.inChannels)")
    }
    let fallback = found.stem == .imagenet ? 224 : 32
    let height = inputSize ?? inputDims[2] ?? fallback
    let width = inputSize ?? inputDims[3] ?? fallback
    let configuration = NetworkConfiguration(
      stem: found.stem, block: found.block ?? .basic, layers: found.layers, widths: found.widths,
      inChannels: found.inChannels, numClasses: found.numClasses, inputHeight: height, inputWidth: width,
      norm: found.norm)
    do { try configuration.validate() } catch { throw ONNXError(path: path, reason: "\(error)") }
    guard let spec = ModelSpec.torchvision(configuration) else {
      throw ONNXError(path: path, reason: "\(found.inChannels) input channels: only 1 or 3 are images")
    }
    return spec
  }
}

extension ONNXGraphReader {
  /// Checks that the graph is node for node the one ``ONNXGraphLayout`` writes for `configuration`
  /// (names, operators, inputs, outputs, attributes), and returns its initializers by name.
  mutating func matchLayout(of configuration: NetworkConfiguration) throws -> [String: (dims: [Int], values: [Float])] {
    let layout = ONNXGraphLayout(configuration)
    guard inputName == ONNXGraphLayout.inputName, outputName == ONNXGraphLayout.outputName else {
      throw fail("the file has resnet.config metadata but its input and output are not 'input' and 'logits'")
    }
    for (index, expected) in layout.nodes.enumerated() {
      guard index < nodes.count else {
        throw fail("the graph ends after \(nodes.count) nodes; its resnet.config needs \(layout.nodes.count)")
      }
      let node = nodes[index]
      let same =
        node.opType == expected.opType && node.inputs == expected.inputs && node.outputs == expected.outputs
        && node.attributes.sorted { $0.name < $1.name }.map(\.name) == expected.attributes.map(\.name).sorted()
        && expected.attributes.allSatisfy { node.attribute($0.name) == $0.value }
      guard same else {
        throw fail(index, "the file's resnet.config describes \(expected.opType) '\(expected.name)' here")
      }
      _ = try use(index)
    }
    if nodes.count > layout.nodes.count { try checkAllUsed() }
    var tensors: [String: (dims: [Int], values: [Float])] = [:]
    for name in layout.initializerNames {
      guard let t = constants[name], t.dataType == ONNXTensorProto.float else {
        throw fail("initializer '\(name)' is missing or not float32")
      }
      tensors[name] = (t.dims, t.floats)
    }
    return tensors
  }
}

extension Network {
  /// Copies every state tensor from `tensors` (values by name, with their dims), checking names and
  /// dims and refusing NaN or infinite values; BatchNorm counters start at 0. Errors name `path`.
  func loadState(_ tensors: [String: (dims: [Int], values: [Float])], path: String) throws {
    for (name, entry) in namedState() {
      let target: Tensor
      switch entry {
      case .parameter(let p): target = p.value
      case .buffer(let t): target = t
      case .batchCount(let bn):
        bn.batchesTracked = 0
        continue
      }
      guard let stored = tensors[name] else {
        throw ONNXError(path: path, reason: "the graph has no tensor for '\(name)'")
      }
      try stored.values.withUnsafeBufferPointer {
        try loadStateTensor(name, shape: stored.dims, values: $0, into: target, path: path, holder: "ONNX file")
      }
    }
  }
}
