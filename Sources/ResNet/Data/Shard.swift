/// Which samples of each global batch this process takes in data-parallel training.
public struct Shard: Sendable, Hashable {
  /// This process's index and the number of processes.
  public let index: Int, count: Int

  /// Shard `index` of `count`.
  public init(index: Int, count: Int) {
    precondition(count >= 1 && (0..<count).contains(index))
    (self.index, self.count) = (index, count)
  }

  /// This shard's part of `batch`: contiguous, the parts' sizes differing by at most one, in rank
  /// order (so the shards of a batch, joined, are the batch).
  public func part<C: Collection>(of batch: C) -> C.SubSequence where C.Index == Int {
    let n = batch.count
    let start = batch.startIndex
    return batch[(start + index * n / count)..<(start + (index + 1) * n / count)]
  }
}
