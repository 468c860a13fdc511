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
    let matrix = columnMatrix(input + b * g.inputCount, geometry: g, columns: columns, threads: threads, pool: pool)
    let result = output + b * outputChannels * pixels  // O × Ho × Wo
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

/// The backward pass of ``convolutionForward(input:geometry:batch:weight:outputChannels:bias:output:workspace:threads:pool:)``
/// as two GEMMs per sample: `gradWeight += gradOutput[b] · columns[b]ᵀ` and
/// `columns' = weightᵀ · gradOutput[b]`, then col2im into `gradInput[b]`.
///
/// - `gradOutput`: `batch × outputChannels × Ho·Wo`;
/// - `gradWeight` (`outputChannels × g.columnRows`) and `gradBias` (`outputChannels`) are added to;
/// - `gradInput` (`batch × g.inputCount`), when given, is overwritten;
/// - `workspace`: grown to `g.columnRows × g.outputPixels` floats, holding first a sample's columns,
///   then their gradient.
///
/// Samples are summed into `gradWeight` one after another in order, and each GEMM is thread-count
/// invariant, so the gradients are bitwise the same for any thread count.
public func convolutionBackward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, gradOutput: UnsafePointer<Float>,
  gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>? = nil,
  gradInput: UnsafeMutablePointer<Float>?, workspace: ScratchBuffer,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let k = g.columnRows
  let pixels = g.outputPixels
  let columns = g.isPointwise ? nil : workspace.reserve(k * pixels)  // K × Ho·Wo
  for b in 0..<batch {
    let matrix = columnMatrix(input + b * g.inputCount, geometry: g, columns: columns, threads: threads, pool: pool)
    let gradResult = gradOutput + b * outputChannels * pixels  // O × Ho·Wo
    sgemm(
      .none, .transposed, m: outputChannels, n: k, k: pixels, a: gradResult, lda: pixels, b: matrix, ldb: pixels,
      beta: 1, c: gradWeight, ldc: k, threads: threads, pool: pool)
    if let gradBias {
      for o in 0..<outputChannels {
        let row = gradResult + o * pixels
        var sum: Float = 0
        for p in 0..<pixels { sum += row[p] }
        gradBias[o] += sum
      }
    }
    guard let gradInput else { continue }
    let gradSample = gradInput + b * g.inputCount  // C × H × W
    sgemm(
      .transposed, .none, m: k, n: pixels, k: outputChannels, a: weight, lda: k, b: gradResult, ldb: pixels,
      c: columns ?? gradSample, ldc: pixels, threads: threads, pool: pool)
    if let columns {
      col2im(columns, geometry: g, batch: 1, into: gradSample, threads: threads, pool: pool)
    }
  }
}

/// The column matrix (`g.columnRows × g.outputPixels`) of one sample (`C × H × W`): im2col into
/// `columns`, or the sample itself when `columns` is nil (the pointwise path).
private func columnMatrix(
  _ sample: UnsafePointer<Float>, geometry g: ConvGeometry, columns: UnsafeMutablePointer<Float>?, threads: Int?,
  pool: ThreadPool
) -> UnsafePointer<Float> {
  guard let columns else { return sample }
  im2col(sample, geometry: g, batch: 1, into: columns, threads: threads, pool: pool)
  return UnsafePointer(columns)
}
