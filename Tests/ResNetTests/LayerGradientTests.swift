import Foundation
import ResNet
import Testing

@Suite("Layers: backward against finite differences")
struct LayerGradientTests {
  @Test("Conv2D with bias, stride 2, padding 1, 3×3", arguments: [(3, 2, 1), (1, 1, 0), (1, 2, 0), (5, 1, 2)])
  func conv(kernel: Int, stride: Int, padding: Int) {
    let conv = Conv2D(inChannels: 3, outChannels: 4, kernel: kernel, stride: stride, padding: padding, bias: true)
    randomizeParameters(conv, seed: 1)
    let x = randomTensor([2, 3, 7, 6], seed: 2)
    GradientCheck().run(
      input: x, parameters: conv.namedParameters(), forward: { conv.forward($0, training: true) },
      backward: { conv.backward($0) })
  }

  @Test("BatchNorm2D in training mode, alone, with ReLU, and with residual + ReLU")
  func batchNorm() {
    for (relu, residual) in [(false, false), (true, false), (true, true)] {
      let bn = BatchNorm2D(channels: 3, relu: relu)
      randomizeParameters(bn, seed: 3)
      let x = randomTensor([4, 3, 3, 5], seed: 4, scale: 2)
      let r = residual ? randomTensor([4, 3, 3, 5], seed: 5) : nil
      GradientCheck(step: 1e-3).run(
        input: x, parameters: bn.namedParameters(),
        forward: { bn.forward($0, residual: r, training: true).copy() }, backward: { bn.backward($0) })
      if let r {
        // The residual's gradient is the masked output gradient: check it along a direction.
        let dy = randomTensor([4, 3, 3, 5], seed: 6)
        let y = bn.forward(x, residual: r, training: true).copy()
        let masked = dy.copy()
        _ = bn.backward(masked)
        for i in 0..<dy.count { #expect(masked.pointer[i] == (y.pointer[i] > 0 ? dy.pointer[i] : 0)) }
      }
    }
  }

  @Test("ResidualReLU (networks without BatchNorm): the add and the ReLU, their gradients")
  func residualReLU() {
    for (relu, residual) in [(false, false), (true, false), (false, true), (true, true)] {
      let layer = ResidualReLU(channels: 3, relu: relu)
      let x = randomTensor([2, 3, 4, 5], seed: 11)
      let r = residual ? randomTensor([2, 3, 4, 5], seed: 12) : nil
      let y = layer.forward(x, residual: r, training: true).copy()
      for i in 0..<x.count {
        let sum = x.pointer[i] + (r?.pointer[i] ?? 0)
        #expect(y.pointer[i] == (relu ? max(sum, 0) : sum))
      }
      GradientCheck(step: 1e-3).run(
        input: x, parameters: [], forward: { layer.forward($0, residual: r, training: true).copy() },
        backward: { layer.backward($0) })
      #expect(layer.namedState(prefix: "bn1.").isEmpty)
    }
  }

  @Test("MaxPool2D 3×3 stride 2 padding 1, and 2×2 stride 2")
  func maxPool() {
    for (k, s, p) in [(3, 2, 1), (2, 2, 0)] {
      let pool = MaxPool2D(kernel: k, stride: s, padding: p)
      let x = randomTensor([2, 3, 7, 8], seed: 8)
      GradientCheck(step: 1e-3).run(
        input: x, parameters: [], forward: { pool.forward($0, training: true) }, backward: { pool.backward($0) })
    }
  }

  @Test("global average pool, Linear, ReLU")
  func smallLayers() {
    let gap = GlobalAveragePool()
    GradientCheck().run(
      input: randomTensor([3, 4, 5, 2], seed: 9), parameters: [], forward: { gap.forward($0, training: true) },
      backward: { gap.backward($0) })
    let fc = Linear(inFeatures: 7, outFeatures: 5)
    randomizeParameters(fc, seed: 10)
    GradientCheck().run(
      input: randomTensor([3, 7], seed: 11), parameters: fc.namedParameters(),
      forward: { fc.forward($0, training: true) }, backward: { fc.backward($0) })
    let relu = ReLU()
    GradientCheck(step: 1e-3).run(
      input: randomTensor([2, 3, 4, 4], seed: 12), parameters: [], forward: { relu.forward($0, training: true) },
      backward: { relu.backward($0) })
  }

  @Test("softmax cross-entropy with and without label smoothing", arguments: [Float(0), 0.1])
  func crossEntropy(smoothing: Float) {
    let loss = SoftmaxCrossEntropy(labelSmoothing: smoothing)
    let logits = randomTensor([4, 6], seed: 13, scale: 3)
    let labels = [0, 5, 2, 2]
    _ = loss.forward(logits: logits, labels: labels)
    let grad = loss.backward().copy()
    let h: Float = 1e-2
    for i in 0..<logits.count {
      let plus = logits.copy()
      plus.pointer[i] += h
      let minus = logits.copy()
      minus.pointer[i] -= h
      let numeric = (loss.forward(logits: plus, labels: labels) - loss.forward(logits: minus, labels: labels)) / (2 * h)
      #expect(abs(numeric - grad.pointer[i]) <= 2e-3, "logit \(i): \(numeric) vs \(grad.pointer[i])")
    }
    // Against the closed form: −Σ q log softmax.
    _ = loss.forward(logits: logits, labels: labels)
    var expected = 0.0
    for n in 0..<4 {
      let row = (0..<6).map { Double(logits[n, $0]) }
      let logSum = log(row.map { exp($0) }.reduce(0, +))
      for j in 0..<6 {
        let q = (j == labels[n] ? 1 - Double(smoothing) : 0) + Double(smoothing) / 6
        expected -= q * (row[j] - logSum)
      }
    }
    #expect(abs(Double(loss.forward(logits: logits, labels: labels)) - expected / 4) < 1e-5)
  }
}
