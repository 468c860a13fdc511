import ResNetKernels
import Testing

@Suite("SGD's update in vectors over the threads")
struct SGDUpdateTests {
  /// PyTorch's update written out one element at a time.
  static func reference(
    _ w: inout [Float], _ grad: [Float], _ buffer: inout [Float]?, lr: Float, weightDecay: Float, momentum: Float,
    dampening: Float, nesterov: Bool, first: Bool
  ) {
    for i in w.indices {
      var g = grad[i] + weightDecay * w[i]
      if buffer != nil {
        buffer![i] = first ? g : momentum * buffer![i] + (1 - dampening) * g
        g = nesterov ? g + momentum * buffer![i] : buffer![i]
      }
      w[i] -= lr * g
    }
  }

  @Test(
    "is bitwise the update one element at a time, for 1 and 2 threads, with and without momentum",
    arguments: [(false, false, Float(0)), (true, false, 0), (true, true, 0), (true, false, 0.25)],
    [true, false])
  func matchesReference(_ setting: (momentum: Bool, nesterov: Bool, dampening: Float), first: Bool) {
    let count = 40_000 + 13  // parts of several threads' size, and a tail shorter than a vector
    var generator = SeededGenerator(seed: 5)
    let grad = (0..<count).map { _ in generator.nextNormal() }
    let start = (0..<count).map { _ in generator.nextNormal() }
    let startBuffer: [Float]? = setting.momentum ? (0..<count).map { _ in generator.nextNormal() } : nil
    var expected = start
    var expectedBuffer = startBuffer
    Self.reference(
      &expected, grad, &expectedBuffer, lr: 0.1, weightDecay: 5e-4, momentum: 0.9, dampening: setting.dampening,
      nesterov: setting.nesterov, first: first)
    for threads in [1, 2] {
      var w = start
      var buffer = startBuffer ?? []
      w.withUnsafeMutableBufferPointer { w in
        buffer.withUnsafeMutableBufferPointer { b in
          sgdUpdate(
            weights: w.baseAddress!, gradients: grad, buffer: setting.momentum ? b.baseAddress! : nil, count: count,
            learningRate: 0.1, weightDecay: 5e-4, momentum: 0.9, dampening: setting.dampening,
            nesterov: setting.nesterov, first: first, threads: threads, pool: oversubscribedPool)
        }
      }
      let sameWeights = bitwiseEqual(w, expected)
      let sameBuffer = !setting.momentum || bitwiseEqual(buffer, expectedBuffer!)
      #expect(sameWeights && sameBuffer, "\(setting), first \(first), \(threads) threads")
    }
    #expect(expected != start)
  }
}
