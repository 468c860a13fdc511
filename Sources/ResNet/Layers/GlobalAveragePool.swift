import ResNetKernels

/// The mean over each channel's plane: `N × C × H × W` to `N × C` (PyTorch's
/// `AdaptiveAvgPool2d(1)` followed by `flatten(1)`).
public final class GlobalAveragePool: Layer {
  private var inputShape: [Int]?
  private var output: Tensor?  // N × C
  private var gradInput: Tensor?  // N × C × H × W

  /// A global average pool.
  public init() {}

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    precondition(x.rank == 4, "GlobalAveragePool: bad input shape \(x.shape)")
    let y = reuse(&output, shape: [x.shape[0], x.shape[1]])
    globalAveragePoolForward(input: x.pointer, planes: y.count, plane: x.shape[2] * x.shape[3], output: y.pointer)
    inputShape = training ? x.shape : nil
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let shape = inputShape, dy.shape == [shape[0], shape[1]] else {
      preconditionFailure("GlobalAveragePool.backward: no matching training forward")
    }
    let dx = reuse(&gradInput, shape: shape)
    globalAveragePoolBackward(
      gradOutput: dy.pointer, planes: dy.count, plane: shape[2] * shape[3], gradInput: dx.pointer)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] { [] }
}
