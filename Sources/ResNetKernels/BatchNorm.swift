import CKernels

/// BatchNorm over NCHW activations, with an optional residual add and ReLU fused after it:
/// `y = [relu](γ · (x − mean) / sqrt(var + eps) + β [+ residual])`.
///
/// All buffers are `batch × channels × plane` (plane = H·W) unless said otherwise; per-channel buffers
/// hold `channels` floats. Work is split by channel and each channel is reduced in one fixed order (in
/// Double), so results are the same for any thread count.
public struct BatchNormShape: Sendable, Hashable {
  /// Samples, channels and pixels per channel plane.
  public let batch: Int, channels: Int, plane: Int
  /// Creates a shape.
  public init(batch: Int, channels: Int, plane: Int) {
    (self.batch, self.channels, self.plane) = (batch, channels, plane)
  }
  /// Values reduced per channel (N·H·W).
  public var reduced: Int { batch * plane }
  /// All elements.
  public var count: Int { batch * channels * plane }
}

/// Sums per-channel statistics over every process of a data-parallel run in place (synchronized
/// BatchNorm, as PyTorch's `SyncBatchNorm`); every process must get the same bits.
public typealias StatisticsSum = (UnsafeMutableBufferPointer<Double>) -> Void

/// Training-mode forward: normalizes with the batch statistics, saves them for the backward pass, and
/// updates the running statistics as PyTorch does: `running = (1 − momentum)·running + momentum·stat`,
/// with the unbiased variance (`· M/(M−1)`, M = N·H·W) for `runningVar` and the biased one to normalize.
///
/// - `savedMean`, `savedInvStd` (per channel): written, the batch mean and `1/sqrt(var + eps)`.
/// - `residual`: added after the affine transform, before the ReLU (the block's shortcut), if given.
/// - `synchronize`: for synchronized BatchNorm, sums the per-channel sums (and then the squared
///   deviations) over every process, so the statistics are those of the global batch; returns M, the
///   values reduced per channel over all processes (this batch's alone without it).
@discardableResult
public func batchNormForwardTraining(
  input x: UnsafePointer<Float>, shape s: BatchNormShape, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
  epsilon: Float, momentum: Float, runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
  savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
  residual: UnsafePointer<Float>?, relu: Bool, output y: UnsafeMutablePointer<Float>,
  synchronize: StatisticsSum? = nil, threads: Int? = nil, pool: ThreadPool = .shared
) -> Int {
  let io = BatchNormPointers(x: x, y: y, residual: residual)
  let stats = SendablePointer(savedMean)
  let inv = SendablePointer(savedInvStd)
  let running = (SendablePointer(runningMean), SendablePointer(runningVar))
  // Per channel: the sum, then the squared deviations from the mean, each in Double in sample order;
  // with `synchronize`, each phase's sums are added over the processes before the next phase.
  var reduced = s.reduced
  func finish(_ c: Int, mean meanF: Float, squares: Double) {
    let variance = squares / Double(reduced)
    let invStd = Float(1 / (variance + Double(epsilon)).squareRoot())
    stats.base[c] = meanF
    inv.base[c] = invStd
    let unbiased = reduced > 1 ? variance * Double(reduced) / Double(reduced - 1) : variance
    running.0.base[c] = (1 - momentum) * running.0.base[c] + momentum * meanF
    running.1.base[c] = (1 - momentum) * running.1.base[c] + momentum * Float(unbiased)
    let scale = gamma[c] * invStd
    applyAffine(io, s, channel: c, scale: scale, shift: beta[c] - meanF * scale, relu: relu)
  }
  guard let synchronize else {
    parallelRanges(s.channels, work: 3 * s.count, threads: threads, pool: pool) { range in
      for c in range {
        var sum = 0.0
        forEachPlane(s, channel: c) { offset in sum += Double(rn_plane_sum(io.x + offset, s.plane)) }
        let meanF = Float(sum / Double(s.reduced))
        var squares = 0.0
        forEachPlane(s, channel: c) { offset in
          squares += Double(rn_plane_squared_deviations(io.x + offset, s.plane, meanF))
        }
        finish(c, mean: meanF, squares: squares)
      }
    }
    return reduced
  }
  // Only synchronized passes allocate (the per-process path above allocates nothing per step).
  var sums = [Double](repeating: 0, count: s.channels + 1)  // C sums, then M
  var squares = [Double](repeating: 0, count: s.channels)
  sums.withUnsafeMutableBufferPointer { buffer in
    let out = SendableDoubles(buffer.baseAddress!)
    parallelRanges(s.channels, work: s.count, threads: threads, pool: pool) { range in
      for c in range {
        var sum = 0.0
        forEachPlane(s, channel: c) { offset in sum += Double(rn_plane_sum(io.x + offset, s.plane)) }
        out.base[c] = sum
      }
    }
    buffer[s.channels] = Double(s.reduced)
    synchronize(buffer)
  }
  reduced = Int(sums[s.channels])
  let means = sums.prefix(s.channels).map { Float($0 / Double(reduced)) }
  squares.withUnsafeMutableBufferPointer { buffer in
    let out = SendableDoubles(buffer.baseAddress!)
    parallelRanges(s.channels, work: s.count, threads: threads, pool: pool) { range in
      for c in range {
        var sum = 0.0
        forEachPlane(s, channel: c) { offset in
          sum += Double(rn_plane_squared_deviations(io.x + offset, s.plane, means[c]))
        }
        out.base[c] = sum
      }
    }
    synchronize(buffer)
  }
  parallelRanges(s.channels, work: s.count, threads: threads, pool: pool) { range in
    for c in range { finish(c, mean: means[c], squares: squares[c]) }
  }
  return reduced
}

