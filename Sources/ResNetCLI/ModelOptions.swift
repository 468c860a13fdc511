import ArgumentParser
import ResNet

/// The architecture options shared by `resnet info` and `resnet bench train|infer`.
struct ModelOptions: ParsableArguments {
  @Option(name: .long, help: "Architecture: \(NetworkConfiguration.modelNames.joined(separator: ", ")).")
  var model: String = "resnet20"

  @Option(name: .long, help: "Input size CxHxW (default: 3x32x32 for CIFAR-style models, 3x224x224 otherwise).")
  var input: String?

  @Option(name: .long, help: "Output classes (default: 10 for CIFAR-style models, 1000 otherwise).")
  var classes: Int?

  @OptionGroup var variant: VariantOptions

  func validate() throws {
    if let classes, classes < 1 { throw ValidationError("--classes must be positive.") }
    _ = try configuration()
  }

  /// The configuration these options name, with every stage width times `widthMultiplier`.
  func configuration(widthMultiplier: Double = 1) throws -> NetworkConfiguration {
    let cifar = NetworkConfiguration.cifarModelNames.contains(model.lowercased())
    let (c, h, w) = try parseInputShape(input ?? (cifar ? "3x32x32" : "3x224x224"))
    do {
      var configuration = try NetworkConfiguration.named(
        model, inChannels: c, numClasses: classes ?? (cifar ? 10 : 1000), inputHeight: h, inputWidth: w,
        widthMultiplier: widthMultiplier)
      try variant.apply(to: &configuration)
      return configuration
    } catch let error as ConfigurationError {
      throw ValidationError(error.description)
    }
  }
}

/// The architecture variants (docs/contracts.md's "Variants") shared by `resnet train`, `info` and `bench`.
struct VariantOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "identity: a residual network; none: the plain network with the same layers and no shortcuts.",
      valueName: "identity|none"))
  var shortcut: NetworkConfiguration.Shortcut = .identity

  @Option(
    help: ArgumentHelp(
      "none: s + F(x); rezero: s + alpha·F(x), a learned alpha per block starting at 0 (needs shortcuts).",
      valueName: "none|rezero"))
  var residualScale: NetworkConfiguration.ResidualScale = .none

  @Option(
    help: ArgumentHelp(
      "batch: BatchNorm after every convolution; none: no normalization, every convolution with a bias.",
      valueName: "batch|none"))
  var norm: NetworkConfiguration.Norm = .batch

  @Flag(
    help:
      "Pre-activation blocks (He et al. 2016): BatchNorm and ReLU before each convolution, nothing after the add.")
  var preact = false

  /// Whether every variant flag is at its default (the plain v1 network).
  var isDefault: Bool { shortcut == .identity && residualScale == .none && norm == .batch && !preact }

  /// Sets the variant keys of `configuration` and validates it.
  func apply(to configuration: inout NetworkConfiguration) throws {
    configuration.shortcut = shortcut
    configuration.residualScale = residualScale
    configuration.norm = norm
    configuration.preact = preact
    try configuration.validate()
  }
}

extension NetworkConfiguration.Shortcut: ExpressibleByArgument {}
extension NetworkConfiguration.ResidualScale: ExpressibleByArgument {}
extension NetworkConfiguration.Norm: ExpressibleByArgument {}
extension Network.ConvInitialization: ExpressibleByArgument {}
extension LearningRateSchedule.Kind: ExpressibleByArgument {}
extension FrozenPart: ExpressibleByArgument {}
extension TrainingOptions.ClassWeighting: ExpressibleByArgument {}

/// Parses `CxHxW` into positive sizes.
func parseInputShape(_ text: String) throws -> (Int, Int, Int) {
  let parts = text.lowercased().split(separator: "x").map { Int($0) }
  guard parts.count == 3, let c = parts[0], let h = parts[1], let w = parts[2], c >= 1, h >= 1, w >= 1,
    c <= 4096, h <= 65536, w <= 65536
  else { throw ValidationError("--input must be CxHxW with positive sizes, e.g. 3x32x32; got '\(text)'.") }
  return (c, h, w)
}

/// `--precision f32|bf16`, for the commands that run a network (`train` has its own: it may not be
/// given with `--resume`).
struct PrecisionOption: ParsableArguments {
  @Option(help: ArgumentHelp(Precision.optionHelp, valueName: "precision"))
  var precision: Precision = .f32
}

extension Precision: ExpressibleByArgument {}
