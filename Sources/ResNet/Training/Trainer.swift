import Foundation

/// Why training stopped early.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
  /// What happened and what was kept.
  public let description: String
}

/// Live numbers of the epoch in progress, for progress bars.
public struct StepReport: Sendable {
  /// 1-based epoch, the step within it and the steps per epoch.
  public var epoch: Int
  public var step: Int
  public var stepsPerEpoch: Int
  /// Mean loss and accuracy over the epoch's steps so far.
  public var loss: Double
  public var accuracy: Double
  /// Training images per second so far this epoch, and seconds since the epoch began.
  public var imagesPerSecond: Double
  public var seconds: Double
}

/// Trains a network with SGD on a training split, validating after every epoch.
///
/// With an output folder it writes, after every epoch: `metrics.csv` (one row per epoch),
/// `curves.svg` (loss and accuracy), `confusion.svg` (the validation confusion matrix),
/// `last.safetensors` (the model plus the optimizer's momentum and the run's position, for
/// `resume`) and `best.safetensors` (the model with the best validation accuracy). Every file is
/// written to a temporary file, fsynced and renamed, so an interruption leaves the previous one intact.
/// A resumed run ends with the same weights, bit for bit, as an uninterrupted one.
public final class Trainer {
  /// The model being trained.
  public let model: Model
  /// The model's network.
  public var network: Network { model.network }
  /// How the model's weights started (recorded in training checkpoints).
  public let initialization: WeightInitialization
  /// The run's settings.
  public let options: TrainingOptions
  /// Where the run stands.
  public private(set) var progress: TrainingProgress
  /// One row per finished epoch.
  public private(set) var history: [EpochMetrics] = []
  /// Where files go (nil: nowhere).
  public let outputFolder: String?
  /// Called after every step and after every epoch (on process 0 only, in data-parallel training).
  public var onStep: ((StepReport) -> Void)?
  public var onEpoch: ((EpochMetrics) -> Void)?
  /// The processes of a data-parallel run (nil: this process alone). Each process trains on its
  /// shard of every global batch of `options.batchSize`; the gradients are summed over the processes
  /// before each step, so every process holds the same weights after it. Every process validates its
  /// shard of the validation split; only process 0 reports and writes files.
  public let collective: (any Collective)?
  /// Whether this process reports and writes files (process 0, or the only one).
  public var isRoot: Bool { (collective?.rank ?? 0) == 0 }

  private let trainLoader: DataLoader
  private let validationLoader: DataLoader
  private let optimizer: SGD
  private let loss: SoftmaxCrossEntropy
  private let schedule: LearningRateSchedule
  private var previousRows: [String] = []
  /// gradients.csv rows (without the header) of the epochs done, when gradients are logged.
  private var gradientRows: [String] = []
  /// Every parameter's gradient, joined, for the sum over the processes (data-parallel runs only).
  private var gradientBuffer: [Float] = []
  /// ``collective``, timing its operations.
  private let timedCollective: TimedCollective?

