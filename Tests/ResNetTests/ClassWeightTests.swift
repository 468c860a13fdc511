import Foundation
import ResNet
import Testing

/// Class-weighted cross-entropy (`train --class-weights balanced`): the loss against its definition,
/// its gradient against finite differences, and scikit-learn's "balanced" weights.
@Suite struct ClassWeightTests {
  static let labels = [2, 0, 1, 2, 2, 0]
  static let weights: [Float] = [0.5, 3, 1.25]

  /// `Σ w[yᵢ]·(−Σⱼ targetᵢⱼ·log softmax(xᵢ)ⱼ) / Σ w[yᵢ]`, in Double, written out.
  static func reference(_ logits: [[Double]], smoothing: Double) -> Double {
    var (total, weightSum) = (0.0, 0.0)
    for (row, label) in zip(logits, labels) {
      let logSum = log(row.map { exp($0) }.reduce(0, +))
      var loss = 0.0
      for (j, x) in row.enumerated() {
        let target = (j == label ? 1 - smoothing : 0) + smoothing / Double(row.count)
        loss -= target * (x - logSum)
      }
      total += Double(weights[label]) * loss
      weightSum += Double(weights[label])
    }
    return total / weightSum
  }

  @Test(arguments: [Float(0), 0.1])
  func weightedLossAndGradient(smoothing: Float) {
    let logits = Tensor(shape: [6, 3], randomNormalSeed: 21)
    let rows = (0..<6).map { i in (0..<3).map { Double(logits.pointer[i * 3 + $0]) } }
    let loss = SoftmaxCrossEntropy(labelSmoothing: smoothing, classWeights: Self.weights)
    let value = loss.forward(logits: logits, labels: Self.labels)
    #expect(abs(Double(value) - Self.reference(rows, smoothing: Double(smoothing))) < 1e-6)
    #expect(loss.lastWeightSum == 1.25 * 3 + 0.5 * 2 + 3)
    let gradient = loss.backward().copy()
    for index in 0..<logits.count {
      func at(_ delta: Double) -> Double {
        var shifted = rows
        shifted[index / 3][index % 3] += delta
        return Self.reference(shifted, smoothing: Double(smoothing))
      }
      let numeric = (at(1e-4) - at(-1e-4)) / 2e-4
      #expect(abs(numeric - Double(gradient.pointer[index])) < 1e-5, "logit \(index)")
    }
    // A data-parallel share: the batch's weighted sum over a larger (global) weight total.
    let share = loss.backward(meanOver: 2 * loss.lastWeightSum)
    for i in 0..<gradient.count { #expect(share.pointer[i] == gradient.pointer[i] / 2) }  // exact: a power of 2
  }

  @Test func unweightedIsThePlainMean() {
    let logits = Tensor(shape: [6, 3], randomNormalSeed: 22)
    let plain = SoftmaxCrossEntropy()
    let ones = SoftmaxCrossEntropy(classWeights: [1, 1, 1])
    #expect(plain.forward(logits: logits, labels: Self.labels) == ones.forward(logits: logits, labels: Self.labels))
    #expect(plain.lastWeightSum == 6 && plain.backward().scalars == ones.backward().scalars)
  }

  @Test func balancedWeightsAreScikitLearns() {
    // n / (K · n_c): 270 images, 3 classes of 200, 20 and 50; a class without images weighs nothing.
    let weights = Trainer.balancedWeights([200, 20, 50])
    for (w, expected) in zip(weights, [0.45, 4.5, 1.8]) { #expect(abs(Double(w) - expected) < 1e-6) }
    #expect(Trainer.balancedWeights([10, 0, 30]) == [Float(40.0 / 30), 0, Float(40.0 / 90)])
  }
}
