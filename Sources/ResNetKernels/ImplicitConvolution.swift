import CKernels

/// The batched forward pass of a stride-1 convolution without an im2col matrix in memory: the
/// convolution's GEMM (`output[b] (O × Ho·Wo) = weight (O × K) · columns[b] (K × Ho·Wo)`) with each
/// `kc × nr` panel of the column matrix packed from a zero-framed copy of the sample just before the
/// micro-kernel uses it, so the panel never leaves L1, and C written straight into the NCHW output.
///
/// It runs the operations of the im2col path exactly — the same micro-kernels over the same `kc`
/// slices in the same order, the bias added after the sum — so the two give the same bits. Taken for
/// at most ``GEMMBlocking/directBMaximumRows`` output channels, where that path reads the column
/// matrix in place (A's panels then stay in cache while the columns stream by). Samples are shared out
/// over the pool's threads (each claims the next unclaimed one); each is computed whole by one thread,
/// so the result does not depend on the thread count or on who computes what.
func implicitConvolutionForward(
  input: UnsafePointer<Float>, geometry g: ConvGeometry, batch: Int,
  weight: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>?,
  output: UnsafeMutablePointer<Float>, threads: Int?, pool: ThreadPool
) {
  precondition(g.hasUnitStride, "implicitConvolutionForward: stride \(g.strideHeight)x\(g.strideWidth)")
  let unfold = g.unfoldGeometry
  let kernel = GEMMKernel.best
  let nr = kernel.nr
  let k = g.columnRows
  let kc = min(GEMMBlocking.kc, k)
  let pixels = g.outputPixels
  let (panelOffset, scratchFloats) = g.implicitScratch(depth: kc, nr: nr)
  let x = SendablePointer(UnsafeMutablePointer(mutating: input))
  let w = SendablePointer(UnsafeMutablePointer(mutating: weight))
  let biasPointer = bias.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
  let y = SendablePointer(output)
  let offsets = g.paddedRowOffsets
  let participants = max(1, min(threads ?? pool.threadCount, pool.threadCount, batch))
  let queue = WorkQueue(count: batch)
  pool.run(sharing: participants) { _ in
    let scratch = convolutionScratch.take(scratchFloats)
    let padded = scratch.pointer  // C × (H + 2·ph) × (W + 2·pw): the sample, zero-framed
    let panel = scratch.pointer + panelOffset  // kc × nr (+ slack): one packed panel of the column matrix
    kernel.variants.withUnsafeBufferPointer { variants in
      offsets.withUnsafeBufferPointer { offsets in
        withUnsafePointer(to: unfold) { geometry in
          // Each sample is claimed one ahead, so that its input can be prefetched meanwhile.
          var claimed = queue.claim()
          while let b = claimed {
            claimed = queue.claim()
            let next = claimed.map { x.base + $0 * g.inputCount }
            rn_pad_sample(x.base + b * g.inputCount, g.channels, geometry, padded, next)
            let out = y.base + b * outputChannels * pixels  // output[b]: O × Ho·Wo
            var j0 = 0
            while j0 < pixels {
              let ncols = min(nr, pixels - j0)
              kernel.multiply(
                variants, m: outputChannels, n: ncols, depth: k, kc: kc, a: w.base, lda: k, c: out + j0, ldc: pixels
              ) { pc, kcur in
                rn_pack_unfolded(padded, offsets.baseAddress! + pc, kcur, geometry, j0, ncols, nr, panel)
                return (UnsafePointer(panel), nr)
              }
              j0 += nr
            }
            if let biasPointer {
              for o in 0..<outputChannels {
                let plane = out + o * pixels
                let value = biasPointer.base[o]
                for i in 0..<pixels { plane[i] = plane[i] + value }
              }
            }
          }
        }
      }
    }
    convolutionScratch.give(scratch)
  }
}

extension ConvGeometry {
  /// The stride-1 convolution that maps this one's output gradient (`outputChannels × Ho × Wo`) to its
  /// input gradient (`channels × H × W`) — the same kernel size and dilation, padding
  /// `dilation·(kernel − 1) − padding` — or nil when a stride is not 1 or that padding is not a valid one.
  /// Its weight is ``flippedForInputGradient(_:outputChannels:into:)`` of this one's.
  func inputGradientGeometry(outputChannels: Int) -> ConvGeometry? {
    guard strideHeight == 1 && strideWidth == 1,
      let g = ConvGeometry(
        channels: outputChannels, height: outputHeight, width: outputWidth, kernel: (kernelHeight, kernelWidth),
        stride: (1, 1),
        padding: (dilationHeight * (kernelHeight - 1) - padHeight, dilationWidth * (kernelWidth - 1) - padWidth),
        dilation: (dilationHeight, dilationWidth)),
      g.outputHeight == height && g.outputWidth == width
    else { return nil }
    return g
  }

  /// Writes the weight of ``inputGradientGeometry(outputChannels:)``: `flipped[c][o][i][j] =
  /// weight[o][c][kh − 1 − i][kw − 1 − j]`, `channels × (outputChannels·kh·kw)`.
  func flippedForInputGradient(
    _ weight: UnsafePointer<Float>, outputChannels: Int, into flipped: UnsafeMutablePointer<Float>
  ) {
    let taps = kernelHeight * kernelWidth
    for c in 0..<channels {
      for o in 0..<outputChannels {
        let source = weight + (o * channels + c) * taps  // weight[o, c]: kh × kw
        let target = flipped + (c * outputChannels + o) * taps  // flipped[c, o]: kh × kw
        for t in 0..<taps { target[t] = source[taps - 1 - t] }
      }
    }
  }
}

extension ConvGeometry {
  /// The implicit path's scratch per participant: the zero-framed sample, then slack for
  /// `rn_pack_unfolded`'s whole-vector reads; at `panelOffset` one packed panel (`depth × nr`), then
  /// slack for its overhang; `floats` in all.
  func implicitScratch(depth: Int, nr: Int) -> (panelOffset: Int, floats: Int) {
    let planeCount = (height + 2 * padHeight) * (width + 2 * padWidth)  // one padded plane
    let panelOffset = roundUp(channels * planeCount, cacheLineFloats) + vectorSlack
    return (panelOffset, panelOffset + roundUp(depth * nr, cacheLineFloats) + vectorSlack)
  }

  /// Where each row (c, i, j) of the column matrix starts in a zero-framed copy of the sample
  /// (`rn_pad_sample`'s): `columnRows` offsets, a table being cheaper in the packing loop than
  /// stepping (c, i, j) there.
  var paddedRowOffsets: [Int] {
    let taps = kernelHeight * kernelWidth
    let planeCount = (height + 2 * padHeight) * (width + 2 * padWidth)
    return (0..<columnRows).map { row in
      let (c, tap) = row.quotientAndRemainder(dividingBy: taps)
      let (i, j) = tap.quotientAndRemainder(dividingBy: kernelWidth)
      return c * planeCount + i * dilationHeight * (width + 2 * padWidth) + j * dilationWidth
    }
  }
}
