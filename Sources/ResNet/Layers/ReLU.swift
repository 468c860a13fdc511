import ResNetKernels

/// `y = max(x, 0)`, elementwise. (The networks fuse their ReLUs into ``BatchNorm2D``; this layer is
/// for custom compositions.)
public final class ReLU: Layer {
  private var output: Tensor?  // input's shape; its sign is the backward mask
  private var gradInput: Tensor?
  private var trained = false

  /// A ReLU.
  public init() {}

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    let y = reuse(&output, shape: x.shape)
    reluForward(input: x.pointer, count: x.count, output: y.pointer)
    trained = training
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard trained, let y = output, dy.shape == y.shape else {
      preconditionFailure("ReLU.backward: no matching forward")
    }
    let dx = reuse(&gradInput, shape: y.shape)
    reluBackward(output: y.pointer, gradOutput: dy.pointer, count: y.count, gradInput: dx.pointer)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] { [] }
}
