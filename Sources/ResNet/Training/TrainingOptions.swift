/// The settings of a training run (stored in training checkpoints so `--resume` continues the same
/// run). The defaults are `resnet train`'s; ``validate()`` says which values cannot work.
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
  /// Seed of the shuffles and the augmentations (the weights' seed is the model's; `resnet train` uses
  /// one `--seed` for both).
  public var seed: UInt64 = 0
  /// Loader worker threads.
  public var workers = 2
  /// Record gradient norms every this many steps (and at each epoch's last step) into gradients.csv;
  /// nil: off.
  public var logGradientsEvery: Int? = nil
  /// In data-parallel training, whether BatchNorm uses the global batch's statistics (PyTorch's
  /// `SyncBatchNorm`) rather than each process's own (PyTorch's DDP default).
  public var syncBatchNorm = false
  /// The leading part of the network that is frozen (see ``Network/freeze(_:)``): no gradient, no
  /// step, BatchNorm statistics kept.
  public var freeze = FrozenPart.none
  /// The learning rate of every parameter but the classifier's (`fc`), as a multiple of the rate:
  /// below 1 when fine-tuning a pretrained backbone more gently than its new head.
  public var backboneRateScale: Float = 1

  /// How the training loss weighs the classes.
  public enum ClassWeighting: String, Codable, Sendable, CaseIterable {
    /// Every image counts once.
    case none
    /// Each class weighs the inverse of its share of the training images, scikit-learn's "balanced":
    /// `n / (K · n_c)`, so every class contributes alike however rare it is.
    case balanced
  }
  /// How the training loss weighs the classes.
  public var classWeights = ClassWeighting.none
  /// Stop when the validation accuracy has not improved for this many epochs (nil: never).
  public var patience: Int? = nil
  /// The precision of the convolutions' and the classifier's products, forward and backward (see
  /// ``Network/precision``). bf16 needs no loss scaling: it has float32's exponent range, so gradients do
  /// not underflow as float16's would.
  public var precision = Precision.f32

  /// The defaults.
  public init() {}

  /// Throws ``ConfigurationError/invalid(_:)`` naming the first setting that cannot work (in the
  /// command line's terms, `--momentum` for ``momentum``).
  public func validate() throws {
    func check(_ condition: Bool, _ message: String) throws {
      guard condition else { throw ConfigurationError.invalid(message) }
    }
    try check((1...100_000).contains(epochs), "--epochs must be in 1...100000.")
    try check((1...65536).contains(batchSize), "--batch-size must be in 1...65536.")
    try check(learningRate > 0 && learningRate.isFinite, "--lr must be positive.")
    try check(momentum >= 0 && momentum < 1, "--momentum must be in [0, 1).")
    try check(!nesterov || momentum > 0, "--nesterov needs --momentum above 0.")
    try check(weightDecay >= 0, "--weight-decay must not be negative.")
    try check(warmupEpochs >= 0, "--warmup-epochs must not be negative.")
    try check(labelSmoothing >= 0 && labelSmoothing < 1, "--label-smoothing must be in [0, 1).")
    try check(cropPadding >= 0 && cropPadding <= 1024, "--crop-padding must be in 0...1024.")
    try check((logGradientsEvery ?? 1) >= 1, "--log-gradients must be at least 1.")
    try check((patience ?? 1) >= 1, "--patience must be at least 1.")
    try check((1...64).contains(workers), "--workers must be in 1...64.")
    try check(
      backboneRateScale >= 0 && backboneRateScale.isFinite, "--backbone-lr-scale must be a finite number ≥ 0.")
  }

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
    case syncBatchNorm = "sync_batch_norm"
    case freeze
    case backboneRateScale = "backbone_lr_scale"
    case patience
    case classWeights = "class_weights"
    case precision
  }

  /// Every key but the optional ones is required (a training checkpoint writes them all).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    epochs = try c.decode(Int.self, forKey: .epochs)
    batchSize = try c.decode(Int.self, forKey: .batchSize)
    learningRate = try c.decode(Float.self, forKey: .learningRate)
    momentum = try c.decode(Float.self, forKey: .momentum)
    nesterov = try c.decode(Bool.self, forKey: .nesterov)
    weightDecay = try c.decode(Float.self, forKey: .weightDecay)
    schedule = try c.decode(LearningRateSchedule.Kind.self, forKey: .schedule)
    warmupEpochs = try c.decode(Int.self, forKey: .warmupEpochs)
    labelSmoothing = try c.decode(Float.self, forKey: .labelSmoothing)
    cropPadding = try c.decode(Int.self, forKey: .cropPadding)
    horizontalFlip = try c.decode(Bool.self, forKey: .horizontalFlip)
    seed = try c.decode(UInt64.self, forKey: .seed)
    workers = try c.decode(Int.self, forKey: .workers)
    logGradientsEvery = try c.decodeIfPresent(Int.self, forKey: .logGradientsEvery)
    syncBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .syncBatchNorm) ?? false
    freeze = try c.decodeIfPresent(FrozenPart.self, forKey: .freeze) ?? .none
    backboneRateScale = try c.decodeIfPresent(Float.self, forKey: .backboneRateScale) ?? 1
    patience = try c.decodeIfPresent(Int.self, forKey: .patience)
    classWeights = try c.decodeIfPresent(ClassWeighting.self, forKey: .classWeights) ?? .none
    precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? .f32
  }

  /// The optional settings are written only when they differ from the defaults.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(epochs, forKey: .epochs)
    try c.encode(batchSize, forKey: .batchSize)
    try c.encode(learningRate, forKey: .learningRate)
    try c.encode(momentum, forKey: .momentum)
    try c.encode(nesterov, forKey: .nesterov)
    try c.encode(weightDecay, forKey: .weightDecay)
    try c.encode(schedule, forKey: .schedule)
    try c.encode(warmupEpochs, forKey: .warmupEpochs)
    try c.encode(labelSmoothing, forKey: .labelSmoothing)
    try c.encode(cropPadding, forKey: .cropPadding)
    try c.encode(horizontalFlip, forKey: .horizontalFlip)
    try c.encode(seed, forKey: .seed)
    try c.encode(workers, forKey: .workers)
    try c.encodeIfPresent(logGradientsEvery, forKey: .logGradientsEvery)
    if syncBatchNorm { try c.encode(true, forKey: .syncBatchNorm) }
    if freeze != .none { try c.encode(freeze, forKey: .freeze) }
    if backboneRateScale != 1 { try c.encode(backboneRateScale, forKey: .backboneRateScale) }
    try c.encodeIfPresent(patience, forKey: .patience)
    if classWeights != .none { try c.encode(classWeights, forKey: .classWeights) }
    if precision != .f32 { try c.encode(precision, forKey: .precision) }
  }
}

/// The `resnet.training` metadata of a training checkpoint: the options and the weights'
/// initialization, as one JSON object.
struct TrainingRecord: Codable {
  var options: TrainingOptions
  var initialization: WeightInitialization

  init(options: TrainingOptions, initialization: WeightInitialization) {
    self.options = options
    self.initialization = initialization
  }

  init(from decoder: any Decoder) throws {
    options = try TrainingOptions(from: decoder)
    initialization = try WeightInitialization(from: decoder)
  }

  func encode(to encoder: any Encoder) throws {
    try options.encode(to: encoder)
    try initialization.encode(to: encoder)
  }
}
