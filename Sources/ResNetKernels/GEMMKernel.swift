import CKernels

/// A family of SGEMM micro-kernels for one instruction set (AVX-512, AVX2 + FMA, or portable).
///
/// ``best`` is chosen at run time from what the CPU supports; the environment variable
/// `RESNET_GEMM_KERNEL` (a family name) overrides it.
public struct GEMMKernel: Sendable, Hashable, CustomStringConvertible {
  /// The family's name: "avx512", "avx2" or "portable".
  public let name: String
  /// Rows of the largest register tile.
  public let mr: Int
  /// Floats per SIMD vector.
  public let width: Int
  /// SIMD vectors per tile row.
  public let vectors: Int
  /// Whether this CPU can run the family.
  public let isSupported: Bool
  /// Columns of the largest register tile.
  public var nr: Int { width * vectors }
  /// The family's index in the C dispatch table.
  let family: Int32
  /// Variants by tile: `variants[(m - 1) * vectors + (v - 1)]` computes m rows by v vectors.
  let variants: [rn_sgemm_ukernel_fn]

  /// The index in ``variants`` of the tile for `rows` (1...mr) rows and `columns` (1...nr) columns:
  /// the fewest vectors that hold the columns.
  @inline(__always)
  func variantIndex(rows: Int, columns: Int) -> Int {
    (rows - 1) * vectors + (columns + width - 1) / width - 1
  }

  init(family: Int32) {
    let info = rn_sgemm_family(family)
    self.family = family
    self.name = String(cString: info.name)
    self.mr = Int(info.mr)
    self.width = Int(info.width)
    self.vectors = Int(info.vectors)
    self.isSupported = rn_sgemm_family_supported(family) != 0
    var variants: [rn_sgemm_ukernel_fn] = []
    for m in 1...Int(info.mr) {
      for v in 1...Int(info.vectors) {
        guard let fn = rn_sgemm_ukernel(family, Int32(m), Int32(v)) else {
          preconditionFailure("CKernels has no \(m)x\(v) variant for family \(family)")
        }
        variants.append(fn)
      }
    }
    self.variants = variants
  }

  /// Every family compiled into this build, best first, supported by this CPU or not.
  public static let all: [GEMMKernel] = (0..<rn_sgemm_family_count()).map(GEMMKernel.init(family:))

  /// The families this CPU can run, best first.
  public static var supported: [GEMMKernel] { all.filter(\.isSupported) }

  /// The family used by default: `RESNET_GEMM_KERNEL` if it names a supported family, otherwise the
  /// best one this CPU supports.
  public static let best: GEMMKernel = {
    if let forced = getenvString("RESNET_GEMM_KERNEL"), let kernel = named(forced) { return kernel }
    return supported[0]  // "portable" is always supported
  }()

  /// The supported family named `name`, if any.
  public static func named(_ name: String) -> GEMMKernel? {
    supported.first { $0.name == name.lowercased() }
  }

  public var description: String { "\(name) (\(mr)x\(nr))" }

  /// `C (m × n) = A (m × depth) · B (depth × n)` by slices of at most `kc` rows of B: slice `pc ..< pc
  /// + kcur` of B comes from `slice(pc, kcur)` (its start and row stride: packed just then, or in place)
  /// and is added to C after the first. A is read in place, row stride `lda`. Every column's sum runs
  /// over the same slices in the same order whatever `n` and the column's place, so a column's bits
  /// never depend on its neighbours.
  @inline(__always)
  func multiply(
    _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, m: Int, n: Int, depth: Int, kc: Int,
    a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    slice: (_ pc: Int, _ kcur: Int) -> (b: UnsafePointer<Float>, ldb: Int)
  ) {
    multiply(variants, m: m, n: n, depth: depth, kc: kc, c: c, ldc: ldc, slice: slice) { i, pc in
      (a + i * lda + pc, lda, 1)
    }
  }

