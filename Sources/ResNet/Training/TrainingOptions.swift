/// The settings of a training run (stored in training checkpoints so `--resume` continues the same
/// run).
public struct TrainingOptions: Codable, Sendable, Equatable {
  /// Epochs in the whole run.
  public var epochs = 15
  /// Images per optimizer step.
  public var batchSize = 128
  /// Peak learning rate.
  public var learningRate: Float = 0.1
  /// SGD momentum, Nesterov, L2 weight decay (PyTorch's semantics).
  public var momentum: Float = 0.9
  public var nesterov = false
  public var weightDecay: Float = 5e-4
  /// Learning-rate schedule after `warmupEpochs` of linear warm-up.
  public var schedule: LearningRateSchedule.Kind = .cosine
  public var warmupEpochs = 1
  /// Label smoothing of the training loss.
  public var labelSmoothing: Float = 0
  /// Random-crop padding (0: none) and horizontal flips.
  public var cropPadding = 4
  public var horizontalFlip = true
  /// Seed of the initial weights, the shuffles and the augmentations.
  public var seed: UInt64 = 0
  /// Loader worker threads.
  public var workers = 2
  /// Record gradient norms every this many steps (and at each epoch's last step) into gradients.csv;
  /// nil: off.
  public var logGradientsEvery: Int? = nil
  /// How convolution weights start (nil: torchvision's Kaiming normal, fan_out).
  public var convInit: Network.ConvInitialization? = nil
  /// Whether each residual block's last BatchNorm γ starts at 0 (torchvision's `zero_init_residual`);
  /// nil: no.
  public var zeroInitResidual: Bool? = nil
  /// In data-parallel training, whether BatchNorm uses the global batch's statistics (PyTorch's
  /// `SyncBatchNorm`) rather than each process's own (PyTorch's DDP default); nil: no.
  public var syncBatchNorm: Bool? = nil

  /// The defaults.
  public init() {}

  enum CodingKeys: String, CodingKey {
    case epochs
    case batchSize = "batch_size"
    case learningRate = "lr"
    case momentum, nesterov
    case weightDecay = "weight_decay"
    case schedule
    case warmupEpochs = "warmup_epochs"
    case labelSmoothing = "label_smoothing"
    case cropPadding = "crop_padding"
    case horizontalFlip = "horizontal_flip"
    case seed, workers
    case logGradientsEvery = "log_gradients_every"
    case convInit = "conv_init"
    case zeroInitResidual = "zero_init_residual"
    case syncBatchNorm = "sync_batch_norm"
  }
}

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

/// The numbers of one epoch (a row of metrics.csv).
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

  static let csvHeader =
    "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,seconds,images_per_s"

  var csvRow: String {
    let top5 = validation.top5.map { String(format6($0)) } ?? ""
    return [
      String(epoch), String(learningRate), format6(trainLoss), format6(trainAccuracy),
      format6(validation.loss), format6(validation.accuracy), top5, format6(seconds),
      format6(imagesPerSecond),
    ].joined(separator: ",")
  }
}

/// `v` with up to 6 decimals, no exponent.
func format6(_ v: Double) -> String {
  guard v.isFinite else { return String(v) }
  let scaled = (v * 1e6).rounded() / 1e6
  return String(scaled)
}
