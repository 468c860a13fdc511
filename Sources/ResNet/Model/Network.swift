import ResNetKernels

/// A ResNet built from a ``NetworkConfiguration``: stem, stages of residual blocks, global average
/// pool and a linear classifier, with torchvision's module and state names.
///
/// Not safe to use from several threads at once: layers keep their buffers between calls. A training
/// step is `forward(training: true)`, a loss, `backward`, then an optimizer step; an inference-mode
/// forward in between would overwrite what backward needs.
public final class Network: Module {
  /// The architecture.
  public let configuration: NetworkConfiguration
  /// The stem's convolution, torchvision's `conv1`.
  public let conv1: Conv2D
  /// The stem's BatchNorm with its ReLU, torchvision's `bn1` (none in a pre-activation network with
  /// the CIFAR stem: the first block normalizes).
  public let bn1: (any Normalization)?
  /// The stem's max pool (ImageNet stem only).
  public let maxPool: MaxPool2D?
  /// The stages, torchvision's `layer1`…: `stages[s][b]` is `layer{s+1}.{b}`.
  public let stages: [[any ResidualBlock]]
  /// Every block in order, the stages joined (built once, not per step).
  let blocks: [any ResidualBlock]
  /// The BatchNorm and ReLU after the last stage of a pre-activation network (`bn_final`).
  public let bnFinal: (any Normalization)?
  /// The global average pool.
  public let pool = GlobalAveragePool()
  /// The classifier, torchvision's `fc`.
  public let fc: Linear
  /// The im2col workspace shared by all convolutions (they run one after another).
  public let workspace = ScratchBuffer()
  /// The frozen leading part (see ``freeze(_:)``), and how many blocks it holds.
  public internal(set) var frozen = FrozenPart.none
  var frozenBlocks = 0
  /// Called during `backward` with each block's index (0 for the first) and the gradient with respect
  /// to its input, last block first (for gradient diagnostics).
  public var blockInputGradientObserver: ((Int, Tensor) -> Void)?

  /// The network for `configuration`, with all weights zero and BatchNorms at γ = 1, β = 0; use
  /// ``init(configuration:seed:initialization:)`` for a trainable initialization.
  public init(configuration c: NetworkConfiguration) throws {
    try c.validate()
    configuration = c
    let stemWidth = c.widths[0]
    let normalized = c.norm == .batch
    if c.stem == .imagenet {
      conv1 = Conv2D(
        inChannels: c.inChannels, outChannels: stemWidth, kernel: 7, stride: 2, padding: 3, bias: !normalized,
        workspace: workspace)
      maxPool = MaxPool2D(kernel: 3, stride: 2, padding: 1)
    } else {
      conv1 = Conv2D(
        inChannels: c.inChannels, outChannels: stemWidth, kernel: 3, stride: 1, padding: 1, bias: !normalized,
        workspace: workspace)
      maxPool = nil
    }
    bn1 = c.preact && c.stem == .cifar ? nil : normalization(channels: stemWidth, relu: true, normalized: normalized)
    var channels = stemWidth
    let blockType: any ResidualBlock.Type =
      switch (c.block, c.preact) {
      case (.basic, false): BasicBlock.self
      case (.bottleneck, false): Bottleneck.self
      case (.basic, true): PreActBasicBlock.self
      case (.bottleneck, true): PreActBottleneck.self
      }
    var stages: [[any ResidualBlock]] = []
    for (s, (count, width)) in zip(c.layers, c.widths).enumerated() {
      var blocks: [any ResidualBlock] = []
      for b in 0..<count {
        let stride = s > 0 && b == 0 ? 2 : 1
        let block = blockType.init(
          inChannels: channels, channels: width, stride: stride, shortcut: c.shortcut == .identity,
          rezero: c.residualScale == .rezero, normalized: normalized, workspace: workspace)
        channels = block.outChannels
        blocks.append(block)
      }
      stages.append(blocks)
    }
    self.stages = stages
    blocks = Array(stages.joined())
    bnFinal = c.preact ? normalization(channels: channels, relu: true, normalized: normalized) : nil
    fc = Linear(inFeatures: channels, outFeatures: c.numClasses)
  }

