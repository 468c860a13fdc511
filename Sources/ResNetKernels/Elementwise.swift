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
    for i in range { out.base[i] = a[i] + b[i] }
  }
}
