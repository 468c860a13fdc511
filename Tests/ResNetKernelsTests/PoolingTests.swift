import ResNetKernels
import Testing

/// Max pooling from its definition (PyTorch's): over each window in row-major order, the first value
/// that is NaN or larger than every earlier one wins; padding never wins.
func directMaxPool(_ x: [Float], planes: Int, _ g: ConvGeometry) -> (values: [Float], argmax: [Int32]) {
  var values = [Float]()
  var argmax = [Int32]()
  for p in 0..<planes {
    for oh in 0..<g.outputHeight {
      for ow in 0..<g.outputWidth {
        var best: Float? = nil
        var winner = -1
        search: for i in 0..<g.kernelHeight {
          for j in 0..<g.kernelWidth {
            let h = oh * g.strideHeight - g.padHeight + i * g.dilationHeight
            let w = ow * g.strideWidth - g.padWidth + j * g.dilationWidth
            guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
            let v = x[p * g.height * g.width + h * g.width + w]
            if best == nil || v.isNaN || v > best! {
              (best, winner) = (v, h * g.width + w)
              if v.isNaN { break search }
            }
          }
        }
        values.append(best!)
        argmax.append(Int32(winner))
      }
    }
  }
  return (values, argmax)
}

@Suite("Max pooling")
struct PoolingTests {
  @Test(
    "values and winners match the definition: ties (first wins), −∞, NaN, padding",
    arguments: [
      ConvGeometry(channels: 1, height: 9, width: 11, kernel: 3, stride: 2, padding: 1)!,
      ConvGeometry(channels: 1, height: 8, width: 8, kernel: 2, stride: 2, padding: 0)!,
      ConvGeometry(channels: 1, height: 7, width: 6, kernel: 3, stride: 1, padding: 1)!,
      ConvGeometry(channels: 1, height: 10, width: 5, kernel: (2, 3), stride: (3, 1), padding: (1, 1))!,
      ConvGeometry(channels: 1, height: 9, width: 9, kernel: 3, stride: 2, padding: 1, dilation: 2)!,
      ConvGeometry(channels: 1, height: 1, width: 1, kernel: 1, stride: 1, padding: 0)!,
    ])
  func matchesDefinition(g: ConvGeometry) {
    let planes = 5
    let x = Self.input(planes: planes, g)
    var y = [Float](repeating: 7, count: planes * g.outputPixels)
    var argmax = [Int32](repeating: -9, count: y.count)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        argmax.withUnsafeMutableBufferPointer { ap in
          maxPoolForward(
            input: xp.baseAddress!, planes: planes, geometry: g, output: yp.baseAddress!, argmax: ap.baseAddress!)
        }
      }
    }
    let expected = directMaxPool(x, planes: planes, g)
    #expect(bitwiseEqual(y, expected.values), "\(g): values")
    #expect(argmax == expected.argmax, "\(g): winners")
  }

  /// Small integers, so windows often hold ties; −∞ in plane 1, NaNs in plane 3 (plane 4 all NaN-free).
  static func input(planes: Int, _ g: ConvGeometry) -> [Float] {
    var x = randomMatrix(rows: 1, columns: planes * g.height * g.width, ld: planes * g.height * g.width, seed: 31)
      .map { ($0 * 2).rounded() }
    let plane = g.height * g.width
    for i in stride(from: plane, to: 2 * plane, by: 2) { x[i] = -.infinity }
    for i in stride(from: 3 * plane, to: 4 * plane, by: 5) { x[i] = .nan }
    x[3 * plane + plane - 1] = .nan
    return x
  }

  @Test(
    "inference max pooling gives the definition's values",
    arguments: [
      ConvGeometry(channels: 1, height: 112, width: 112, kernel: 3, stride: 2, padding: 1)!,
      ConvGeometry(channels: 1, height: 37, width: 71, kernel: 3, stride: 2, padding: 1)!,
      ConvGeometry(channels: 1, height: 9, width: 11, kernel: 3, stride: 2, padding: 1)!,
      ConvGeometry(channels: 1, height: 40, width: 40, kernel: 2, stride: 2, padding: 0)!,
      ConvGeometry(channels: 1, height: 7, width: 36, kernel: 3, stride: 1, padding: 1)!,
      ConvGeometry(channels: 1, height: 10, width: 5, kernel: (2, 3), stride: (3, 1), padding: (1, 1))!,
      ConvGeometry(channels: 1, height: 9, width: 40, kernel: 3, stride: 2, padding: 1, dilation: 2)!,
      // Stride 2 without padding, one vector of windows just fitting the row; a tall, even-width window.
      ConvGeometry(channels: 1, height: 20, width: 34, kernel: 3, stride: 2, padding: 0)!,
      ConvGeometry(channels: 1, height: 23, width: 57, kernel: (5, 4), stride: (2, 2), padding: (2, 1))!,
    ])
  func inferenceMatchesDefinition(g: ConvGeometry) {
    let planes = 5
    let x = Self.input(planes: planes, g)
    var y = [Float](repeating: 7, count: planes * g.outputPixels)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        maxPoolInference(input: xp.baseAddress!, planes: planes, geometry: g, output: yp.baseAddress!)
      }
    }
    let expected = directMaxPool(x, planes: planes, g).values
    // NaN wherever the definition has NaN (its payload aside), the same bits elsewhere.
    let bad = zip(y, expected).enumerated().filter { !($1.0.isNaN ? $1.1.isNaN : $1.0.bitPattern == $1.1.bitPattern) }
    #expect(bad.isEmpty, "\(g) \(bad.prefix(5)) of \(bad.count)")
  }
}
