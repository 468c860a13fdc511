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
  var i = 0
  while i + 16 <= count {
    store16(load16(source + i), target + i)
    i += 16
  }
  while i < count {
    target[i] = source[i]
    i += 1
  }
}

/// `target[i] += source[i]` for `i < count`.
@inline(__always)
func addFloats(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
  var i = 0
  while i + 16 <= count {
    store16(load16(target + i) + load16(source + i), target + i)
    i += 16
  }
  while i < count {
    target[i] += source[i]
    i += 1
  }
}
