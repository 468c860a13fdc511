import ResNetKernels

/// The pre-activation basic block of He et al. 2016 ("Identity Mappings in Deep Residual Networks"):
/// `a = relu(bn1(x))`, `y = conv2(relu(bn2(conv1(a)))) + s`, with `s = x`, or `downsample.0(a)` (the
/// 1×1 projection conv alone) when the shape changes. Nothing follows the add, so the shortcut path is
/// a pure identity from block to block. Without a shortcut, `y = conv2(relu(bn2(conv1(a))))`; with
/// ReZero, `y = s + alpha·conv2(…)`.
public final class PreActBasicBlock: ResidualBlock {
  /// The layers; `bn1` normalizes the block's input, `bn2` the first conv's output.
  public let bn1: any Normalization, conv1: Conv2D, bn2: any Normalization, conv2: Conv2D
  /// The projection shortcut (the 1×1 conv alone, on `relu(bn1(x))`), when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int
  public let hasShortcut: Bool
  public let rezero: ReZeroAdd?
  private let add: PreActAdd

  /// A block from `inChannels` to `channels` with `stride` on the first conv; without `shortcut`, a
  /// plain block; with `rezero`, the branch is scaled by ReZero's alpha; with `normalized` false, the
  /// BatchNorms keep only their ReLUs and every conv has a bias.
  public init(
    inChannels: Int, channels: Int, stride: Int, shortcut: Bool = true, rezero: Bool = false,
    normalized: Bool = true, workspace: ScratchBuffer
  ) {
    precondition(shortcut || !rezero, "ReZero needs a shortcut")
    bn1 = normalization(channels: inChannels, relu: true, normalized: normalized)
    conv1 = Conv2D(
      inChannels: inChannels, outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: !normalized,
      workspace: workspace)
    bn2 = normalization(channels: channels, relu: true, normalized: normalized)
    conv2 = Conv2D(
      inChannels: channels, outChannels: channels, kernel: 3, padding: 1, bias: !normalized, workspace: workspace)
    downsample =
      shortcut
      ? Projection.ifNeeded(
        inChannels: inChannels, outChannels: channels, stride: stride, normalized: false, bias: !normalized,
        workspace: workspace)
      : nil
    outChannels = channels
    hasShortcut = shortcut
    self.rezero = rezero ? ReZeroAdd(relu: false) : nil
    add = PreActAdd(hasShortcut: shortcut, rezero: self.rezero)
  }

