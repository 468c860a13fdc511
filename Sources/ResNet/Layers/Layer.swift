import ResNetKernels

/// A learnable tensor and the gradient the backward passes add into.
public final class Parameter: @unchecked Sendable {
  /// The current value.
  public let value: Tensor
  /// The accumulated gradient, same shape as ``value``; backward passes add to it, the optimizer
  /// step zeroes it.
  public let gradient: Tensor

  /// A parameter holding `value`, with a zero gradient.
  public init(_ value: Tensor) {
    self.value = value
    self.gradient = Tensor(shape: value.shape)
  }

  /// Sets the gradient to zero.
  public func zeroGradient() { gradient.pointer.update(repeating: 0, count: gradient.count) }
}

/// One entry of a module's state, as torchvision's `state_dict` holds it.
public enum StateTensor {
  /// A learnable parameter (conv/linear weights and biases, BatchNorm γ and β).
  case parameter(Parameter)
  /// A float buffer (BatchNorm running mean and variance).
  case buffer(Tensor)
  /// A BatchNorm's `num_batches_tracked` counter (int64 in PyTorch).
  case batchCount(BatchNorm2D)
}

/// A part of a network whose state has torchvision's names.
public protocol Module: AnyObject {
  /// The state entries under `prefix` (e.g. `"layer1.0."`), in torchvision's `state_dict` order.
  func namedState(prefix: String) -> [(name: String, tensor: StateTensor)]
}

/// A layer with a forward pass and the backward pass that inverts it.
///
/// `forward` keeps what `backward` needs; `backward` takes the gradient of the loss with respect to
/// the last forward's output, adds parameter gradients into each ``Parameter/gradient`` and returns the
/// gradient with respect to the input. Output and gradient buffers belong to the layer and are reused
/// from call to call (valid until its next forward or backward), so steady training allocates nothing.
public protocol Layer: Module {
  /// The output for `input`; `training` selects batch statistics (BatchNorm) and saving for backward.
  func forward(_ input: Tensor, training: Bool) -> Tensor
  /// The gradient with respect to the last training-mode forward's input.
  func backward(_ gradOutput: Tensor) -> Tensor
}

extension Module {
  /// The learnable parameters under `prefix`, with their names.
  public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
    namedState(prefix: prefix).compactMap { entry in
      if case .parameter(let p) = entry.tensor { return (entry.name, p) }
      return nil
    }
  }
}

/// A tensor of `shape`, reusing `buffer` when it already has that shape.
func reuse(_ buffer: inout Tensor?, shape: [Int]) -> Tensor {
  if let existing = buffer, existing.shape == shape { return existing }
  let fresh = Tensor(shape: shape)
  buffer = fresh
  return fresh
}
