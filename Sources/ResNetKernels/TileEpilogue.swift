import CKernels

/// A convolution's epilogue (bias, residual, ReLU) for a micro-kernel — float32
/// (``sgemm(m:n:k:panels:b:ldb:c:ldc:threads:pool:packB:epilogue:finished:)``) or bf16
/// (``BF16Kernel/multiply(m:n:pairs:a:aRowStride:aPairStride:b:ldb:c:ldc:accumulate:epilogue:rowsOuter:)``)
/// — to apply to each finished tile as it stores it: row i of the product gets `bias[i]`, then the
/// residual at `residual + i · ldo + j` (which may be the output itself), then ReLU, and goes to
/// `out + i · ldo + j` (which may be C itself).
struct TileEpilogue {
  let bias: UnsafePointer<Float>
  let residual: UnsafePointer<Float>?
  let out: UnsafeMutablePointer<Float>
  let ldo: Int
  let relu: Bool

  /// The epilogue of the tile whose first element is the product's row `row` and column `column`.
  @inline(__always)
  func tile(row: Int, column: Int) -> rn_tile_epilogue {
    rn_tile_epilogue(
      bias: bias + row, residual: residual.map { $0 + row * ldo + column }, out: out + row * ldo + column, ldo: ldo,
      relu: relu ? 1 : 0)
  }
}