/// Inference-mode forward: normalizes with the running statistics (nothing is updated).
public func batchNormForwardInference(
  input x: UnsafePointer<Float>, shape s: BatchNormShape, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
  epsilon: Float, runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
  residual: UnsafePointer<Float>?, relu: Bool, output y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let io = BatchNormPointers(x: x, y: y, residual: residual)
  parallelRanges(s.channels, work: 2 * s.count, threads: threads, pool: pool) { range in
    for c in range {
      let scale = gamma[c] / (runningVar[c] + epsilon).squareRoot()
      applyAffine(io, s, channel: c, scale: scale, shift: beta[c] - runningMean[c] * scale, relu: relu)
    }
  }
}

/// Backward of ``batchNormForwardTraining(input:shape:gamma:beta:epsilon:momentum:runningMean:runningVar:savedMean:savedInvStd:residual:relu:output:synchronize:threads:pool:)``:
/// with `g` the gradient after the ReLU's mask (`gradOutput` itself without ReLU),
/// `dx = γ·invStd · (g − mean(g) − x̂ · mean(g · x̂))`, `dγ += Σ g·x̂`, `dβ += Σ g`.
///
/// - `output`: the forward output, needed only with `relu` (its zeros are the mask).
/// - `gradOutput`: with `relu`, masked in place, so that afterwards it holds the gradient of the residual
///   input as well.
/// - `gradInput`: overwritten; `gradGamma`, `gradBeta`: added to.
/// - `synchronize` (synchronized BatchNorm): sums `Σ g` and `Σ g·x̂` over every process before the means
///   are taken; `reduced` is then the forward's global M. `gradGamma` and `gradBeta` still get this
///   process's share only (the parameter gradients are summed over the processes afterwards).
public func batchNormBackward(
  input x: UnsafePointer<Float>, output y: UnsafePointer<Float>?, gradOutput dy: UnsafeMutablePointer<Float>,
  shape s: BatchNormShape, gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
  savedInvStd: UnsafePointer<Float>, relu: Bool, gradInput dx: UnsafeMutablePointer<Float>,
  gradGamma: UnsafeMutablePointer<Float>, gradBeta: UnsafeMutablePointer<Float>,
  synchronize: StatisticsSum? = nil, reduced: Int? = nil, threads: Int? = nil, pool: ThreadPool = .shared
) {
  precondition(!relu || y != nil, "batchNormBackward: the ReLU mask needs the forward output")
  let g = SendablePointer(dy)
  let out = SendablePointer(dx)
  let grads = (SendablePointer(gradGamma), SendablePointer(gradBeta))
  let mask = y.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
  /// Masks channel c's gradient and returns Σ g and Σ g·(x − mean).
  func localSums(_ c: Int) -> (Double, Double) {
    var sumG = 0.0
    var sumGX = 0.0
    forEachPlane(s, channel: c) { offset in
      let (partialG, partialGX) = maskedGradientSums(
        g.base + offset, x: x + offset, mask: relu ? mask.map { UnsafePointer($0.base + offset) } : nil,
        count: s.plane, mean: savedMean[c])
      sumG += Double(partialG)
      sumGX += Double(partialGX)
    }
    return (sumG, sumGX)
  }
  /// dx of channel c from the sums over the (global) batch of M values.
  func inputGradient(_ c: Int, sumG: Double, sumGX: Double, m: Float) {
    let mean = savedMean[c]
    let invStd = savedInvStd[c]
    let scale = gamma[c] * invStd
    let meanG = Float(sumG) / m
    let meanGX = Float(sumGX) * invStd / m  // mean of g·x̂
    let a = scale * invStd * meanGX  // dx = scale·g − a·(x − mean) − scale·meanG
    let shift = scale * meanG
    forEachPlane(s, channel: c) { offset in
      rn_plane_bn_input_gradient(g.base + offset, x + offset, out.base + offset, s.plane, scale, shift, a, mean)
    }
  }
  guard let synchronize else {
    parallelRanges(s.channels, work: 3 * s.count, threads: threads, pool: pool) { range in
      for c in range {
        let (sumG, sumGX) = localSums(c)
        grads.0.base[c] += Float(sumGX) * savedInvStd[c]
        grads.1.base[c] += Float(sumG)
        inputGradient(c, sumG: sumG, sumGX: sumGX, m: Float(s.reduced))
      }
    }
    return
  }
  var sums = [Double](repeating: 0, count: 2 * s.channels)  // Σ g per channel, then Σ g·(x − mean)
  sums.withUnsafeMutableBufferPointer { buffer in
    let out = SendableDoubles(buffer.baseAddress!)
    parallelRanges(s.channels, work: 2 * s.count, threads: threads, pool: pool) { range in
      for c in range {
        let (sumG, sumGX) = localSums(c)
        grads.0.base[c] += Float(sumGX) * savedInvStd[c]
        grads.1.base[c] += Float(sumG)
        (out.base[c], out.base[s.channels + c]) = (sumG, sumGX)
      }
    }
    synchronize(buffer)
  }
  let m = Float(reduced ?? s.reduced)
  parallelRanges(s.channels, work: s.count, threads: threads, pool: pool) { range in
    for c in range { inputGradient(c, sumG: sums[c], sumGX: sums[s.channels + c], m: m) }
  }
}

