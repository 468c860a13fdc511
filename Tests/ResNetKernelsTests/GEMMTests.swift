import ResNetKernels
import Testing

/// One GEMM case: shape, operand layouts, scalars, padded leading dimensions.
struct GEMMCase: CustomStringConvertible {
  var m: Int, n: Int, k: Int
  var transA: Transpose = .none, transB: Transpose = .none
  var alpha: Float = 1, beta: Float = 0
  var padA = 0, padB = 0, padC = 0
  /// Overrides lda (e.g. a multiple of 4 KiB, which makes the driver pack A).
  var lda: Int? = nil

  var description: String {
    "\(m)x\(n)x\(k) \(transA == .none ? "N" : "T")\(transB == .none ? "N" : "T") alpha \(alpha) beta \(beta) lda \(ldA)"
  }
  var aRows: Int { transA == .none ? m : k }
  var aColumns: Int { transA == .none ? k : m }
  var bRows: Int { transB == .none ? k : n }
  var bColumns: Int { transB == .none ? n : k }
  var ldA: Int { lda ?? aColumns + padA }
  var ldB: Int { bColumns + padB }
  var ldC: Int { n + padC }
}

/// Runs the fast GEMM and the float64 reference on the same seeded operands and checks every
/// element of C against a forward error bound, and C's padding untouched.
func checkGEMM(_ t: GEMMCase, kernel: GEMMKernel, threads: Int? = nil, pool: ThreadPool = .shared) {
  let a = randomMatrix(rows: t.aRows, columns: t.aColumns, ld: t.ldA, seed: 1)
  let b = randomMatrix(rows: t.bRows, columns: t.bColumns, ld: t.ldB, seed: 2)
  // With beta == 0 the fast path must not read C: fill it with NaN.
  var c =
    t.beta == 0
    ? [Float](repeating: .nan, count: (t.m - 1) * t.ldC + t.n)
    : randomMatrix(rows: t.m, columns: t.n, ld: t.ldC, seed: 3)
  for i in 0..<(t.m - 1) {
    for j in t.n..<t.ldC { c[i * t.ldC + j] = -7 }  // padding sentinel
  }
  var expected = c
  let original = c
  var bound = [Float](repeating: 0, count: c.count)
  let absA = a.map { $0.isNaN ? $0 : abs($0) }
  let absB = b.map { $0.isNaN ? $0 : abs($0) }
  sgemmReference(
    t.transA, t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: t.ldA, b: b, ldb: t.ldB,
    beta: t.beta, c: &expected, ldc: t.ldC)
  sgemmReference(
    t.transA, t.transB, m: t.m, n: t.n, k: t.k, a: absA, lda: t.ldA, b: absB, ldb: t.ldB,
    c: &bound, ldc: t.ldC)
  sgemm(
    t.transA, t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: t.ldA, b: b, ldb: t.ldB,
    beta: t.beta, c: &c, ldc: t.ldC, threads: threads, kernel: kernel, pool: pool)

  var failures = 0
  for i in 0..<t.m {
    for j in 0..<t.ldC where i < t.m - 1 || j < t.n {
      let index = i * t.ldC + j
      if j >= t.n {
        if c[index] != -7 { failures += 1 }
        continue
      }
      // Float32 accumulation over k terms plus the alpha/beta step: a few ulps per term of Σ|a·b|.
      let scale = abs(t.alpha) * bound[index] + (t.beta == 0 ? 0 : abs(t.beta * original[index]))
      let tolerance = Float(t.k + 4) * 1.2e-7 * scale + 1e-30
      if !(abs(c[index] - expected[index]) <= tolerance) { failures += 1 }
    }
  }
  #expect(failures == 0, "\(kernel.name) \(t): \(failures) wrong elements")
}

