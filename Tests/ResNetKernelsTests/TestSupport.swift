import ResNetKernels

/// A matrix of `rows` × `columns` (row stride `ld`) filled with seeded normal values; padding
/// between rows holds NaN, so a kernel reading outside the matrix shows up in the result.
func randomMatrix(rows: Int, columns: Int, ld: Int, seed: UInt64) -> [Float] {
  var g = SeededGenerator(seed: seed)
  var values = [Float](repeating: .nan, count: max(1, (rows - 1) * ld + columns))
  for i in 0..<rows {
    for j in 0..<columns { values[i * ld + j] = g.nextNormal() }
  }
  return values
}

/// Whether two float arrays are identical bit for bit (NaN payloads included).
func bitwiseEqual(_ x: [Float], _ y: [Float]) -> Bool {
  x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// A second pool with more threads than this machine has cores, so that work splits differ from
/// the shared pool's.
let oversubscribedPool = ThreadPool(threadCount: 5)

/// `convolutionForward` on arrays: `batch` samples of `x` through `weight` (`outputChannels × g.columnRows`).
func convolutionForward(
  _ x: [Float], _ g: ConvGeometry, batch: Int, weight: [Float], outputChannels: Int, bias: [Float]?,
  precision: Precision = .f32, bf16Kernel: BF16Kernel = .best, threads: Int? = nil, pool: ThreadPool = .shared
) -> [Float] {
  var y = [Float](repeating: .nan, count: batch * outputChannels * g.outputPixels)
  x.withUnsafeBufferPointer { xp in
    weight.withUnsafeBufferPointer { wp in
      y.withUnsafeMutableBufferPointer { yp in
        let biasCopy = bias ?? []
        biasCopy.withUnsafeBufferPointer { bp in
          convolutionForward(
            input: xp.baseAddress!, geometry: g, batch: batch, weight: wp.baseAddress!, outputChannels: outputChannels,
            bias: bias == nil ? nil : bp.baseAddress!, output: yp.baseAddress!, workspace: ScratchBuffer(),
            precision: precision, bf16Kernel: bf16Kernel, threads: threads, pool: pool)
        }
      }
    }
  }
  return y
}

/// `convolutionBackward` on arrays: `gradWeight` and `gradBias` (when given) with the gradients added,
/// and the input gradient.
func convolutionBackward(
  _ x: [Float], _ g: ConvGeometry, batch: Int, weight: [Float], outputChannels: Int, gradOutput: [Float],
  gradWeight: [Float], gradBias: [Float]?, precision: Precision = .f32, bf16Kernel: BF16Kernel = .best,
  threads: Int? = nil, pool: ThreadPool = .shared
) -> (weight: [Float], bias: [Float]?, input: [Float]) {
  var dw = gradWeight
  var db = gradBias ?? []
  var dx = [Float](repeating: .nan, count: x.count)
  x.withUnsafeBufferPointer { xp in
    weight.withUnsafeBufferPointer { wp in
      gradOutput.withUnsafeBufferPointer { dyp in
        dw.withUnsafeMutableBufferPointer { dwp in
          db.withUnsafeMutableBufferPointer { dbp in
            dx.withUnsafeMutableBufferPointer { dxp in
              convolutionBackward(
                input: xp.baseAddress!, geometry: g, batch: batch, weight: wp.baseAddress!,
                outputChannels: outputChannels, gradOutput: dyp.baseAddress!, gradWeight: dwp.baseAddress!,
                gradBias: gradBias == nil ? nil : dbp.baseAddress!, gradInput: dxp.baseAddress!,
                workspace: ScratchBuffer(), precision: precision, bf16Kernel: bf16Kernel, threads: threads,
                pool: pool)
            }
          }
        }
      }
    }
  }
  return (dw, gradBias == nil ? nil : db, dx)
}
