#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The row operations on logits that training, evaluation and classification share.
enum Logits {
  /// The index of the largest of `count` values (the first, on a tie).
  static func argmax(_ row: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for j in 1..<count where row[j] > row[best] { best = j }
    return best
  }

  /// The softmax of `count` logits into `probabilities` (shifted by the largest logit, so no
  /// exponential overflows).
  static func softmax(_ row: UnsafePointer<Float>, count: Int, into probabilities: UnsafeMutablePointer<Float>) {
    let maximum = row[argmax(row, count: count)]
    var sum: Float = 0
    for j in 0..<count {
      probabilities[j] = expf(row[j] - maximum)
      sum += probabilities[j]
    }
    for j in 0..<count { probabilities[j] /= sum }
  }
}
