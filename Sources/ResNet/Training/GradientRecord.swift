/// One row of a run's `gradients.csv`: the L2 norm of one gradient at one logged step.
public struct GradientRecord: Sendable, Equatable {
  /// What the norm is of.
  public enum Kind: String, Sendable {
    /// The loss gradient with respect to a residual block's input.
    case blockInput = "block_input"
    /// The loss gradient with respect to a convolution's weight (before the optimizer step).
    case convolutionWeight = "conv_weight"
  }

  /// 1-based epoch and the run's optimizer step (0-based) of the measurement.
  public var epoch: Int
  public var step: Int
  public var kind: Kind
  /// 1-based position of the block or convolution in the network, and its torchvision name
  /// (`layer1.0` for a block, `layer1.0.conv1.weight` for a weight).
  public var depth: Int
  public var name: String
  /// The gradient's L2 norm.
  public var norm: Double

  /// The columns of gradients.csv.
  static let csvHeader = "epoch,step,kind,depth,name,norm"

  /// The record as a gradients.csv row.
  var csvRow: String { "\(epoch),\(step),\(kind.rawValue),\(depth),\(name),\(norm)" }

  /// A record of its fields.
  init(epoch: Int, step: Int, kind: Kind, depth: Int, name: String, norm: Double) {
    (self.epoch, self.step, self.kind, self.depth, self.name, self.norm) = (epoch, step, kind, depth, name, norm)
  }

  /// The record of a gradients.csv row, or nil when the row does not have the columns of ``csvHeader``.
  init?(csvRow row: Substring) {
    let f = row.split(separator: ",", omittingEmptySubsequences: false)
    guard f.count == 6, let epoch = Int(f[0]), let step = Int(f[1]), let kind = Kind(rawValue: String(f[2])),
      let depth = Int(f[3]), let norm = Double(f[5])
    else { return nil }
    self.init(epoch: epoch, step: step, kind: kind, depth: depth, name: String(f[4]), norm: norm)
  }
}