  /// How convolution weights start.
  public enum ConvInitialization: String, Codable, Sendable, CaseIterable {
    /// torchvision's ResNet initialization: normal with std √(2 / fan_out), fan_out = out · k · k
    /// (Kaiming, fan_out mode, ReLU gain).
    case kaimingNormal = "kaiming-normal"
    /// PyTorch's `Conv2d` default, without torchvision's re-initialization: uniform ±1/√fan_in,
    /// fan_in = in · k · k (`kaiming_uniform_` with a = √5). Its variance is a sixth of what keeps a
    /// ReLU stack's activations level, so without BatchNorm a deep plain stack's signal vanishes.
    case pytorchDefault = "pytorch-default"
  }

  /// The network initialized as torchvision does, from `seed`: convs as `initialization.convolutions`
  /// (Kaiming normal, fan_out, by default), conv biases (networks without BatchNorm) uniform ±1/√fan_in
  /// as PyTorch's, BatchNorm γ = 1 and β = 0, the classifier as PyTorch's `Linear` default (uniform
  /// ±1/√fan_in); with `initialization.zeroInitResidual`, each block's last BatchNorm γ starts at 0, so
  /// every block starts as the identity.
  public convenience init(
    configuration: NetworkConfiguration, seed: UInt64, initialization: WeightInitialization = .init()
  ) throws {
    try self.init(configuration: configuration)
    initialize(
      seed: seed, zeroInitResidual: initialization.zeroInitResidual, convInit: initialization.convolutions)
  }

  /// Every block in order, with its torchvision name prefix (`"layer1.0."`).
  public var namedBlocks: [(name: String, block: any ResidualBlock)] {
    stages.enumerated().flatMap { s, blocks in
      blocks.enumerated().map { b, block in ("layer\(s + 1).\(b).", block) }
    }
  }

