import ResNet
import Synchronization
import Testing

@Suite("A training step: no allocation after the first, the same bits for any thread count")
struct TrainingStepTests {
  static let config = NetworkConfiguration(
    stem: .imagenet, block: .bottleneck, layers: [1, 2], widths: [4, 6], inChannels: 3, numClasses: 5,
    inputHeight: 21, inputWidth: 19)

  /// Runs `steps` SGD steps from seed 3 and returns the final weights in state order.
  static func train(steps: Int, counter: AllocationCounter? = nil, after: Int = 0) throws -> (
    weights: [Float], allocations: Int
  ) {
    let net = try Network(configuration: config, seed: 3)
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

  @Test("weights after 3 steps are bitwise the same with 1 and 2 threads")
  func threadInvariance() throws {
    ThreadPool.shared.limitThreads(to: 1)
    let one = try Self.train(steps: 3).weights
    ThreadPool.shared.limitThreads(to: ThreadPool.shared.capacity)
    let all = try Self.train(steps: 3).weights
    #expect(one.count == all.count)
    #expect(zip(one, all).allSatisfy { $0.bitPattern == $1.bitPattern })
    #expect(one != (try Self.train(steps: 2).weights))  // the steps do change the weights
  }
}
