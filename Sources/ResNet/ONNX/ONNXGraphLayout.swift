/// The ONNX graph of a network configuration, as `resnet export` writes it: standard operators only
/// (Conv, BatchNormalization, Relu, Add, Mul for ReZero, MaxPool, GlobalAveragePool, Flatten, Gemm),
/// nodes in execution order, each node's output named after the node, initializers named as the
/// checkpoint's tensors (torchvision's names). BatchNorm stays a node of its own, so the file holds
/// the model's every tensor and imports back to the same model; ONNX Runtime and OpenVINO fold it
/// into the convolution when they load the file.
struct ONNXGraphLayout {
  /// The graph's input and output value names.
  static let inputName = "input"
  static let outputName = "logits"

  /// The nodes, in execution order.
  private(set) var nodes: [ONNXNodeProto] = []
  /// The initializers the nodes read, in the order first read.
  private(set) var initializerNames: [String] = []

  /// The layout of `configuration`'s graph.
  init(_ configuration: NetworkConfiguration) {
    let c = configuration
    let normalized = c.norm == .batch
    // The stem.
    var h = conv(
      "conv1", Self.inputName, kernel: c.stem == .imagenet ? 7 : 3, stride: c.stem == .imagenet ? 2 : 1,
      bias: !normalized)
    if !(c.preact && c.stem == .cifar) {
      h = normalize("bn1", h, normalized: normalized, relu: "relu")
    }
    if c.stem == .imagenet {
      h = node(
        "MaxPool", "maxpool", [h],
        [Self.ints("kernel_shape", [3, 3]), Self.ints("strides", [2, 2]), Self.ints("pads", [1, 1, 1, 1])])
    }
    // The stages.
    var channels = c.widths[0]
    for (s, (blocks, width)) in zip(c.layers, c.widths).enumerated() {
      for b in 0..<blocks {
        let stride = s > 0 && b == 0 ? 2 : 1
        let out = c.block == .bottleneck ? width * Bottleneck.expansion : width
        let projects = c.shortcut == .identity && (stride != 1 || channels != out)
        h = block("layer\(s + 1).\(b).", h, c, width: width, stride: stride, projects: projects)
        channels = out
      }
    }
    if c.preact { h = normalize("bn_final", h, normalized: normalized, relu: "relu_final") }
    h = node("GlobalAveragePool", "avgpool", [h])
    h = node("Flatten", "flatten", [h], [.init(name: "axis", value: .int(1))])
    initializerNames += ["fc.weight", "fc.bias"]
    _ = node(
      "Gemm", Self.outputName, [h, "fc.weight", "fc.bias"],
      [
        .init(name: "alpha", value: .float(1)), .init(name: "beta", value: .float(1)),
        .init(name: "transB", value: .int(1)),
      ])
  }

  private static func ints(_ name: String, _ values: [Int]) -> ONNXAttributeProto {
    ONNXAttributeProto(name: name, value: .ints(values))
  }

  /// Appends a node named `name` whose one output is also called `name`; returns that name.
  private mutating func node(
    _ op: String, _ name: String, _ inputs: [String], _ attributes: [ONNXAttributeProto] = []
  ) -> String {
    nodes.append(ONNXNodeProto(name: name, opType: op, inputs: inputs, outputs: [name], attributes: attributes))
    return name
  }

  private mutating func conv(_ name: String, _ x: String, kernel: Int, stride: Int, bias: Bool) -> String {
    let parameters = [name + ".weight"] + (bias ? [name + ".bias"] : [])
    initializerNames += parameters
    let pad = kernel / 2
    return node(
      "Conv", name, [x] + parameters,
      [
        Self.ints("dilations", [1, 1]), .init(name: "group", value: .int(1)),
        Self.ints("kernel_shape", [kernel, kernel]), Self.ints("pads", [pad, pad, pad, pad]),
        Self.ints("strides", [stride, stride]),
      ])
  }

  /// BatchNorm `name` (when `normalized`) and then, unless `relu` is nil, a Relu called `relu`.
  private mutating func normalize(_ name: String, _ x: String, normalized: Bool, relu: String?) -> String {
    var h = x
    if normalized {
      let parameters = ["weight", "bias", "running_mean", "running_var"].map { name + "." + $0 }
      initializerNames += parameters
      h = node("BatchNormalization", name, [h] + parameters, [.init(name: "epsilon", value: .float(1e-5))])
    }
    if let relu { h = node("Relu", relu, [h]) }
    return h
  }

  /// One residual block (v1 or pre-activation, as `c` says) named `p` (`layer1.0.`) on `x`.
  private mutating func block(
    _ p: String, _ x: String, _ c: NetworkConfiguration, width: Int, stride: Int, projects: Bool
  ) -> String {
    let normalized = c.norm == .batch
    let kernels = c.block == .bottleneck ? [1, 3, 1] : [3, 3]
    let strides = c.block == .bottleneck ? [1, stride, 1] : [stride, 1]
    var h = x
    var shortcut: String? = c.shortcut == .identity ? x : nil
    if c.preact {
      // a = relu(bn1(x)); the branch runs on a, and so does the projection.
      h = normalize(p + "bn1", x, normalized: normalized, relu: p + "relu0")
      if projects {
        shortcut = conv(p + "downsample.0", h, kernel: 1, stride: stride, bias: !normalized)
      }
      for (i, (k, s)) in zip(kernels, strides).enumerated() {
        if i > 0 { h = normalize(p + "bn\(i + 1)", h, normalized: normalized, relu: p + "relu\(i)") }
        h = conv(p + "conv\(i + 1)", h, kernel: k, stride: s, bias: !normalized)
      }
    } else {
      for (i, (k, s)) in zip(kernels, strides).enumerated() {
        h = conv(p + "conv\(i + 1)", h, kernel: k, stride: s, bias: !normalized)
        let last = i == kernels.count - 1
        h = normalize(p + "bn\(i + 1)", h, normalized: normalized, relu: last ? nil : p + "relu\(i + 1)")
      }
      if projects {
        shortcut = conv(p + "downsample.0", x, kernel: 1, stride: stride, bias: !normalized)
        shortcut = normalize(p + "downsample.1", shortcut!, normalized: normalized, relu: nil)
      }
    }
    if c.residualScale == .rezero {
      initializerNames.append(p + "alpha")
      h = node("Mul", p + "scale", [h, p + "alpha"])
    }
    if let shortcut { h = node("Add", p + "add", [h, shortcut]) }
    return c.preact ? h : node("Relu", p + "relu", [h])
  }
}
