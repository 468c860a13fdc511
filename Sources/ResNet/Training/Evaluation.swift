/// How a model does on a split: mean cross-entropy, top-1 and top-5 accuracy, and the confusion
/// matrix.
public struct Evaluation: Sendable {
  /// Mean cross-entropy (no label smoothing) over the images.
  public var loss: Double
  /// Fraction of images whose most probable class is right.
  public var accuracy: Double
  /// Fraction whose right class is among the 5 most probable (nil with 10 classes or fewer, where
  /// top-5 says little).
  public var top5: Double?
  /// counts[truth][prediction].
  public var confusion: [[Int]]
  /// Images evaluated.
  public var count: Int

  /// Accuracy of each class (nil for a class with no images).
  public var perClassAccuracy: [Double?] {
    confusion.enumerated().map { i, row in
      let n = row.reduce(0, +)
      return n == 0 ? nil : Double(row[i]) / Double(n)
    }
  }

  /// Runs `network` in inference mode over every batch of `loader`'s epoch 0, with the blocks at
  /// `deletedBlocks` deleted (see ``Network/forward(_:deletingBlocks:)``); with `averagingMirror`, each
  /// image's prediction and loss come from the mean of its and its mirror image's probabilities (see
  /// ``Network/probabilities(_:averagingMirror:deletingBlocks:)``). With `collective`, each process
  /// evaluates its shard (`loader` is sharded) and every process gets the whole split's result.
  public static func run(
    _ network: Network, loader: DataLoader, collective: (any Collective)? = nil,
    deletingBlocks deletedBlocks: Set<Int> = [], averagingMirror: Bool = false
  ) throws -> Evaluation {
    try run(
      classes: network.configuration.numClasses, loader: loader, collective: collective,
      probabilities: averagingMirror
    ) { images in
      averagingMirror
        ? network.probabilities(images, averagingMirror: true, deletingBlocks: deletedBlocks)
        : network.forward(images, deletingBlocks: deletedBlocks)
    }
  }

  /// Runs the inference engine over every batch of `loader`'s epoch 0, as
  /// ``run(_:loader:collective:deletingBlocks:averagingMirror:)`` runs a network.
  public static func run(
    _ engine: InferenceModel, loader: DataLoader, collective: (any Collective)? = nil, averagingMirror: Bool = false
  ) throws -> Evaluation {
    try run(classes: engine.classes, loader: loader, collective: collective, probabilities: averagingMirror) {
      averagingMirror ? engine.probabilities($0, averagingMirror: true) : engine.logits($0)
    }
  }

  /// The evaluation of the scores `score` gives each batch ([batch, classes]): logits, or
  /// probabilities when `probabilities`.
  private static func run(
    classes: Int, loader: DataLoader, collective: (any Collective)?, probabilities: Bool,
    score: (Tensor) -> Tensor
  ) throws -> Evaluation {
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var lossSum = 0.0
    var top5Hits = 0
    var count = 0
    let iterator = loader.epoch(0)
    while let batch = try iterator.next() {
      guard batch.count > 0 else { continue }  // a shard's empty part of a short last batch
      // [batch, classes]: logits, or the averaged probabilities (same order, so the same argmax).
      let scores = score(batch.images)
      for i in 0..<batch.count {
        let row = scores.pointer + i * classes
        let truth = Int(batch.labels[i])
        let best = Logits.argmax(row, count: classes)
        if probabilities {
          lossSum -= log(max(Double(row[truth]), Double(Float.leastNonzeroMagnitude)))
        } else {
          let maximum = row[best]
          var sum = 0.0
          for j in 0..<classes { sum += Double(expf(row[j] - maximum)) }
          lossSum += (Double(maximum) + log(sum)) - Double(row[truth])
        }
        confusion[truth][best] += 1
        let higher = (0..<classes).filter { row[$0] > row[truth] }.count
        if higher < 5 { top5Hits += 1 }
      }
      count += batch.count
    }
    if let collective {  // the shards' sums, added in rank order
      var sums = [lossSum, Double(top5Hits), Double(count)] + confusion.joined().map(Double.init)
      sums.withUnsafeMutableBufferPointer { collective.sumInRankOrder($0) }
      (lossSum, top5Hits, count) = (sums[0], Int(sums[1]), Int(sums[2]))
      for t in 0..<classes { for p in 0..<classes { confusion[t][p] = Int(sums[3 + t * classes + p]) } }
    }
    let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
    return Evaluation(
      loss: count > 0 ? lossSum / Double(count) : .nan,
      accuracy: count > 0 ? Double(correct) / Double(count) : .nan,
      top5: classes > 10 && count > 0 ? Double(top5Hits) / Double(count) : nil,
      confusion: confusion, count: count)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
