import CKernels

/// bfloat16 matrix multiplication as PyTorch's autocast does it on the CPU: operands rounded to bf16
/// (to nearest, ties to even), products accumulated in float32. Runs AVX512_BF16's `vdpbf16ps` where
/// the CPU has it and otherwise an emulation of that instruction (slower than float32), so a result is
/// the same bits on every machine. The building block of `--precision bf16`; not yet used by the
/// convolution paths.
public enum BF16GEMM {
  /// Whether this CPU runs the native kernel.
  public static var nativeAvailable: Bool { rn_bf16_native_supported() != 0 }

  /// `x` rounded to bf16 and back to float32.
  public static func rounded(_ x: Float) -> Float { rn_bf16_value(rn_bf16_round(x)) }

  /// C = A·B for row-major A (m × k, row stride `lda`), B (k × n, `ldb`) and C (m × n, `ldc`), with A and B
  /// rounded to bf16. `native: false` forces the emulation (for tests); by default the native kernel runs
  /// where the CPU has it.
  public static func multiply(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, native: Bool = true
  ) {
    precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldb >= n && ldc >= n)
    guard m > 0, n > 0 else { return }
    // Packed operands: [m/8][k/2][8][2] and [n/32][k/2][32][2] bf16.
    let packedA = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, rn_bf16_packed_a_count(m, k)))
    let packedB = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, rn_bf16_packed_b_count(k, n)))
    defer {
      packedA.deallocate()
      packedB.deallocate()
    }
    rn_bf16_pack_a(a, lda, m, k, packedA)
    rn_bf16_pack_b(b, ldb, k, n, packedB)
    rn_bf16_gemm(native ? 1 : 0, m, n, k, packedA, packedB, c, ldc)
  }
}
