/// One step of SGD with momentum on `count` parameters, PyTorch's `torch.optim.SGD` update for each
/// element: `g = grad + weightDecay·w`; with `buffer`, `buffer = first ? g : momentum·buffer +
/// (1 − dampening)·g` and then `g = nesterov ? g + momentum·buffer : buffer`; `w −= lr·g`.
///
/// Sixteen elements at a time and shared out over the pool's threads; every element goes through the
/// same float32 operations in the same order (no fused multiply-adds), so the result is the same bits
/// as one element at a time, for any thread count.
public func sgdUpdate(
  weights w: UnsafeMutablePointer<Float>, gradients grad: UnsafePointer<Float>, buffer: UnsafeMutablePointer<Float>?,
  count: Int, learningRate lr: Float, weightDecay: Float, momentum: Float, dampening: Float, nesterov: Bool,
  first: Bool, threads: Int? = nil, pool: ThreadPool = .shared
) {
  let weights = SendablePointer(w)
  let gradients = SendablePointer(UnsafeMutablePointer(mutating: grad))
  let momentumBuffer = buffer.map(SendablePointer.init)
  parallelRanges(count, work: 4 * count, threads: threads, pool: pool) { range in
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
      let w = UnsafeMutableRawPointer(weights.base + i)
      var g = UnsafeRawPointer(gradients.base + i).loadUnaligned(as: SIMD16<Float>.self)
      g = g + weightDecay * w.loadUnaligned(as: SIMD16<Float>.self)
      if let momentumBuffer {
        let b = UnsafeMutableRawPointer(momentumBuffer.base + i)
        let updated = first ? g : momentum * b.loadUnaligned(as: SIMD16<Float>.self) + (1 - dampening) * g
        b.storeBytes(of: updated, as: SIMD16<Float>.self)
        g = nesterov ? g + momentum * updated : updated
      }
      w.storeBytes(of: w.loadUnaligned(as: SIMD16<Float>.self) - lr * g, as: SIMD16<Float>.self)
      i += 16
    }
    while i < range.upperBound {
      var g = gradients.base[i] + weightDecay * weights.base[i]
      if let momentumBuffer {
        let updated = first ? g : momentum * momentumBuffer.base[i] + (1 - dampening) * g
        momentumBuffer.base[i] = updated
        g = nesterov ? g + momentum * updated : updated
      }
      weights.base[i] -= lr * g
      i += 1
    }
  }
}
