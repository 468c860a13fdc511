/// What a model is, apart from its weights: the architecture, the class names, how images become
/// inputs, the augmentation and the precision it was trained with — the `resnet.config`, `resnet.classes`,
/// `resnet.preprocess`, `resnet.augmentation` and `resnet.precision` metadata of a checkpoint
/// (docs/contracts.md).
public struct ModelSpec: Sendable, Equatable {
  /// The architecture.
  public var configuration: NetworkConfiguration
  /// Class names in label order.
  public var classes: [String]
  /// How images become inputs.
  public var preprocessing: Preprocessing
  /// The augmentation the weights were trained with; nil when unknown (a torchvision state_dict, a
  /// model not trained by this tool). Test-time flips need a model trained with flips.
  public var augmentation: Augmentation?
  /// The precision of the products the weights were trained with (`resnet train --precision`); nil when
  /// unknown. The weights are float32 either way, and run in either precision.
  public var trainingPrecision: Precision?

  /// A description of a model.
  public init(
    configuration: NetworkConfiguration, classes: [String], preprocessing: Preprocessing,
    augmentation: Augmentation? = nil, trainingPrecision: Precision? = nil
  ) {
    self.configuration = configuration
    self.classes = classes
    self.preprocessing = preprocessing
    self.augmentation = augmentation
    self.trainingPrecision = trainingPrecision
  }

  /// ImageNet's normalization, which torchvision's pretrained weights expect.
  public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
  public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]
}
