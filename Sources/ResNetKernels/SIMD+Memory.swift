import CKernels

/// Unaligned vector loads, and the adds of col2im.

/// The vector of floats at `p`, which need not be aligned.
@inline(__always)
func load<V: SIMD>(_ p: UnsafePointer<Float>, as: V.Type) -> V where V.Scalar == Float {
  UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// `target[i] += source[i]` for `i < count`, on the CPU's widest vectors.
@inline(__always)
func addFloats(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
  rn_add_floats(source, target, count)
}
