import Foundation

/// The architecture of a ResNet: the `resnet.config` entry of a checkpoint's metadata.
public struct NetworkConfiguration: Codable, Hashable, Sendable {
  /// The stem before the first stage.
  public enum Stem: String, Codable, Sendable, CaseIterable {
    /// 3×3 conv stride 1, BN, ReLU, no max pool (the CIFAR ResNets of He et al. 2015, §4.2).
    case cifar
    /// 7×7 conv stride 2, BN, ReLU, 3×3 max pool stride 2 (torchvision's ImageNet ResNets).
    case imagenet
  }

  /// The kind of residual block.
  public enum Block: String, Codable, Sendable, CaseIterable {
    /// Two 3×3 convolutions, expansion 1.
    case basic
    /// 1×1 → 3×3 → 1×1, expansion 4, stride on the 3×3 (torchvision's v1.5).
    case bottleneck
  }

  /// What each block adds its residual branch to (docs/contracts.md's `"shortcut"` variant key).
  public enum Shortcut: String, Codable, Sendable, CaseIterable {
    /// The identity, or a 1×1 projection when the shape changes (a residual network; the default).
    case identity
    /// Nothing: a plain network, the same blocks without shortcuts or projections (He et al. 2015's
    /// plain-20/56, for the degradation experiment).
    case none
  }

  /// The normalization layers (docs/contracts.md's `"norm"` variant key).
  public enum Norm: String, Codable, Sendable, CaseIterable {
    /// BatchNorm after every convolution (the default).
    case batch
    /// None: every convolution has a bias, and no BatchNorm tensors exist (for the gradient study).
    case none
  }

  /// How the residual branch is scaled before the add (docs/contracts.md's `"residual_scale"` variant key).
  public enum ResidualScale: String, Codable, Sendable, CaseIterable {
    /// Not at all: `s + F(x)` (the default).
    case none
    /// ReZero: `s + alpha·F(x)` with a learned `alpha` per block, starting at 0.
    case rezero
  }

  /// The stem.
  public var stem: Stem
  /// The block kind.
  public var block: Block
  /// Blocks per stage; stage `s > 0` halves the resolution in its first block.
  public var layers: [Int]
  /// Each stage's width (a bottleneck stage outputs 4× this); the stem outputs `widths[0]` channels.
  public var widths: [Int]
  /// Input channels (1 gray, 3 RGB).
  public var inChannels: Int
  /// Output classes.
  public var numClasses: Int
  /// Input image height and width.
  public var inputHeight: Int, inputWidth: Int
  /// Residual (the default) or plain.
  public var shortcut: Shortcut
  /// Whether residual branches are scaled (ReZero) before the add.
  public var residualScale: ResidualScale
  /// BatchNorm (the default) or none.
  public var norm: Norm
  /// Pre-activation blocks (He et al. 2016): normalization and ReLU before each convolution, nothing
  /// after the add, a stem without BatchNorm for "cifar", and `bn_final` + ReLU after the last stage
  /// (docs/contracts.md's `"preact"` variant key; false, the v1 network, by default).
  public var preact: Bool

  enum CodingKeys: String, CodingKey {
    case stem, block, layers, widths, shortcut
    case residualScale = "residual_scale"
    case norm, preact
    case inChannels = "in_channels"
    case numClasses = "num_classes"
    case inputHeight = "input_height"
    case inputWidth = "input_width"
  }

  /// A configuration from its parts (checked by ``validate()``).
  public init(
    stem: Stem, block: Block, layers: [Int], widths: [Int], inChannels: Int, numClasses: Int, inputHeight: Int,
    inputWidth: Int, shortcut: Shortcut = .identity, residualScale: ResidualScale = .none, norm: Norm = .batch,
    preact: Bool = false
  ) {
    (self.stem, self.block, self.layers, self.widths) = (stem, block, layers, widths)
    (self.inChannels, self.numClasses, self.inputHeight, self.inputWidth) =
      (inChannels, numClasses, inputHeight, inputWidth)
    self.shortcut = shortcut
    self.residualScale = residualScale
    self.norm = norm
    self.preact = preact
  }

