import ResNetKernels

/// A residual block: `y = relu(F(x) + shortcut(x))`, the shortcut being the identity or, when the
/// stride or channel count changes, a 1×1 projection conv + BatchNorm (torchvision's `downsample`).
public protocol ResidualBlock: Layer {
  /// Channels out of the block.
  var outChannels: Int { get }
  /// The BatchNorm whose output the shortcut is added to (zero its γ to start as the identity).
  var lastNorm: BatchNorm2D { get }
  /// The convolutions of the residual branch and the projection, in order, with names relative to the
  /// block (`"conv1"`, …, `"downsample.0"`).
  var namedConvolutions: [(name: String, conv: Conv2D)] { get }
}

/// The 1×1 projection shortcut: a strided 1×1 convolution and a BatchNorm (`downsample.0`, `.1`).
public final class Projection: Module {
  /// The 1×1 convolution.
  public let conv: Conv2D
  /// The BatchNorm after it.
  public let norm: BatchNorm2D

  /// A projection from `inChannels` to `outChannels` with `stride`.
  public init(inChannels: Int, outChannels: Int, stride: Int, workspace: ScratchBuffer) {
    conv = Conv2D(inChannels: inChannels, outChannels: outChannels, kernel: 1, stride: stride, workspace: workspace)
    norm = BatchNorm2D(channels: outChannels)
  }

  func forward(_ x: Tensor, training: Bool) -> Tensor {
    norm.forward(conv.forward(x, training: training), training: training)
  }

  func backward(_ dy: Tensor) -> Tensor { conv.backward(norm.backward(dy)) }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    conv.namedState(prefix: prefix + "0.") + norm.namedState(prefix: prefix + "1.")
  }
}

/// torchvision's `BasicBlock` (expansion 1): conv3×3(stride) → BN → ReLU → conv3×3 → BN, + shortcut, ReLU.
public final class BasicBlock: ResidualBlock {
  /// The layers, named as torchvision's.
  public let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D
  /// The projection shortcut, when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int

  /// A block from `inChannels` to `channels` with `stride` on the first conv.
  public init(inChannels: Int, channels: Int, stride: Int, workspace: ScratchBuffer) {
    conv1 = Conv2D(
      inChannels: inChannels, outChannels: channels, kernel: 3, stride: stride, padding: 1, workspace: workspace)
    bn1 = BatchNorm2D(channels: channels, relu: true)
    conv2 = Conv2D(inChannels: channels, outChannels: channels, kernel: 3, padding: 1, workspace: workspace)
    bn2 = BatchNorm2D(channels: channels, relu: true)
    downsample =
      stride != 1 || inChannels != channels
      ? Projection(inChannels: inChannels, outChannels: channels, stride: stride, workspace: workspace) : nil
    outChannels = channels
  }

  public var lastNorm: BatchNorm2D { bn2 }
  public var namedConvolutions: [(name: String, conv: Conv2D)] {
    [("conv1", conv1), ("conv2", conv2)] + (downsample.map { [("downsample.0", $0.conv)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let shortcut = downsample?.forward(x, training: training) ?? x
    let h = bn1.forward(conv1.forward(x, training: training), training: training)
    return bn2.forward(conv2.forward(h, training: training), residual: shortcut, training: training)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dh = bn2.backward(dy)  // dy is now masked: the gradient of the sum, i.e. of the shortcut
    let dx = conv1.backward(bn1.backward(conv2.backward(dh)))
    let ds = downsample?.backward(dy) ?? dy
    add(dx.pointer, ds.pointer, count: dx.count, into: dx.pointer)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
      + conv2.namedState(prefix: prefix + "conv2.") + bn2.namedState(prefix: prefix + "bn2.")
      + (downsample?.namedState(prefix: prefix + "downsample.") ?? [])
  }
}

/// torchvision's `Bottleneck` (v1.5, expansion 4): conv1×1 → BN → ReLU → conv3×3(stride) → BN → ReLU →
/// conv1×1 (×4 channels) → BN, + shortcut, ReLU.
public final class Bottleneck: ResidualBlock {
  /// The channel expansion of the last 1×1 convolution.
  public static let expansion = 4
  /// The layers, named as torchvision's.
  public let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D, conv3: Conv2D, bn3: BatchNorm2D
  /// The projection shortcut, when the shape changes.
  public let downsample: Projection?
  public let outChannels: Int

  /// A block from `inChannels` to `channels · 4` with inner width `channels` and `stride` on the 3×3.
  public init(inChannels: Int, channels: Int, stride: Int, workspace: ScratchBuffer) {
    let out = channels * Self.expansion
    conv1 = Conv2D(inChannels: inChannels, outChannels: channels, kernel: 1, workspace: workspace)
    bn1 = BatchNorm2D(channels: channels, relu: true)
    conv2 = Conv2D(
      inChannels: channels, outChannels: channels, kernel: 3, stride: stride, padding: 1, workspace: workspace)
    bn2 = BatchNorm2D(channels: channels, relu: true)
    conv3 = Conv2D(inChannels: channels, outChannels: out, kernel: 1, workspace: workspace)
    bn3 = BatchNorm2D(channels: out, relu: true)
    downsample =
      stride != 1 || inChannels != out
      ? Projection(inChannels: inChannels, outChannels: out, stride: stride, workspace: workspace) : nil
    outChannels = out
  }

  public var lastNorm: BatchNorm2D { bn3 }
  public var namedConvolutions: [(name: String, conv: Conv2D)] {
    [("conv1", conv1), ("conv2", conv2), ("conv3", conv3)] + (downsample.map { [("downsample.0", $0.conv)] } ?? [])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let shortcut = downsample?.forward(x, training: training) ?? x
    let h1 = bn1.forward(conv1.forward(x, training: training), training: training)
    let h2 = bn2.forward(conv2.forward(h1, training: training), training: training)
    return bn3.forward(conv3.forward(h2, training: training), residual: shortcut, training: training)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dh = bn3.backward(dy)
    let dx = conv1.backward(bn1.backward(conv2.backward(bn2.backward(conv3.backward(dh)))))
    let ds = downsample?.backward(dy) ?? dy
    add(dx.pointer, ds.pointer, count: dx.count, into: dx.pointer)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
      + conv2.namedState(prefix: prefix + "conv2.") + bn2.namedState(prefix: prefix + "bn2.")
      + conv3.namedState(prefix: prefix + "conv3.") + bn3.namedState(prefix: prefix + "bn3.")
      + (downsample?.namedState(prefix: prefix + "downsample.") ?? [])
  }
}
