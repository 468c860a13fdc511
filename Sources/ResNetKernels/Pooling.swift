/// Max pooling over NCHW planes, PyTorch's semantics: windows over an input padded with −∞, the first
/// largest value of a window wins (NaN counts as largest), and `argmax` (`planes × Ho·Wo`, the index
/// within the input plane) records the winner for the backward pass.
///
/// `planes` is batch · channels; `g` gives one plane's window geometry (its `channels` is ignored).
public func maxPoolForward(
  input x: UnsafePointer<Float>, planes: Int, geometry g: ConvGeometry, output y: UnsafeMutablePointer<Float>,
  argmax: UnsafeMutablePointer<Int32>, threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  let indices = SendableIndices(base: argmax)
  let inPlane = g.height * g.width
  let outPlane = g.outputPixels
  parallelRanges(planes, work: planes * outPlane * g.kernelHeight * g.kernelWidth, threads: threads, pool: pool) {
    range in
    for p in range {
      let xp = x + p * inPlane
      let yp = out.base + p * outPlane
      let ap = indices.base + p * outPlane
      for oh in 0..<g.outputHeight {
        let h0 = oh * g.strideHeight - g.padHeight
        for ow in 0..<g.outputWidth {
          let w0 = ow * g.strideWidth - g.padWidth
          var best = -Float.infinity
          var winner = -1
          for kh in 0..<g.kernelHeight {
            let h = h0 + kh * g.dilationHeight
            if h < 0 || h >= g.height { continue }
            for kw in 0..<g.kernelWidth {
              let w = w0 + kw * g.dilationWidth
              if w < 0 || w >= g.width { continue }
              let v = xp[h * g.width + w]
              if v > best || v.isNaN || winner < 0 {
                best = v
                winner = h * g.width + w
                if v.isNaN { break }
              }
            }
            if best.isNaN { break }
          }
          yp[oh * g.outputWidth + ow] = best
          ap[oh * g.outputWidth + ow] = Int32(winner)
        }
      }
    }
  }
}

/// Backward of ``maxPoolForward(input:planes:geometry:output:argmax:threads:pool:)``: each output
/// gradient goes to its window's winner; `gradInput` (`planes × H·W`) is overwritten.
public func maxPoolBackward(
  gradOutput dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, planes: Int, geometry g: ConvGeometry,
  gradInput dx: UnsafeMutablePointer<Float>, threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(dx)
  let indices = SendableIndices(base: UnsafeMutablePointer(mutating: argmax))
  let inPlane = g.height * g.width
  let outPlane = g.outputPixels
  parallelRanges(planes, work: planes * (inPlane + outPlane), threads: threads, pool: pool) { range in
    for p in range {
      let dp = out.base + p * inPlane
      dp.update(repeating: 0, count: inPlane)
      let gp = dy + p * outPlane
      let ap = indices.base + p * outPlane
      for i in 0..<outPlane { dp[Int(ap[i])] += gp[i] }
    }
  }
}

/// Global average pooling: `y[p] = mean(x[p, :])` for each of `planes` planes of `plane` pixels.
public func globalAveragePoolForward(
  input x: UnsafePointer<Float>, planes: Int, plane: Int, output y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  parallelRanges(planes, work: planes * plane, threads: threads, pool: pool) { range in
    for p in range {
      let xp = x + p * plane
      var sum: Float = 0
      for i in 0..<plane { sum += xp[i] }
      out.base[p] = sum / Float(plane)
    }
  }
}

/// Backward of global average pooling: `dx[p, i] = dy[p] / plane`, overwriting `gradInput`.
public func globalAveragePoolBackward(
  gradOutput dy: UnsafePointer<Float>, planes: Int, plane: Int, gradInput dx: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(dx)
  parallelRanges(planes, work: planes * plane, threads: threads, pool: pool) { range in
    for p in range { (out.base + p * plane).update(repeating: dy[p] / Float(plane), count: plane) }
  }
}

/// An index buffer that may cross into the pool's threads (each thread writes disjoint parts).
struct SendableIndices: @unchecked Sendable {
  let base: UnsafeMutablePointer<Int32>
}
