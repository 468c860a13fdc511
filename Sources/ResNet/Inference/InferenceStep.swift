import ResNetKernels

/// One step of an ``InferenceModel``: an operation from values to a value. Values are numbered: 0 is
/// the input batch, every step writes a new one; the memory plan (``InferencePlan``) decides where
/// each lives.
enum InferenceStep: @unchecked Sendable {
  /// `[relu](conv(input) + bias [+ residual])`, BatchNorm (and ReZero's alpha) folded into the
  /// convolution.
  case convolution(PreparedConvolution, input: Int, residual: Int?, relu: Bool, output: Int)
  /// `[relu](input·scale[c] + shift[c])` per channel: a BatchNorm that no convolution precedes
  /// directly (a pre-activation block's first, `bn_final`), with its ReLU.
  case affine(scale: [Float], shift: [Float], relu: Bool, pixels: Int, input: Int, output: Int)
  /// The stem's max pool (the geometry's channels: the input's).
  case maxPool(ConvGeometry, input: Int, output: Int)

  /// The values the step reads.
  var inputs: [Int] {
    switch self {
    case .convolution(_, let input, let residual, _, _): [input] + (residual.map { [$0] } ?? [])
    case .affine(_, _, _, _, let input, _), .maxPool(_, let input, _): [input]
    }
  }

  /// The value the step writes.
  var output: Int {
    switch self {
    case .convolution(_, _, _, _, let output), .affine(_, _, _, _, _, let output), .maxPool(_, _, let output): output
    }
  }

  /// Runs the step over `batch` images, `address(v)` being where value `v` lives.
  func run(batch: Int, address: (Int) -> UnsafeMutablePointer<Float>, pool: ThreadPool) {
    switch self {
    case .convolution(let conv, let input, let residual, let relu, let output):
      conv.forward(
        address(input), batch: batch, output: address(output), residual: residual.map { UnsafePointer(address($0)) },
        relu: relu, pool: pool)
    case .affine(let scale, let shift, let relu, let pixels, let input, let output):
      channelAffineForward(
        input: address(input), batch: batch, scale: scale, shift: shift, pixels: pixels, relu: relu,
        output: address(output), pool: pool)
    case .maxPool(let g, let input, let output):
      maxPoolInference(
        input: address(input), planes: batch * g.channels, geometry: g, output: address(output), pool: pool)
    }
  }
}

extension InferenceStep {
  /// What the step computes, for a profile: `conv 3×3/2 64→128 56×56→28×28 winograd-stride-2 +residual
  /// relu`, `maxpool 3×3/2 64 112×112→56×56`, `affine 256 × 196 pixels relu`.
  var summary: String {
    switch self {
    case .convolution(let conv, _, let residual, let relu, _):
      let g = conv.geometry
      return "conv \(g.kernelHeight)×\(g.kernelWidth)/\(g.strideHeight) \(g.channels)→\(conv.outputChannels) "
        + "\(g.height)×\(g.width)→\(g.outputHeight)×\(g.outputWidth) \(conv.path.rawValue)"
        + (residual == nil ? "" : " +residual") + (relu ? " relu" : "")
    case .affine(let scale, _, let relu, let pixels, _, _):
      return "affine \(scale.count) × \(pixels) pixels" + (relu ? " relu" : "")
    case .maxPool(let g, _, _):
      return "maxpool \(g.kernelHeight)×\(g.kernelWidth)/\(g.strideHeight) \(g.channels) "
        + "\(g.height)×\(g.width)→\(g.outputHeight)×\(g.outputWidth)"
    }
  }
}
