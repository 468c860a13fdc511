/// A concern that plugs into ``Trainer``'s loop at fixed points, as Keras callbacks or Lightning hooks
/// do: data-parallel synchronization, gradient logging, the run folder's files. Hooks run in the order
/// the trainer holds them; every method does nothing unless a hook implements it.
protocol TrainingHook: AnyObject {
  /// Before the first epoch of this call to `run`.
  func runWillStart(_ trainer: Trainer) throws
  /// Before the first step of epoch `epoch` (1-based, as in every method here).
  func epochWillStart(_ trainer: Trainer, epoch: Int)
  /// Before the forward pass of a batch of `count` images, step `step` of the epoch (0-based).
  func batchWillForward(_ trainer: Trainer, count: Int, epoch: Int, step: Int) throws
  /// After a batch's forward pass and loss; may replace the step's totals (data-parallel runs make
  /// them the global batch's).
  func batchDidForward(_ trainer: Trainer, _ totals: inout StepTotals, epoch: Int, step: Int) throws
  /// Just before and just after the backward pass of step `step` of the epoch (0-based).
  func stepWillBackward(_ trainer: Trainer, epoch: Int, step: Int)
  func stepDidBackward(_ trainer: Trainer, epoch: Int, step: Int)
  /// After an epoch's last step, before validation.
  func epochWillValidate(_ trainer: Trainer, epoch: Int) throws
  /// The epoch's metrics before they are reported (a hook may add what it measured).
  func epochWillReport(_ trainer: Trainer, _ metrics: inout EpochMetrics)
  /// After an epoch is done and its metrics recorded (on the reporting process only); `improved`: the
  /// validation accuracy is the run's best so far.
  func epochDidEnd(_ trainer: Trainer, _ metrics: EpochMetrics, improved: Bool) throws
  /// After every epoch, on every process: why the run should stop now, or nil to go on.
  func stopReason(_ trainer: Trainer) -> String?
}

extension TrainingHook {
  func runWillStart(_ trainer: Trainer) throws {}
  func epochWillStart(_ trainer: Trainer, epoch: Int) {}
  func batchWillForward(_ trainer: Trainer, count: Int, epoch: Int, step: Int) throws {}
  func batchDidForward(_ trainer: Trainer, _ totals: inout StepTotals, epoch: Int, step: Int) throws {}
  func stepWillBackward(_ trainer: Trainer, epoch: Int, step: Int) {}
  func stepDidBackward(_ trainer: Trainer, epoch: Int, step: Int) {}
  func epochWillValidate(_ trainer: Trainer, epoch: Int) throws {}
  func epochWillReport(_ trainer: Trainer, _ metrics: inout EpochMetrics) {}
  func epochDidEnd(_ trainer: Trainer, _ metrics: EpochMetrics, improved: Bool) throws {}
  func stopReason(_ trainer: Trainer) -> String? { nil }
}

/// A step's images, mean loss, top-1 hits and image weights (their count without class weights):
/// this process's batch, or the global batch's once a data-parallel hook has summed them (then
/// ``global`` is true and the loss gradient is averaged over ``weight``).
struct StepTotals {
  var count: Int
  var loss: Float
  var hits: Int
  var weight: Double
  var global = false
}
