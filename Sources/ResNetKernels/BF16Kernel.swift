import CKernels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The numeric precision of a network's convolutions and linear layers.
public enum Precision: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
  /// float32 operands and accumulation.
  case f32
  /// Mixed precision as PyTorch's CPU autocast does it: operands rounded to bfloat16 (to nearest, ties to
  /// even), products accumulated in float32.
  case bf16

  public var description: String { rawValue }

  /// What the choice means, for a command-line option's help.
  public static let optionHelp = """
    f32, or bf16: convolution and classifier operands rounded to bfloat16, products summed in float32 \
    (AVX512_BF16's vdpbf16ps; on a CPU without it an emulation that gives the same bits, slower than f32).
    """
}

/// The bfloat16 micro-kernels: AVX512_BF16's `vdpbf16ps`, or an emulation of that instruction that gives
/// the same bits (slower than float32) where the CPU lacks it. Tiles of up to 8 rows by 32 columns.
public struct BF16Kernel: Sendable, Hashable, CustomStringConvertible {
  /// Rows of the largest register tile.
  public static let mr = 8
  /// Columns of the largest register tile (two vectors of 16 floats).
  public static let nr = 32
  /// Floats per vector.
  static let width = 16

  /// Whether this kernel runs `vdpbf16ps` (rather than the emulation).
  public let isNative: Bool
  /// Variants by tile: `variants[(m - 1) * 2 + (v - 1)]` computes m rows by v vectors.
  let variants: [rn_bf16_ukernel_fn]

  private init(native: Bool) {
    isNative = native && rn_bf16_native_supported() != 0
    var variants: [rn_bf16_ukernel_fn] = []
    for m in 1...Self.mr {
      for v in 1...2 {
        guard let fn = rn_bf16_ukernel(native ? 1 : 0, Int32(m), Int32(v)) else {
          preconditionFailure("CKernels has no bf16 \(m)x\(v) variant")
        }
        variants.append(fn)
      }
    }
    self.variants = variants
  }

  /// `vdpbf16ps` where the CPU has AVX512_BF16, else the emulation; the environment variable
  /// `RESNET_BF16_KERNEL=emulated` forces the emulation (to compare the two).
  public static let best = BF16Kernel(native: getenv("RESNET_BF16_KERNEL").map { String(cString: $0) } != "emulated")
  /// The emulation, on any CPU.
  public static let emulated = BF16Kernel(native: false)
  /// Whether this CPU has AVX512_BF16.
  public static var nativeAvailable: Bool { rn_bf16_native_supported() != 0 }

  public var description: String { isNative ? "avx512-bf16 (8x32)" : "bf16 emulated (8x32)" }

  @inline(__always)
  func variant(rows: Int, columns: Int) -> rn_bf16_ukernel_fn {
    variants[(rows - 1) * 2 + (columns + Self.width - 1) / Self.width - 1]
  }

  /// `C (m × n) = A (m × depth) · B (depth × n)` by slices of at most `kc` (even) of the depth, each added
  /// to C after the first: A is bf16 rows read in place, `lda` words (pairs) apart; pair rows `pc / 2 ..<
  /// (pc + kcur + 1) / 2` of B come from `slice(pc, kcur)` (their start and word stride), read as whole
  /// vectors (up to 31 words past column n). Every column's sum runs over the same slices in the same
  /// order whatever `n` and the column's place.
  /// With an `epilogue`, the last slice's tiles go through it to its output instead of to C; `rowsOuter` as
  /// in the one-slice multiply.
  @inline(__always)
  func multiply(
    m: Int, n: Int, depth: Int, kc: Int, a: UnsafeRawPointer, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    epilogue: TileEpilogue? = nil, rowsOuter: Bool = false,
    slice: (_ pc: Int, _ kcur: Int) -> (b: UnsafeRawPointer, ldb: Int)
  ) {
    var pc = 0
    while pc < depth {
      let kcur = min(kc, depth - pc)
      let (b, ldb) = slice(pc, kcur)
      multiply(
        m: m, n: n, pairs: (kcur + 1) / 2, a: a + pc / 2 * 4, aRowStride: lda, aPairStride: 1, b: b, ldb: ldb, c: c,
        ldc: ldc, accumulate: pc > 0, epilogue: pc + kcur < depth ? nil : epilogue, rowsOuter: rowsOuter)
      pc += kcur
    }
  }

  /// `C (+)= A · B` over one slice of `pairs` pairs, one register tile at a time: pair p of row r of A at
  /// word `r · aRowStride + p · aPairStride`; B's pair rows `ldb` words apart. Column panels outer (a panel
  /// of B, 128 bytes per pair, stays in L1 while A's rows, 4 bytes per pair each, stream past it), or with
  /// `rowsOuter` row tiles outer (a tile's rows of A stay in L1 while B streams past, once per row tile).
  @inline(__always)
  func multiply(
    m: Int, n: Int, pairs: Int, a: UnsafeRawPointer, aRowStride: Int, aPairStride: Int, b: UnsafeRawPointer,
    ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, epilogue: TileEpilogue? = nil,
    rowsOuter: Bool = false
  ) {
    // The tile of `rows` rows at row i and column j.
    @inline(__always) func tile(_ i: Int, _ j: Int, _ rows: Int) {
      let columns = min(Self.nr, n - j)
      let micro = variant(rows: rows, columns: columns)
      let (a, b, c) = (a + i * aRowStride * 4, b + j * 4, c + i * ldc + j)
      if let e = epilogue {
        var tile = e.tile(row: i, column: j)
        micro(pairs, a, aRowStride, aPairStride, b, ldb, c, ldc, accumulate ? 1 : 0, columns, &tile)
      } else {
        micro(pairs, a, aRowStride, aPairStride, b, ldb, c, ldc, accumulate ? 1 : 0, columns, nil)
      }
    }
    let h = tileHeight(rows: m, mr: Self.mr)
    if rowsOuter {
      for i in stride(from: 0, to: m, by: h) {
        for j in stride(from: 0, to: n, by: Self.nr) { tile(i, j, min(h, m - i)) }
      }
    } else {
      for j in stride(from: 0, to: n, by: Self.nr) {
        for i in stride(from: 0, to: m, by: h) { tile(i, j, min(h, m - i)) }
      }
    }
  }

  public static func == (lhs: BF16Kernel, rhs: BF16Kernel) -> Bool { lhs.isNative == rhs.isNative }
  public func hash(into hasher: inout Hasher) { hasher.combine(isNative) }
}

/// A float32 matrix rounded to bf16 rows for the micro-kernels' A operand: `rows × columns` read with row
/// stride `ld`, each row padded with zeros to an even length. Returns the words (pairs) per row.
func roundRowsToBF16(
  _ source: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int, into target: UnsafeMutableRawPointer
) -> Int {
  let words = (columns + 1) / 2
  let halves = target.assumingMemoryBound(to: UInt16.self)
  for r in 0..<rows {
    let row = halves + r * 2 * words
    rn_bf16_round_row(source + r * ld, columns, row)
    if columns % 2 == 1 { row[columns] = 0 }
  }
  return words
}
