import ResNetKernels

/// Stochastic gradient descent with momentum, Nesterov and weight decay, PyTorch's `torch.optim.SGD`:
/// `g = grad + wd·p`; `buf = g` on the first step, else `buf = momentum·buf + (1 − dampening)·g`;
/// `p −= lr · (nesterov ? g + momentum·buf : buf)`.
public final class SGD {
  /// The parameters updated, in order.
  public let parameters: [Parameter]
  /// Momentum factor, dampening, L2 weight decay, and whether to use Nesterov momentum.
  public var momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
  /// Each parameter's learning rate as a multiple of the step's (nil: all 1); a parameter whose
  /// scale is 0 is frozen: no step, no weight decay, its momentum buffer left at zero.
  public let rateScales: [Float]?
  /// Momentum buffers, one per parameter (empty before the first step).
  public private(set) var buffers: [Tensor] = []

  /// An optimizer over `parameters`, each at `rateScales` times the learning rate (nil: all at it).
  public init(
    parameters: [Parameter], momentum: Float = 0.9, dampening: Float = 0, weightDecay: Float = 0,
    nesterov: Bool = false,
    rateScales: [Float]? = nil
  ) {
    precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum and no dampening")
    precondition(rateScales == nil || rateScales!.count == parameters.count, "SGD: one rate scale per parameter")
    self.parameters = parameters
    self.rateScales = rateScales
    (self.momentum, self.dampening, self.weightDecay, self.nesterov) = (momentum, dampening, weightDecay, nesterov)
  }

  /// Replaces the momentum buffers (when resuming training); one tensor per parameter, same shapes.
  public func restoreBuffers(_ tensors: [Tensor]) {
    precondition(tensors.count == parameters.count)
    precondition(zip(tensors, parameters).allSatisfy { $0.shape == $1.value.shape })
    buffers = tensors
  }

  /// Updates every parameter from its gradient with learning rate `lr` (gradients are left as they are).
  public func step(learningRate lr: Float) {
    let first = buffers.isEmpty && momentum != 0
    if first { buffers = parameters.map { Tensor(shape: $0.value.shape) } }
    for (index, p) in parameters.enumerated() {
      let scale = rateScales?[index] ?? 1
      if scale == 0 { continue }
      let lr = lr * scale
      sgdUpdate(
        weights: p.value.pointer, gradients: p.gradient.pointer, buffer: momentum != 0 ? buffers[index].pointer : nil,
        count: p.value.count, learningRate: lr, weightDecay: weightDecay, momentum: momentum, dampening: dampening,
        nesterov: nesterov, first: first)
    }
  }
}
