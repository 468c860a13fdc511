/// Records gradient norms into the run folder's gradients.csv (drawn in gradients.svg) every
/// `options.logGradientsEvery` steps of the run and at each epoch's last step: the norm of the loss
/// gradient at each block's input and of each convolution's weight, before the optimizer step.
final class GradientLogHook: TrainingHook {
  /// The records of the run so far (a resumed run starts with those of the epochs it has done).
  private(set) var records: [GradientRecord]
  /// Steps between logged steps.
  private let every: Int
  /// The block-input norms of the step being logged, by block (nil: this step is not logged).
  private var blockNorms: [Double]?

  init(every: Int, records: [GradientRecord] = []) {
    self.every = every
    self.records = records
  }

  func stepWillBackward(_ trainer: Trainer, epoch: Int, step: Int) {
    guard trainer.progress.step % every == 0 || step == trainer.stepsPerEpoch - 1 else { return }
    blockNorms = Array(repeating: 0, count: trainer.network.namedBlocks.count)
    trainer.network.blockInputGradientObserver = { [unowned self] index, gradient in
      blockNorms![index] = gradient.l2Norm
    }
  }

  func stepDidBackward(_ trainer: Trainer, epoch: Int, step: Int) {
    guard let norms = blockNorms else { return }
    let network = trainer.network
    network.blockInputGradientObserver = nil
    blockNorms = nil
    let runStep = trainer.progress.step
    for (index, (name, _)) in network.namedBlocks.enumerated() {
      records.append(
        GradientRecord(
          epoch: epoch, step: runStep, kind: .blockInput, depth: index + 1, name: String(name.dropLast()),
          norm: norms[index]))
    }
    let convolutions = network.namedParameters().filter { $0.parameter.value.rank == 4 }
    for (index, (name, parameter)) in convolutions.enumerated() {
      records.append(
        GradientRecord(
          epoch: epoch, step: runStep, kind: .convolutionWeight, depth: index + 1, name: name,
          norm: parameter.gradient.l2Norm))
    }
  }

  func epochDidEnd(_ trainer: Trainer, _ metrics: EpochMetrics, improved: Bool) throws {
    guard let folder = trainer.runFolder else { return }
    try folder.write(
      ([GradientRecord.csvHeader] + records.map(\.csvRow)).joined(separator: "\n") + "\n", to: .gradients)
    try folder.write(
      Charts.gradientNorms(chartSeries(), title: "Gradient norms at each block's input"), to: .gradientChart)
  }

  /// The block-input norms at the run's first logged step ("init") and at each epoch's last.
  func chartSeries() -> [(name: String, norms: [Double])] {
    var byStep: [(epoch: Int, step: Int, norms: [Double])] = []
    for record in records where record.kind == .blockInput {
      if byStep.last?.step != record.step { byStep.append((record.epoch, record.step, [])) }
      byStep[byStep.count - 1].norms.append(record.norm)
    }
    var series: [(name: String, norms: [Double])] = []
    if let first = byStep.first, first.step == 0 { series.append(("init", first.norms)) }
    for (i, entry) in byStep.enumerated() where i == byStep.count - 1 || byStep[i + 1].epoch != entry.epoch {
      series.append(("epoch \(entry.epoch)", entry.norms))
    }
    return series
  }
}
