import CKernels

/// Unaligned vector loads and stores, and the short copies and adds of im2col/col2im.

/// The vector of floats at `p`, which need not be aligned.
@inline(__always)
func load<V: SIMD>(_ p: UnsafePointer<Float>, as: V.Type) -> V where V.Scalar == Float {
  UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// Writes `v` to the floats at `p`, which need not be aligned.
@inline(__always)
func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

/// `target[i] = source[i]` for `i < count`: inline for short runs (cheaper than a `memmove` call), the
/// C library's copy, which uses the widest vectors the CPU has, for long ones.
@inline(__always)
func copyFloats(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
  if count >= 128 {
    target.update(from: source, count: count)
    return
  }
  var i = 0
  while i + 16 <= count {
    store(load(source + i, as: SIMD16<Float>.self), target + i)
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
