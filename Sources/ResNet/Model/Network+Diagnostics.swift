import ResNetKernels

extension Network {
  /// The L2 norm of the loss gradient arriving at each block's input, first block first, after one
  /// training-mode forward and backward of `input` (`N × C × H × W`) with `labels` (plain
  /// cross-entropy). Parameter gradients accumulate as in a training step; running statistics move
  /// as in one. This is the "gradient highway" measurement: in a plain network the norms change by
  /// orders of magnitude from block to block, in a residual one far less.
  public func gradientNormsAtBlockInputs(input: Tensor, labels: [Int]) -> [Double] {
    let loss = SoftmaxCrossEntropy()
    _ = loss.forward(logits: forward(input, training: true), labels: labels)
    var norms = [Double](repeating: 0, count: blocks.count)
    let previous = blockInputGradientObserver
    blockInputGradientObserver = { index, gradient in norms[index] = gradient.l2Norm }
    defer { blockInputGradientObserver = previous }
    backward(loss.backward())
    return norms
  }
}

extension Tensor {
  /// √(Σ x²), summed in double precision in element order.
  public var l2Norm: Double {
    var sum = 0.0
    for i in 0..<count { sum += Double(pointer[i]) * Double(pointer[i]) }
    return sum.squareRoot()
  }
}
