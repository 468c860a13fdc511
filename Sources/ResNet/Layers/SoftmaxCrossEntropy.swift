import Foundation
import ResNetKernels

/// The mean softmax cross-entropy of a batch of logits against integer labels, with optional label
/// smoothing as PyTorch's `CrossEntropyLoss(label_smoothing: ε)`: the target is `(1 − ε)·onehot + ε/K`.
/// With class weights, each image's loss counts `w[label]` times and the mean is over the weights,
/// `Σ w[yᵢ]·lossᵢ / Σ w[yᵢ]` (PyTorch's `CrossEntropyLoss(weight: w)` without smoothing).
public final class SoftmaxCrossEntropy {
  /// The smoothing ε in [0, 1].
  public let labelSmoothing: Float
  /// One weight per class (nil: all 1).
  public let classWeights: [Float]?
  /// The sum of the last batch's image weights (its image count without class weights).
  public private(set) var lastWeightSum = 0.0
  private var probabilities: Tensor?  // N × K, softmax of the last logits
  private var labels: [Int] = []
  private var gradInput: Tensor?  // N × K

  /// A loss with the given label smoothing and class weights.
  public init(labelSmoothing: Float = 0, classWeights: [Float]? = nil) {
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1)
    precondition(classWeights?.allSatisfy { $0 >= 0 && $0.isFinite } ?? true, "class weights must be finite and ≥ 0")
    self.labelSmoothing = labelSmoothing
    self.classWeights = classWeights
  }

  /// The softmax probabilities of the last ``forward(logits:labels:)`` (`N × K`).
  public var lastProbabilities: Tensor? { probabilities }

  /// The mean loss over the batch (weighted by the class weights); `labels` holds one class index in
  /// `0..<K` per row of `logits`.
  public func forward(logits: Tensor, labels: [Int]) -> Float {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count, "SoftmaxCrossEntropy: shapes")
    precondition(classWeights == nil || classWeights!.count == logits.shape[1], "SoftmaxCrossEntropy: weights")
    let (n, k) = (logits.shape[0], logits.shape[1])
    let p = reuse(&probabilities, shape: logits.shape)
    self.labels = labels
    let offTarget = Double(labelSmoothing) / Double(k)
    var total = 0.0
    var weightSum = 0.0
    for i in 0..<n {
      precondition(labels[i] >= 0 && labels[i] < k, "SoftmaxCrossEntropy: label \(labels[i]) outside 0..<\(k)")
      let row = logits.pointer + i * k
      var largest = -Float.infinity
      for j in 0..<k { largest = max(largest, row[j]) }
      var sum = 0.0
      for j in 0..<k { sum += exp(Double(row[j] - largest)) }
      let logSum = Double(largest) + log(sum)
      var rowLoss = 0.0
      for j in 0..<k {
        let logP = Double(row[j]) - logSum
        p.pointer[i * k + j] = Float(exp(logP))
        let target = (j == labels[i] ? 1 - Double(labelSmoothing) : 0) + offTarget
        if target != 0 { rowLoss -= target * logP }
      }
      if let classWeights {
        total += Double(classWeights[labels[i]]) * rowLoss
        weightSum += Double(classWeights[labels[i]])
      } else {
        total += rowLoss
      }
    }
    if classWeights == nil { weightSum = Double(n) }
    lastWeightSum = weightSum
    return Float(total / weightSum)
  }

  /// The gradient of the mean loss with respect to the logits: `w[yᵢ]·(p − target) / Σ w` (without
  /// class weights, `(p − target) / N`), or with `meanOver` the gradient of the weighted loss summed
  /// over this batch and divided by that total (in data-parallel training, this process's share of the
  /// global batch's mean: the global batch's weight sum, or image count).
  public func backward(meanOver total: Double? = nil) -> Tensor {
    guard let p = probabilities else { preconditionFailure("SoftmaxCrossEntropy.backward before forward") }
    let (k, n) = (p.shape[1], Float(total ?? lastWeightSum))
    let dx = reuse(&gradInput, shape: p.shape)
    let offTarget = labelSmoothing / Float(k)
    for i in 0..<p.shape[0] {
      let weight = classWeights?[labels[i]]
      for j in 0..<k {
        let target = (j == labels[i] ? 1 - labelSmoothing : 0) + offTarget
        let g = p.pointer[i * k + j] - target
        dx.pointer[i * k + j] = (weight.map { $0 * g } ?? g) / n
      }
    }
    return dx
  }
}
