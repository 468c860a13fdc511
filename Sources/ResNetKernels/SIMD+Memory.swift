import CKernels

/// Unaligned 16-float vector loads and stores for the elementwise and reduction loops.

/// The 16 floats at `p`, which need not be aligned.
@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
  UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// The 16 floats at `p`, which need not be aligned.
@inline(__always)
func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> { load16(UnsafePointer(p)) }

/// Writes `v` to the 16 floats at `p`, which need not be aligned.
@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// `target[i] = source[i]` for `i < count`, inline (short rows cost less than a `memmove` call).
@inline(__always)
func copyFloats(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
  if count >= 128 {  // long runs: the C library's copy uses the widest vectors the CPU has
    target.update(from: source, count: count)
    return
  }
  var i = 0
  while i + 16 <= count {
    store16(load16(source + i), target + i)
    i += 16
  }
  if i + 8 <= count {
    store(load(source + i, as: SIMD8<Float>.self), target + i)
    i += 8
  }
  if i + 4 <= count {
    store(load(source + i, as: SIMD4<Float>.self), target + i)
    i += 4
  }
  while i < count {
    target[i] = source[i]
    i += 1
  }
}

/// `target[i] += source[i]` for `i < count`, on the CPU's widest vectors.
@inline(__always)
func addFloats(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
  rn_add_floats(source, target, count)
}

/// The vector of floats at `p`, which need not be aligned.
@inline(__always)
func load<V: SIMD>(_ p: UnsafePointer<Float>, as: V.Type) -> V where V.Scalar == Float {
  UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// The vector of floats at `p`, which need not be aligned.
@inline(__always)
func load<V: SIMD>(_ p: UnsafeMutablePointer<Float>, as: V.Type) -> V where V.Scalar == Float {
  UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// Writes `v` to the floats at `p`, which need not be aligned.
@inline(__always)
func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}
