import ResNetKernels
import Testing

@Suite("Shape arithmetic")
struct ConvGeometryTests {
  @Test("convolution output sizes follow PyTorch's formula")
  func convSizes() {
    // (input, kernel, stride, padding, dilation) -> PyTorch's nn.Conv2d output size
    #expect(convOutputSize(input: 32, kernel: 3, stride: 1, padding: 1) == 32)
    #expect(convOutputSize(input: 32, kernel: 3, stride: 2, padding: 1) == 16)
    #expect(convOutputSize(input: 224, kernel: 7, stride: 2, padding: 3) == 112)
    #expect(convOutputSize(input: 28, kernel: 1, stride: 2, padding: 0) == 14)
    #expect(convOutputSize(input: 7, kernel: 3, stride: 2, padding: 1) == 4)
    #expect(convOutputSize(input: 9, kernel: 3, stride: 1, padding: 2, dilation: 2) == 9)
    #expect(convOutputSize(input: 10, kernel: 5, stride: 3, padding: 2) == 4)
  }

  @Test("invalid convolution sizes give nil")
  func convInvalid() {
    #expect(convOutputSize(input: 0, kernel: 3, stride: 1, padding: 1) == nil)
    #expect(convOutputSize(input: 2, kernel: 5, stride: 1, padding: 0) == nil)
    #expect(convOutputSize(input: 8, kernel: 3, stride: 0, padding: 1) == nil)
    #expect(convOutputSize(input: 8, kernel: 3, stride: 1, padding: 2) == nil)  // pad > kernel/2
    #expect(convOutputSize(input: 8, kernel: 3, stride: 1, padding: -1) == nil)
    #expect(ConvGeometry(channels: 0, height: 8, width: 8, kernel: 3) == nil)
  }

  @Test("pooling sizes, floor and ceil mode, as PyTorch's MaxPool2d")
  func poolSizes() {
    #expect(poolOutputSize(input: 112, kernel: 3, stride: 2, padding: 1) == 56)
    #expect(poolOutputSize(input: 5, kernel: 2, stride: 2, padding: 0) == 2)
    #expect(poolOutputSize(input: 5, kernel: 2, stride: 2, padding: 0, ceilMode: true) == 3)
    #expect(poolOutputSize(input: 6, kernel: 3, stride: 3, padding: 1, ceilMode: true) == 3)
    // ceil mode never starts a window in the right padding: 4 with k2 s2 p1 is 3, not 4.
    #expect(poolOutputSize(input: 4, kernel: 2, stride: 2, padding: 1, ceilMode: true) == 3)
    #expect(poolOutputSize(input: 3, kernel: 3, stride: 1, padding: 2) == nil)
  }

  @Test("a geometry derives the GEMM sizes")
  func gemmSizes() {
    let g = ConvGeometry(channels: 16, height: 32, width: 32, kernel: 3, stride: 2, padding: 1)!
    #expect(g.outputHeight == 16 && g.outputWidth == 16)
    #expect(g.columnRows == 144)
    #expect(g.outputPixels == 256)
    #expect(g.inputCount == 16 * 32 * 32)
  }
}
