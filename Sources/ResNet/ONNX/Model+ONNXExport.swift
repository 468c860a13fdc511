import ResNetKernels

/// Writing a model as an ONNX file that ONNX Runtime, OpenVINO and ONNX's own checker accept.
extension Model {
  /// The opsets ``exportONNX(to:batch:opset:)`` writes.
  public static let onnxOpsets = 13...17

  /// The ONNX file of this model: its inference graph (``ONNXGraphLayout``: every variant in standard
  /// operators), input `input` of shape `[batch, C, H, W]` (float32 after the model's preprocessing;
  /// `batch` nil for a dynamic batch dimension `N`), output `logits` `[batch, classes]`, the
  /// checkpoint's `resnet.*` metadata as `metadata_props` (so the file says its classes and
  /// preprocessing), IR version 7 for opset 13 and 8 above (what ONNX Runtime releases of recent years load).
  public func onnxBytes(batch: Int? = nil, opset: Int = 17) throws -> [UInt8] {
    guard Self.onnxOpsets.contains(opset) else {
      throw ONNXError(path: "", reason: "opset \(opset) is not one this tool writes (13–17)")
    }
    if let batch, !(1...65536).contains(batch) {
      throw ONNXError(path: "", reason: "batch \(batch) must be 1–65536 (or dynamic)")
    }
    let c = spec.configuration
    let layout = ONNXGraphLayout(c)
    let state = Dictionary(
      uniqueKeysWithValues: network.namedState().compactMap { entry -> (String, Tensor)? in
        switch entry.tensor {
        case .parameter(let p): (entry.name, p.value)
        case .buffer(let t): (entry.name, t)
        case .batchCount: nil
        }
      })
    var graph = ONNXGraphProto(name: "resnet", nodes: layout.nodes)
    graph.initializers = try layout.initializerNames.map { name in
      guard let tensor = state[name] else {
        throw ONNXError(path: "", reason: "the network has no tensor '\(name)' for its graph")
      }
      return ONNXTensorProto(
        name: name, dims: tensor.shape, dataType: ONNXTensorProto.float,
        floats: Array(UnsafeBufferPointer(start: tensor.pointer, count: tensor.count)))
    }
    graph.inputs = [
      ONNXValueInfo(
        name: ONNXGraphLayout.inputName, elementType: ONNXTensorProto.float,
        dims: [batch, c.inChannels, c.inputHeight, c.inputWidth], dimNames: ["N"])
    ]
    graph.outputs = [
      ONNXValueInfo(
        name: ONNXGraphLayout.outputName, elementType: ONNXTensorProto.float, dims: [batch, c.numClasses],
        dimNames: ["N"])
    ]
    var proto = ONNXModelProto()
    proto.irVersion = opset == 13 ? 7 : 8
    proto.opsets = [(domain: "", version: opset)]
    proto.producerName = "resnet"
    proto.producerVersion = "1"
    proto.graph = graph
    proto.metadata = try metadata().sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    return proto.serialized()
  }

  /// Writes ``onnxBytes(batch:opset:)`` to `path`, atomically (temporary file, fsync, rename).
  public func exportONNX(to path: String, batch: Int? = nil, opset: Int = 17) throws {
    let bytes: [UInt8]
    do {
      bytes = try onnxBytes(batch: batch, opset: opset)
    } catch let error as ONNXError {
      throw ONNXError(path: path, reason: error.reason)
    }
    do {
      try writeFileAtomically(path, bytes)
    } catch {
      throw ONNXError(path: path, reason: "cannot write: \(error.reason)")
    }
  }
}

/// Why an ONNX file could not be written or read.
public struct ONNXError: Error, CustomStringConvertible, Equatable {
  /// The file.
  public let path: String
  /// What is wrong.
  public let reason: String
  public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}