  /// ``multiply(_:m:n:depth:kc:a:lda:c:ldc:slice:)`` with A packed in register-tile panels: panel p (rows
  /// p·mr ..< p·mr + mr, zero past the last) is `depth × mr` floats from `a + p·depth·mr`, a depth's `mr`
  /// rows adjacent — each micro-kernel call then reads one contiguous run of A. The same operations in
  /// the same order as on A read in place, so the same bits.
  @inline(__always)
  func multiplyPackedA(
    _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, m: Int, n: Int, depth: Int, kc: Int,
    a: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    slice: (_ pc: Int, _ kcur: Int) -> (b: UnsafePointer<Float>, ldb: Int)
  ) {
    multiply(variants, m: m, n: n, depth: depth, kc: kc, c: c, ldc: ldc, slice: slice) { i, pc in
      (a + (i / mr * depth + pc) * mr, 1, mr)
    }
  }

  /// The depth-slice loop of both: slice `pc` of A starts for rows `i ..< i + mr` at `tile(i, pc)`, with the
  /// stride between its rows and between its depths.
  @inline(__always)
  private func multiply(
    _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, m: Int, n: Int, depth: Int, kc: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    slice: (_ pc: Int, _ kcur: Int) -> (b: UnsafePointer<Float>, ldb: Int),
    tile: (_ i: Int, _ pc: Int) -> (a: UnsafePointer<Float>, rowStride: Int, depthStride: Int)
  ) {
    var pc = 0
    while pc < depth {
      let kcur = min(kc, depth - pc)
      let (b, ldb) = slice(pc, kcur)
      sweep(
        variants, m: m, n: n, depth: kcur, b: b, ldb: ldb, c: c, ldc: ldc,
        scales: rn_scales(alpha: 1, beta: pc == 0 ? 0 : 1)
      ) { i in tile(i, pc) }
      pc += kcur
    }
  }

  /// `C = alpha·A·B + beta·C` for an `m × n` block over one depth slice, one
  /// register tile at a time, row panels outer: A (`m × depth`) read in place with row stride `lda`;
  /// B (`depth × n`) with row stride `ldb`, its rows read as whole vectors (up to `nr − 1` floats
  /// past column `n`); C with row stride `ldc`, only its `m × n` block written. `variants` is
  /// ``variants``' buffer (its pointer, taken once by the caller's loops).
  @inline(__always)
  func multiply(
    _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, m: Int, n: Int, depth: Int, a: UnsafePointer<Float>,
    lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    scales: rn_scales
  ) {
    sweep(variants, m: m, n: n, depth: depth, b: b, ldb: ldb, c: c, ldc: ldc, scales: scales) { i in
      (a + i * lda, lda, 1)
    }
  }

  /// The register tiles of an `m × n` block over one depth slice, row panels outer; rows `i ..< i + mr` of
  /// A start at `tile(i)`, with the stride between their rows and between their depths.
  @inline(__always)
  private func sweep(
    _ variants: UnsafeBufferPointer<rn_sgemm_ukernel_fn>, m: Int, n: Int, depth: Int, b: UnsafePointer<Float>,
    ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, scales: rn_scales,
    tile: (_ i: Int) -> (a: UnsafePointer<Float>, rowStride: Int, depthStride: Int)
  ) {
    var i = 0
    while i < m {
      let rows = min(mr, m - i)
      let (a, rowStride, depthStride) = tile(i)
      var j = 0
      while j < n {
        let columns = min(nr, n - j)
        variants[variantIndex(rows: rows, columns: columns)](
          depth, a, rowStride, depthStride, b + j, ldb, c + i * ldc + j, ldc, scales, columns, nil, nil)
        j += nr
      }
      i += mr
    }
  }

  public static func == (lhs: GEMMKernel, rhs: GEMMKernel) -> Bool { lhs.family == rhs.family }
  public func hash(into hasher: inout Hasher) { hasher.combine(family) }
}

private func getenvString(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  return String(cString: value)
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif
