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

/// Training-mode forward: normalizes with the batch statistics, saves them for the backward pass, and
/// updates the running statistics as PyTorch does: `running = (1 − momentum)·running + momentum·stat`,
/// with the unbiased variance (`· M/(M−1)`, M = N·H·W) for `runningVar` and the biased one to normalize.
///
/// - `savedMean`, `savedInvStd` (per channel): written, the batch mean and `1/sqrt(var + eps)`.
/// - `residual`: added after the affine transform, before the ReLU (the block's shortcut), if given.
public func batchNormForwardTraining(
  input x: UnsafePointer<Float>, shape s: BatchNormShape, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
  epsilon: Float, momentum: Float, runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
  savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
  residual: UnsafePointer<Float>?, relu: Bool, output y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let io = BatchNormPointers(x: x, y: y, residual: residual)
  let stats = SendablePointer(savedMean)
  let inv = SendablePointer(savedInvStd)
  let running = (SendablePointer(runningMean), SendablePointer(runningVar))
  parallelRanges(s.channels, work: 3 * s.count, threads: threads, pool: pool) { range in
    for c in range {
      var sum = 0.0
      forEachPlane(s, channel: c) { offset in sum += Double(rn_plane_sum(io.x + offset, s.plane)) }
      let mean = sum / Double(s.reduced)
      let meanF = Float(mean)
      var squares = 0.0
      forEachPlane(s, channel: c) { offset in
        squares += Double(rn_plane_squared_deviations(io.x + offset, s.plane, meanF))
      }
      let variance = squares / Double(s.reduced)
      let invStd = Float(1 / (variance + Double(epsilon)).squareRoot())
      stats.base[c] = meanF
      inv.base[c] = invStd
      let unbiased = s.reduced > 1 ? variance * Double(s.reduced) / Double(s.reduced - 1) : variance
      running.0.base[c] = (1 - momentum) * running.0.base[c] + momentum * meanF
      running.1.base[c] = (1 - momentum) * running.1.base[c] + momentum * Float(unbiased)
      let scale = gamma[c] * invStd
      applyAffine(io, s, channel: c, scale: scale, shift: beta[c] - meanF * scale, relu: relu)
    }
  }
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

/// Backward of ``batchNormForwardTraining(input:shape:gamma:beta:epsilon:momentum:runningMean:runningVar:savedMean:savedInvStd:residual:relu:output:threads:pool:)``:
/// with `g` the gradient after the ReLU's mask (`gradOutput` itself without ReLU),
/// `dx = γ·invStd · (g − mean(g) − x̂ · mean(g · x̂))`, `dγ += Σ g·x̂`, `dβ += Σ g`.
///
/// - `output`: the forward output, needed only with `relu` (its zeros are the mask).
/// - `gradOutput`: with `relu`, masked in place, so that afterwards it holds the gradient of the residual
///   input as well.
/// - `gradInput`: overwritten; `gradGamma`, `gradBeta`: added to.
public func batchNormBackward(
  input x: UnsafePointer<Float>, output y: UnsafePointer<Float>?, gradOutput dy: UnsafeMutablePointer<Float>,
  shape s: BatchNormShape, gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
  savedInvStd: UnsafePointer<Float>, relu: Bool, gradInput dx: UnsafeMutablePointer<Float>,
  gradGamma: UnsafeMutablePointer<Float>, gradBeta: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  precondition(!relu || y != nil, "batchNormBackward: the ReLU mask needs the forward output")
  let g = SendablePointer(dy)
  let out = SendablePointer(dx)
  let grads = (SendablePointer(gradGamma), SendablePointer(gradBeta))
  let mask = y.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
  parallelRanges(s.channels, work: 3 * s.count, threads: threads, pool: pool) { range in
    for c in range {
      let mean = savedMean[c]
      let invStd = savedInvStd[c]
      var sumG = 0.0
      var sumGX = 0.0
      forEachPlane(s, channel: c) { offset in
        let (partialG, partialGX) = maskedGradientSums(
          g.base + offset, x: x + offset, mask: relu ? mask.map { UnsafePointer($0.base + offset) } : nil,
          count: s.plane, mean: mean)
        sumG += Double(partialG)
        sumGX += Double(partialGX)
      }
      let dBeta = Float(sumG)
      let dGamma = Float(sumGX) * invStd
      grads.0.base[c] += dGamma
      grads.1.base[c] += dBeta
      let m = Float(s.reduced)
      let scale = gamma[c] * invStd
      let meanG = dBeta / m
      let meanGX = dGamma / m  // mean of g·x̂
      let a = scale * invStd * meanGX  // dx = scale·g − a·(x − mean) − scale·meanG
      let shift = scale * meanG
      forEachPlane(s, channel: c) { offset in
        rn_plane_bn_input_gradient(g.base + offset, x + offset, out.base + offset, s.plane, scale, shift, a, mean)
      }
    }
  }
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
