/// What a model is, apart from its weights: the architecture, the class names and how images become
/// inputs — the `resnet.config`, `resnet.classes` and `resnet.preprocess` metadata of a checkpoint
/// (docs/contracts.md).
public struct ModelSpec: Sendable, Equatable {
  /// The architecture.
  public var configuration: NetworkConfiguration
  /// Class names in label order.
  public var classes: [String]
  /// How images become inputs.
  public var preprocessing: Preprocessing

  /// A description of a model.
  public init(configuration: NetworkConfiguration, classes: [String], preprocessing: Preprocessing) {
    self.configuration = configuration
    self.classes = classes
    self.preprocessing = preprocessing
  }

  /// ImageNet's normalization, which torchvision's pretrained weights expect.
  public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
  public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]
}
