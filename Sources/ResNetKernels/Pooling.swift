import CKernels

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
      if g.dilationHeight == 1 && g.dilationWidth == 1 && !containsNaN(xp, count: inPlane) {
        separableMaxPool(xp, geometry: g, output: yp, argmax: ap)
        continue
      }
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

/// Max pooling for inference: the values of ``maxPoolForward(input:planes:geometry:output:argmax:threads:pool:)``
/// (a window holding NaN gives NaN; of equal values, ±0 included, the first in row-major order)
/// without recording winners. Two passes per plane: the maximum of each input row's window columns
/// (16 windows at a time for stride 2), then of each window's rows, 16 columns at a time.
public func maxPoolInference(
  input x: UnsafePointer<Float>, planes: Int, geometry g: ConvGeometry, output y: UnsafeMutablePointer<Float>,
  threads: Int? = nil, pool: ThreadPool = .shared
) {
  let out = SendablePointer(y)
  let (width, outWidth, pad) = (g.width, g.outputWidth, g.padWidth)
  // One input row for the windows read from a copy: `pad` floats of −∞, the row, then −∞ past the last window.
  let span = (outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth + 1
  let rowFloats = roundUp(max(pad + width, span), 16)
  let geometry = rn_pool_geometry(
    height: g.height, width: width, kernel_h: g.kernelHeight, kernel_w: g.kernelWidth, stride_h: g.strideHeight,
    stride_w: g.strideWidth, pad_h: g.padHeight, pad_w: pad, dilation_h: g.dilationHeight,
    dilation_w: g.dilationWidth, out_h: g.outputHeight, out_w: outWidth)
  parallelRanges(planes, work: planes * g.height * width * g.kernelWidth, threads: threads, pool: pool) { range in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: rowFloats + g.height * outWidth) { buffer in
      let padded = buffer.baseAddress!
      padded.initialize(repeating: -.infinity, count: rowFloats)
      let rowMax = padded + rowFloats  // H × Wo: each input row's window maxima
      withUnsafePointer(to: geometry) { geometry in
        for p in range {
          rn_max_pool_plane(x + p * g.height * width, geometry, padded, rowMax, out.base + p * g.outputPixels)
        }
      }
    }
  }
}

/// Whether any of `count` floats at `p` is NaN.
private func containsNaN(_ p: UnsafePointer<Float>, count: Int) -> Bool {
  var i = 0
  while i + 16 <= count {
    let v = load(p + i, as: SIMD16<Float>.self)
    if any(v .!= v) { return true }
    i += 16
  }
  while i < count {
    if p[i].isNaN { return true }
    i += 1
  }
  return false
}

/// Max pooling of one NaN-free plane (`H × W`, dilation 1) as two passes: the maximum of each row's
/// window columns, then of each window's rows. Taking the first strictly larger value in each pass
/// picks the window's first maximum in row-major order, as the direct loop does.
private func separableMaxPool(
  _ x: UnsafePointer<Float>, geometry g: ConvGeometry, output y: UnsafeMutablePointer<Float>,
  argmax: UnsafeMutablePointer<Int32>
) {
  let (height, width, outWidth) = (g.height, g.width, g.outputWidth)
  withUnsafeTemporaryAllocation(of: Float.self, capacity: height * outWidth) { rowMax in  // H × Wo
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: height * outWidth) { rowArg in  // H × Wo: column
      for ow in 0..<outWidth {
        let w0 = ow * g.strideWidth - g.padWidth
        let first = max(w0, 0)
        let end = min(w0 + g.kernelWidth, width)
        for h in 0..<height {
          let line = x + h * width
          var best = line[first]
          var winner = first
          var w = first + 1
          while w < end {
            let v = line[w]
            if v > best { (best, winner) = (v, w) }
            w += 1
          }
          rowMax[h * outWidth + ow] = best
          rowArg[h * outWidth + ow] = Int32(winner)
        }
      }
      for oh in 0..<g.outputHeight {
        let h0 = oh * g.strideHeight - g.padHeight
        let first = max(h0, 0)
        let end = min(h0 + g.kernelHeight, height)
        for ow in 0..<outWidth {
          var best = rowMax[first * outWidth + ow]
          var winner = first
          var h = first + 1
          while h < end {
            let v = rowMax[h * outWidth + ow]
            if v > best { (best, winner) = (v, h) }
            h += 1
          }
          y[oh * outWidth + ow] = best
          argmax[oh * outWidth + ow] = Int32(winner * width) + rowArg[winner * outWidth + ow]
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