/// Per-channel sums written by the pool's threads, each to its own slot.
private struct SendableDoubles: @unchecked Sendable {
  let base: UnsafeMutablePointer<Double>
  init(_ base: UnsafeMutablePointer<Double>) { self.base = base }
}

/// Input, output and optional residual of a BatchNorm pass, shareable with the pool's threads.
private struct BatchNormPointers: @unchecked Sendable {
  let x: UnsafePointer<Float>
  let y: UnsafeMutablePointer<Float>
  let residual: UnsafePointer<Float>?
}

/// Calls `body` with the offset of channel `c`'s plane in each sample, in sample order.
@inline(__always)
private func forEachPlane(_ s: BatchNormShape, channel c: Int, _ body: (Int) -> Void) {
  for n in 0..<s.batch { body((n * s.channels + c) * s.plane) }
}

/// `y = [relu](x·scale + shift [+ residual])` over one channel.
@inline(__always)
private func applyAffine(
  _ io: BatchNormPointers, _ s: BatchNormShape, channel c: Int, scale: Float, shift: Float, relu: Bool
) {
  forEachPlane(s, channel: c) { offset in
    rn_plane_affine(io.x + offset, io.residual.map { $0 + offset }, io.y + offset, s.plane, scale, shift, relu ? 1 : 0)
  }
}

/// Zeroes `g` where the ReLU's output `mask` is not positive (when a mask is given), and returns
/// Σ g and Σ g·(x − mean) over the plane.
@inline(__always)
private func maskedGradientSums(
  _ g: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<Float>?, count: Int, mean: Float
) -> (Float, Float) {
  var sums: (g: Float, gx: Float) = (0, 0)
  rn_plane_gradient_sums(g, x, mask, count, mean, &sums.g, &sums.gx)
  return sums
}
