/// Stops a run when the validation accuracy has not improved for `patience` epochs, as Keras'
/// `EarlyStopping(patience:, restore_best_weights: True)` does: best.safetensors then holds the best
/// epoch's model. Every process of a data-parallel run decides alike (they share the validation result).
final class EarlyStoppingHook: TrainingHook {
  let patience: Int

  init(patience: Int) {
    self.patience = patience
  }

  func stopReason(_ trainer: Trainer) -> String? {
    let progress = trainer.progress
    guard progress.epoch - progress.bestEpoch >= patience else { return nil }
    return "the validation accuracy has not improved for \(patience) epoch\(patience == 1 ? "" : "s")"
  }
}
