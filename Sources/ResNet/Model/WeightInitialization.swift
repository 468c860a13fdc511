/// How a new network's weights start (besides the seed): torchvision's ResNet initialization by default.
public struct WeightInitialization: Codable, Sendable, Equatable {
  /// How convolution weights are drawn.
  public var convolutions: Network.ConvInitialization = .kaimingNormal
  /// Whether each residual block's last BatchNorm γ starts at 0 (torchvision's `zero_init_residual`),
  /// so that every block starts as the identity.
  public var zeroInitResidual = false

  /// torchvision's initialization.
  public init() {}

  /// An initialization with the given choices.
  public init(convolutions: Network.ConvInitialization = .kaimingNormal, zeroInitResidual: Bool = false) {
    self.convolutions = convolutions
    self.zeroInitResidual = zeroInitResidual
  }

  enum CodingKeys: String, CodingKey {
    case convolutions = "conv_init"
    case zeroInitResidual = "zero_init_residual"
  }

  /// Missing keys are the defaults.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    convolutions = try c.decodeIfPresent(Network.ConvInitialization.self, forKey: .convolutions) ?? .kaimingNormal
    zeroInitResidual = try c.decodeIfPresent(Bool.self, forKey: .zeroInitResidual) ?? false
  }

  /// Only the choices that differ from the defaults are written.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    if convolutions != .kaimingNormal { try c.encode(convolutions, forKey: .convolutions) }
    if zeroInitResidual { try c.encode(true, forKey: .zeroInitResidual) }
  }
}
