import ResNetKernels

/// Turns a ``Network`` into ``InferenceStep``s for inputs of one size, folding each BatchNorm that
/// follows a convolution into it (`w·γ/√(var + ε)`, `β − mean·γ/√(var + ε)`) and ReZero's alpha into
/// the branch's last convolution, and giving every residual add and ReLU to the convolution before it.
struct InferenceBuilder {
  /// Each value's channels, height and width (value 0: the input).
  private(set) var shapes: [(channels: Int, height: Int, width: Int)]
  private(set) var steps: [InferenceStep] = []
  /// Each step's torchvision name (a convolution's, `maxpool`, a normalization's), in order.
  private(set) var stepNames: [String] = []

  /// The precision of every convolution, and the bf16 kernels they use in bf16.
  let precision: Precision
  let bf16Kernel: BF16Kernel

  init(channels: Int, height: Int, width: Int, precision: Precision = .f32, bf16Kernel: BF16Kernel = .best) {
    shapes = [(channels, height, width)]
    self.precision = precision
    self.bf16Kernel = bf16Kernel
  }

  /// Appends the steps of `network` from value 0 on; returns the value the classifier reads.
  mutating func add(_ network: Network) throws -> Int {
    var h = try convolution(network.conv1, name: "conv1", input: 0, norm: network.bn1)
    if let pool = network.maxPool {
      let shape = shapes[h]
      guard
        let g = ConvGeometry(
          channels: shape.channels, height: shape.height, width: shape.width, kernel: pool.kernel, stride: pool.stride,
          padding: pool.padding)
      else { throw ConfigurationError.invalid("the input is too small for the stem's max pool") }
      h = append(
        .maxPool(g, input: h, output: shapes.count), name: "maxpool",
        shape: (shape.channels, g.outputHeight, g.outputWidth))
    }
    for (name, block) in network.namedBlocks { h = try add(block, name: name, input: h) }
    if let bnFinal = network.bnFinal { h = affine(bnFinal, name: "bn_final", input: h) }
    return h
  }

  private mutating func add(_ block: any ResidualBlock, name: String, input x: Int) throws -> Int {
    switch block {
    case let b as BasicBlock:
      let shortcut = try projection(b, name: name, input: x) ?? (b.hasShortcut ? x : nil)
      let h = try convolution(b.conv1, name: name + "conv1", input: x, norm: b.bn1)
      return try last(b.conv2, name: name + "conv2", norm: b.bn2, block: b, input: h, shortcut: shortcut)
    case let b as Bottleneck:
      let shortcut = try projection(b, name: name, input: x) ?? (b.hasShortcut ? x : nil)
      let h1 = try convolution(b.conv1, name: name + "conv1", input: x, norm: b.bn1)
      let h2 = try convolution(b.conv2, name: name + "conv2", input: h1, norm: b.bn2)
      return try last(b.conv3, name: name + "conv3", norm: b.bn3, block: b, input: h2, shortcut: shortcut)
    case let b as PreActBasicBlock:
      let a = affine(b.bn1, name: name + "bn1", input: x)
      let shortcut = try projection(b, name: name, input: a) ?? (b.hasShortcut ? x : nil)
      let h = try convolution(b.conv1, name: name + "conv1", input: a, norm: b.bn2)
      return try last(b.conv2, name: name + "conv2", norm: nil, block: b, input: h, shortcut: shortcut)
    case let b as PreActBottleneck:
      let a = affine(b.bn1, name: name + "bn1", input: x)
      let shortcut = try projection(b, name: name, input: a) ?? (b.hasShortcut ? x : nil)
      let h1 = try convolution(b.conv1, name: name + "conv1", input: a, norm: b.bn2)
      let h2 = try convolution(b.conv2, name: name + "conv2", input: h1, norm: b.bn3)
      return try last(b.conv3, name: name + "conv3", norm: nil, block: b, input: h2, shortcut: shortcut)
    default:
      throw ConfigurationError.invalid("\(name): a block of type \(type(of: block)) has no inference form")
    }
  }

