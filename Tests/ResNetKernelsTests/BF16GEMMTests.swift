import ResNetKernels
import Testing

/// The bfloat16 GEMM: rounding to nearest even, results within float32 accumulation's error bound of
/// a float64 reference on the rounded operands, and — on a CPU with AVX512_BF16 — the emulation giving
/// `vdpbf16ps`'s bits exactly.
@Suite struct BF16GEMMTests {
  @Test("float32 → bf16 rounds to nearest, ties to even; NaN, infinities and signs survive")
  func rounding() {
    let ulp: Float = 0x1p-7  // bf16's spacing just above 1
    #expect(BF16GEMM.rounded(1) == 1)
    #expect(BF16GEMM.rounded(1 + ulp / 2) == 1)  // a tie: to the even neighbour, 1
    #expect(BF16GEMM.rounded(1 + 3 * ulp / 2) == 1 + 2 * ulp)  // a tie: to the even neighbour, 1 + 2 ulp
    #expect(BF16GEMM.rounded(1 + ulp / 2 + 0x1p-20) == 1 + ulp)  // past the tie: up
    #expect(BF16GEMM.rounded(-(1 + ulp / 2 + 0x1p-20)) == -(1 + ulp))
    #expect(BF16GEMM.rounded(.greatestFiniteMagnitude) == .infinity)
    #expect(BF16GEMM.rounded(-.infinity) == -.infinity)
    #expect(BF16GEMM.rounded(.nan).isNaN)
    #expect(BF16GEMM.rounded(-0.0).sign == .minus && BF16GEMM.rounded(-0.0) == 0)
    #expect(BF16GEMM.rounded(3.14159265) == 3.140625)
  }

  /// Seeded operands spanning several binades, with exact zeros and some tiny values mixed in.
  static func operand(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      let u = Float(state >> 40) / Float(1 << 24)
      switch state % 16 {
      case 0: return 0
      case 1: return (u - 0.5) * 0x1p-120  // tiny: a product may be denormal
      default: return (u - 0.5) * Float(1 << (state % 7))
      }
    }
  }

  static let shapes = [(1, 1, 1), (7, 31, 3), (8, 32, 2), (9, 33, 31), (17, 65, 64), (3, 40, 129)]

  @Test("the emulation is within float32 accumulation's bound of a float64 reference", arguments: shapes)
  func emulationAgainstReference(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    let a = Self.operand(m * k, seed: 1)
    let b = Self.operand(k * n, seed: 2)
    var c = [Float](repeating: .nan, count: m * n)
    BF16GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, native: false)
    for i in 0..<m {
      for j in 0..<n {
        var exact = 0.0
        var magnitude = 0.0
        for p in 0..<k {
          let product = Double(BF16GEMM.rounded(a[i * k + p])) * Double(BF16GEMM.rounded(b[p * n + j]))
          exact += product
          magnitude += abs(product)
        }
        // Each of the k additions rounds once (relative 2^-24), plus flushed denormals (< 2^-126 each).
        let bound = Double(k) * 0x1p-24 * magnitude + Double(2 * k) * 0x1p-126
        #expect(abs(Double(c[i * n + j]) - exact) <= bound, "\(shape) C[\(i)][\(j)] = \(c[i * n + j]), exact \(exact)")
      }
    }
  }

  @Test(
    "on AVX512_BF16, vdpbf16ps and the emulation give the same bits", .enabled(if: BF16GEMM.nativeAvailable),
    arguments: shapes + [(64, 64, 256)])
  func nativeMatchesEmulation(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    let a = Self.operand(m * k, seed: 3)
    let b = Self.operand(k * n, seed: 4)
    var native = [Float](repeating: .nan, count: m * n)
    var emulated = [Float](repeating: .nan, count: m * n)
    BF16GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &native, ldc: n, native: true)
    BF16GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &emulated, ldc: n, native: false)
    #expect(native.map(\.bitPattern) == emulated.map(\.bitPattern), "\(shape)")
    // The comparison can fail: adding each pair's even product first (another reading of the
    // instruction) gives other bits on the largest case.
    if m * n * k >= 64 * 64 * 256 {
      var differs = false
      for i in 0..<m {
        for j in 0..<n {
          var acc: Float = 0
          for p in stride(from: 0, to: k, by: 2) {
            let even = BF16GEMM.rounded(a[i * k + p]) * BF16GEMM.rounded(b[p * n + j])
            let odd = p + 1 < k ? BF16GEMM.rounded(a[i * k + p + 1]) * BF16GEMM.rounded(b[(p + 1) * n + j]) : 0
            acc = (acc + even) + odd
          }
          if acc.bitPattern != native[i * n + j].bitPattern { differs = true }
        }
      }
      #expect(differs)
    }
  }
}
