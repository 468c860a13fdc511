/// A ResNet with everything needed to use it: its description (``ModelSpec``) and its weights (a
/// ``Network`` built for that description). Load one from a checkpoint with ``init(contentsOf:inputSize:)``,
/// make a new one with ``init(spec:seed:initialization:)``, write one with ``save(to:)``.
///
/// Like its network, not safe to use from several threads at once.
public final class Model {
  /// The architecture, classes, preprocessing and training augmentation (a ``Trainer`` records its
  /// augmentation here).
  public internal(set) var spec: ModelSpec
  /// The weights, in a network built for `spec.configuration`.
  public let network: Network

  /// A new model for `spec`, its weights initialized from `seed` as `initialization` says.
  public init(spec: ModelSpec, seed: UInt64, initialization: WeightInitialization = .init()) throws {
    self.spec = spec
    network = try Network(configuration: spec.configuration, seed: seed, initialization: initialization)
  }

  /// A model of an existing network; throws when the network was built for another architecture or
  /// the classes do not match its classifier.
  public init(spec: ModelSpec, network: Network) throws {
    guard network.configuration == spec.configuration else {
      throw ConfigurationError.invalid("the network was built for another architecture than the model's description")
    }
    guard spec.classes.count == spec.configuration.numClasses else {
      throw ConfigurationError.invalid(
        "\(spec.classes.count) class names for a network of \(spec.configuration.numClasses) classes")
    }
    self.spec = spec
    self.network = network
  }
}
