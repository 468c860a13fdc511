/// One process's part in data-parallel training: every process starts from process 0's state, each
/// step's totals and gradients are summed over the processes in rank order (so every process takes the
/// same step), BatchNorm statistics follow process 0's (or the global batch's, with
/// `options.syncBatchNorm`), and after every epoch a digest of each process's state is checked against
/// process 0's before anything is written.
final class DataParallelHook: TrainingHook {
  /// The processes, each collective operation timed.
  let collective: TimedCollective
  /// Every parameter's gradient, joined, for the sum over the processes.
  private var gradientBuffer: [Float] = []
  /// Seconds per step spent in collective operations during the last epoch's steps.
  private var communicationSecondsPerStep = 0.0

  init(_ collective: TimedCollective, network: Network, syncBatchNorm: Bool) {
    self.collective = collective
    if syncBatchNorm {
      for case .batchCount(let norm) in network.namedState().map(\.tensor) {
        norm.synchronizer = { collective.sumInRankOrder($0) }
      }
    }
  }

  func runWillStart(_ trainer: Trainer) throws {
    guard trainer.options.batchSize >= collective.size else {
      throw TrainingError(
        description: "the batch size \(trainer.options.batchSize) is smaller than the \(collective.size) processes")
    }
    synchronizeState(trainer)
  }

  func epochWillStart(_ trainer: Trainer, epoch: Int) {
    collective.reset()
  }

  func batchWillForward(_ trainer: Trainer, count: Int, epoch: Int, step: Int) throws {
    guard count > 0 else {
      throw TrainingError(
        description:
          "process \(collective.rank): every image of its share of epoch \(epoch), step \(step + 1) was unreadable")
    }
  }

  func batchDidForward(_ trainer: Trainer, _ totals: inout StepTotals, epoch: Int, step: Int) throws {
    // The global batch's count, weighted loss sum, hits and weight sum (the count without class weights).
    var sums = [Double(totals.count), Double(totals.loss) * totals.weight, Double(totals.hits), totals.weight]
    sums.withUnsafeMutableBufferPointer { collective.sumInRankOrder($0) }
    totals = StepTotals(
      count: Int(sums[0]), loss: Float(sums[1] / sums[3]), hits: Int(sums[2]), weight: sums[3], global: true)
  }

  /// Replaces every parameter's gradient by its sum over the processes, in rank order.
  func stepDidBackward(_ trainer: Trainer, epoch: Int, step: Int) {
    let parameters = trainer.network.parameters
    if gradientBuffer.isEmpty { gradientBuffer = Array(repeating: 0, count: trainer.network.parameterCount) }
    gradientBuffer.withUnsafeMutableBufferPointer { buffer in
      var offset = 0
      for p in parameters {
        (buffer.baseAddress! + offset).update(from: p.gradient.pointer, count: p.gradient.count)
        offset += p.gradient.count
      }
      collective.sumInRankOrder(buffer)
      offset = 0
      for p in parameters {
        p.gradient.pointer.update(from: buffer.baseAddress! + offset, count: p.gradient.count)
        offset += p.gradient.count
      }
    }
  }

  func epochWillValidate(_ trainer: Trainer, epoch: Int) throws {
    communicationSecondsPerStep = collective.seconds / Double(max(trainer.stepsPerEpoch, 1))
    if !trainer.options.syncBatchNorm {
      // Per-process statistics, as PyTorch's DDP: every process takes process 0's running averages.
      for case .buffer(let tensor) in trainer.network.namedState().map(\.tensor) {
        collective.broadcastFromRoot([tensor])
      }
    }
    try checkConsistency(trainer, epoch: epoch)
  }

  func epochWillReport(_ trainer: Trainer, _ metrics: inout EpochMetrics) {
    metrics.communicationSecondsPerStep = communicationSecondsPerStep
  }

  /// Makes every process's weights, BatchNorm statistics, momentum and progress process 0's (they are
  /// the same when all processes started from one seed or one checkpoint; this makes sure).
  private func synchronizeState(_ trainer: Trainer) {
    var tensors: [Tensor] = []
    for (_, entry) in trainer.network.namedState() {
      switch entry {
      case .parameter(let p): tensors.append(p.value)
      case .buffer(let t): tensors.append(t)
      case .batchCount(let norm): norm.batchesTracked = collective.broadcastFromRoot(norm.batchesTracked)
      }
    }
    let optimizer = trainer.optimizer
    if collective.broadcastFromRoot(!optimizer.buffers.isEmpty) && optimizer.buffers.isEmpty {
      optimizer.restoreBuffers(trainer.network.parameters.map { Tensor(shape: $0.value.shape) })
    }
    collective.broadcastFromRoot(tensors + optimizer.buffers)
    trainer.progress.epoch = collective.broadcastFromRoot(trainer.progress.epoch)
    trainer.progress.step = collective.broadcastFromRoot(trainer.progress.step)
  }

  /// Throws on every process unless all processes hold the same state (weights, BatchNorm statistics
  /// and counters, momentum) bit for bit: a digest of each process's state is compared with process
  /// 0's, and the mismatches are counted over all processes.
  private func checkConsistency(_ trainer: Trainer, epoch: Int) throws {
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the state's bytes
    func mix(_ bytes: UnsafeRawBufferPointer) {
      for byte in bytes { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    for (_, entry) in trainer.network.namedState() {
      switch entry {
      case .parameter(let p): mix(UnsafeRawBufferPointer(start: p.value.pointer, count: p.value.count * 4))
      case .buffer(let t): mix(UnsafeRawBufferPointer(start: t.pointer, count: t.count * 4))
      case .batchCount(let norm): withUnsafeBytes(of: norm.batchesTracked) { mix($0) }
      }
    }
    for buffer in trainer.optimizer.buffers {
      mix(UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count * 4))
    }
    var mismatches = [collective.broadcastFromRoot(digest) == digest ? 0.0 : 1.0]
    mismatches.withUnsafeMutableBufferPointer { collective.sumInRankOrder($0) }
    guard mismatches[0] == 0 else {
      throw TrainingError(
        description:
          "after epoch \(epoch), \(Int(mismatches[0])) of \(collective.size) processes hold different weights "
          + "from process 0's; stopped before writing a checkpoint")
    }
  }
}
