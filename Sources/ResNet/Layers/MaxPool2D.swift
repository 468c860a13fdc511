import ResNetKernels

/// Max pooling with a square window, PyTorch's `MaxPool2d` (padding counts as −∞, floor mode).
public final class MaxPool2D: Layer {
  /// Window size, stride and padding.
  public let kernel: Int, stride: Int, padding: Int
  private var inputShape: [Int]?
  private var output: Tensor?  // N × C × Ho × Wo
  private var argmax: UnsafeMutablePointer<Int32>?  // N·C × Ho·Wo, winner index within its input plane
  private var argmaxCapacity = 0
  private var gradInput: Tensor?  // N × C × H × W

  /// A max pool.
  public init(kernel: Int, stride: Int, padding: Int = 0) {
    precondition(kernel > 0 && stride > 0 && padding >= 0 && 2 * padding < kernel)
    (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
  }

  deinit { argmax?.deallocate() }

  /// The window geometry over one plane of `height × width`, or nil when the input is too small.
  public func geometry(height: Int, width: Int) -> ConvGeometry? {
    ConvGeometry(channels: 1, height: height, width: width, kernel: kernel, stride: stride, padding: padding)
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    guard x.rank == 4, let g = geometry(height: x.shape[2], width: x.shape[3]) else {
      preconditionFailure("MaxPool2D: bad input shape \(x.shape)")
    }
    let planes = x.shape[0] * x.shape[1]
    let y = reuse(&output, shape: [x.shape[0], x.shape[1], g.outputHeight, g.outputWidth])
    if argmaxCapacity < y.count {
      argmax?.deallocate()
      argmax = .allocate(capacity: y.count)
      argmaxCapacity = y.count
    }
    maxPoolForward(input: x.pointer, planes: planes, geometry: g, output: y.pointer, argmax: argmax!)
    inputShape = training ? x.shape : nil
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let shape = inputShape, let y = output, dy.shape == y.shape,
      let g = geometry(height: shape[2], width: shape[3])
    else { preconditionFailure("MaxPool2D.backward: no matching training forward") }
    let dx = reuse(&gradInput, shape: shape)
    maxPoolBackward(
      gradOutput: dy.pointer, argmax: argmax!, planes: shape[0] * shape[1], geometry: g, gradInput: dx.pointer)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] { [] }
}