  public var lastNorm: any Normalization { bn2 }
  public var namedModules: [(name: String, module: any Module)] {
    [("bn1", bn1), ("conv1", conv1), ("bn2", bn2), ("conv2", conv2)] + (downsample.map { [("downsample", $0)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let a = bn1.forward(x, training: training)
    let shortcut = hasShortcut ? downsample?.forward(a, training: training) ?? x : nil
    let h = bn2.forward(conv1.forward(a, training: training), training: training)
    return add.forward(branch: conv2.forward(h, training: training), shortcut: shortcut)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let da = conv1.backward(bn2.backward(conv2.backward(add.backward(dy))))
    return add.backwardThroughShortcut(dy, gradPreActivated: da, downsample: downsample, norm: bn1)
  }
}

/// The pre-activation bottleneck (He et al. 2016, with the stride on the 3×3 as torchvision's v1.5):
/// `a = relu(bn1(x))`, `y = conv3(relu(bn3(conv2(relu(bn2(conv1(a))))))) + s`, `s` as in
/// ``PreActBasicBlock``; conv3 expands the channels 4×.
public final class PreActBottleneck: ResidualBlock {
  /// The layers; `bn1` normalizes the block's input, `bn2` and `bn3` the first two convs' outputs.
  public let bn1: any Normalization, conv1: Conv2D, bn2: any Normalization, conv2: Conv2D, bn3: any Normalization,
    conv3: Conv2D
  /// The projection shortcut (the 1×1 conv alone, on `relu(bn1(x))`), when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int
  public let hasShortcut: Bool
  public let rezero: ReZeroAdd?
  private let add: PreActAdd

  /// A block from `inChannels` to `channels · 4` with inner width `channels` and `stride` on the 3×3;
  /// the other arguments as ``PreActBasicBlock``'s.
  public init(
    inChannels: Int, channels: Int, stride: Int, shortcut: Bool = true, rezero: Bool = false,
    normalized: Bool = true, workspace: ScratchBuffer
  ) {
    precondition(shortcut || !rezero, "ReZero needs a shortcut")
    let out = channels * Bottleneck.expansion
    bn1 = normalization(channels: inChannels, relu: true, normalized: normalized)
    conv1 = Conv2D(inChannels: inChannels, outChannels: channels, kernel: 1, bias: !normalized, workspace: workspace)
    bn2 = normalization(channels: channels, relu: true, normalized: normalized)
    conv2 = Conv2D(
      inChannels: channels, outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: !normalized,
      workspace: workspace)
    bn3 = normalization(channels: channels, relu: true, normalized: normalized)
    conv3 = Conv2D(inChannels: channels, outChannels: out, kernel: 1, bias: !normalized, workspace: workspace)
    downsample =
      shortcut
      ? Projection.ifNeeded(
        inChannels: inChannels, outChannels: out, stride: stride, normalized: false, bias: !normalized,
        workspace: workspace)
      : nil
    outChannels = out
    hasShortcut = shortcut
    self.rezero = rezero ? ReZeroAdd(relu: false) : nil
    add = PreActAdd(hasShortcut: shortcut, rezero: self.rezero)
  }

  public var lastNorm: any Normalization { bn3 }
  public var namedModules: [(name: String, module: any Module)] {
    [("bn1", bn1), ("conv1", conv1), ("bn2", bn2), ("conv2", conv2), ("bn3", bn3), ("conv3", conv3)]
      + (downsample.map { [("downsample", $0)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let a = bn1.forward(x, training: training)
    let shortcut = hasShortcut ? downsample?.forward(a, training: training) ?? x : nil
    let h1 = bn2.forward(conv1.forward(a, training: training), training: training)
    let h2 = bn3.forward(conv2.forward(h1, training: training), training: training)
    return add.forward(branch: conv3.forward(h2, training: training), shortcut: shortcut)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dh2 = bn3.backward(conv3.backward(add.backward(dy)))
    let da = conv1.backward(bn2.backward(conv2.backward(dh2)))
    return add.backwardThroughShortcut(dy, gradPreActivated: da, downsample: downsample, norm: bn1)
  }
}

/// The end of a pre-activation block: the branch plus the shortcut (scaled by ReZero's alpha, if
/// any), no ReLU; and the backward pass that joins the shortcut's gradient to the branch's.
final class PreActAdd {
  private let hasShortcut: Bool
  private let rezero: ReZeroAdd?
  private var output: Tensor?  // N × C × H × W, branch + shortcut

  init(hasShortcut: Bool, rezero: ReZeroAdd?) { (self.hasShortcut, self.rezero) = (hasShortcut, rezero) }

  /// `branch + shortcut`, `shortcut + alpha·branch` with ReZero, or `branch` for a plain block.
  func forward(branch: Tensor, shortcut: Tensor?) -> Tensor {
    guard let shortcut else { return branch }
    if let rezero { return rezero.forward(branch: branch, shortcut: shortcut) }
    precondition(branch.shape == shortcut.shape, "pre-activation block: the branch and the shortcut differ in shape")
    let y = reuse(&output, shape: branch.shape)
    ResNetKernels.add(branch.pointer, shortcut.pointer, count: y.count, into: y.pointer)
    return y
  }

  /// The branch's output gradient: `dy`, or `alpha·dy` with ReZero (adding alpha's gradient).
  func backward(_ dy: Tensor) -> Tensor { rezero?.backward(dy) ?? dy }

  /// The block's input gradient from `da`, the branch's gradient with respect to `a = relu(bn1(x))`:
  /// the projection's gradient (of `dy`) joins `da` before `bn1`; the identity's joins after it.
  /// `da` is overwritten.
  func backwardThroughShortcut(
    _ dy: Tensor, gradPreActivated da: Tensor, downsample: Projection?, norm: any Normalization
  )
    -> Tensor
  {
    guard hasShortcut else { return norm.backward(da) }
    if let downsample {
      let ds = downsample.backward(dy)
      ResNetKernels.add(da.pointer, ds.pointer, count: da.count, into: da.pointer)
      return norm.backward(da)
    }
    let dx = norm.backward(da)
    ResNetKernels.add(dx.pointer, dy.pointer, count: dx.count, into: dx.pointer)
    return dx
  }
}
