import ResNetKernels
import Testing

/// Geometries with every kind of edge: 1×1, even and odd kernels, strides 1–3, asymmetric padding,
/// dilation, non-square inputs, outputs of one pixel.
let convGeometries: [ConvGeometry] = [
  ConvGeometry(channels: 3, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)!,
  ConvGeometry(channels: 2, height: 7, width: 9, kernel: 3, stride: 2, padding: 1)!,
  ConvGeometry(channels: 2, height: 5, width: 41, kernel: 3, stride: 2, padding: 1)!,  // rows of 21 outputs
  ConvGeometry(channels: 4, height: 6, width: 5, kernel: 1, stride: 1, padding: 0)!,
  ConvGeometry(channels: 5, height: 9, width: 7, kernel: 1, stride: 2, padding: 0)!,
  ConvGeometry(channels: 1, height: 11, width: 13, kernel: 7, stride: 2, padding: 3)!,
  ConvGeometry(channels: 2, height: 10, width: 6, kernel: 5, stride: 3, padding: 2)!,
  ConvGeometry(channels: 3, height: 9, width: 9, kernel: 3, stride: 1, padding: 2, dilation: 2)!,
  ConvGeometry(channels: 2, height: 5, width: 8, kernel: (2, 3), stride: (1, 2), padding: (1, 0))!,
  ConvGeometry(channels: 3, height: 3, width: 3, kernel: 3, stride: 1, padding: 0)!,
  ConvGeometry(channels: 1, height: 1, width: 1, kernel: 1, stride: 1, padding: 0)!,
  ConvGeometry(channels: 2, height: 4, width: 4, kernel: 4, stride: 4, padding: 2)!,
  ConvGeometry(channels: 2, height: 5, width: 8, kernel: (2, 3), stride: (1, 1), padding: (0, 1))!,
  ConvGeometry(channels: 2, height: 6, width: 7, kernel: (5, 3), stride: (1, 1), padding: (1, 1))!,
  ConvGeometry(channels: 2, height: 4, width: 5, kernel: 2, stride: 1, padding: 1)!,
  ConvGeometry(channels: 3, height: 28, width: 28, kernel: 3, stride: 1, padding: 1)!,
]

/// The input value im2col must put at column-matrix row `row`, column `column` (or 0 for padding).
func im2colEntry(_ x: [Float], _ g: ConvGeometry, row: Int, column: Int) -> Float {
  let taps = g.kernelHeight * g.kernelWidth
  let (c, i, j) = (row / taps, row % taps / g.kernelWidth, row % g.kernelWidth)
  let (b, p) = (column / g.outputPixels, column % g.outputPixels)
  let ih = p / g.outputWidth * g.strideHeight - g.padHeight + i * g.dilationHeight
  let iw = p % g.outputWidth * g.strideWidth - g.padWidth + j * g.dilationWidth
  guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { return 0 }
  return x[((b * g.channels + c) * g.height + ih) * g.width + iw]
}

/// The convolution computed directly from its definition, in Float64.
func directConvolution(
  _ x: [Float], _ g: ConvGeometry, batch: Int, weight: [Float], outputChannels: Int, bias: [Float]?
) -> [Double] {
  var y = [Double](repeating: 0, count: batch * outputChannels * g.outputPixels)
  for b in 0..<batch {
    for o in 0..<outputChannels {
      for oh in 0..<g.outputHeight {
        for ow in 0..<g.outputWidth {
          var sum = Double(bias?[o] ?? 0)
          for c in 0..<g.channels {
            for i in 0..<g.kernelHeight {
              for j in 0..<g.kernelWidth {
                let ih = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
                let iw = ow * g.strideWidth - g.padWidth + j * g.dilationWidth
                guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                let w = weight[((o * g.channels + c) * g.kernelHeight + i) * g.kernelWidth + j]
                sum += Double(w) * Double(x[((b * g.channels + c) * g.height + ih) * g.width + iw])
              }
            }
          }
          y[((b * outputChannels + o) * g.outputHeight + oh) * g.outputWidth + ow] = sum
        }
      }
    }
  }
  return y
}

