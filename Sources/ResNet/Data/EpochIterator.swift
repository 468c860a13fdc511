import Foundation

/// One epoch of a `DataLoader`: `next()` returns the batches in order while worker threads prepare
/// the following ones. Dropping the iterator early stops the workers.
public final class EpochIterator {
  private let state: EpochState

  init(loader: DataLoader, epoch: Int) {
    let order = loader.order(epoch: epoch)
    let count = loader.batchesPerEpoch
    let batches = (0..<count).map { b in
      let batch = order[b * loader.batchSize..<min((b + 1) * loader.batchSize, order.count)]
      return loader.shard.map { $0.part(of: batch) } ?? batch
    }
    state = EpochState(batches: batches, prefetch: loader.prefetch)
    for _ in 0..<min(loader.workers, max(count, 1)) {
      let state = self.state
      let thread = Thread {
        while let b = state.claim() {
          let result = Result { try loader.makeBatch(batches[b], epoch: epoch) }
          state.deliver(b, result)
        }
      }
      thread.name = "resnet.loader"
      thread.start()
    }
  }

  deinit { state.cancel() }

  /// The next batch, or nil at the end of the epoch. Throws the error of an unreadable file when the
  /// loader is strict (the epoch then ends).
  public func next() throws -> Batch? {
    while let result = state.take() {
      if let batch = try result.get() { return batch }
    }
    return nil
  }
}

/// What the consumer and the workers of one epoch share, under one condition lock.
final class EpochState: @unchecked Sendable {
  private let condition = NSCondition()
  private let batchCount: Int
  private let prefetch: Int
  private var nextToClaim = 0
  private var nextToTake = 0
  private var ready: [Int: Result<Batch?, any Error>] = [:]
  private var cancelled = false

  init(batches: [ArraySlice<Int>], prefetch: Int) {
    batchCount = batches.count
    self.prefetch = prefetch
  }

  /// The next batch number for a worker, waiting while `prefetch` batches are ahead of the consumer;
  /// nil when there is nothing left to do.
  func claim() -> Int? {
    condition.lock()
    defer { condition.unlock() }
    while !cancelled && nextToClaim < batchCount && nextToClaim >= nextToTake + prefetch {
      condition.wait()
    }
    guard !cancelled && nextToClaim < batchCount else { return nil }
    nextToClaim += 1
    return nextToClaim - 1
  }

  func deliver(_ b: Int, _ result: Result<Batch?, any Error>) {
    condition.lock()
    ready[b] = result
    condition.broadcast()
    condition.unlock()
  }

  /// The next batch's result in order, waiting for it; nil after the last.
  func take() -> Result<Batch?, any Error>? {
    condition.lock()
    defer { condition.unlock() }
    guard !cancelled && nextToTake < batchCount else { return nil }
    while ready[nextToTake] == nil { condition.wait() }
    let result = ready.removeValue(forKey: nextToTake)!
    nextToTake += 1
    if case .failure = result { cancelled = true }
    condition.broadcast()
    return result
  }

  func cancel() {
    condition.lock()
    cancelled = true
    condition.broadcast()
    condition.unlock()
  }
}
