import ResNet
import Testing

/// Finite-difference checks of a layer's backward pass against its forward pass, with the loss
/// `L = Σ y ⊙ r` for a fixed random `r`: directional derivatives along random directions for the input
/// and every parameter, plus single input coordinates.
struct GradientCheck {
  var step: Float = 1e-2
  var tolerance: Double = 2e-2
  /// Absolute slack: float32 rounding of the loss divided by the step.
  var slack: Double = 1e-3
  /// Also check single input coordinates (their gradients are small, so only with a large step).
  var coordinates = true

  /// For stacks with many ReLUs: a step small enough that few pre-activations cross zero (a crossing
  /// bends the finite difference), hence more float32 noise and directional checks only.
  static let network = GradientCheck(step: 2e-4, tolerance: 2e-2, slack: 1e-2, coordinates: false)

  /// Checks `backward` against `forward` at `input` for `parameters`.
  func run(
    input: Tensor, parameters: [(name: String, parameter: Parameter)], seed: UInt64 = 7,
    forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let y = forward(input)
    let r = Tensor(shape: y.shape, randomNormalSeed: seed)
    func loss(_ x: Tensor) -> Double {
      let out = forward(x)
      var sum = 0.0
      for i in 0..<out.count { sum += Double(out.pointer[i]) * Double(r.pointer[i]) }
      return sum
    }
    for (_, p) in parameters { p.zeroGradient() }
    _ = forward(input)
    let dx = backward(r.copy()).copy()

    // The input, along a random direction and at a few coordinates.
    let v = Tensor(shape: input.shape, randomNormalSeed: seed + 1)
    expectClose(
      numeric: directional(input, v, loss), analytic: dot(dx, v), "input direction", sourceLocation: sourceLocation)
    for index in stride(from: 0, to: coordinates ? input.count : 0, by: max(1, input.count / 5)) {
      let e = Tensor(shape: input.shape)
      e.pointer[index] = 1
      expectClose(
        numeric: directional(input, e, loss), analytic: Double(dx.pointer[index]), "input[\(index)]",
        sourceLocation: sourceLocation)
    }
    // Each parameter along a random direction.
    for (n, (name, p)) in parameters.enumerated() {
      let grad = p.gradient.copy()
      let direction = Tensor(shape: p.value.shape, randomNormalSeed: seed + 100 + UInt64(n))
      let saved = p.value.copy()
      func at(_ sign: Float) -> Double {
        for i in 0..<p.value.count { p.value.pointer[i] = saved.pointer[i] + sign * step * direction.pointer[i] }
        return loss(input)
      }
      let numeric = (at(1) - at(-1)) / Double(2 * step)
      p.value.pointer.update(from: saved.pointer, count: saved.count)
      expectClose(numeric: numeric, analytic: dot(grad, direction), name, sourceLocation: sourceLocation)
    }
  }

  private func directional(_ x: Tensor, _ v: Tensor, _ loss: (Tensor) -> Double) -> Double {
    let plus = x.copy()
    let minus = x.copy()
    for i in 0..<x.count {
      plus.pointer[i] += step * v.pointer[i]
      minus.pointer[i] -= step * v.pointer[i]
    }
    return (loss(plus) - loss(minus)) / Double(2 * step)
  }

  private func expectClose(
    numeric: Double, analytic: Double, _ what: String, sourceLocation: SourceLocation
  ) {
    let error = abs(numeric - analytic)
    let allowed = tolerance * max(abs(numeric), abs(analytic)) + slack
    #expect(
      error <= allowed, "\(what): finite difference \(numeric), backward \(analytic)", sourceLocation: sourceLocation)
  }
}

func dot(_ a: Tensor, _ b: Tensor) -> Double {
  var sum = 0.0
  for i in 0..<a.count { sum += Double(a.pointer[i]) * Double(b.pointer[i]) }
  return sum
}

/// A tensor of normal values scaled by `scale`.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
  let t = Tensor(shape: shape, randomNormalSeed: seed)
  for i in 0..<t.count { t.pointer[i] *= scale }
  return t
}

/// Fills every parameter of `module` with small random values (BatchNorm γ around 1).
func randomizeParameters(_ module: some Module, seed: UInt64) {
  for (n, (name, p)) in module.namedParameters().enumerated() {
    var generator = SeededGenerator(seed: seed, stream: UInt64(n))
    let fanIn = max(1, p.value.count / max(1, p.value.shape.first ?? 1))
    let scale = name.hasSuffix("weight") && p.value.rank == 1 ? 0.2 : 1 / Float(fanIn).squareRoot()
    let center: Float = name.hasSuffix("weight") && p.value.rank == 1 ? 1 : 0
    for i in 0..<p.value.count { p.value.pointer[i] = center + scale * generator.nextNormal() }
  }
}