@Suite("im2col, col2im and convolution")
struct Im2ColTests {
  @Test("im2col puts every input value where the definition says", arguments: convGeometries)
  func im2colValues(g: ConvGeometry) {
    for batch in [1, 3] {
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 5)
      let ldc = batch * g.outputPixels + 3  // a padded row stride; padding must stay NaN
      var col = [Float](repeating: .nan, count: g.columnRows * ldc)
      im2col(x, geometry: g, batch: batch, into: &col, ldc: ldc)
      var wrong = 0
      for row in 0..<g.columnRows {
        for column in 0..<ldc {
          let got = col[row * ldc + column]
          if column >= batch * g.outputPixels {
            if !got.isNaN { wrong += 1 }
          } else if got.bitPattern != im2colEntry(x, g, row: row, column: column).bitPattern {
            wrong += 1
          }
        }
      }
      #expect(wrong == 0, "\(g) batch \(batch): \(wrong) wrong entries")
    }
  }

  @Test(
    "im2col of column ranges, in float32 and into bf16 pair rows (im2col's entries rounded, two rows to a word)",
    arguments: convGeometries + [
      // Rows wide enough for the vector copies: stride 2 (even lanes of vector pairs), stride 1, dilated.
      ConvGeometry(channels: 3, height: 9, width: 75, kernel: 7, stride: 2, padding: 3)!,
      ConvGeometry(channels: 2, height: 4, width: 41, kernel: 3, stride: 1, padding: 1)!,
      ConvGeometry(channels: 1, height: 6, width: 70, kernel: 3, stride: 2, padding: 2, dilation: 2)!,
      // Planes at most 16 outputs wide, unfolded a whole output row per vector where the range is whole
      // rows: ResNet's 7×7, exactly 16 wide, and stride 2 onto 16 (the second vector's even lanes).
      ConvGeometry(channels: 3, height: 7, width: 7, kernel: 3, stride: 1, padding: 1)!,
      ConvGeometry(channels: 2, height: 5, width: 16, kernel: 3, stride: 1, padding: 1)!,
      ConvGeometry(channels: 2, height: 6, width: 32, kernel: 3, stride: 2, padding: 1)!,
    ])
  func pairRows(g: ConvGeometry) {
    // Normal values, with rounding ties (1 + 2⁻⁸ · odd) and float32 denormals (rounded to signed zeros) mixed in.
    var x = randomMatrix(rows: 1, columns: g.inputCount, ld: g.inputCount, seed: 21)
    for i in stride(from: 0, to: x.count, by: 5) { x[i] = 1 + Float(2 * (i % 7) + 1) * 0x1p-8 }
    for i in stride(from: 3, to: x.count, by: 11) { x[i] = (i % 2 == 0 ? 1 : -1) * 0x1p-130 }
    // NaNs with payloads, infinities and the largest float (which rounds to infinity).
    let specials = [
      Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFF80_0001), .infinity, -Float.greatestFiniteMagnitude,
    ]
    for i in stride(from: 7, to: x.count, by: 17) { x[i] = specials[i % specials.count] }
    let (rows, pixels) = (g.columnRows, g.outputPixels)
    let allPairs = (rows + 1) / 2
    var pairRanges = [0..<allPairs, (allPairs - 1)..<allPairs]
    if allPairs > 2 { pairRanges.append(1..<(allPairs - 1)) }
    var columnRanges = [0..<pixels, (pixels - 1)..<pixels]
    if pixels > 2 {
      // Ranges that start and end inside output rows, and ones whose first or last run is shorter than the
      // padding on its side.
      columnRanges += [
        1..<(pixels - 1), (g.outputWidth / 2)..<min(pixels, g.outputWidth / 2 + 2 * g.outputWidth + 1),
        0..<min(pixels, g.outputWidth + 1), max(0, pixels - g.outputWidth - 1)..<pixels,
        // Whole output rows, not from the first.
        min(pixels, g.outputWidth)..<min(pixels, 3 * g.outputWidth),
      ]
    }
    let bits = { (v: Float) -> UInt32 in BF16GEMM.rounded(v).bitPattern >> 16 }
    for pairs in pairRanges {
      for columns in columnRanges {
        let ld = columns.count + 3  // the words past each row's columns must stay untouched
        var words = [UInt32](repeating: 0xDEAD_BEEF, count: pairs.count * ld)
        words.withUnsafeMutableBytes { target in
          im2colPairRows(x, geometry: g, pairs: pairs, columns: columns, into: target.baseAddress!, ld: ld)
        }
        var wrong = 0
        for (q, p) in pairs.enumerated() {
          for (c, column) in columns.enumerated() {
            let low = bits(im2colEntry(x, g, row: 2 * p, column: column))
            let high = 2 * p + 1 < rows ? bits(im2colEntry(x, g, row: 2 * p + 1, column: column)) : 0
            if words[q * ld + c] != low | high << 16 { wrong += 1 }
          }
          for c in columns.count..<ld where words[q * ld + c] != 0xDEAD_BEEF { wrong += 1 }
        }
        #expect(wrong == 0, "\(g) pairs \(pairs) columns \(columns): \(wrong) wrong words")
        // The same rows in float32 (im2colRows), bit for bit.
        let rowRange = (2 * pairs.lowerBound)..<min(rows, 2 * pairs.upperBound)
        var floats = [Float](repeating: .nan, count: rowRange.count * ld)
        im2colRows(x, geometry: g, rows: rowRange, columns: columns, into: &floats, ld: ld)
        var wrongFloats = 0
        for (q, row) in rowRange.enumerated() {
          for (c, column) in columns.enumerated()
          where floats[q * ld + c].bitPattern != im2colEntry(x, g, row: row, column: column).bitPattern {
            wrongFloats += 1
          }
          for c in columns.count..<ld where !floats[q * ld + c].isNaN { wrongFloats += 1 }
        }
        #expect(wrongFloats == 0, "\(g) rows \(rowRange) columns \(columns): \(wrongFloats) wrong floats")
      }
    }
  }

  @Test("stride-2 rows of every width up to 40: each tail after the whole vectors, in im2col and its pair rows")
  func stride2Tails() {
    for width in 1...40 {
      let g = ConvGeometry(channels: 2, height: 3, width: width, kernel: (1, 3), stride: (1, 2), padding: (0, 1))!
      let x = randomMatrix(rows: 1, columns: g.inputCount, ld: g.inputCount, seed: UInt64(width))
      var col = [Float](repeating: .nan, count: g.columnRows * g.outputPixels)
      im2col(x, geometry: g, batch: 1, into: &col)
      var words = [UInt32](repeating: 0, count: (g.columnRows + 1) / 2 * g.outputPixels)
      words.withUnsafeMutableBytes { target in
        im2colPairRows(
          x, geometry: g, pairs: 0..<(g.columnRows + 1) / 2, columns: 0..<g.outputPixels, into: target.baseAddress!,
          ld: g.outputPixels)
      }
      let bits = { (v: Float) -> UInt32 in BF16GEMM.rounded(v).bitPattern >> 16 }
      var wrong = 0
      for row in 0..<g.columnRows {
        for column in 0..<g.outputPixels {
          let want = im2colEntry(x, g, row: row, column: column)
          if col[row * g.outputPixels + column].bitPattern != want.bitPattern { wrong += 1 }
          let word = words[row / 2 * g.outputPixels + column]
          if (row % 2 == 0 ? word & 0xFFFF : word >> 16) != bits(want) { wrong += 1 }
        }
      }
      #expect(wrong == 0, "width \(width): \(wrong) wrong entries")
    }
  }

  @Test("col2im is the adjoint of im2col: <im2col(x), y> = <x, col2im(y)>", arguments: convGeometries)
  func adjointness(g: ConvGeometry) {
    for batch in [1, 2] {
      let n = batch * g.outputPixels
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 6)
      let y = randomMatrix(rows: g.columnRows, columns: n, ld: n, seed: 7)
      var col = [Float](repeating: .nan, count: g.columnRows * n)
      im2col(x, geometry: g, batch: batch, into: &col)
      var back = [Float](repeating: .nan, count: x.count)
      col2im(y, geometry: g, batch: batch, into: &back)
      let left = zip(col, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let right = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let scale = zip(col, y).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) } + 1e-12
      #expect(abs(left - right) <= 1e-5 * scale, "\(g) batch \(batch): \(left) vs \(right)")
      #expect(!back.contains { $0.isNaN })
    }
  }

  @Test("col2im sums each input entry's taps in tap order, bit for bit", arguments: convGeometries)
  func col2imMatchesNaiveSum(g: ConvGeometry) {
    let batch = 2
    let n = batch * g.outputPixels
    let y = randomMatrix(rows: g.columnRows, columns: n, ld: n, seed: 13)
    let base = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 14)
    for accumulate in [false, true] {
      // The definition: every column entry added into the input entry it was copied from, in row
      // (tap) order, starting from 0 or from the base.
      var expected = accumulate ? base : [Float](repeating: 0, count: base.count)
      let taps = g.kernelHeight * g.kernelWidth
      for row in 0..<g.columnRows {
        let (c, i, j) = (row / taps, row % taps / g.kernelWidth, row % g.kernelWidth)
        for column in 0..<n {
          let (b, p) = (column / g.outputPixels, column % g.outputPixels)
          let ih = p / g.outputWidth * g.strideHeight - g.padHeight + i * g.dilationHeight
          let iw = p % g.outputWidth * g.strideWidth - g.padWidth + j * g.dilationWidth
          guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
          expected[((b * g.channels + c) * g.height + ih) * g.width + iw] += y[row * n + column]
        }
      }
      var got = accumulate ? base : [Float](repeating: .nan, count: base.count)
      col2im(y, geometry: g, batch: batch, into: &got, accumulate: accumulate)
      #expect(bitwiseEqual(expected, got), "\(g) accumulate \(accumulate)")
    }
  }

  @Test("col2im accumulates when asked, and its result does not depend on the thread count")
  func col2imAccumulateAndThreads() {
    let g = ConvGeometry(channels: 7, height: 12, width: 10, kernel: 3, stride: 1, padding: 1)!
    let batch = 4
    let n = batch * g.outputPixels
    let y = randomMatrix(rows: g.columnRows, columns: n, ld: n, seed: 8)
    var once = [Float](repeating: .nan, count: batch * g.inputCount)
    col2im(y, geometry: g, batch: batch, into: &once, threads: 1)
    for threads in [2, 3, 5] {
      var again = [Float](repeating: .nan, count: once.count)
      col2im(y, geometry: g, batch: batch, into: &again, threads: threads, pool: oversubscribedPool)
      #expect(bitwiseEqual(once, again), "\(threads) threads differ")
    }
    let base = randomMatrix(rows: 1, columns: once.count, ld: once.count, seed: 12)
    var sum = base
    col2im(y, geometry: g, batch: batch, into: &sum, accumulate: true)
    // Each entry is base + the same 9 (at most) terms once holds, summed in another association.
    let worst = (0..<sum.count).map { abs(sum[$0] - (base[$0] + once[$0])) / (abs(base[$0]) + abs(once[$0]) + 1) }
      .max()!
    #expect(worst < 1e-5, "accumulate: relative error \(worst)")
    #expect(zip(base, sum).filter { $0 != $1 }.count > sum.count / 2)
  }

  @Test("convolution through im2col + GEMM matches the direct loop", arguments: convGeometries)
  func convolutionMatchesDirect(g: ConvGeometry) {
    for (batch, outputChannels, withBias) in [(1, 1, false), (3, 5, true), (2, 17, false)] {
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 9)
      let w = randomMatrix(rows: outputChannels, columns: g.columnRows, ld: g.columnRows, seed: 10)
      let bias = withBias ? randomMatrix(rows: 1, columns: outputChannels, ld: outputChannels, seed: 11) : nil
      let y = convolutionForward(x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias)
      let expected = directConvolution(x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: bias)
      let tolerance = 2e-6 * Double(g.columnRows + 1)
      let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? 0
      #expect(worst <= tolerance, "\(g) batch \(batch) O \(outputChannels): max error \(worst)")
    }
  }

  @Test(
    "a batched stride-1 convolution gives the bits of im2col + sgemm sample by sample",
    arguments: convGeometries.filter { $0.strideHeight == 1 && $0.strideWidth == 1 && !$0.isPointwise })
  func implicitForwardMatchesExplicit(g: ConvGeometry) {
    let batch = 3
    for (outputChannels, withBias) in [(5, true), (17, false), (64, false)] {
      let x = randomMatrix(rows: 1, columns: batch * g.inputCount, ld: batch * g.inputCount, seed: 15)
      let w = randomMatrix(rows: outputChannels, columns: g.columnRows, ld: g.columnRows, seed: 16)
      let bias = randomMatrix(rows: 1, columns: outputChannels, ld: outputChannels, seed: 17)
      let pixels = g.outputPixels
      var expected = [Float](repeating: .nan, count: batch * outputChannels * pixels)
      for b in 0..<batch {
        let sample = Array(x[(b * g.inputCount)..<((b + 1) * g.inputCount)])
        var columns = [Float](repeating: .nan, count: g.columnRows * pixels)
        im2col(sample, geometry: g, batch: 1, into: &columns)
        var out = [Float](repeating: .nan, count: outputChannels * pixels)
        sgemm(
          .none, .none, m: outputChannels, n: pixels, k: g.columnRows, a: w, lda: g.columnRows, b: columns,
          ldb: pixels, c: &out, ldc: pixels)
        for o in 0..<outputChannels {
          for p in 0..<pixels {
            expected[(b * outputChannels + o) * pixels + p] = out[o * pixels + p] + (withBias ? bias[o] : 0)
          }
        }
      }
      for threads in [1, 2, 3] {
        let y = convolutionForward(
          x, g, batch: batch, weight: w, outputChannels: outputChannels, bias: withBias ? bias : nil,
          threads: threads, pool: oversubscribedPool)
        #expect(bitwiseEqual(expected, y), "\(g) O \(outputChannels) threads \(threads)")
      }
    }
  }

  @Test("the 1x1 stride-1 path is taken only for pointwise geometries")
  func pointwise() {
    #expect(ConvGeometry(channels: 4, height: 5, width: 5, kernel: 1)!.isPointwise)
    #expect(!ConvGeometry(channels: 4, height: 5, width: 5, kernel: 1, stride: 2)!.isPointwise)
    #expect(!ConvGeometry(channels: 4, height: 5, width: 5, kernel: 3, padding: 1)!.isPointwise)
  }
}
