import Foundation
import ResNet

/// Joins images that arrive close together into one batch for the model: a batch starts with the
/// first image waiting and takes whatever else arrives within `maxDelay` of it, up to `maxBatch`. One
/// thread of its own runs the batches (the inference engine spreads each over the cores), so the
/// server's event loops and Swift's task pool never wait on the network. Each image gets its own row
/// of the batch's probabilities, which are the same bits as classifying it alone (the engine chooses
/// each layer's algorithm by its geometry, never by the batch size).
final class DynamicBatcher: @unchecked Sendable {
  private let classifier: Classifier
  private let maxBatch: Int
  private let maxDelay: Duration
  private let capacity: Int
  private let metrics: ServerMetrics.ModelMetrics
  private let condition = NSCondition()
  private var queue: [PendingRequest] = []  // guarded by condition

  init(model: String, classifier: Classifier, options: ServerOptions, metrics: ServerMetrics) {
    self.classifier = classifier
    maxBatch = options.maxBatch
    maxDelay = options.maxDelay
    capacity = options.queueCapacity
    self.metrics = metrics.model(model)
    let thread = Thread { [self] in run() }
    thread.name = "batcher \(model)"
    thread.start()
  }

  /// The probabilities of one prepared image (``ResNet/Classifier/inputCount`` values), or why there
  /// are none: a full queue, or no answer within `timeout`.
  func probabilities(of input: [Float], timeout: Duration) async -> Result<[Float], BatchFailure> {
    let request = PendingRequest(input: input)
    let accepted = condition.withLock {
      guard queue.count < capacity else { return false }
      queue.append(request)
      metrics.queueDepth.set(Double(queue.count))
      condition.signal()
      return true
    }
    guard accepted else { return .failure(.queueFull) }
    let timer = Task {
      try? await Task.sleep(for: timeout)
      if !Task.isCancelled { request.answer.give(.failure(.timedOut)) }
    }
    defer { timer.cancel() }
    return await request.answer.wait()
  }

  /// The batching loop, for the life of the process.
  private func run() {
    let size = classifier.inputCount
    while true {
      let batch: [PendingRequest] = condition.withLock {
        while queue.isEmpty { condition.wait() }
        // Wait for more until the first image has waited maxDelay or the batch is full.
        let (s, a) = ContinuousClock.now.duration(to: queue[0].arrival + maxDelay).components
        let until = Date(timeIntervalSinceNow: Double(s) + Double(a) * 1e-18)
        while queue.count < maxBatch, condition.wait(until: until) {}
        let taken = Array(queue.prefix(maxBatch))
        queue.removeFirst(taken.count)
        metrics.queueDepth.set(Double(queue.count))
        return taken.filter { !$0.answer.isAnswered }
      }
      guard !batch.isEmpty else { continue }
      let p = classifier.spec.preprocessing
      let input = Tensor(shape: [batch.count, p.channels, p.height, p.width])
      for (i, request) in batch.enumerated() {
        (input.pointer + i * size).update(from: request.input, count: size)
      }
      let probabilities = classifier.probabilities(input)
      let classes = classifier.spec.classes.count
      metrics.batchSize.record(Double(batch.count))
      for (i, request) in batch.enumerated() {
        request.answer.give(
          .success(Array(UnsafeBufferPointer(start: probabilities.pointer + i * classes, count: classes))))
      }
    }
  }
}
