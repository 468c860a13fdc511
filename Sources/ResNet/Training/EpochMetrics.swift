/// The numbers of one epoch, as measured (``EpochRecord`` is what metrics.csv keeps of them).
public struct EpochMetrics: Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Learning rate of the epoch's last step.
  public var learningRate: Float
  /// Mean training loss (with label smoothing) and accuracy on the augmented batches.
  public var trainLoss: Double
  public var trainAccuracy: Double
  /// Validation results.
  public var validation: Evaluation
  /// Wall time of the epoch (training and validation) and training images per second.
  public var seconds: Double
  public var imagesPerSecond: Double
  /// In data-parallel training, the mean time per step that process 0 spent in collective operations
  /// (sending, receiving and waiting for the other processes), and the mean time of a whole step.
  public var communicationSecondsPerStep: Double? = nil
  public var stepSeconds: Double? = nil
}
