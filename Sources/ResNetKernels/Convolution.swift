/// A 2-D convolution forward pass through im2col + SGEMM, the engine's reference composition:
/// `output[b, o] = Σ_c weight[o, c] ⋆ input[b, c] (+ bias[o])`.
///
/// - `input`: `batch` samples of `g.channels × g.height × g.width` (NCHW);
/// - `weight`: `outputChannels × g.columnRows`, i.e. OIHW flattened;
/// - `output`: `batch` samples of `outputChannels × g.outputHeight × g.outputWidth`, overwritten;
/// - `workspace`: grown to `g.columnRows × g.outputPixels` floats when im2col is needed.
///
/// Each sample is one GEMM, `output[b] (O × Ho·Wo) = weight (O × K) · columns (K × Ho·Wo)`, written in
/// place in NCHW. A 1×1 kernel with stride 1 and no padding skips im2col: the sample itself is the
/// column matrix.
public func convolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>? = nil,
  output: UnsafeMutablePointer<Float>, workspace: ScratchBuffer,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let k = g.columnRows
  let pixels = g.outputPixels
  let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
  for b in 0..<batch {
    let sample = input + b * g.inputCount  // C × H × W
    let result = output + b * outputChannels * pixels  // O × Ho × Wo
    var matrix = sample
    if let columns {
      im2col(sample, geometry: g, batch: 1, into: columns, threads: threads, pool: pool)
      matrix = UnsafePointer(columns)
    }
    var beta: Float = 0
    if let bias {
      for o in 0..<outputChannels { (result + o * pixels).update(repeating: bias[o], count: pixels) }
      beta = 1
    }
    sgemm(
      .none, .none, m: outputChannels, n: pixels, k: k, a: weight, lda: k, b: matrix, ldb: pixels,
      beta: beta, c: result, ldc: pixels, threads: threads, pool: pool)
  }
}