/// Shapes around a family's register tile (mr × nr), the depth block kc and the column block nc.
func edgeShapes(for kernel: GEMMKernel) -> [(Int, Int, Int)] {
  let mr = kernel.mr
  let nr = kernel.nr
  let kc = GEMMBlocking.kc
  let nc = GEMMBlocking.nc(depth: kc, nr: nr)
  return [
    (1, 1, 1), (1, 1, 7), (2, 3, 5), (7, 13, 11), (13, 29, 1), (97, 89, 83), (31, 1, 64), (1, 97, 50),
    (mr - 1, nr - 1, 3), (mr, nr, 1), (mr + 1, nr + 1, 2), (2 * mr + 1, 3 * nr - 1, 17),
    (mr, kernel.width, 9), (mr + 1, kernel.width + 1, 9),
    (5, 17, kc - 1), (mr, nr, kc), (mr + 1, 2 * nr + 1, kc + 1), (3, 19, 2 * kc + 5),
    (mr + 2, nc - 1, kc + 3), (2, nc, kc), (mr - 1, nc + 1, kc + 7), (3, 2 * nc + 5, 2 * kc + 1),
  ]
}

@Suite("SGEMM against the float64 reference")
struct GEMMTests {
  @Test("every supported kernel family, edge shapes, all transposes", arguments: GEMMKernel.supported)
  func edgeShapesAllTransposes(kernel: GEMMKernel) {
    for (m, n, k) in edgeShapes(for: kernel) {
      for transA in [Transpose.none, .transposed] {
        for transB in [Transpose.none, .transposed] {
          checkGEMM(GEMMCase(m: m, n: n, k: k, transA: transA, transB: transB), kernel: kernel)
        }
      }
    }
  }

  @Test("alpha and beta, with C pre-filled with NaN when beta is 0", arguments: GEMMKernel.supported)
  func alphaBeta(kernel: GEMMKernel) {
    let scalars: [(Float, Float)] = [(1, 0), (0.5, 0), (-1.5, 1), (2, -0.5), (1, 1), (0, 2), (0, 0), (-3, 0.25)]
    for (alpha, beta) in scalars {
      for (m, n, k) in [(1, 1, 1), (kernel.mr + 3, kernel.nr + 5, 37), (23, 41, GEMMBlocking.kc + 9)] {
        for transA in [Transpose.none, .transposed] {
          for transB in [Transpose.none, .transposed] {
            checkGEMM(
              GEMMCase(m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta), kernel: kernel)
          }
        }
      }
    }
  }

  @Test("leading dimensions larger than the matrix, and 4 KiB strides", arguments: GEMMKernel.supported)
  func leadingDimensions(kernel: GEMMKernel) {
    for transA in [Transpose.none, .transposed] {
      for transB in [Transpose.none, .transposed] {
        checkGEMM(
          GEMMCase(m: 19, n: 37, k: 45, transA: transA, transB: transB, beta: 0.5, padA: 3, padB: 5, padC: 7),
          kernel: kernel)
        checkGEMM(
          GEMMCase(m: 13, n: 21, k: 50, transA: transA, transB: transB, beta: 1, padC: 2, lda: 1024),
          kernel: kernel)
      }
    }
  }

  @Test(
    "short A with B read in place and with B packed (aliasing stride, deep or shallow)", arguments: GEMMKernel.supported
  )
  func bInPlaceAndPacked(kernel: GEMMKernel) {
    #expect(GEMMBlocking.aliases(ldb: 1024) && GEMMBlocking.aliases(ldb: 2048))
    #expect(!GEMMBlocking.aliases(ldb: 1023) && !GEMMBlocking.aliases(ldb: 3136))
    let shallow = GEMMBlocking.directBAliasedMaximumDepth
    let rows = GEMMBlocking.directBMaximumRows
    for (m, n, k, padB) in [
      (rows, 1024, shallow, 0), (rows, 1024, shallow + 1, 0), (rows, 1000, 70, 24), (rows - 1, 1031, 45, 0),
      (rows + 1, 1031, 45, 0), (3, 2 * kernel.nr + 3, GEMMBlocking.kc + 1, 5),
    ] {
      for beta: Float in [0, 0.5] {
        checkGEMM(GEMMCase(m: m, n: n, k: k, beta: beta, padB: padB), kernel: kernel)
      }
    }
  }