  /// The projection shortcut of `block` on value `x`, or nil when it has none.
  private mutating func projection(_ block: any ResidualBlock, name: String, input x: Int) throws -> Int? {
    guard let d = block.downsample else { return nil }
    return try convolution(d.conv, name: name + "downsample.0", input: x, norm: d.norm, relu: false)
  }

  /// The branch's last convolution, with its normalization (v1) or none (pre-activation), scaled by
  /// ReZero's alpha, the shortcut added and the block's ReLU (v1) applied.
  private mutating func last(
    _ conv: Conv2D, name: String, norm: (any Normalization)?, block: any ResidualBlock, input: Int, shortcut: Int?
  ) throws -> Int {
    let relu = block.rezero.map(\.relu) ?? norm?.relu ?? false
    return try convolution(
      conv, name: name, input: input, norm: norm, relu: relu, scale: block.rezero?.alpha.value[0] ?? 1,
      residual: shortcut)
  }

  /// `[relu](scale·norm(conv(x)) [+ residual])` as one prepared convolution; `relu` defaults to the
  /// normalization's.
  private mutating func convolution(
    _ conv: Conv2D, name: String, input x: Int, norm: (any Normalization)?, relu: Bool? = nil, scale: Float = 1,
    residual: Int? = nil
  ) throws -> Int {
    let shape = shapes[x]
    guard shape.channels == conv.inChannels, let g = conv.geometry(height: shape.height, width: shape.width) else {
      throw ConfigurationError.invalid("\(name): the input is too small for it (\(shape.height)×\(shape.width))")
    }
    let taps = g.columnRows
    var weight = Array(UnsafeBufferPointer(start: conv.weight.value.pointer, count: conv.outChannels * taps))
    var bias = conv.bias.map { Array(UnsafeBufferPointer(start: $0.value.pointer, count: conv.outChannels)) }
    if let bn = norm as? BatchNorm2D {
      let (factor, shift) = bn.inferenceAffine
      for o in 0..<conv.outChannels {
        for i in 0..<taps { weight[o * taps + i] *= factor[o] }
      }
      bias = (0..<conv.outChannels).map { o in (bias?[o] ?? 0) * factor[o] + shift[o] }
    }
    if scale != 1 {
      for i in weight.indices { weight[i] *= scale }
      bias = bias.map { $0.map { $0 * scale } }
    }
    let prepared = PreparedConvolution(
      geometry: g, outputChannels: conv.outChannels, weight: weight, bias: bias, precision: precision,
      bf16Kernel: bf16Kernel)
    return append(
      .convolution(prepared, input: x, residual: residual, relu: relu ?? norm?.relu ?? false, output: shapes.count),
      name: name, shape: (conv.outChannels, g.outputHeight, g.outputWidth))
  }

  /// A normalization that no convolution precedes directly, as a per-channel affine map (a
  /// ``ResidualReLU``: the ReLU alone).
  private mutating func affine(_ norm: any Normalization, name: String, input x: Int) -> Int {
    let shape = shapes[x]
    let (scale, shift) =
      (norm as? BatchNorm2D)?.inferenceAffine
      ?? ([Float](repeating: 1, count: norm.channels), [Float](repeating: 0, count: norm.channels))
    return append(
      .affine(
        scale: scale, shift: shift, relu: norm.relu, pixels: shape.height * shape.width, input: x, output: shapes.count),
      name: name, shape: shape)
  }

  private mutating func append(
    _ step: InferenceStep, name: String, shape: (channels: Int, height: Int, width: Int)
  ) -> Int {
    steps.append(step)
    stepNames.append(name)
    shapes.append(shape)
    return shapes.count - 1
  }
}

extension BatchNorm2D {
  /// The inference-mode map `x·scale + shift` per channel: `scale = γ/√(var + ε)`, `shift = β − mean·scale`,
  /// computed as the inference forward computes them.
  var inferenceAffine: (scale: [Float], shift: [Float]) {
    let scale = (0..<channels).map { c in
      weight.value.pointer[c] / (runningVar.pointer[c] + epsilon).squareRoot()
    }
    let shift = (0..<channels).map { c in bias.value.pointer[c] - runningMean.pointer[c] * scale[c] }
    return (scale, shift)
  }
}
