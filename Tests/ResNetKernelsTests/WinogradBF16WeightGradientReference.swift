import ResNetKernels

/// The bf16 weight gradient of a 3×3, stride-1, padding-1 convolution by Winograd's F(2×2, 3×3), written
/// from the formulas alone: for every sample and 2×2 output tile, `V = Bᵀ·d·B` of the tile's 4×4 input
/// patch (zero outside the plane) and `dM = A·dY·Aᵀ` of its 2×2 output gradient (zero past the plane),
/// each computed in float32 and rounded to bf16; `dU[ξ][c][o] = Σ V[ξ][c]·dM[ξ][o]` summed in float64;
/// then `dg[o][c] = Gᵀ·dU[·][c][o]·G` (`O × C × 3 × 3`).
func winogradBF16WeightGradientReference(
  _ x: [Float], _ g: ConvGeometry, batch: Int, outputChannels: Int, gradOutput dy: [Float]
) -> [Double] {
  let (channels, height, width) = (g.channels, g.height, g.width)
  let (tilesH, tilesW) = ((height + 1) / 2, (width + 1) / 2)
  var du = [Double](repeating: 0, count: 16 * channels * outputChannels)  // ξ × C × O
  for b in 0..<batch {
    for ty in 0..<tilesH {
      for tx in 0..<tilesW {
        // V[ξ][c] for the tile, rounded: ξ = 4i + j.
        var v = [Float](repeating: 0, count: 16 * channels)
        for c in 0..<channels {
          var d = [[Float]](repeating: [Float](repeating: 0, count: 4), count: 4)
          for i in 0..<4 {
            for j in 0..<4 {
              let (h, w) = (2 * ty - 1 + i, 2 * tx - 1 + j)
              if h >= 0, h < height, w >= 0, w < width { d[i][j] = x[((b * channels + c) * height + h) * width + w] }
            }
          }
          // Bᵀ rows: (d0 − d2, d1 + d2, d2 − d1, d1 − d3), down the columns, then along the rows.
          func bt(_ r: [Float]) -> [Float] { [r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]] }
          let columns = (0..<4).map { j in bt((0..<4).map { d[$0][j] }) }  // columns[j][i] = (Bᵀ·d)[i][j]
          for i in 0..<4 {
            let row = bt((0..<4).map { columns[$0][i] })
            for j in 0..<4 { v[(4 * i + j) * channels + c] = BF16GEMM.rounded(row[j]) }
          }
        }
        // dM[ξ][o] for the tile, rounded.
        var dm = [Float](repeating: 0, count: 16 * outputChannels)
        for o in 0..<outputChannels {
          func at(_ i: Int, _ j: Int) -> Float {
            let (h, w) = (2 * ty + i, 2 * tx + j)
            return h < height && w < width ? dy[((b * outputChannels + o) * height + h) * width + w] : 0
          }
          // A = [[1, 0], [1, 1], [1, −1], [0, −1]]: A·e for a column e of two.
          func a(_ e0: Float, _ e1: Float) -> [Float] { [e0, e0 + e1, e0 - e1, -e1] }
          let left = a(at(0, 0), at(1, 0))
          let right = a(at(0, 1), at(1, 1))  // the columns of A·dY
          for i in 0..<4 {
            let row = a(left[i], right[i])
            for j in 0..<4 { dm[(4 * i + j) * outputChannels + o] = BF16GEMM.rounded(row[j]) }
          }
        }
        for xi in 0..<16 {
          for c in 0..<channels {
            for o in 0..<outputChannels {
              du[(xi * channels + c) * outputChannels + o] +=
                Double(v[xi * channels + c]) * Double(dm[xi * outputChannels + o])
            }
          }
        }
      }
    }
  }
  // G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]] (4 × 3).
  let gMatrix: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
  var dg = [Double](repeating: 0, count: outputChannels * channels * 9)
  for o in 0..<outputChannels {
    for c in 0..<channels {
      for r in 0..<3 {
        for s in 0..<3 {
          var sum = 0.0
          for i in 0..<4 {
            for j in 0..<4 {
              sum += gMatrix[i][r] * du[((4 * i + j) * channels + c) * outputChannels + o] * gMatrix[j][s]
            }
          }
          dg[(o * channels + c) * 9 + r * 3 + s] = sum
        }
      }
    }
  }
  return dg
}
