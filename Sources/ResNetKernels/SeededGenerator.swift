import Foundation

/// A small, fast, reproducible random number generator (SplitMix64): the same seed gives the same
/// sequence on every platform and Swift version, unlike the standard library's generator.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// A generator whose sequence is fixed by `seed`.
  public init(seed: UInt64) { state = seed }

  /// A generator for one stream of a seed, e.g. `(seed, epoch, sample)`; different streams are
  /// statistically independent.
  public init(seed: UInt64, stream: UInt64...) {
    var s = SeededGenerator(seed: seed)
    for part in stream { s = SeededGenerator(seed: s.next() ^ (part &* 0x9E37_79B9_7F4A_7C15)) }
    self = s
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform float in [0, 1) with 24 random bits.
  public mutating func nextUniform() -> Float {
    Float(next() >> 40) * 0x1p-24
  }

  /// A uniform integer in 0..<bound (bound > 0), by rejection so every value is equally likely; the
  /// same on every platform, unlike `Int.random(in:using:)`, whose algorithm is not specified.
  public mutating func next(below bound: Int) -> Int {
    precondition(bound > 0)
    let n = UInt64(bound)
    let limit = UInt64.max - UInt64.max % n
    while true {
      let x = next()
      if x < limit { return Int(x % n) }
    }
  }

  /// `values` in a random order (Fisher–Yates, drawing with `next(below:)`).
  public mutating func shuffled<T>(_ values: [T]) -> [T] {
    var out = values
    var i = out.count - 1
    while i > 0 {
      out.swapAt(i, next(below: i + 1))
      i -= 1
    }
    return out
  }

  /// A standard normal float (Box–Muller on two 53-bit uniforms).
  public mutating func nextNormal() -> Float {
    let u1 = (Double(next() >> 11) + 1) * 0x1p-53  // (0, 1]
    let u2 = Double(next() >> 11) * 0x1p-53
    return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
  }
}
