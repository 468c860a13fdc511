import Foundation
import ResNetKernels

/// The mean softmax cross-entropy of a batch of logits against integer labels, with optional label
/// smoothing as PyTorch's `CrossEntropyLoss(label_smoothing: ε)`: the target is `(1 − ε)·onehot + ε/K`.
public final class SoftmaxCrossEntropy {
  /// The smoothing ε in [0, 1].
  public let labelSmoothing: Float
  private var probabilities: Tensor?  // N × K, softmax of the last logits
  private var labels: [Int] = []
  private var gradInput: Tensor?  // N × K

  /// A loss with the given label smoothing.
  public init(labelSmoothing: Float = 0) {
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1)
    self.labelSmoothing = labelSmoothing
  }

  /// The softmax probabilities of the last ``forward(logits:labels:)`` (`N × K`).
  public var lastProbabilities: Tensor? { probabilities }

  /// The mean loss over the batch; `labels` holds one class index in `0..<K` per row of `logits`.
  public func forward(logits: Tensor, labels: [Int]) -> Float {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count, "SoftmaxCrossEntropy: shapes")
    let (n, k) = (logits.shape[0], logits.shape[1])
    let p = reuse(&probabilities, shape: logits.shape)
    self.labels = labels
    let offTarget = Double(labelSmoothing) / Double(k)
    var total = 0.0
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
      total += rowLoss
    }
    return Float(total / Double(n))
  }

  /// The gradient of the mean loss with respect to the logits: `(p − target) / N`, or with
  /// `meanOver` the gradient of the loss summed over this batch and divided by that count (in
  /// data-parallel training, this process's share of the global batch's mean).
  public func backward(meanOver count: Int? = nil) -> Tensor {
    guard let p = probabilities else { preconditionFailure("SoftmaxCrossEntropy.backward before forward") }
    let (k, n) = (p.shape[1], count ?? p.shape[0])
    let dx = reuse(&gradInput, shape: p.shape)
    let offTarget = labelSmoothing / Float(k)
    for i in 0..<p.shape[0] {
      for j in 0..<k {
        let target = (j == labels[i] ? 1 - labelSmoothing : 0) + offTarget
        dx.pointer[i * k + j] = (p.pointer[i * k + j] - target) / Float(n)
      }
    }
    return dx
  }
}
