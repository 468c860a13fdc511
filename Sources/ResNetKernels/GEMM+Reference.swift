/// The naive GEMM, accumulating in Float64: the oracle the fast ``sgemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:threads:kernel:pool:)``
/// is tested against. Same arguments and semantics (beta == 0 never reads C).
public func sgemmReference(
  _ transA: Transpose, _ transB: Transpose,
  m: Int, n: Int, k: Int,
  alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0,
  c: UnsafeMutablePointer<Float>, ldc: Int
) {
  for i in 0..<m {
    for j in 0..<n {
      var sum = 0.0
      for p in 0..<k {
        let x = transA == .none ? a[i * lda + p] : a[p * lda + i]
        let y = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
        sum += Double(x) * Double(y)
      }
      let scaled = Double(alpha) * sum
      c[i * ldc + j] = Float(beta == 0 ? scaled : scaled + Double(beta) * Double(c[i * ldc + j]))
    }
  }
}
