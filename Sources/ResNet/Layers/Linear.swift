import ResNetKernels

/// A fully connected layer, PyTorch's `Linear`: `y = x · Wᵀ + b`, weight `[out, in]`, bias `[out]`.
public final class Linear: Layer {
  /// Input and output features.
  public let inFeatures: Int, outFeatures: Int
  /// The weight (`outFeatures × inFeatures`) and bias (`outFeatures`).
  public let weight: Parameter, bias: Parameter
  private var input: Tensor?  // N × in, saved for backward
  private var output: Tensor?  // N × out
  private var gradInput: Tensor?  // N × in

  /// A linear layer with zero weights (``Network/init(configuration:seed:initialization:)`` fills them).
  public init(inFeatures: Int, outFeatures: Int) {
    precondition(inFeatures > 0 && outFeatures > 0)
    (self.inFeatures, self.outFeatures) = (inFeatures, outFeatures)
    weight = Parameter(Tensor(shape: [outFeatures, inFeatures]))
    bias = Parameter(Tensor(shape: [outFeatures]))
  }

  public func forward(_ x: Tensor, training: Bool) -> Tensor {
    precondition(x.rank == 2 && x.shape[1] == inFeatures, "Linear(\(inFeatures)→\(outFeatures)): bad input \(x.shape)")
    let n = x.shape[0]
    let y = reuse(&output, shape: [n, outFeatures])
    for i in 0..<n { (y.pointer + i * outFeatures).update(from: bias.value.pointer, count: outFeatures) }
    sgemm(
      .none, .transposed, m: n, n: outFeatures, k: inFeatures, a: x.pointer, lda: inFeatures, b: weight.value.pointer,
      ldb: inFeatures, beta: 1, c: y.pointer, ldc: outFeatures)
    input = training ? x : nil
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input, dy.shape == [x.shape[0], outFeatures] else {
      preconditionFailure("Linear.backward: no matching training forward")
    }
    let n = x.shape[0]
    sgemm(
      .transposed, .none, m: outFeatures, n: inFeatures, k: n, a: dy.pointer, lda: outFeatures, b: x.pointer,
      ldb: inFeatures, beta: 1, c: weight.gradient.pointer, ldc: inFeatures)
    for i in 0..<n {
      for o in 0..<outFeatures { bias.gradient.pointer[o] += dy.pointer[i * outFeatures + o] }
    }
    let dx = reuse(&gradInput, shape: x.shape)
    sgemm(
      .none, .none, m: n, n: inFeatures, k: outFeatures, a: dy.pointer, lda: outFeatures, b: weight.value.pointer,
      ldb: inFeatures, c: dx.pointer, ldc: inFeatures)
    return dx
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    [(prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias))]
  }
}
