import CKernels

// Training convolutions in mixed precision, as PyTorch's CPU autocast runs them: every operand of the
// convolution's products — the input, the weight and, backward, the output gradient — rounded to bf16,
// the products (exact in float32) summed in float32. The bias and its gradient stay float32.
//
// Forward and the input gradient of a stride-1 convolution (itself a stride-1 convolution of the output
// gradient with the flipped weight) run on the bf16 micro-kernels through a ``PreparedConvolution``
// made for the call; its path depends on the geometry alone, so the bits are the same for any thread
// count and on the native and the emulated kernel. Winograd's weight gradient runs on the bf16 kernels
// too, on its transformed operands rounded to bf16 (as the forward's Winograd rounds its own). The other
// weight gradients, and the input gradient of the other convolutions, run the float32 paths on rounded
// copies of the operands: the same products, summed in float32.

/// `output = conv(round(input), round(weight)) (+ bias)` in bf16 (see
/// ``convolutionForward(input:geometry:batch:weight:outputChannels:bias:output:workspace:precision:threads:pool:)``).
func bf16ConvolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int, weight: UnsafePointer<Float>,
  outputChannels: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, bf16Kernel: BF16Kernel,
  threads: Int?, pool: ThreadPool
) {
  let prepared = PreparedConvolution(
    geometry: g, outputChannels: outputChannels,
    weight: Array(UnsafeBufferPointer(start: weight, count: outputChannels * g.columnRows)),
    bias: bias.map { Array(UnsafeBufferPointer(start: $0, count: outputChannels)) }, precision: .bf16,
    bf16Kernel: bf16Kernel)
  prepared.forward(input, batch: batch, output: output, relu: false, threads: threads, pool: pool)
}

/// The backward pass of ``bf16ConvolutionForward(input:geometry:batch:weight:outputChannels:bias:output:bf16Kernel:threads:pool:)``:
/// the same gradients as the float32 pass with every product's operands rounded to bf16; `gradBias`
/// sums the output gradient as it is.
func bf16ConvolutionBackward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int, weight: UnsafePointer<Float>,
  outputChannels: Int, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
  gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer,
  bf16Kernel: BF16Kernel, threads: Int?, pool: ThreadPool
) {
  if let gradBias {
    addBiasGradient(gradOutput, batch: batch, channels: outputChannels, pixels: g.outputPixels, into: gradBias)
  }
  guard batch > 0 else { return }
  let plan = ConvolutionPlan(
    geometry: g, outputChannels: outputChannels, batch: batch, inputGradient: gradInput != nil)
  /// `body` on copies of the input and the output gradient rounded to bf16.
  func withRoundedOperands(_ body: (_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>) -> Void) {
    let inputCount = batch * g.inputCount
    let gradCount = batch * outputChannels * g.outputPixels
    let rounded = convolutionScratch.take(inputCount + gradCount)
    defer { convolutionScratch.give(rounded) }
    let x = rounded.pointer  // batch × C × H × W, rounded to bf16
    let dy = rounded.pointer + inputCount  // batch × O × Ho·Wo, rounded to bf16
    roundToBF16(input, count: inputCount, into: x, threads: threads, pool: pool)
    roundToBF16(gradOutput, count: gradCount, into: dy, threads: threads, pool: pool)
    body(x, dy)
  }
  switch plan.inputGradient {
  case .winograd(let back), .implicit(let back):
    // The weight gradient alone (its plan without the input gradient takes the same path): Winograd's
    // on the bf16 kernels, the others on rounded copies. Then the input gradient as a bf16 convolution
    // of the output gradient with the flipped weight.
    if plan.weightGradient == .winograd {
      float32ConvolutionBackward(
        input: input, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels,
        gradOutput: gradOutput, gradWeight: gradWeight, gradBias: nil, gradInput: nil, workspace: workspace,
        winogradBF16: bf16Kernel, threads: threads, pool: pool)
    } else {
      withRoundedOperands { x, dy in
        float32ConvolutionBackward(
          input: x, geometry: g, batch: batch, weight: weight, outputChannels: outputChannels, gradOutput: dy,
          gradWeight: gradWeight, gradBias: nil, gradInput: nil, workspace: workspace, threads: threads, pool: pool)
      }
    }
    let flipped = [Float](unsafeUninitializedCapacity: outputChannels * g.columnRows) { buffer, count in
      g.flippedForInputGradient(weight, outputChannels: outputChannels, into: buffer.baseAddress!)
      count = buffer.count
    }
    let prepared = PreparedConvolution(
      geometry: back, outputChannels: g.channels, weight: flipped, bias: nil, precision: .bf16,
      bf16Kernel: bf16Kernel)
    prepared.forward(gradOutput, batch: batch, output: gradInput!, relu: false, threads: threads, pool: pool)
  case .none, .singleSample, .groupedCol2im:
    let weightCount = outputChannels * g.columnRows
    let w = convolutionScratch.take(weightCount)  // O × K, rounded to bf16
    defer { convolutionScratch.give(w) }
    roundToBF16(weight, count: weightCount, into: w.pointer, threads: threads, pool: pool)
    withRoundedOperands { x, dy in
      float32ConvolutionBackward(
        input: x, geometry: g, batch: batch, weight: w.pointer, outputChannels: outputChannels, gradOutput: dy,
        gradWeight: gradWeight, gradBias: nil, gradInput: gradInput, workspace: workspace, threads: threads,
        pool: pool)
    }
  }
}

/// `target[i] = source[i]` rounded to bf16 (kept as float32) for `i < count`, by ranges over the threads.
public func roundToBF16(
  _ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>, threads: Int? = nil,
  pool: ThreadPool = .shared
) {
  let from = SendablePointer(UnsafeMutablePointer(mutating: source))
  let to = SendablePointer(target)
  parallelRanges(count, work: count, threads: threads, pool: pool) { range in
    rn_bf16_round_floats(from.base + range.lowerBound, range.count, to.base + range.lowerBound)
  }
}
