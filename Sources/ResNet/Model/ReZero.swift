import ResNetKernels

/// ReZero's scaled residual add (Bachlechner et al. 2020): `y = relu(s + alpha·F(x))`, where `F(x)`
/// is the block's residual branch (its last BatchNorm without ReLU) and `alpha` a learned scalar that
/// starts at 0, so the block starts as exactly the identity (on a non-negative input). In a
/// pre-activation block no ReLU follows: `y = s + alpha·F(x)`. Its state is the block's `alpha`,
/// shape `[1]`.
public final class ReZeroAdd {
  /// The scale of the residual branch.
  public let alpha = Parameter(Tensor(shape: [1]))
  /// Whether a ReLU follows the add (v1 blocks) or not (pre-activation blocks).
  public let relu: Bool
  private var branch: Tensor?  // N × C × H × W, F(x) of the last forward (the BatchNorm's buffer)
  private var output: Tensor?  // N × C × H × W
  private var gradBranch: Tensor?  // N × C × H × W

  /// A scaled add with `alpha` = 0, followed by a ReLU or not.
  public init(relu: Bool = true) { self.relu = relu }

  /// `[relu](shortcut + alpha·branch)`.
  func forward(branch h: Tensor, shortcut s: Tensor) -> Tensor {
    precondition(h.shape == s.shape, "ReZero: the branch and the shortcut differ in shape")
    let y = reuse(&output, shape: h.shape)
    scaledResidualReluForward(
      shortcut: s.pointer, branch: h.pointer, alpha: alpha.value[0], count: h.count, relu: relu, output: y.pointer)
    branch = h
    return y
  }

  /// Masks `dy` in place by the ReLU, if any (it is then the shortcut's gradient), adds alpha's
  /// gradient and returns the branch's gradient.
  func backward(_ dy: Tensor) -> Tensor {
    guard let h = branch, let y = output else { preconditionFailure("ReZero backward without a forward") }
    let dh = reuse(&gradBranch, shape: dy.shape)
    alpha.gradient.pointer[0] += scaledResidualReluBackward(
      output: y.pointer, branch: h.pointer, alpha: alpha.value[0], count: dy.count, relu: relu, gradOutput: dy.pointer,
      gradBranch: dh.pointer)
    return dh
  }
}
