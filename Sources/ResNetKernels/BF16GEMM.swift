import CKernels

/// bfloat16 matrix multiplication as PyTorch's autocast does it on the CPU: operands rounded to bf16
/// (to nearest, ties to even), products accumulated in float32. Runs AVX512_BF16's `vdpbf16ps` where
/// the CPU has it and otherwise an emulation of that instruction (slower than float32), so a result is
/// the same bits on every machine.
public enum BF16GEMM {
  /// Whether this CPU runs the native kernel.
  public static var nativeAvailable: Bool { BF16Kernel.nativeAvailable }

  /// `x` rounded to bf16 and back to float32 (a float32 denormal becomes a zero of its sign).
  public static func rounded(_ x: Float) -> Float { rn_bf16_value(rn_bf16_round(x)) }

  /// C = A·B for row-major A (m × k, row stride `lda`), B (k × n, `ldb`) and C (m × n, `ldc`), with A and B
  /// rounded to bf16, in slices of ``GEMMBlocking/kc`` of the depth. `native: false` forces the emulation
  /// (for tests); by default the native kernel runs where the CPU has it. One thread.
  public static func multiply(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, native: Bool = true
  ) {
    precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldb >= n && ldc >= n)
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
      return
    }
    let kernel = native ? BF16Kernel.best : BF16Kernel.emulated
    let pairs = (k + 1) / 2
    let ldp = roundUp(n, BF16Kernel.nr)  // B's pair rows, padded to whole tiles
    let packedA = UnsafeMutableRawPointer.allocate(byteCount: m * pairs * 4, alignment: 64)  // m × pairs words
    let packedB = UnsafeMutableRawPointer.allocate(byteCount: pairs * ldp * 4, alignment: 64)  // pairs × ldp words
    defer {
      packedA.deallocate()
      packedB.deallocate()
    }
    _ = roundRowsToBF16(a, rows: m, columns: k, ld: lda, into: packedA)
    rn_bf16_pair_rows(b, ldb, k, n, packedB, ldp)
    kernel.multiply(m: m, n: n, depth: k, kc: GEMMBlocking.kc, a: packedA, lda: pairs, c: c, ldc: ldc) { pc, _ in
      (UnsafeRawPointer(packedB + pc / 2 * ldp * 4), ldp)
    }
  }
}
