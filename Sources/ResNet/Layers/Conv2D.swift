import ResNetKernels

/// A 2-D convolution (square kernel, stride and padding; optional bias) through im2col + SGEMM, with
/// the 1×1 stride-1 path that skips im2col. Weight `[out, in, k, k]` (OIHW) as PyTorch's `Conv2d`.
public final class Conv2D: Layer {
  /// Input and output channels, kernel size, stride and zero padding.
  public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
  /// The weight, `outChannels × inChannels × kernel × kernel`.
  public let weight: Parameter
  /// The bias (`outChannels`), if the convolution has one.
  public let bias: Parameter?
  /// The precision of the products, forward and backward (``Network/precision`` sets every layer's).
  public var precision = Precision.f32
  private let workspace: ScratchBuffer
  private var input: Tensor?  // N × C × H × W, saved for backward
  private var output: Tensor?  // N × O × Ho × Wo
  private var gradInput: Tensor?  // N × C × H × W

  /// A convolution with zero weights (``Network/init(configuration:seed:initialization:)`` fills them). `workspace` holds the im2col
  /// columns and may be shared by layers that run one after another.
  public init(
    inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
    workspace: ScratchBuffer = ScratchBuffer()
  ) {
    precondition(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0 && padding >= 0)
    (self.inChannels, self.outChannels, self.kernel, self.stride, self.padding) =
      (inChannels, outChannels, kernel, stride, padding)
    weight = Parameter(Tensor(shape: [outChannels, inChannels, kernel, kernel]))
    self.bias = bias ? Parameter(Tensor(shape: [outChannels])) : nil
    self.workspace = workspace
  }

  /// The window geometry for an input of `height × width`, or nil when the input is too small.
  public func geometry(height: Int, width: Int) -> ConvGeometry? {
    ConvGeometry(channels: inChannels, height: height, width: width, kernel: kernel, stride: stride, padding: padding)
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let g = checkedGeometry(x)
    let y = reuse(&output, shape: [x.shape[0], outChannels, g.outputHeight, g.outputWidth])
    convolutionForward(
      input: x.pointer, geometry: g, batch: x.shape[0], weight: weight.value.pointer, outputChannels: outChannels,
      bias: bias.map { UnsafePointer($0.value.pointer) }, output: y.pointer, workspace: workspace,
      precision: precision)
    input = training ? x : nil
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    backpropagate(dy, toInput: true)!
  }

  /// The parameters' gradients of a backward pass (added to, as ``backward(_:)`` adds them) without the
  /// gradient with respect to the input: for a first layer, whose input is the data. The same bits as
  /// ``backward(_:)``'s.
  public func backwardParameters(_ dy: Tensor) {
    _ = backpropagate(dy, toInput: false)
  }

  /// The backward pass from `dy`; returns the gradient with respect to the input (`N × C × H × W`), or
  /// nil without computing it when not `toInput`.
  private func backpropagate(_ dy: Tensor, toInput: Bool) -> Tensor? {
    guard let x = input else { preconditionFailure("Conv2D.backward without a training-mode forward") }
    let g = checkedGeometry(x)
    precondition(dy.shape == [x.shape[0], outChannels, g.outputHeight, g.outputWidth], "Conv2D: gradient shape")
    let dx = toInput ? reuse(&gradInput, shape: x.shape) : nil
    convolutionBackward(
      input: x.pointer, geometry: g, batch: x.shape[0], weight: weight.value.pointer, outputChannels: outChannels,
      gradOutput: dy.pointer, gradWeight: weight.gradient.pointer, gradBias: bias?.gradient.pointer,
      gradInput: dx?.pointer, workspace: workspace, precision: precision)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    [(prefix + "weight", .parameter(weight))] + (bias.map { [(prefix + "bias", .parameter($0))] } ?? [])
  }

  private func checkedGeometry(_ x: Tensor) -> ConvGeometry {
    guard x.rank == 4, x.shape[1] == inChannels, let g = geometry(height: x.shape[2], width: x.shape[3]) else {
      preconditionFailure("Conv2D(\(inChannels)→\(outChannels), k\(kernel)): bad input shape \(x.shape)")
    }
    return g
  }
}
