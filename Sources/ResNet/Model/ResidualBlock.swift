import ResNetKernels

/// A residual block: `y = relu(F(x) + shortcut(x))`, the shortcut being the identity or, when the
/// stride or channel count changes, a 1×1 projection conv + BatchNorm (torchvision's `downsample`). A
/// block made without a shortcut is the plain block `y = relu(F(x))` of He et al.'s plain networks.
public protocol ResidualBlock: Layer {
  /// A block from `inChannels` to ``outChannels`` (`channels`, or 4× for bottlenecks) with `stride`;
  /// without `shortcut`, a plain block; with `rezero`, the branch scaled by ReZero's alpha; without
  /// `normalized`, no BatchNorm and biased convolutions.
  init(
    inChannels: Int, channels: Int, stride: Int, shortcut: Bool, rezero: Bool, normalized: Bool,
    workspace: ScratchBuffer)
  /// Channels out of the block.
  var outChannels: Int { get }
  /// The last BatchNorm of the residual branch: in a v1 block the one whose output the shortcut is
  /// added to, in a pre-activation block the one before the last convolution. Zeroing its γ makes the
  /// branch output zero, so the block starts as the identity.
  var lastNorm: any Normalization { get }
  /// Whether the block adds a shortcut (false: a plain block).
  var hasShortcut: Bool { get }
  /// The projection shortcut, when the block has a shortcut and its shape changes.
  var downsample: Projection? { get }
  /// ReZero's scaled add, when the residual branch is scaled.
  var rezero: ReZeroAdd? { get }
  /// The block's parts in torchvision's order with their names relative to the block: the residual
  /// branch's convs and BatchNorms (`"conv1"`, `"bn1"`, …), then the projection (`"downsample"`) if any.
  var namedModules: [(name: String, module: any Module)] { get }
}

extension ResidualBlock {
  /// The convolutions of the residual branch and the projection, in order, with names relative to the
  /// block (`"conv1"`, …, `"downsample.0"`).
  public var namedConvolutions: [(name: String, conv: Conv2D)] {
    namedModules.compactMap { name, module in
      if let conv = module as? Conv2D { return (name, conv) }
      if let projection = module as? Projection { return (name + ".0", projection.conv) }
      return nil
    }
  }

  /// The state: ReZero's `alpha` first (PyTorch lists a module's own parameters before its
  /// children's), then the modules'.
  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    (rezero.map { [(prefix + "alpha", StateTensor.parameter($0.alpha))] } ?? [])
      + namedModules.flatMap { $0.module.namedState(prefix: prefix + $0.name + ".") }
  }

  /// Adds the shortcut's gradient to `dx`, the residual branch's input gradient: `dy` (the gradient of
  /// the sum, already masked by the last BatchNorm's ReLU) through the projection, or `dy` itself;
  /// nothing for a plain block.
  func addShortcutGradient(_ dy: Tensor, downsample: Projection?, into dx: Tensor) -> Tensor {
    guard hasShortcut else { return dx }
    let ds = downsample?.backward(dy) ?? dy
    add(dx.pointer, ds.pointer, count: dx.count, into: dx.pointer)
    return dx
  }
}

/// The 1×1 projection shortcut: a strided 1×1 convolution and a BatchNorm (`downsample.0`, `.1`), or
/// the convolution alone (pre-activation blocks, networks without normalization).
public final class Projection: Module {
  /// The 1×1 convolution.
  public let conv: Conv2D
  /// The BatchNorm after it (nil: the projection is the conv alone).
  public let norm: BatchNorm2D?

  /// A projection from `inChannels` to `outChannels` with `stride`; with `normalized` false, the conv
  /// alone, with a bias when `bias` (by default, when not normalized).
  public init(
    inChannels: Int, outChannels: Int, stride: Int, normalized: Bool = true, bias: Bool? = nil,
    workspace: ScratchBuffer
  ) {
    conv = Conv2D(
      inChannels: inChannels, outChannels: outChannels, kernel: 1, stride: stride, bias: bias ?? !normalized,
      workspace: workspace)
    norm = normalized ? BatchNorm2D(channels: outChannels) : nil
  }

  /// The projection a block needs when its stride or channel count changes the shape, else nil
  /// (the shortcut is the identity).
  static func ifNeeded(
    inChannels: Int, outChannels: Int, stride: Int, normalized: Bool, bias: Bool? = nil, workspace: ScratchBuffer
  ) -> Projection? {
    stride != 1 || inChannels != outChannels
      ? Projection(
        inChannels: inChannels, outChannels: outChannels, stride: stride, normalized: normalized, bias: bias,
        workspace: workspace)
      : nil
  }

  func forward(_ x: Tensor, training: Bool) -> Tensor {
    let y = conv.forward(x, training: training)
    return norm?.forward(y, training: training) ?? y
  }

  func backward(_ dy: Tensor) -> Tensor { conv.backward(norm?.backward(dy) ?? dy) }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    conv.namedState(prefix: prefix + "0.") + (norm?.namedState(prefix: prefix + "1.") ?? [])
  }
}

/// torchvision's `BasicBlock` (expansion 1): conv3×3(stride) → BN → ReLU → conv3×3 → BN, + shortcut, ReLU.
public final class BasicBlock: ResidualBlock {
  /// The layers, named as torchvision's.
  public let conv1: Conv2D, bn1: any Normalization, conv2: Conv2D, bn2: any Normalization
  /// The projection shortcut, when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int
  public let hasShortcut: Bool
  public let rezero: ReZeroAdd?