  /// A new run of `model` (freshly initialized as `initialization` says, usually) on `train`, validated
  /// on `validation`; with `collective`, one process of a data-parallel run (see ``collective``).
  public init(
    model: Model, initialization: WeightInitialization = .init(), train: DatasetSplit,
    validation: DatasetSplit, options: TrainingOptions, outputFolder: String? = nil,
    collective: (any Collective)? = nil
  ) {
    let timed = collective.map { TimedCollective($0) }
    self.timedCollective = timed
    self.collective = timed
    self.model = model
    self.initialization = initialization
    self.options = options
    let network = model.network
    let preprocessing = model.spec.preprocessing
    self.outputFolder = outputFolder
    progress = TrainingProgress(epoch: 0, step: 0, bestAccuracy: -1, bestEpoch: 0)
    trainLoader = DataLoader(
      split: train, batchSize: options.batchSize, preprocessing: preprocessing,
      augmentation: Augmentation(
        cropPadding: options.cropPadding, horizontalFlip: options.horizontalFlip),
      shuffle: true, seed: options.seed, dropLast: train.count > options.batchSize,
      workers: options.workers, shard: collective.map { Shard(index: $0.rank, count: $0.size) })
    validationLoader = DataLoader(
      split: validation, batchSize: options.batchSize, preprocessing: preprocessing,
      shuffle: false, workers: options.workers, shard: collective.map { Shard(index: $0.rank, count: $0.size) })
    optimizer = SGD(
      parameters: network.parameters, momentum: options.momentum, weightDecay: options.weightDecay,
      nesterov: options.nesterov)
    loss = SoftmaxCrossEntropy(labelSmoothing: options.labelSmoothing)
    schedule = LearningRateSchedule(
      kind: options.schedule, baseRate: options.learningRate, warmupEpochs: options.warmupEpochs,
      epochs: options.epochs, stepsPerEpoch: trainLoader.batchesPerEpoch)
    if let collective, options.syncBatchNorm {
      for case .batchCount(let norm) in network.namedState().map(\.tensor) {
        norm.synchronizer = { collective.sumInRankOrder($0) }
      }
    }
  }

  /// Continues the run saved in the training checkpoint `path` (a `last.safetensors`), on the same
  /// data; `epochs` may extend the run. With `collective`, only process 0 reads `path`, and sends it
  /// to the others; any number of processes may continue any run.
  public static func resume(
    from path: String, train: DatasetSplit, validation: DatasetSplit, outputFolder: String?,
    epochs: Int? = nil, collective: (any Collective)? = nil
  ) throws -> Trainer {
    let file: SafeTensorsFile
    if let collective, collective.size > 1 {
      // Process 0 reads the checkpoint and sends it to the others: the machines need no shared folder.
      let root = collective.rank == 0
      let local = root ? try SafeTensorsFile(contentsOf: path) : nil
      let bytes = collective.broadcastFromRoot(
        bytes: root ? Array(try Data(contentsOf: URL(fileURLWithPath: path))) : [])
      file = try local ?? SafeTensorsFile(data: Data(bytes), path: path)
    } else {
      file = try SafeTensorsFile(contentsOf: path)
    }
    let model = try Model(file: file)
    let network = model.network
    guard let optionsText = file.metadata["resnet.training"],
      let progressText = file.metadata["resnet.progress"]
    else {
      throw SafeTensorsError(
        path: path, reason: "holds a model but no training state (resume from a last.safetensors)")
    }
    var record = try JSONDecoder().decode(TrainingRecord.self, from: Data(optionsText.utf8))
    if let epochs { record.options.epochs = epochs }
    let options = record.options
    let trainer = Trainer(
      model: model, initialization: record.initialization, train: train, validation: validation,
      options: options, outputFolder: outputFolder, collective: collective)
    trainer.progress = try JSONDecoder().decode(
      TrainingProgress.self, from: Data(progressText.utf8))
    if options.momentum != 0 && trainer.progress.step > 0 {
      let buffers = try network.namedParameters().map { name, parameter in
        let buffer = try file.tensor(Model.momentumPrefix + name)
        guard buffer.shape == parameter.value.shape else {
          throw SafeTensorsError(
            path: path,
            reason: "tensor '\(Model.momentumPrefix + name)' has shape \(buffer.shape), its parameter "
              + "\(parameter.value.shape)")
        }
        try refuseInvalidValues(
          buffer, name: Model.momentumPrefix + name, path: path, holder: "training state")
        return buffer
      }
      trainer.optimizer.restoreBuffers(buffers)
    }
    if let outputFolder, let text = try? String(contentsOfFile: outputFolder + "/metrics.csv", encoding: .utf8) {
      trainer.previousRows = Array(
        text.split(separator: "\n").dropFirst().prefix(trainer.progress.epoch).map(String.init))
    }
    if let outputFolder, options.logGradientsEvery != nil,
      let text = try? String(contentsOfFile: outputFolder + "/gradients.csv", encoding: .utf8)
    {
      // Rows of the epochs the checkpoint has done (the file may be one epoch ahead after a crash).
      trainer.gradientRows = text.split(separator: "\n").dropFirst().map(String.init).filter { row in
        row.split(separator: ",").first.flatMap { Int($0) }.map { $0 <= trainer.progress.epoch } ?? false
      }
    }
    return trainer
  }

