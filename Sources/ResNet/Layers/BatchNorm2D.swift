import ResNetKernels

/// Batch normalization over the channels of NCHW activations, PyTorch's `BatchNorm2d` (eps 1e-5,
/// momentum 0.1, running variance from the unbiased batch variance), optionally followed in the same
/// pass by a residual add and a ReLU: `y = [relu](bn(x) [+ residual])`.
public final class BatchNorm2D: Normalization {
  /// The number of channels.
  public let channels: Int
  /// Whether a ReLU follows (fused into this layer's passes).
  public let relu: Bool
  /// Added to the variance before the square root, in training and inference alike.
  public let epsilon: Float
  /// Weight of the new batch statistic in the running averages.
  public let momentum: Float
  /// γ (`weight`) and β (`bias`), one per channel.
  public let weight: Parameter, bias: Parameter
  /// Running mean and variance, used in inference.
  public let runningMean: Tensor, runningVar: Tensor
  /// Training-mode forward passes seen (PyTorch's `num_batches_tracked`).
  public var batchesTracked: Int64 = 0
  /// For synchronized BatchNorm in data-parallel training: sums per-channel statistics over every
  /// process, so training-mode passes use the global batch's statistics (nil: this batch's alone).
  public var synchronizer: StatisticsSum?
  private var reduced = 0  // values per channel behind the last training forward's statistics
  private let savedMean: Tensor  // C
  private let savedInvStd: Tensor  // C
  private var input: Tensor?  // N × C × H × W, saved for backward
  private var output: Tensor?  // N × C × H × W
  private var gradInput: Tensor?  // N × C × H × W

  /// A BatchNorm with γ = 1, β = 0, running mean 0 and running variance 1.
  public init(
    channels: Int, relu: Bool = false, epsilon: Float = 1e-5, momentum: Float = 0.1
  ) {
    precondition(channels > 0)
    (self.channels, self.relu, self.epsilon, self.momentum) = (channels, relu, epsilon, momentum)
    weight = Parameter(Tensor(shape: [channels], repeating: 1))
    bias = Parameter(Tensor(shape: [channels]))
    runningMean = Tensor(shape: [channels])
    runningVar = Tensor(shape: [channels], repeating: 1)
    savedMean = Tensor(shape: [channels])
    savedInvStd = Tensor(shape: [channels])
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor { forward(x, residual: nil, training: training) }

  /// `[relu](bn(x) + residual)`; `residual` has `x`'s shape.
  public func forward(_ x: Tensor, residual: Tensor?, training: Bool) -> Tensor {
    precondition(x.rank == 4 && x.shape[1] == channels, "BatchNorm2D(\(channels)): bad input shape \(x.shape)")
    precondition(residual == nil || residual!.shape == x.shape, "BatchNorm2D: residual shape")
    let y = reuse(&output, shape: x.shape)
    let s = BatchNormShape(batch: x.shape[0], channels: channels, plane: x.shape[2] * x.shape[3])
    let r = residual.map { UnsafePointer($0.pointer) }
    if training {
      reduced = batchNormForwardTraining(
        input: x.pointer, shape: s, gamma: weight.value.pointer, beta: bias.value.pointer, epsilon: epsilon,
        momentum: momentum, runningMean: runningMean.pointer, runningVar: runningVar.pointer,
        savedMean: savedMean.pointer, savedInvStd: savedInvStd.pointer, residual: r, relu: relu, output: y.pointer,
        synchronize: synchronizer)
      batchesTracked += 1
      input = x
    } else {
      batchNormForwardInference(
        input: x.pointer, shape: s, gamma: weight.value.pointer, beta: bias.value.pointer, epsilon: epsilon,
        runningMean: runningMean.pointer, runningVar: runningVar.pointer, residual: r, relu: relu, output: y.pointer)
      input = nil
    }
    return y
  }

  /// The gradient with respect to `x`. With a ReLU, `dy` is masked in place, so that afterwards it
  /// is also the gradient with respect to the residual.
  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input, let y = output else { preconditionFailure("BatchNorm2D.backward without a training forward") }
    precondition(dy.shape == x.shape, "BatchNorm2D: gradient shape \(dy.shape) for input \(x.shape)")
    let dx = reuse(&gradInput, shape: x.shape)
    batchNormBackward(
      input: x.pointer, output: y.pointer, gradOutput: dy.pointer,
      shape: BatchNormShape(batch: x.shape[0], channels: channels, plane: x.shape[2] * x.shape[3]),
      gamma: weight.value.pointer, savedMean: savedMean.pointer, savedInvStd: savedInvStd.pointer, relu: relu,
      gradInput: dx.pointer, gradGamma: weight.gradient.pointer, gradBeta: bias.gradient.pointer,
      synchronize: synchronizer, reduced: reduced)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    [
      (prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias)),
      (prefix + "running_mean", .buffer(runningMean)), (prefix + "running_var", .buffer(runningVar)),
      (prefix + "num_batches_tracked", .batchCount(self)),
    ]
  }
}
