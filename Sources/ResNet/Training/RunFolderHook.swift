/// Writes the run folder's files after every epoch: the checkpoints, the metrics and the charts.
final class RunFolderHook: TrainingHook {
  let folder: RunFolder
  /// Every finished epoch's record (a resumed run starts with those of the epochs it has done).
  private(set) var records: [EpochRecord]

  init(_ folder: RunFolder, records: [EpochRecord] = []) {
    self.folder = folder
    self.records = records
  }

  func runWillStart(_ trainer: Trainer) throws {
    try folder.prepare()
  }

  func epochDidEnd(_ trainer: Trainer, _ metrics: EpochMetrics, improved: Bool) throws {
    records.append(EpochRecord(metrics))
    if improved { try trainer.model.save(to: folder.path(of: .best)) }
    try folder.writeTrainingCheckpoint(trainer.model, state: trainer.state)
    try folder.writeMetrics(records)
    try folder.write(
      Charts.confusion(metrics.validation.confusion, classes: trainer.model.spec.classes), to: .confusion)
  }
}
