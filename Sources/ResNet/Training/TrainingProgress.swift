/// Where a training run stands after an epoch: what `--resume` needs besides the weights and the
/// momentum buffers.
public struct TrainingProgress: Codable, Sendable, Equatable {
  /// Epochs completed.
  public var epoch: Int
  /// Optimizer steps taken (the schedule's position).
  public var step: Int
  /// Best validation accuracy so far, and its epoch.
  public var bestAccuracy: Double
  public var bestEpoch: Int

  enum CodingKeys: String, CodingKey {
    case epoch, step
    case bestAccuracy = "best_accuracy"
    case bestEpoch = "best_epoch"
  }
}