  /// Decodes the JSON keys; a variant key that is absent takes its default (the v1 network).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      stem: c.decode(Stem.self, forKey: .stem), block: c.decode(Block.self, forKey: .block),
      layers: c.decode([Int].self, forKey: .layers), widths: c.decode([Int].self, forKey: .widths),
      inChannels: c.decode(Int.self, forKey: .inChannels), numClasses: c.decode(Int.self, forKey: .numClasses),
      inputHeight: c.decode(Int.self, forKey: .inputHeight), inputWidth: c.decode(Int.self, forKey: .inputWidth),
      shortcut: c.decodeIfPresent(Shortcut.self, forKey: .shortcut) ?? .identity,
      residualScale: c.decodeIfPresent(ResidualScale.self, forKey: .residualScale) ?? .none,
      norm: c.decodeIfPresent(Norm.self, forKey: .norm) ?? .batch,
      preact: c.decodeIfPresent(Bool.self, forKey: .preact) ?? false)
  }

  /// Encodes the JSON keys; variant keys at their defaults are left out, so a v1 network's
  /// configuration reads exactly as before the variants existed.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(stem, forKey: .stem)
    try c.encode(block, forKey: .block)
    try c.encode(layers, forKey: .layers)
    try c.encode(widths, forKey: .widths)
    try c.encode(inChannels, forKey: .inChannels)
    try c.encode(numClasses, forKey: .numClasses)
    try c.encode(inputHeight, forKey: .inputHeight)
    try c.encode(inputWidth, forKey: .inputWidth)
    if shortcut != .identity { try c.encode(shortcut, forKey: .shortcut) }
    if residualScale != .none { try c.encode(residualScale, forKey: .residualScale) }
    if norm != .batch { try c.encode(norm, forKey: .norm) }
    if preact { try c.encode(preact, forKey: .preact) }
  }

  /// The names ``named(_:inChannels:numClasses:inputHeight:inputWidth:widthMultiplier:)`` knows:
  /// CIFAR-style resnet20/32/44/56/110 and ImageNet-style resnet18/34/50/101/152.
  public static let modelNames = cifarModelNames + ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
  /// The CIFAR-style names among ``modelNames`` (3×3 stem, three stages of 6n+2 layers).
  public static let cifarModelNames = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]

  /// A named architecture for the given input and classes; `widthMultiplier` scales every width.
  public static func named(
    _ name: String, inChannels: Int, numClasses: Int, inputHeight: Int, inputWidth: Int, widthMultiplier: Double = 1
  ) throws -> NetworkConfiguration {
    let (stem, block, layers, widths): (Stem, Block, [Int], [Int])
    switch name.lowercased() {
    case let cifar where cifarModelNames.contains(cifar):
      let n = (Int(name.dropFirst(6))! - 2) / 6
      (stem, block, layers, widths) = (.cifar, .basic, [n, n, n], [16, 32, 64])
    case "resnet18": (stem, block, layers, widths) = (.imagenet, .basic, [2, 2, 2, 2], [64, 128, 256, 512])
    case "resnet34": (stem, block, layers, widths) = (.imagenet, .basic, [3, 4, 6, 3], [64, 128, 256, 512])
    case "resnet50": (stem, block, layers, widths) = (.imagenet, .bottleneck, [3, 4, 6, 3], [64, 128, 256, 512])
    case "resnet101": (stem, block, layers, widths) = (.imagenet, .bottleneck, [3, 4, 23, 3], [64, 128, 256, 512])
    case "resnet152": (stem, block, layers, widths) = (.imagenet, .bottleneck, [3, 8, 36, 3], [64, 128, 256, 512])
    default:
      throw ConfigurationError.unknownModel(name, known: modelNames)
    }
    guard widthMultiplier > 0, widthMultiplier <= 64 else {
      throw ConfigurationError.invalid("width multiplier must be in (0, 64]")
    }
    let config = NetworkConfiguration(
      stem: stem, block: block, layers: layers,
      widths: widths.map { max(1, Int((Double($0) * widthMultiplier).rounded())) }, inChannels: inChannels,
      numClasses: numClasses, inputHeight: inputHeight, inputWidth: inputWidth)
    try config.validate()
    return config
  }

  /// Channels out of the last stage (the classifier's input features).
  public var featureChannels: Int { widths.last! * (block == .bottleneck ? Bottleneck.expansion : 1) }

  /// Throws unless every count is positive, the stages agree, and the input survives every downsampling.
  public func validate() throws {
    guard !layers.isEmpty, layers.count == widths.count else {
      throw ConfigurationError.invalid("layers \(layers) and widths \(widths) must be non-empty and of one length")
    }
    guard layers.allSatisfy({ $0 >= 1 && $0 <= 1024 }), widths.allSatisfy({ $0 >= 1 && $0 <= 65536 }) else {
      throw ConfigurationError.invalid("every stage needs 1–1024 blocks and a width of 1–65536")
    }
    guard (1...4096).contains(inChannels), (1...1_000_000).contains(numClasses) else {
      throw ConfigurationError.invalid("in_channels must be 1–4096 and num_classes 1–1000000")
    }
    guard residualScale == .none || shortcut == .identity else {
      throw ConfigurationError.invalid(
        "residual_scale \(residualScale.rawValue) needs shortcuts: a plain block has no residual add to scale")
    }
    guard (1...4096).contains(inputHeight), (1...4096).contains(inputWidth) else {
      throw ConfigurationError.invalid("input \(inputHeight)×\(inputWidth): each side must be 1–4096 pixels")
    }
    guard outputSize(height: inputHeight, width: inputWidth) != nil else {
      throw ConfigurationError.invalid(
        "input \(inputHeight)×\(inputWidth) is too small for a \(stem) stem and \(layers.count) stages")
    }
  }

  /// The spatial size after the last stage, or nil when some layer's output would be empty.
  public func outputSize(height: Int, width: Int) -> (height: Int, width: Int)? {
    var (h, w) = (height, width)
    func conv(_ k: Int, _ s: Int, _ p: Int) -> Bool {
      guard let nh = convOutputSize(input: h, kernel: k, stride: s, padding: p),
        let nw = convOutputSize(input: w, kernel: k, stride: s, padding: p)
      else { return false }
      (h, w) = (nh, nw)
      return true
    }
    guard h >= 1, w >= 1 else { return nil }
    if stem == .imagenet {
      guard conv(7, 2, 3), let ph = poolOutputSize(input: h, kernel: 3, stride: 2, padding: 1),
        let pw = poolOutputSize(input: w, kernel: 3, stride: 2, padding: 1)
      else { return nil }
      (h, w) = (ph, pw)
    } else if !conv(3, 1, 1) {
      return nil
    }
    for _ in layers.indices.dropFirst() {
      guard conv(3, 2, 1) else { return nil }
    }
    return (h, w)
  }

  /// The JSON text of `resnet.config`.
  public func jsonString() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}

/// Why a network configuration was refused.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
  /// A model name that is not one of the known architectures.
  case unknownModel(String, known: [String])
  /// A configuration that cannot be built, with the reason.
  case invalid(String)

  public var description: String {
    switch self {
    case .unknownModel(let name, let known):
      "unknown model '\(name)'; known models: \(known.joined(separator: ", "))"
    case .invalid(let reason): "invalid network configuration: \(reason)"
    }
  }
}
