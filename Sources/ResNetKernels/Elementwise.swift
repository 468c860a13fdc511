import CKernels

/// `y = max(x, 0)` over `count` elements (NaN stays NaN, as in PyTorch); `y` may be `x`.
public func reluForward(
  input x: UnsafePointer<Float>, count: Int, output y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  parallelRanges(count, work: count, threads: threads, pool: pool) { range in
    for i in range { out.base[i] = max(x[i], 0) }
  }
}

/// `dx = dy` where the forward output `y` is positive, 0 elsewhere; `dx` may be `dy`.
public func reluBackward(
  output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, count: Int,
  gradInput dx: UnsafeMutablePointer<Float>, threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(dx)
  parallelRanges(count, work: count, threads: threads, pool: pool) { range in
    for i in range { out.base[i] = y[i] > 0 ? dy[i] : 0 }
  }
}

/// `y = a + b` over `count` elements; `y` may be `a` or `b`.
public func add(
  _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  parallelRanges(count, work: count, threads: threads, pool: pool) { range in
    rn_sum_floats(a + range.lowerBound, b + range.lowerBound, out.base + range.lowerBound, range.count)
  }
}

/// ReZero's residual add and the block's ReLU: `y = max(s + alpha·h, 0)` over `count` elements (the
/// product rounded before the add, as PyTorch's `alpha * h + s`), or with `relu` false (pre-activation
/// blocks) `y = s + alpha·h`; `y` may be `s` or `h`.
public func scaledResidualReluForward(
  shortcut s: UnsafePointer<Float>, branch h: UnsafePointer<Float>, alpha: Float, count: Int, relu: Bool = true,
  output y: UnsafeMutablePointer<Float>, threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  parallelRanges(count, work: count, threads: threads, pool: pool) { range in
    if relu {
      for i in range {
        let scaled = alpha * h[i]
        out.base[i] = max(s[i] + scaled, 0)
      }
    } else {
      for i in range {
        let scaled = alpha * h[i]
        out.base[i] = s[i] + scaled
      }
    }
  }
}

/// The backward of ``scaledResidualReluForward(shortcut:branch:alpha:count:relu:output:threads:pool:)``:
/// with `relu`, zeroes `dy` in place where `y ≤ 0` (it is then the gradient of the shortcut); writes the
/// branch's gradient `dh = alpha·dy`, and returns alpha's gradient `Σ dy·h`. The sum runs over fixed
/// chunks of 4,096 elements, added in chunk order, so its bits do not depend on the thread count.
public func scaledResidualReluBackward(
  output y: UnsafePointer<Float>, branch h: UnsafePointer<Float>, alpha: Float, count: Int, relu: Bool = true,
  gradOutput dy: UnsafeMutablePointer<Float>, gradBranch dh: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) -> Float {
  let chunk = 4096
  let chunks = (count + chunk - 1) / chunk
  var partials = [Double](repeating: 0, count: chunks)  // one sum per chunk
  let (g, gh) = (SendablePointer(dy), SendablePointer(dh))
  partials.withUnsafeMutableBufferPointer { buffer in
    let sums = SendableDoubles(base: buffer.baseAddress!)
    parallelRanges(chunks, work: count, threads: threads, pool: pool) { range in
      for c in range {
        var sum = 0.0
        for i in c * chunk..<min(count, (c + 1) * chunk) {
          let masked = !relu || y[i] > 0 ? g.base[i] : 0
          g.base[i] = masked
          gh.base[i] = alpha * masked
          sum += Double(masked) * Double(h[i])
        }
        sums.base[c] = sum
      }
    }
  }
  return Float(partials.reduce(0, +))
}

/// Per-chunk sums written by the pool's threads, each to its own slot.
private struct SendableDoubles: @unchecked Sendable {
  let base: UnsafeMutablePointer<Double>
}

/// `y = [relu](x·scale[c] + shift[c])` over `batch` samples of `scale.count` channels of `pixels`
/// floats each (NCHW): an inference-mode BatchNorm folded to one affine map per channel. Planes are
/// shared out over the threads; each is computed alone, so the bits never depend on the thread count.
public func channelAffineForward(
  input x: UnsafePointer<Float>, batch: Int, scale: [Float], shift: [Float], pixels: Int, relu: Bool,
  output y: UnsafeMutablePointer<Float>, threads: Int? = nil, pool: ThreadPool = .shared
) {
  precondition(scale.count == shift.count, "channelAffineForward: \(scale.count) scales, \(shift.count) shifts")
  let channels = scale.count
  let (source, target) = (SendablePointer(UnsafeMutablePointer(mutating: x)), SendablePointer(y))
  parallelRanges(batch * channels, work: batch * channels * pixels, threads: threads, pool: pool) { planes in
    for plane in planes {
      let c = plane % channels
      rn_plane_affine(
        source.base + plane * pixels, nil, target.base + plane * pixels, pixels, scale[c], shift[c], relu ? 1 : 0)
    }
  }
}
