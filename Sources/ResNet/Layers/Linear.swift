import ResNetKernels

/// A fully connected layer, PyTorch's `Linear`: `y = x · Wᵀ + b`, weight `[out, in]`, bias `[out]`.
public final class Linear: Layer {
  /// Input and output features.
  public let inFeatures: Int, outFeatures: Int
  /// The weight (`outFeatures × inFeatures`) and bias (`outFeatures`).
  public let weight: Parameter, bias: Parameter
  /// The precision of the products: in `.bf16` their operands (input, weight, output gradient) are
  /// rounded to bf16 and summed in float32, as PyTorch's autocast does.
  public var precision = Precision.f32
  /// The forward's operands, saved for backward: the input (N × in) and the weight, or in bf16 their
  /// rounded copies.
  private var operands: (input: Tensor, weight: Tensor)?
  private var output: Tensor?  // N × out
  private var gradInput: Tensor?  // N × in
  /// bf16: the input, the weight and the output gradient rounded (kept between steps, as the others).
  private var roundedInput: Tensor?, roundedWeight: Tensor?, roundedGradient: Tensor?

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
    let (a, w) = (operand(x, &roundedInput), operand(weight.value, &roundedWeight))
    withExtendedLifetime((a, w)) {
      sgemm(
        .none, .transposed, m: n, n: outFeatures, k: inFeatures, a: a.pointer, lda: inFeatures, b: w.pointer,
        ldb: inFeatures, beta: 1, c: y.pointer, ldc: outFeatures)
    }
    operands = training ? (a, w) : nil
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let (a, w) = operands, dy.shape == [a.shape[0], outFeatures] else {
      preconditionFailure("Linear.backward: no matching training forward")
    }
    let n = a.shape[0]
    let g = operand(dy, &roundedGradient)
    let dx = reuse(&gradInput, shape: a.shape)
    withExtendedLifetime((g, a, w)) {
      sgemm(
        .transposed, .none, m: outFeatures, n: inFeatures, k: n, a: g.pointer, lda: outFeatures, b: a.pointer,
        ldb: inFeatures, beta: 1, c: weight.gradient.pointer, ldc: inFeatures)
      sgemm(
        .none, .none, m: n, n: inFeatures, k: outFeatures, a: g.pointer, lda: outFeatures, b: w.pointer,
        ldb: inFeatures, c: dx.pointer, ldc: inFeatures)
    }
    for i in 0..<n {
      for o in 0..<outFeatures { bias.gradient.pointer[o] += dy.pointer[i * outFeatures + o] }
    }
    return dx
  }

  /// A product's operand: `values` itself in float32; in bf16 `values` rounded to bf16 into `buffer`.
  private func operand(_ values: Tensor, _ buffer: inout Tensor?) -> Tensor {
    guard precision == .bf16 else { return values }
    let copy = reuse(&buffer, shape: values.shape)
    roundToBF16(values.pointer, count: values.count, into: copy.pointer)
    return copy
  }

  public func namedState(prefix: String) -> [(name: String, tensor: StateTensor)] {
    [(prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias))]
  }
}
