import ResNetKernels

/// What follows a convolution in the stem and the blocks: a ``BatchNorm2D`` with the residual add and
/// the ReLU fused into its passes, or — in networks without normalization (`"norm": "none"`) — a
/// ``ResidualReLU``, the add and the ReLU alone.
public protocol Normalization: Layer {
  /// The number of channels.
  var channels: Int { get }
  /// Whether a ReLU follows (fused into the layer's passes).
  var relu: Bool { get }
  /// `[relu](norm(x) + residual)`; `residual` has `x`'s shape. The backward pass's gradient is then
  /// also the gradient with respect to the residual (with a ReLU, `dy` is masked in place).
  func forward(_ x: Tensor, residual: Tensor?, training: Bool) -> Tensor
}

/// The layer after a convolution of `channels` channels: a BatchNorm when `normalized`, else the add
/// and ReLU alone.
func normalization(channels: Int, relu: Bool = false, normalized: Bool) -> any Normalization {
  normalized ? BatchNorm2D(channels: channels, relu: relu) : ResidualReLU(channels: channels, relu: relu)
}

/// `y = [relu](x [+ residual])`: the residual add and ReLU that a ``BatchNorm2D`` fuses, without the
/// normalization, for networks without BatchNorm. It has no state.
public final class ResidualReLU: Normalization {
  public let channels: Int
  public let relu: Bool
  private var output: Tensor?  // N × C × H × W, kept for the ReLU's backward pass
  private var gradInput: Tensor?  // N × C × H × W

  /// The add (and, with `relu`, the ReLU) over `channels` channels.
  public init(channels: Int, relu: Bool = false) {
    precondition(channels > 0)
    (self.channels, self.relu) = (channels, relu)
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor { forward(x, residual: nil, training: training) }

  public func forward(_ x: Tensor, residual: Tensor?, training: Bool) -> Tensor {
    precondition(x.rank == 4 && x.shape[1] == channels, "ResidualReLU(\(channels)): bad input shape \(x.shape)")
    precondition(residual == nil || residual!.shape == x.shape, "ResidualReLU: residual shape")
    let y = reuse(&output, shape: x.shape)
    switch (residual.map { UnsafePointer($0.pointer) }, relu) {
    case (let r?, true):  // relu(x + r): ReZero's kernel with alpha = 1 (1·x is x exactly)
      scaledResidualReluForward(shortcut: r, branch: x.pointer, alpha: 1, count: x.count, output: y.pointer)
    case (let r?, false): add(x.pointer, r, count: x.count, into: y.pointer)
    case (nil, true): reluForward(input: x.pointer, count: x.count, output: y.pointer)
    case (nil, false): y.pointer.update(from: x.pointer, count: x.count)
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("ResidualReLU.backward without a forward") }
    precondition(dy.shape == y.shape, "ResidualReLU: gradient shape \(dy.shape) for output \(y.shape)")
    let dx = reuse(&gradInput, shape: dy.shape)
    if relu { reluBackward(output: y.pointer, gradOutput: dy.pointer, count: dy.count, gradInput: dy.pointer) }
    dx.pointer.update(from: dy.pointer, count: dy.count)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] { [] }
}
