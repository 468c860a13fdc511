import Foundation

/// The learning rate at each optimizer step: a linear warm-up, then constant, step-decayed or
/// cosine-annealed. Its position is the global step number, which the training state records.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
  /// The shape after the warm-up.
  public enum Kind: String, Codable, Sendable, CaseIterable {
    /// Cosine annealing from the base rate to 0 at the last step.
    case cosine
    /// The base rate divided by 10 at 50% and again at 75% of the epochs.
    case step
    /// The base rate throughout.
    case constant
  }

  /// The shape.
  public var kind: Kind
  /// The peak learning rate.
  public var baseRate: Float
  /// Epochs of linear warm-up (from baseRate / warm-up steps up to baseRate).
  public var warmupEpochs: Int
  /// The length of training.
  public var epochs: Int
  /// Optimizer steps per epoch.
  public var stepsPerEpoch: Int

  /// A schedule.
  public init(kind: Kind, baseRate: Float, warmupEpochs: Int, epochs: Int, stepsPerEpoch: Int) {
    (self.kind, self.baseRate, self.warmupEpochs) = (kind, baseRate, warmupEpochs)
    (self.epochs, self.stepsPerEpoch) = (epochs, stepsPerEpoch)
  }

  /// The rate for global step `step` (0-based).
  public func rate(atStep step: Int) -> Float {
    let warmup = min(warmupEpochs, max(epochs - 1, 0)) * stepsPerEpoch
    if step < warmup { return baseRate * Float(step + 1) / Float(warmup) }
    let total = max(epochs * stepsPerEpoch - warmup, 1)
    let t = Double(step - warmup) / Double(total)
    switch kind {
    case .constant: return baseRate
    case .step:
      let epoch = step / max(stepsPerEpoch, 1)
      let drops = (epoch >= epochs / 2 ? 1 : 0) + (epoch >= epochs * 3 / 4 ? 1 : 0)
      return baseRate * Float(pow(0.1, Double(drops)))
    case .cosine:
      return Float(Double(baseRate) * 0.5 * (1 + cos(Double.pi * min(t, 1))))
    }
  }
}