  /// The logits (`N × numClasses`) for a batch `N × inChannels × H × W`.
  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    forward(x, training: training, deletingBlocks: [])
  }

  /// The inference logits with the residual branches of the blocks at `deletedBlocks` (indices into
  /// ``namedBlocks``) deleted, as in Veit et al.'s lesion study: such a block passes its input on
  /// unchanged (in a v1 block `relu(x)`, which is `x` itself, since every block's input is a ReLU's
  /// output). Only blocks whose shortcut is the identity can be deleted.
  public func forward(_ x: Tensor, deletingBlocks deletedBlocks: Set<Int>) -> Tensor {
    forward(x, training: false, deletingBlocks: deletedBlocks)
  }

  private func forward(_ x: Tensor, training: Bool, deletingBlocks deleted: Set<Int>) -> Tensor {
    // Frozen layers run in inference mode (see ``freeze(_:)``).
    let stemTraining = training && frozen == .none
    var h = conv1.forward(x, training: stemTraining)
    if let bn1 { h = bn1.forward(h, training: stemTraining) }
    if let maxPool { h = maxPool.forward(h, training: stemTraining) }
    for (index, block) in blocks.enumerated() {
      if deleted.contains(index) {
        precondition(!training, "a deleted block is for inference only")
        precondition(block.hasShortcut && block.downsample == nil, "only identity-shortcut blocks can be deleted")
        continue
      }
      h = block.forward(h, training: training && index >= frozenBlocks)
    }
    let backboneTraining = training && frozen != .backbone
    if let bnFinal { h = bnFinal.forward(h, training: backboneTraining) }
    return fc.forward(pool.forward(h, training: backboneTraining), training: training)
  }

  /// Back-propagates the gradient of the loss with respect to the logits, adding into every
  /// parameter's gradient; returns the gradient with respect to the input batch (with a frozen part,
  /// with respect to the input of the first part that is not frozen: the pass stops there).
  @discardableResult
  public func backward(_ gradLogits: Tensor) -> Tensor {
    backpropagate(gradLogits, toInput: true)!
  }

  /// ``backward(_:)`` for a training step: every parameter's gradient, the same bits, but not the
  /// gradient with respect to the input batch, which no step reads — the stem convolution computes its
  /// weight's gradient alone.
  public func backwardParameters(_ gradLogits: Tensor) {
    _ = backpropagate(gradLogits, toInput: false)
  }

  /// The backward pass; returns ``backward(_:)``'s gradient, except nil for the input batch's when not
  /// `toInput`.
  private func backpropagate(_ gradLogits: Tensor, toInput: Bool) -> Tensor? {
    var g = fc.backward(gradLogits)
    if frozen == .backbone { return g }
    g = pool.backward(g)
    if let bnFinal { g = bnFinal.backward(g) }
    for (index, block) in blocks.enumerated().reversed() {
      if index < frozenBlocks { return g }
      g = block.backward(g)
      blockInputGradientObserver?(index, g)
    }
    if frozen != .none { return g }
    if let maxPool { g = maxPool.backward(g) }
    if let bn1 { g = bn1.backward(g) }
    guard toInput else {
      conv1.backwardParameters(g)
      return nil
    }
    return conv1.backward(g)
  }

  /// Every learnable parameter, in state order (collected once: the step loop must not rebuild names).
  public private(set) lazy var parameters: [Parameter] = namedParameters().map(\.parameter)

  /// Zeroes every parameter's gradient.
  public func zeroGradients() {
    for p in parameters { p.zeroGradient() }
  }

  public func namedState(prefix: String = "") -> [(name: String, tensor: StateTensor)] {
    conv1.namedState(prefix: prefix + "conv1.") + (bn1?.namedState(prefix: prefix + "bn1.") ?? [])
      + namedBlocks.flatMap { $0.block.namedState(prefix: prefix + $0.name) }
      + (bnFinal?.namedState(prefix: prefix + "bn_final.") ?? []) + fc.namedState(prefix: prefix + "fc.")
  }

  /// The number of learnable scalars.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

  /// Every convolution in order: the stem's, then each block's (see ``ResidualBlock/namedConvolutions``).
  var convolutions: [Conv2D] { [conv1] + blocks.flatMap { $0.namedConvolutions.map(\.conv) } }

  /// The precision of every convolution and of the classifier, forward and backward (float32 unless
  /// set). In `.bf16`, mixed precision as PyTorch's CPU autocast: the products' operands rounded to
  /// bf16, the sums, the weights, their gradients, BatchNorm and the loss in float32.
  public var precision = Precision.f32 {
    didSet {
      for conv in convolutions { conv.precision = precision }
      fc.precision = precision
    }
  }

  private func initialize(seed: UInt64, zeroInitResidual: Bool, convInit: ConvInitialization) {
    for (index, conv) in convolutions.enumerated() {
      var generator = SeededGenerator(seed: seed, stream: 1, UInt64(index))
      let fanInBound = 1 / Float(conv.inChannels * conv.kernel * conv.kernel).squareRoot()
      let w = conv.weight.value
      switch convInit {
      case .kaimingNormal:  // std = sqrt(2 / (out · k · k))
        let std = (2 / Float(conv.outChannels * conv.kernel * conv.kernel)).squareRoot()
        for i in 0..<w.count { w.pointer[i] = generator.nextNormal() * std }
      case .pytorchDefault:
        for i in 0..<w.count { w.pointer[i] = (generator.nextUniform() * 2 - 1) * fanInBound }
      }
      if let bias = conv.bias {  // PyTorch's Conv2d default: uniform ±1/√fan_in
        for i in 0..<bias.value.count { bias.value.pointer[i] = (generator.nextUniform() * 2 - 1) * fanInBound }
      }
    }
    var generator = SeededGenerator(seed: seed, stream: 2)
    let bound = 1 / Float(fc.inFeatures).squareRoot()
    for p in [fc.weight.value, fc.bias.value] {
      for i in 0..<p.count { p.pointer[i] = (generator.nextUniform() * 2 - 1) * bound }
    }
    if zeroInitResidual {
      // Only blocks with a shortcut (a plain block with γ = 0 would output a constant, not the
      // identity) and a BatchNorm (without one there is no γ).
      for block in blocks where block.hasShortcut {
        guard let norm = block.lastNorm as? BatchNorm2D else { continue }
        norm.weight.value.pointer.update(repeating: 0, count: norm.channels)
      }
    }
  }
}
