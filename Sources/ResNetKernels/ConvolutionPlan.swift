/// How a convolution is computed — forward, weight gradient and input gradient — chosen here and
/// nowhere else, from the layer's geometry, its output channels and the batch alone (never the thread
/// count, so the bits never depend on it). The thresholds are ``ConvolutionBlocking``'s.
public struct ConvolutionPlan: Sendable, Equatable {
  /// How the output is computed.
  public enum Forward: Sendable, Equatable {
    /// A single sample: one GEMM over its column matrix (im2col, or the sample itself for a pointwise
    /// convolution), split over the threads.
    case singleSample
    /// Winograd's F(2×2, 3×3): items of samples taken by the threads.
    case winograd
    /// Implicit GEMM: each sample's column panels packed straight from its padded copy.
    case implicit
    /// Groups of samples (``ConvolutionGrouping``): im2col of the group, then one GEMM.
    case groupedIm2col
  }

  /// How the weight gradient is computed.
  public enum WeightGradient: Sendable, Equatable {
    /// A single sample: one GEMM over its column matrix, split over the threads.
    case singleSample
    /// The exact gradient of the F(2×2, 3×3) forward, per group of samples, transformed back once.
    case winograd
    /// Per group, the 3×3 taps read in place from the framed input (no column matrix).
    case implicit
    /// Per group, one GEMM over the group's im2col matrix.
    case groupedIm2col
  }

  /// How the input gradient is computed.
  public enum InputGradient: Sendable, Equatable {
    /// Not wanted (the first layer).
    case none
    /// A single sample: one GEMM into its column matrix, then col2im.
    case singleSample
    /// Per group, one GEMM into the group's column matrix, then col2im (in the same pass over the
    /// groups as a ``WeightGradient/groupedIm2col`` weight gradient).
    case groupedCol2im
    /// The stride-1 convolution of the output gradient with the flipped weight (geometry attached),
    /// by Winograd's F(2×2, 3×3).
    case winograd(ConvGeometry)
    /// The same convolution by the implicit path.
    case implicit(ConvGeometry)
  }

  /// The forward pass's path.
  public let forward: Forward
  /// The backward pass's paths.
  public let weightGradient: WeightGradient
  public let inputGradient: InputGradient

  /// The plan for `batch` samples of geometry `g` to `outputChannels` channels; `inputGradient`: whether
  /// the backward pass computes the gradient with respect to the input.
  public init(geometry g: ConvGeometry, outputChannels: Int, batch: Int, inputGradient needed: Bool = true) {
    guard batch > 1 else {
      forward = .singleSample
      weightGradient = .singleSample
      inputGradient = needed ? .singleSample : .none
      return
    }
    forward =
      g.takesWinogradPath(outputChannels: outputChannels)
      ? .winograd : g.takesImplicitPath(outputChannels: outputChannels) ? .implicit : .groupedIm2col
    // Stride 1: the input gradient is itself a stride-1 convolution (of the output gradient, with the
    // flipped weight), without a column matrix or col2im when a batched path takes it.
    let back = needed ? g.inputGradientGeometry(outputChannels: outputChannels) : nil
    if !needed {
      inputGradient = .none
    } else if let back, back.takesWinogradPath(outputChannels: g.channels) {
      inputGradient = .winograd(back)
    } else if let back, back.takesImplicitPath(outputChannels: g.channels) {
      inputGradient = .implicit(back)
    } else {
      inputGradient = .groupedCol2im
    }
    // 3×3, stride 1, padding 1: the weight gradient by Winograd with enough channels, else by reading
    // the input in place — either way only when the input gradient needs no column matrix.
    let noColumnMatrix = inputGradient != .groupedCol2im
    weightGradient =
      noColumnMatrix && g.takesWinogradPath(outputChannels: outputChannels)
      ? .winograd : noColumnMatrix && g.isSamePadded3x3 ? .implicit : .groupedIm2col
  }
}

extension ConvGeometry {
  /// Whether a batch of this convolution to `outputChannels` takes the Winograd path: 3×3, stride 1,
  /// padding 1, with at least ``ConvolutionBlocking/winogradMinimumChannels`` input and output channels
  /// (with fewer, the transforms cost more than the multiplies they save).
  public func takesWinogradPath(outputChannels: Int) -> Bool {
    isSamePadded3x3 && channels >= ConvolutionBlocking.winogradMinimumChannels
      && outputChannels >= ConvolutionBlocking.winogradMinimumChannels
  }

  /// Whether a batch of this convolution to `outputChannels` takes the implicit path: stride 1, not
  /// pointwise (that path needs no im2col anyway), at most ``GEMMBlocking/directBMaximumRows`` output
  /// channels, and a register tile the implicit packing handles.
  func takesImplicitPath(outputChannels: Int) -> Bool {
    hasUnitStride && !isPointwise && outputChannels <= GEMMBlocking.directBMaximumRows
      && GEMMKernel.best.nr <= ConvolutionBlocking.implicitMaximumColumns
  }

  /// A 3×3 kernel with stride 1, padding 1 and dilation 1 (ResNet's convolution).
  var isSamePadded3x3: Bool {
    kernelHeight == 3 && kernelWidth == 3 && hasUnitStride && padHeight == 1 && padWidth == 1 && dilationHeight == 1
      && dilationWidth == 1
  }
}
