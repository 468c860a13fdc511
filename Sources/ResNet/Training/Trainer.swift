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

/// Trains a model with SGD on a training split, validating after every epoch.
///
/// With an output folder (a ``RunFolder``) it writes, after every epoch: `metrics.csv` (one
/// ``EpochRecord`` per epoch), `curves.svg`, `confusion.svg` (the validation confusion matrix),
/// `last.safetensors` (the model plus the optimizer's momentum and the run's position, for `resume`)
/// and `best.safetensors` (the model with the best validation accuracy), each written whole or not at
/// all. A resumed run ends with the same weights, bit for bit, as an uninterrupted one.
///
/// The loop itself is ``run(stoppingAfter:)``; data-parallel synchronization, gradient logging and the
/// run folder's files hook into it (``TrainingHook``), each from a file of its own.
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
  public internal(set) var progress: TrainingProgress
  /// The metrics of every epoch finished by this trainer (on the reporting process).
  public private(set) var history: [EpochMetrics] = []
  /// Why the last `run` stopped before `options.epochs` (nil: it did not), e.g. early stopping.
  public private(set) var stopReason: String?
  /// Where files go (nil: nowhere).
  public let runFolder: RunFolder?
  /// The run folder's path.
  public var outputFolder: String? { runFolder?.path }
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
  /// The loss's class weights (nil: unweighted; see ``TrainingOptions/classWeights``).
  public let classWeights: [Float]?
  /// Optimizer steps in an epoch.
  public var stepsPerEpoch: Int { trainLoader.batchesPerEpoch }

  let optimizer: SGD
  private let trainLoader: DataLoader
  private let validationLoader: DataLoader
  private let loss: SoftmaxCrossEntropy
  private let schedule: LearningRateSchedule
  /// The concerns around the loop, in the order they run: data-parallel synchronization first (the
  /// others see global totals and summed gradients), then gradient logging, then the run folder.
  private var hooks: [any TrainingHook] = []

  /// A new run of `model` (freshly initialized as `initialization` says, usually) on `train`, validated
  /// on `validation`; with `collective`, one process of a data-parallel run (see ``collective``).
  /// Throws when `options.freeze` names a stage the network does not have.
  public convenience init(
    model: Model, initialization: WeightInitialization = .init(), train: DatasetSplit,
    validation: DatasetSplit, options: TrainingOptions, outputFolder: String? = nil,
    collective: (any Collective)? = nil
  ) throws {
    try self.init(
      model: model, initialization: initialization, train: train, validation: validation, options: options,
      outputFolder: outputFolder, collective: collective, progress: nil, previous: nil)
  }

  private init(
    model: Model, initialization: WeightInitialization, train: DatasetSplit, validation: DatasetSplit,
    options: TrainingOptions, outputFolder: String?, collective: (any Collective)?, progress: TrainingProgress?,
    previous: (epochs: [EpochRecord], gradients: [GradientRecord])?
  ) throws {
    try model.network.freeze(options.freeze)
    let augmentation = Augmentation(cropPadding: options.cropPadding, horizontalFlip: options.horizontalFlip)
    model.spec.augmentation = augmentation
    model.spec.trainingPrecision = options.precision
    model.network.precision = options.precision
    let timed = collective.map { TimedCollective($0) }
    self.collective = timed
    self.model = model
    self.initialization = initialization
    self.options = options
    self.progress = progress ?? TrainingProgress(epoch: 0, step: 0, bestAccuracy: -1, bestEpoch: 0)
    runFolder = outputFolder.map(RunFolder.init)
    let preprocessing = model.spec.preprocessing
    let shard = collective.map { Shard(index: $0.rank, count: $0.size) }
    trainLoader = DataLoader(
      split: train, batchSize: options.batchSize, preprocessing: preprocessing,
      augmentation: augmentation, shuffle: true, seed: options.seed, dropLast: train.count > options.batchSize,
      workers: options.workers,
      shard: shard)
    validationLoader = DataLoader(
      split: validation, batchSize: options.batchSize, preprocessing: preprocessing, shuffle: false,
      workers: options.workers, shard: shard)
    let network = model.network
    optimizer = SGD(
      parameters: network.parameters, momentum: options.momentum, weightDecay: options.weightDecay,
      nesterov: options.nesterov, rateScales: network.learningRateScales(backbone: options.backboneRateScale))
    classWeights =
      options.classWeights == .balanced ? Self.balancedWeights(train.countsPerClass(model.spec.classes.count)) : nil
    loss = SoftmaxCrossEntropy(labelSmoothing: options.labelSmoothing, classWeights: classWeights)
    schedule = LearningRateSchedule(
      kind: options.schedule, baseRate: options.learningRate, warmupEpochs: options.warmupEpochs,
      epochs: options.epochs, stepsPerEpoch: trainLoader.batchesPerEpoch)
    if let timed {
      hooks.append(DataParallelHook(timed, network: model.network, syncBatchNorm: options.syncBatchNorm))
    }
    if let every = options.logGradientsEvery {
      hooks.append(GradientLogHook(every: every, records: previous?.gradients ?? []))
    }
    if let patience = options.patience { hooks.append(EarlyStoppingHook(patience: patience)) }
    if let runFolder, timed?.rank ?? 0 == 0 {
      hooks.append(RunFolderHook(runFolder, records: previous?.epochs ?? []))
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
    var state = try RunFolder.trainingState(in: file, of: model)
    if let epochs { state.record.options.epochs = epochs }
    // The records of the epochs the checkpoint has done (a file may be one epoch ahead after a crash).
    let done = state.progress.epoch
    let folder = outputFolder.map(RunFolder.init)
    let previous = try folder.map {
      (
        epochs: Array(try $0.metrics().prefix(done)),
        gradients: state.record.options.logGradientsEvery == nil ? [] : try $0.gradients().filter { $0.epoch <= done }
      )
    }
    let trainer = try Trainer(
      model: model, initialization: state.record.initialization, train: train, validation: validation,
      options: state.record.options, outputFolder: outputFolder, collective: collective, progress: state.progress,
      previous: previous)
    if !state.momentum.isEmpty { trainer.optimizer.restoreBuffers(state.momentum) }
    return trainer
  }

  /// What a training checkpoint records of this run besides the model.
  var state: TrainingState {
    TrainingState(
      record: TrainingRecord(options: options, initialization: initialization), progress: progress,
      momentum: optimizer.buffers)
  }

  /// One warning line for training or validation files that could not be decoded, or nil.
  public var skippedWarning: String? {
    [trainLoader.skippedWarning(), validationLoader.skippedWarning()].compactMap { $0 }.first
  }

  /// Trains until `options.epochs` epochs are done, or only until epoch `stop` (as if interrupted
  /// there; `resume` continues from that point).
  public func run(stoppingAfter stop: Int? = nil) throws {
    for hook in hooks { try hook.runWillStart(self) }
    let clock = ContinuousClock()
    stopReason = nil
    while progress.epoch < min(options.epochs, stop ?? options.epochs) && stopReason == nil {
      let epoch = progress.epoch + 1
      let start = clock.now
      var totals = EpochTotals()
      var rate = schedule.rate(atStep: progress.step)
      for hook in hooks { hook.epochWillStart(self, epoch: epoch) }
      let iterator = trainLoader.epoch(epoch - 1)
      while let batch = try iterator.next() {
        for hook in hooks { try hook.batchWillForward(self, count: batch.count, epoch: epoch, step: totals.steps) }
        network.zeroGradients()
        let logits = network.forward(batch.images, training: true)
        var step = StepTotals(
          count: batch.count, loss: loss.forward(logits: logits, labels: batch.labels.map { Int($0) }),
          hits: Self.correctCount(logits, batch.labels), weight: loss.lastWeightSum)
        for hook in hooks { try hook.batchDidForward(self, &step, epoch: epoch, step: totals.steps) }
        guard step.loss.isFinite else { throw divergence(step.loss, epoch: epoch, step: totals.steps + 1) }
        for hook in hooks { hook.stepWillBackward(self, epoch: epoch, step: totals.steps) }
        network.backwardParameters(loss.backward(meanOver: step.global ? step.weight : nil))
        for hook in hooks { hook.stepDidBackward(self, epoch: epoch, step: totals.steps) }
        rate = schedule.rate(atStep: progress.step)
        optimizer.step(learningRate: rate)
        progress.step += 1
        totals.add(step)
        guard isRoot else { continue }
        onStep?(totals.report(epoch: epoch, stepsPerEpoch: stepsPerEpoch, seconds: seconds(clock.now - start)))
      }
      let trainSeconds = seconds(clock.now - start)
      for hook in hooks { try hook.epochWillValidate(self, epoch: epoch) }
      // Every process validates its shard of the validation split; process 0 reports and writes.
      let validation = try Evaluation.run(network, loader: validationLoader, collective: collective)
      progress.epoch += 1
      // Every process sees the same (global) validation result, so all track the best epoch alike.
      let improved = validation.accuracy > progress.bestAccuracy
      if improved {
        progress.bestAccuracy = validation.accuracy
        progress.bestEpoch = epoch
      }
      if isRoot {
        var metrics = EpochMetrics(
          epoch: epoch, learningRate: rate, trainLoss: totals.lossSum / Double(max(totals.seen, 1)),
          trainAccuracy: Double(totals.correct) / Double(max(totals.seen, 1)), validation: validation,
          seconds: seconds(clock.now - start), imagesPerSecond: Double(totals.seen) / trainSeconds,
          stepSeconds: trainSeconds / Double(max(totals.steps, 1)))
        for hook in hooks { hook.epochWillReport(self, &metrics) }
        history.append(metrics)
        for hook in hooks { try hook.epochDidEnd(self, metrics, improved: improved) }
        onEpoch?(metrics)
      }
      stopReason = hooks.lazy.compactMap { $0.stopReason(self) }.first
    }
  }

  /// The error that stops a run whose loss became `value` at `step` (1-based) of `epoch`.
  private func divergence(_ value: Float, epoch: Int, step: Int) -> TrainingError {
    let kept =
      if let runFolder, progress.epoch > 0 {
        "The last good checkpoint (epoch \(progress.epoch)) is kept in \(runFolder.path(of: .last)). "
      } else { "" }
    return TrainingError(
      description:
        "the training loss became \(value) at epoch \(epoch), step \(step); stopped. \(kept)Try a lower --lr.")
  }

  /// scikit-learn's "balanced" weights for classes of `counts` images: `n / (K · n_c)`, 0 for a class
  /// without images.
  public static func balancedWeights(_ counts: [Int]) -> [Float] {
    let total = Double(counts.reduce(0, +))
    return counts.map { $0 == 0 ? 0 : Float(total / (Double(counts.count) * Double($0))) }
  }

  /// Top-1 hits of a batch's logits.
  static func correctCount(_ logits: Tensor, _ labels: [Int32]) -> Int {
    let classes = logits.shape[1]
    var hits = 0
    for i in 0..<labels.count where Logits.argmax(logits.pointer + i * classes, count: classes) == Int(labels[i]) {
      hits += 1
    }
    return hits
  }
}

/// The running sums of an epoch's steps.
private struct EpochTotals {
  var steps = 0
  var seen = 0
  var correct = 0
  var lossSum = 0.0

  mutating func add(_ step: StepTotals) {
    steps += 1
    seen += step.count
    correct += step.hits
    lossSum += Double(step.loss) * Double(step.count)
  }

  func report(epoch: Int, stepsPerEpoch: Int, seconds: Double) -> StepReport {
    StepReport(
      epoch: epoch, step: steps, stepsPerEpoch: stepsPerEpoch, loss: lossSum / Double(seen),
      accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / seconds, seconds: seconds)
  }
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double {
  Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