  /// One warning line for training or validation files that could not be decoded, or nil.
  public var skippedWarning: String? {
    [trainLoader.skippedWarning(), validationLoader.skippedWarning()].compactMap { $0 }.first
  }

  /// Trains until `options.epochs` epochs are done, or only until epoch `stop` (as if interrupted
  /// there; `resume` continues from that point).
  public func run(stoppingAfter stop: Int? = nil) throws {
    if let outputFolder, isRoot {
      try makeFolder(outputFolder)
      removeStaleTemporaries(
        in: outputFolder,
        of: [
          "last.safetensors", "best.safetensors", "metrics.csv", "curves.svg", "confusion.svg", "gradients.csv",
          "gradients.svg",
        ])
    }
    if let collective {
      guard options.batchSize >= collective.size else {
        throw TrainingError(
          description: "the batch size \(options.batchSize) is smaller than the \(collective.size) processes")
      }
      synchronizeState(collective)
    }
    let clock = ContinuousClock()
    while progress.epoch < min(options.epochs, stop ?? options.epochs) {
      let epoch = progress.epoch
      let start = clock.now
      var lossSum = 0.0
      var correct = 0
      var seen = 0
      var step = 0
      var rate = schedule.rate(atStep: progress.step)
      timedCollective?.reset()
      let iterator = trainLoader.epoch(epoch)
      while let batch = try iterator.next() {
        if let collective, batch.count == 0 {
          throw TrainingError(
            description:
              "process \(collective.rank): every image of its share of epoch \(epoch + 1), step \(step + 1) was "
              + "unreadable")
        }
        network.zeroGradients()
        let logits = network.forward(batch.images, training: true)
        var value = loss.forward(logits: logits, labels: batch.labels.map { Int($0) })
        var (count, hits) = (batch.count, Self.correctCount(logits, batch.labels))
        if let collective {  // the global batch's count, mean loss and hits
          var totals = [Double(count), Double(value) * Double(count), Double(hits)]
          totals.withUnsafeMutableBufferPointer { collective.sumInRankOrder($0) }
          (count, value, hits) = (Int(totals[0]), Float(totals[1] / totals[0]), Int(totals[2]))
        }
        guard value.isFinite else {
          throw TrainingError(
            description:
              "the training loss became \(value) at epoch \(epoch + 1), step \(step + 1); stopped. "
              + (progress.epoch > 0 && outputFolder != nil
                ? "The last good checkpoint (epoch \(progress.epoch)) is kept in \(outputFolder!)/last.safetensors. "
                : "") + "Try a lower --lr.")
        }
        correct += hits
        let logged = logsGradients(step: step)
        var blockNorms: [Double] = []
        if logged {
          blockNorms = Array(repeating: 0, count: network.namedBlocks.count)
          network.blockInputGradientObserver = { index, gradient in blockNorms[index] = gradient.l2Norm }
        }
        network.backward(loss.backward(meanOver: collective == nil ? nil : count))
        if let collective { sumGradients(collective) }
        if logged {
          network.blockInputGradientObserver = nil
          recordGradients(epoch: epoch + 1, blockNorms: blockNorms)
        }
        rate = schedule.rate(atStep: progress.step)
        optimizer.step(learningRate: rate)
        progress.step += 1
        step += 1
        lossSum += Double(value) * Double(count)
        seen += count
        let elapsed = seconds(clock.now - start)
        guard isRoot else { continue }
        onStep?(
          StepReport(
            epoch: epoch + 1, step: step, stepsPerEpoch: trainLoader.batchesPerEpoch,
            loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
            imagesPerSecond: Double(seen) / elapsed, seconds: elapsed))
      }
      let trainSeconds = seconds(clock.now - start)
      let communication = timedCollective.map { $0.seconds / Double(max(step, 1)) }
      if let collective, !options.syncBatchNorm {
        // Per-process statistics, as PyTorch's DDP: every process takes process 0's running averages.
        for case .buffer(let tensor) in network.namedState().map(\.tensor) { collective.broadcastFromRoot([tensor]) }
      }
      if let collective { try checkConsistency(collective, epoch: epoch + 1) }
      // Every process validates its shard of the validation split; process 0 reports and writes.
      let validation = try Evaluation.run(network, loader: validationLoader, collective: collective)
      guard isRoot else {
        progress.epoch += 1
        continue
      }
      progress.epoch += 1
      let metrics = EpochMetrics(
        epoch: epoch + 1, learningRate: rate, trainLoss: lossSum / Double(max(seen, 1)),
        trainAccuracy: Double(correct) / Double(max(seen, 1)), validation: validation,
        seconds: seconds(clock.now - start), imagesPerSecond: Double(seen) / trainSeconds,
        communicationSecondsPerStep: communication, stepSeconds: trainSeconds / Double(max(step, 1)))
      history.append(metrics)
      let improved = validation.accuracy > progress.bestAccuracy
      if improved {
        progress.bestAccuracy = validation.accuracy
        progress.bestEpoch = epoch + 1
      }
      try writeFiles(metrics, improved: improved)
      onEpoch?(metrics)
    }
  }