  /// A block from `inChannels` to `channels` with `stride` on the first conv; without `shortcut`, a
  /// plain block (no addition, no projection); with `rezero`, the branch is scaled by ReZero's alpha.
  public init(
    inChannels: Int, channels: Int, stride: Int, shortcut: Bool = true, rezero: Bool = false,
    normalized: Bool = true, workspace: ScratchBuffer
  ) {
    precondition(shortcut || !rezero, "ReZero needs a shortcut")
    conv1 = Conv2D(
      inChannels: inChannels, outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: !normalized,
      workspace: workspace)
    bn1 = normalization(channels: channels, relu: true, normalized: normalized)
    conv2 = Conv2D(
      inChannels: channels, outChannels: channels, kernel: 3, padding: 1, bias: !normalized, workspace: workspace)
    // With ReZero, the ReLU follows the scaled add.
    bn2 = normalization(channels: channels, relu: !rezero, normalized: normalized)
    downsample =
      shortcut
      ? Projection.ifNeeded(
        inChannels: inChannels, outChannels: channels, stride: stride, normalized: normalized, workspace: workspace)
      : nil
    outChannels = channels
    hasShortcut = shortcut
    self.rezero = rezero ? ReZeroAdd() : nil
  }

  public var lastNorm: any Normalization { bn2 }
  public var namedModules: [(name: String, module: any Module)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (downsample.map { [("downsample", $0)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let shortcut = hasShortcut ? downsample?.forward(x, training: training) ?? x : nil
    let h = bn1.forward(conv1.forward(x, training: training), training: training)
    if let rezero, let shortcut {
      return rezero.forward(
        branch: bn2.forward(conv2.forward(h, training: training), training: training), shortcut: shortcut)
    }
    return bn2.forward(conv2.forward(h, training: training), residual: shortcut, training: training)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    // Either way dy ends masked by the block's ReLU: the gradient of the sum, i.e. of the shortcut.
    let dh = rezero.map { bn2.backward($0.backward(dy)) } ?? bn2.backward(dy)
    let dx = conv1.backward(bn1.backward(conv2.backward(dh)))
    return addShortcutGradient(dy, downsample: downsample, into: dx)
  }

}

/// torchvision's `Bottleneck` (v1.5, expansion 4): conv1×1 → BN → ReLU → conv3×3(stride) → BN → ReLU →
/// conv1×1 (×4 channels) → BN, + shortcut, ReLU.
public final class Bottleneck: ResidualBlock {
  /// The channel expansion of the last 1×1 convolution.
  public static let expansion = 4
  /// The layers, named as torchvision's.
  public let conv1: Conv2D, bn1: any Normalization, conv2: Conv2D, bn2: any Normalization, conv3: Conv2D,
    bn3: any Normalization
  /// The projection shortcut, when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int
  public let hasShortcut: Bool
  public let rezero: ReZeroAdd?

  /// A block from `inChannels` to `channels · 4` with inner width `channels` and `stride` on the 3×3;
  /// without `shortcut`, a plain block (no addition, no projection); with `rezero`, the branch is scaled
  /// by ReZero's alpha.
  public init(
    inChannels: Int, channels: Int, stride: Int, shortcut: Bool = true, rezero: Bool = false,
    normalized: Bool = true, workspace: ScratchBuffer
  ) {
    precondition(shortcut || !rezero, "ReZero needs a shortcut")
    let out = channels * Self.expansion
    conv1 = Conv2D(inChannels: inChannels, outChannels: channels, kernel: 1, bias: !normalized, workspace: workspace)
    bn1 = normalization(channels: channels, relu: true, normalized: normalized)
    conv2 = Conv2D(
      inChannels: channels, outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: !normalized,
      workspace: workspace)
    bn2 = normalization(channels: channels, relu: true, normalized: normalized)
    conv3 = Conv2D(inChannels: channels, outChannels: out, kernel: 1, bias: !normalized, workspace: workspace)
    // With ReZero, the ReLU follows the scaled add.
    bn3 = normalization(channels: out, relu: !rezero, normalized: normalized)
    downsample =
      shortcut
      ? Projection.ifNeeded(
        inChannels: inChannels, outChannels: out, stride: stride, normalized: normalized, workspace: workspace)
      : nil
    outChannels = out
    hasShortcut = shortcut
    self.rezero = rezero ? ReZeroAdd() : nil
  }

  public var lastNorm: any Normalization { bn3 }
  public var namedModules: [(name: String, module: any Module)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)]
      + (downsample.map { [("downsample", $0)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let shortcut = hasShortcut ? downsample?.forward(x, training: training) ?? x : nil
    let h1 = bn1.forward(conv1.forward(x, training: training), training: training)
    let h2 = bn2.forward(conv2.forward(h1, training: training), training: training)
    if let rezero, let shortcut {
      return rezero.forward(
        branch: bn3.forward(conv3.forward(h2, training: training), training: training), shortcut: shortcut)
    }
    return bn3.forward(conv3.forward(h2, training: training), residual: shortcut, training: training)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dh = rezero.map { bn3.backward($0.backward(dy)) } ?? bn3.backward(dy)
    let dx = conv1.backward(bn1.backward(conv2.backward(bn2.backward(conv3.backward(dh)))))
    return addShortcutGradient(dy, downsample: downsample, into: dx)
  }

}
