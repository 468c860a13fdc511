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
  // The update of 16 elements (the momentum buffer's too, when there is one).
  @inline(__always) func update(_ w: inout SIMD16<Float>, _ grad: SIMD16<Float>, _ b: inout SIMD16<Float>) {
    var g = grad + weightDecay * w
    if momentumBuffer != nil {
      b = first ? g : momentum * b + (1 - dampening) * g
      g = nesterov ? g + momentum * b : b
    }
    w = w - lr * g
  }
  parallelRanges(count, work: 4 * count, threads: threads, pool: pool) { range in
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
      let (w, b) = (
        UnsafeMutableRawPointer(weights.base + i), momentumBuffer.map { UnsafeMutableRawPointer($0.base + i) }
      )
      var (weight, buffer) = (
        w.loadUnaligned(as: SIMD16<Float>.self), b?.loadUnaligned(as: SIMD16<Float>.self) ?? .zero
      )
      update(&weight, UnsafeRawPointer(gradients.base + i).loadUnaligned(as: SIMD16<Float>.self), &buffer)
      w.storeBytes(of: weight, as: SIMD16<Float>.self)
      b?.storeBytes(of: buffer, as: SIMD16<Float>.self)
      i += 16
    }
    // The last few elements in a vector padded with zeros.
    let n = range.upperBound - i
    guard n > 0 else { return }
    var (weight, grad, buffer) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    for l in 0..<n {
      (weight[l], grad[l]) = (weights.base[i + l], gradients.base[i + l])
      if let momentumBuffer { buffer[l] = momentumBuffer.base[i + l] }
    }
    update(&weight, grad, &buffer)
    for l in 0..<n {
      weights.base[i + l] = weight[l]
      if let momentumBuffer { momentumBuffer.base[i + l] = buffer[l] }
    }
  }
}
