import ResNetKernels
import Testing

/// The one place that picks a convolution's algorithms: the choices for ResNet's layers, and that a
/// single sample, the first layer (no input gradient) and strided or pointwise layers take the paths
/// meant for them.
@Suite("Convolution plan")
struct ConvolutionPlanTests {
  static func geometry(_ c: Int, _ side: Int, kernel: Int, stride: Int = 1, padding: Int) -> ConvGeometry {
    ConvGeometry(channels: c, height: side, width: side, kernel: kernel, stride: stride, padding: padding)!
  }

  @Test func resnetLayersTakeTheirPaths() {
    // A block's 3×3 convolution with 16 channels each way: Winograd throughout, the input gradient
    // being the same-padded convolution of the output gradient.
    let block = ConvolutionPlan(
      geometry: Self.geometry(16, 28, kernel: 3, padding: 1), outputChannels: 16, batch: 128)
    #expect(block.forward == .winograd && block.weightGradient == .winograd)
    #expect(block.inputGradient == .winograd(Self.geometry(16, 28, kernel: 3, padding: 1)))
    // The gray stem (1 → 16 channels, no input gradient): too few channels for Winograd.
    let stem = ConvolutionPlan(
      geometry: Self.geometry(1, 28, kernel: 3, padding: 1), outputChannels: 16, batch: 128, inputGradient: false)
    #expect(stem.forward == .implicit && stem.weightGradient == .implicit && stem.inputGradient == .none)
    // The first block's convolutions at 4 → 4 channels (a thin network): implicit, and the input
    // gradient then needs no column matrix either.
    let thin = ConvolutionPlan(geometry: Self.geometry(4, 16, kernel: 3, padding: 1), outputChannels: 4, batch: 32)
    #expect(thin.forward == .implicit && thin.weightGradient == .implicit)
    #expect(thin.inputGradient == .implicit(Self.geometry(4, 16, kernel: 3, padding: 1)))
    // A stage's first, strided 3×3 convolution and its 1×1 stride-2 projection: im2col by groups.
    for (kernel, padding) in [(3, 1), (1, 0)] {
      let strided = ConvolutionPlan(
        geometry: Self.geometry(16, 28, kernel: kernel, stride: 2, padding: padding), outputChannels: 32, batch: 128)
      #expect(strided.forward == .groupedIm2col && strided.weightGradient == .groupedIm2col)
      #expect(strided.inputGradient == .groupedCol2im)
    }
    // More output channels than the implicit path reads B in place for, 3×3 but unpadded: im2col.
    let wide = ConvolutionPlan(geometry: Self.geometry(4, 10, kernel: 3, padding: 0), outputChannels: 100, batch: 8)
    #expect(wide.forward == .groupedIm2col && wide.weightGradient == .groupedIm2col)
  }

  @Test func aSingleSampleIsOneGEMMPerPass() {
    for batch in [0, 1] {
      let plan = ConvolutionPlan(
        geometry: Self.geometry(16, 28, kernel: 3, padding: 1), outputChannels: 16, batch: batch)
      #expect(plan.forward == .singleSample && plan.weightGradient == .singleSample)
      #expect(plan.inputGradient == .singleSample)
    }
    let first = ConvolutionPlan(
      geometry: Self.geometry(3, 32, kernel: 3, padding: 1), outputChannels: 16, batch: 1, inputGradient: false)
    #expect(first.inputGradient == .none)
  }

  @Test func winogradNeedsEnoughChannelsBothWays() {
    let minimum = ConvolutionBlocking.winogradMinimumChannels
    for (c, o, expected) in [(minimum, minimum, true), (minimum - 1, 64, false), (64, minimum - 1, false)] {
      let plan = ConvolutionPlan(geometry: Self.geometry(c, 8, kernel: 3, padding: 1), outputChannels: o, batch: 4)
      #expect((plan.forward == .winograd) == expected, "\(c) → \(o)")
    }
  }
}
