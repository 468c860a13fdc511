/// The sizes of one 2-D convolution or pooling window over an NCHW input, and the output size they
/// give (PyTorch's formula: `floor((in + 2·pad − dilation·(kernel − 1) − 1) / stride) + 1`).
public struct ConvGeometry: Hashable, Sendable, CustomStringConvertible {
  /// Input channels, height and width (one sample).
  public let channels: Int, height: Int, width: Int
  /// Kernel height and width.
  public let kernelHeight: Int, kernelWidth: Int
  /// Strides along height and width.
  public let strideHeight: Int, strideWidth: Int
  /// Zero padding added on each side along height and width.
  public let padHeight: Int, padWidth: Int
  /// Spacing between kernel taps along height and width (1 for an ordinary convolution).
  public let dilationHeight: Int, dilationWidth: Int
  /// Output height and width.
  public let outputHeight: Int, outputWidth: Int

  /// A geometry with square kernel, stride, padding and dilation, or nil when the sizes are invalid
  /// (non-positive, padding of half the kernel or more, or a window larger than the padded input).
  public init?(
    channels: Int, height: Int, width: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1
  ) {
    self.init(
      channels: channels, height: height, width: width, kernel: (kernel, kernel), stride: (stride, stride),
      padding: (padding, padding), dilation: (dilation, dilation))
  }

  /// A geometry with separate (height, width) kernel, stride, padding and dilation, or nil when invalid.
  public init?(
    channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
    dilation: (Int, Int) = (1, 1)
  ) {
    guard channels >= 1,
      let oh = convOutputSize(
        input: height, kernel: kernel.0, stride: stride.0, padding: padding.0, dilation: dilation.0),
      let ow = convOutputSize(
        input: width, kernel: kernel.1, stride: stride.1, padding: padding.1, dilation: dilation.1)
    else { return nil }
    (self.channels, self.height, self.width) = (channels, height, width)
    (kernelHeight, kernelWidth) = kernel
    (strideHeight, strideWidth) = stride
    (padHeight, padWidth) = padding
    (dilationHeight, dilationWidth) = dilation
    (outputHeight, outputWidth) = (oh, ow)
  }

  /// Rows of the im2col matrix: channels × kernel height × kernel width (the GEMM's K).
  public var columnRows: Int { channels * kernelHeight * kernelWidth }
  /// Output pixels per channel of one sample (the GEMM's N per sample).
  public var outputPixels: Int { outputHeight * outputWidth }
  /// Input floats per sample.
  public var inputCount: Int { channels * height * width }
  /// Whether im2col is the identity: a 1×1 kernel with stride 1 and no padding.
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padHeight == 0 && padWidth == 0
  }

  public var description: String {
    "\(channels)x\(height)x\(width) k\(kernelHeight)x\(kernelWidth) s\(strideHeight)x\(strideWidth) "
      + "p\(padHeight)x\(padWidth) d\(dilationHeight)x\(dilationWidth) -> \(outputHeight)x\(outputWidth)"
  }
}

/// Output size of a convolution along one dimension (PyTorch's formula), or nil when the sizes are
/// invalid: non-positive input, kernel, stride or dilation, negative padding, padding more than half
/// the kernel, or a window that does not fit the padded input.
public func convOutputSize(input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int = 1) -> Int? {
  guard input >= 1, kernel >= 1, stride >= 1, dilation >= 1, padding >= 0 else { return nil }
  let span = dilation * (kernel - 1) + 1
  guard padding * 2 <= span, input + 2 * padding >= span else { return nil }
  return (input + 2 * padding - span) / stride + 1
}

/// Output size of a max/average pool along one dimension, as PyTorch's pooling layers compute it:
/// with `ceilMode`, rounds up, but the last window must start inside the input or left padding.
public func poolOutputSize(input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool = false) -> Int? {
  guard input >= 1, kernel >= 1, stride >= 1, padding >= 0, padding * 2 <= kernel, input + 2 * padding >= kernel
  else { return nil }
  let span = input + 2 * padding - kernel
  var size = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
  if ceilMode && (size - 1) * stride >= input + padding { size -= 1 }
  return size
}
