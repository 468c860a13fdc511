import ResNet
import Synchronization
import Testing

@Suite("A training step: no allocation after the first, the same bits for any thread count")
struct TrainingStepTests {
  static let config = NetworkConfiguration(
    stem: .imagenet, block: .bottleneck, layers: [1, 2], widths: [4, 6], inChannels: 3, numClasses: 5,
    inputHeight: 21, inputWidth: 19)

  /// Runs `steps` SGD steps from seed 3 and returns the final weights in state order.
  static func train(
    steps: Int, precision: Precision = .f32, counter: AllocationCounter? = nil, after: Int = 0
  ) throws -> (weights: [Float], allocations: Int) {
    let net = try Network(configuration: config, seed: 3)
    net.precision = precision
    let x = Tensor(shape: [4, 3, 21, 19], randomNormalSeed: 4)
    let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
    let sgd = SGD(parameters: net.namedParameters().map(\.parameter), momentum: 0.9, weightDecay: 1e-4, nesterov: true)
    var allocations = 0
    for step in 0..<steps {
      let counter = AllocationCounter()
      TensorStorage.$allocationCounter.withValue(counter) {
        net.zeroGradients()
        _ = loss.forward(logits: net.forward(x, training: true), labels: [0, 4, 2, 2])
        net.backward(loss.backward())
        sgd.step(learningRate: 0.05)
      }
      if step >= after { allocations += counter.count.load(ordering: .relaxed) }
    }
    var weights: [Float] = []
    for (_, entry) in net.namedState() {
      switch entry {
      case .parameter(let p): weights += p.value.scalars
      case .buffer(let t): weights += t.scalars
      case .batchCount(let bn): weights.append(Float(bn.batchesTracked))
      }
    }
    return (weights, allocations)
  }

  @Test("steps after the first allocate no tensor storage; the first does")
  func noAllocation() throws {
    #expect(try Self.train(steps: 1).allocations > 0)
    #expect(try Self.train(steps: 3, after: 1).allocations == 0)
  }

  @Test("weights after 3 steps are bitwise the same with 1 and 2 threads", arguments: Precision.allCases)
  func threadInvariance(_ precision: Precision) throws {
    ThreadPool.shared.limitThreads(to: 1)
    let one = try Self.train(steps: 3, precision: precision).weights
    ThreadPool.shared.limitThreads(to: ThreadPool.shared.capacity)
    let all = try Self.train(steps: 3, precision: precision).weights
    #expect(one.count == all.count)
    #expect(zip(one, all).allSatisfy { $0.bitPattern == $1.bitPattern })
    #expect(one != (try Self.train(steps: 2, precision: precision).weights))  // the steps do change the weights
  }

  @Test(
    "backwardParameters gives backward's parameter gradients, bit for bit, without the input's",
    arguments: Precision.allCases)
  func parametersOnly(_ precision: Precision) throws {
    // A 3×3 stride-1 stem on 3 channels: its input gradient would take the implicit path.
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [1, 1], widths: [8, 16], inChannels: 3, numClasses: 5, inputHeight: 10,
      inputWidth: 10)
    func gradients(_ backward: (Network, Tensor) -> Void) throws -> [(String, [Float])] {
      let net = try Network(configuration: config, seed: 5)
      net.precision = precision
      let x = Tensor(shape: [4, 3, 10, 10], randomNormalSeed: 6)
      let loss = SoftmaxCrossEntropy()
      net.zeroGradients()
      _ = loss.forward(logits: net.forward(x, training: true), labels: [0, 4, 2, 1])
      backward(net, loss.backward())
      return net.namedParameters().map { ($0.name, $0.parameter.gradient.scalars) }
    }
    let full = try gradients { net, g in net.backward(g) }
    let parameters = try gradients { net, g in net.backwardParameters(g) }
    #expect(full.map(\.0) == parameters.map(\.0))
    for ((name, a), (_, b)) in zip(full, parameters) {
      #expect(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "\(name)")
    }
    // The stem's weight gradient is there (not left at zero).
    let stem = try #require(parameters.first { $0.0 == "conv1.weight" })
    #expect(stem.1.contains { $0 != 0 })
  }

  @Test("one bf16 step's gradients: within bf16's error of float32's, and not the same")
  func bf16NearFloat32() throws {
    // Without a max pool (its choices flip under any perturbation) and with batch 8.
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [1, 1], widths: [16, 32], inChannels: 3, numClasses: 5, inputHeight: 12,
      inputWidth: 12)
    func gradients(_ precision: Precision) throws -> [(String, [Float])] {
      let net = try Network(configuration: config, seed: 3)
      net.precision = precision
      let x = Tensor(shape: [8, 3, 12, 12], randomNormalSeed: 4)
      let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
      net.zeroGradients()
      _ = loss.forward(logits: net.forward(x, training: true), labels: [0, 4, 2, 2, 1, 3, 0, 1])
      net.backward(loss.backward())
      return net.namedParameters().map { ($0.name, $0.parameter.gradient.scalars) }
    }
    // ‖bf16 − f32‖ / ‖f32‖ per parameter. A freshly initialized network's gradients are small differences
    // of large terms (BatchNorm's backward removes most of what reaches it), so they move far more than
    // the operands: seen 0.6% at fc up to 14% at the first stage, where scaling the input by 1 ± 0.2% in
    // float32 alone moves them by 1–10%. A wrong operand or a lost term moves them by ~100%.
    for ((name, f32), (_, bf16)) in zip(try gradients(.f32), try gradients(.bf16)) {
      let norm = f32.map { Double($0 * $0) }.reduce(0, +).squareRoot()
      let error = zip(f32, bf16).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +).squareRoot() / norm
      #expect(error > 0 && error < (name.hasPrefix("fc.") ? 0.02 : 0.3), "\(name): relative difference \(error)")
    }
  }

}