  @Test("the result is bitwise identical for any thread count", arguments: GEMMKernel.supported)
  func threadCountInvariance(kernel: GEMMKernel) {
    // Shapes that split by rows, by columns, with ragged last tiles and several k slices.
    let shapes = [(7, 1000, 33), (200, 9, 40), (61, 333, 800), (16, 4099, 27), (130, 50, 391)]
    for (m, n, k) in shapes {
      for (transA, transB) in [(Transpose.none, Transpose.none), (.transposed, .transposed)] {
        let a = randomMatrix(rows: m, columns: k, ld: k, seed: 11)
        let b = randomMatrix(rows: k, columns: n, ld: n, seed: 12)
        let c0 = randomMatrix(rows: m, columns: n, ld: n, seed: 13)
        func run(_ threads: Int, _ pool: ThreadPool) -> [Float] {
          var c = c0
          sgemm(
            transA, transB, m: m, n: n, k: k, alpha: 0.75, a: a, lda: transA == .none ? k : m, b: b,
            ldb: transB == .none ? n : k, beta: -0.5, c: &c, ldc: n, threads: threads, kernel: kernel, pool: pool)
          return c
        }
        let one = run(1, .shared)
        #expect(bitwiseEqual(one, run(2, .shared)), "\(kernel.name) \(m)x\(n)x\(k): 2 threads differ from 1")
        for threads in [3, 4, 5] {
          #expect(
            bitwiseEqual(one, run(threads, oversubscribedPool)),
            "\(kernel.name) \(m)x\(n)x\(k): \(threads) threads differ from 1")
        }
      }
    }
  }

  @Test("finished hands over every element of C once, already final", arguments: GEMMKernel.supported)
  func finishedBlocks(kernel: GEMMKernel) {
    // B read in place (short A) and packed, several depth slices, ragged tiles, 1 and 2 threads.
    let shapes = [(GEMMBlocking.directBMaximumRows, 1000, 70), (61, 333, 800), (130, 50, 391), (200, 9, 40)]
    for (m, n, k) in shapes {
      let a = randomMatrix(rows: m, columns: k, ld: k, seed: 21)
      let b = randomMatrix(rows: k, columns: n, ld: n, seed: 22)
      for threads in [1, 2] {
        var c = randomMatrix(rows: m, columns: n, ld: n, seed: 23)
        let seen = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * n)  // C as each block was handed over
        let times = UnsafeMutableBufferPointer<Int>.allocate(capacity: m * n)  // how often each element was
        times.initialize(repeating: 0)
        defer { (seen.deallocate(), times.deallocate()) }
        c.withUnsafeMutableBufferPointer { cBuffer in
          let cPointer = cBuffer.baseAddress!
          sgemm(
            .none, .none, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, beta: 0.5, c: cPointer, ldc: n,
            threads: threads, kernel: kernel
          ) { rows, columns in
            for i in rows {
              for j in columns {
                seen[i * n + j] = cPointer[i * n + j]
                times[i * n + j] += 1
              }
            }
          }
        }
        #expect(times.allSatisfy { $0 == 1 }, "\(kernel.name) \(m)x\(n)x\(k), \(threads) threads: coverage")
        #expect(bitwiseEqual(Array(seen), c), "\(kernel.name) \(m)x\(n)x\(k), \(threads) threads: not final")
      }
    }
  }

  @Test("k = 0 and alpha = 0 scale C by beta without reading A or B")
  func degenerate() {
    var c: [Float] = [1, 2, 3, 4]
    let nan = [Float](repeating: .nan, count: 4)
    sgemm(.none, .none, m: 2, n: 2, k: 0, a: nan, lda: 1, b: nan, ldb: 2, beta: 3, c: &c, ldc: 2)
    #expect(c == [3, 6, 9, 12])
    sgemm(.none, .none, m: 2, n: 2, k: 2, alpha: 0, a: nan, lda: 2, b: nan, ldb: 2, beta: 0, c: &c, ldc: 2)
    #expect(c == [0, 0, 0, 0])
  }

  @Test("the best family is supported and portable is always available")
  func families() {
    #expect(GEMMKernel.best.isSupported)
    #expect(GEMMKernel.named("portable") != nil)
    #expect(GEMMKernel.all.count >= 1)
  }
}