  /// Makes every process's weights, BatchNorm statistics, momentum and progress process 0's (they are
  /// the same when all processes started from one seed or one checkpoint; this makes sure).
  private func synchronizeState(_ collective: any Collective) {
    var tensors: [Tensor] = []
    for (_, entry) in network.namedState() {
      switch entry {
      case .parameter(let p): tensors.append(p.value)
      case .buffer(let t): tensors.append(t)
      case .batchCount(let norm): norm.batchesTracked = collective.broadcastFromRoot(norm.batchesTracked)
      }
    }
    if collective.broadcastFromRoot(!optimizer.buffers.isEmpty) && optimizer.buffers.isEmpty {
      optimizer.restoreBuffers(network.parameters.map { Tensor(shape: $0.value.shape) })
    }
    collective.broadcastFromRoot(tensors + optimizer.buffers)
    progress.epoch = collective.broadcastFromRoot(progress.epoch)
    progress.step = collective.broadcastFromRoot(progress.step)
  }

  /// Throws on every process unless all processes hold the same state (weights, BatchNorm statistics
  /// and counters, momentum) bit for bit: a digest of each process's state is compared with process
  /// 0's, and the mismatches are counted over all processes.
  private func checkConsistency(_ collective: any Collective, epoch: Int) throws {
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the state's bytes
    func mix(_ bytes: UnsafeRawBufferPointer) {
      for byte in bytes { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    for (_, entry) in network.namedState() {
      switch entry {
      case .parameter(let p): mix(UnsafeRawBufferPointer(start: p.value.pointer, count: p.value.count * 4))
      case .buffer(let t): mix(UnsafeRawBufferPointer(start: t.pointer, count: t.count * 4))
      case .batchCount(let norm): withUnsafeBytes(of: norm.batchesTracked) { mix($0) }
      }
    }
    for buffer in optimizer.buffers { mix(UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count * 4)) }
    var mismatches = [collective.broadcastFromRoot(digest) == digest ? 0.0 : 1.0]
    mismatches.withUnsafeMutableBufferPointer { collective.sumInRankOrder($0) }
    guard mismatches[0] == 0 else {
      throw TrainingError(
        description:
          "after epoch \(epoch), \(Int(mismatches[0])) of \(collective.size) processes hold different weights "
          + "from process 0's; stopped before writing a checkpoint")
    }
  }

  /// Replaces every parameter's gradient by its sum over the processes, in rank order.
  private func sumGradients(_ collective: any Collective) {
    let parameters = network.parameters
    if gradientBuffer.isEmpty { gradientBuffer = Array(repeating: 0, count: network.parameterCount) }
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

  /// Whether the step at `step` of this epoch logs gradients: every `logGradientsEvery` steps of the
  /// run, and the epoch's last step.
  private func logsGradients(step: Int) -> Bool {
    guard let every = options.logGradientsEvery else { return false }
    return progress.step % every == 0 || step == trainLoader.batchesPerEpoch - 1
  }

  /// gradients.csv rows for this step: the gradient norm at each block's input and of each
  /// convolution's weight (before the optimizer step).
  private func recordGradients(epoch: Int, blockNorms: [Double]) {
    let prefix = "\(epoch),\(progress.step)"
    for (index, (name, _)) in network.namedBlocks.enumerated() {
      gradientRows.append("\(prefix),block_input,\(index + 1),\(name.dropLast()),\(blockNorms[index])")
    }
    let convs = network.namedParameters().filter { $0.parameter.value.rank == 4 }
    for (index, (name, parameter)) in convs.enumerated() {
      gradientRows.append("\(prefix),conv_weight,\(index + 1),\(name),\(parameter.gradient.l2Norm)")
    }
  }

  /// The header of gradients.csv.
  static let gradientsHeader = "epoch,step,kind,depth,name,norm"

  /// The block-input norms at the run's first logged step ("init") and at each epoch's last.
  private func gradientChartSeries() -> [(name: String, norms: [Double])] {
    var byStep: [(epoch: Int, step: Int, norms: [Double])] = []
    for row in gradientRows {
      let fields = row.split(separator: ",", omittingEmptySubsequences: false)
      guard fields.count == 6, fields[2] == "block_input", let epoch = Int(fields[0]), let step = Int(fields[1]),
        let norm = Double(fields[5])
      else { continue }
      if byStep.last?.step != step { byStep.append((epoch, step, [])) }
      byStep[byStep.count - 1].norms.append(norm)
    }
    var series: [(name: String, norms: [Double])] = []
    if let first = byStep.first, first.step == 0 { series.append(("init", first.norms)) }
    for (i, entry) in byStep.enumerated() where i == byStep.count - 1 || byStep[i + 1].epoch != entry.epoch {
      series.append(("epoch \(entry.epoch)", entry.norms))
    }
    return series
  }

  /// Top-1 hits of a batch's logits.
  static func correctCount(_ logits: Tensor, _ labels: [Int32]) -> Int {
    let classes = logits.shape[1]
    var hits = 0
    for i in 0..<labels.count {
      if Logits.argmax(logits.pointer + i * classes, count: classes) == Int(labels[i]) { hits += 1 }
    }
    return hits
  }

  private func writeFiles(_ metrics: EpochMetrics, improved: Bool) throws {
    guard let folder = outputFolder else { return }
    var last = try model.writer()
    for ((name, _), buffer) in zip(network.namedParameters(), optimizer.buffers) {
      last.add(Model.momentumPrefix + name, buffer)
    }
    last.metadata["resnet.training"] = try jsonText(TrainingRecord(options: options, initialization: initialization))
    last.metadata["resnet.progress"] = try jsonText(progress)
    if improved { try model.save(to: folder + "/best.safetensors") }
    try last.write(to: folder + "/last.safetensors")
    let rows = previousRows + history.map(\.csvRow)
    try writeFileAtomically(
      folder + "/metrics.csv",
      Array(([EpochMetrics.csvHeader] + rows).joined(separator: "\n").utf8) + [0x0A])
    try writeFileAtomically(folder + "/curves.svg", Array(Charts.curves(csvRows: rows).utf8))
    try writeFileAtomically(
      folder + "/confusion.svg",
      Array(Charts.confusion(metrics.validation.confusion, classes: model.spec.classes).utf8))
    if options.logGradientsEvery != nil {
      try writeTextAtomically(
        ([Self.gradientsHeader] + gradientRows).joined(separator: "\n") + "\n", to: folder + "/gradients.csv")
      try writeTextAtomically(
        Charts.gradientNorms(gradientChartSeries(), title: "Gradient norms at each block's input"),
        to: folder + "/gradients.svg")
    }
  }
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double {
  Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
