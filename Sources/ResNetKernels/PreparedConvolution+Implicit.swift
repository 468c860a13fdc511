import CKernels

extension PreparedConvolution {
  /// Implicit GEMM (see ``implicitConvolutionForward(input:geometry:batch:weight:outputChannels:bias:output:threads:pool:)``),
  /// each sample's output pixels cut into parts of ``implicitPartColumns`` (whole register tiles, from
  /// the geometry alone) that the threads take as they come free; a thread frames a sample once for all
  /// the parts of it that it takes in a row. Each part applies the epilogue to its own pixels as soon as
  /// its sums are done, while they are in cache.
  func implicitForward(
    _ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue,
    threads: Int?, pool: ThreadPool
  ) {
    let g = geometry
    let unfold = g.unfoldGeometry
    let kernel = GEMMKernel.best
    let nr = bf16 == nil ? kernel.nr : BF16Kernel.nr
    let (k, o, pixels) = (g.columnRows, outputChannels, g.outputPixels)
    let kc = min(GEMMBlocking.kc, k)
    let (panelOffset, panelFloats) = g.implicitScratch(depth: kc, nr: nr)
    let pairPanelOffset = roundUp(panelFloats, cacheLineFloats)
    let scratchFloats = bf16 == nil ? panelFloats : pairPanelOffset + (kc + 1) / 2 * nr
    let partColumns = implicitPartColumns
    let parts = (pixels + partColumns - 1) / partColumns
    let x = SendablePointer(UnsafeMutablePointer(mutating: input))
    let w = weight.map { SendablePointer($0) }
    let y = SendablePointer(output)
    let offsets = g.paddedRowOffsets
    let participants = max(1, min(threads ?? pool.threadCount, pool.threadCount, batch * parts))
    let queue = WorkQueue(count: batch * parts)
    pool.run(sharing: participants) { _ in
      let scratch = convolutionScratch.take(scratchFloats)
      let padded = scratch.pointer  // C × (H + 2·ph) × (W + 2·pw): the sample, zero-framed
      let panel = scratch.pointer + panelOffset  // kc × nr (+ slack): one packed panel of the column matrix
      let pairPanel = UnsafeMutableRawPointer(scratch.pointer + pairPanelOffset)  // bf16: ⌈kc/2⌉ × nr words, its pairs
      var framed = -1  // the sample in `padded`
      kernel.variants.withUnsafeBufferPointer { variants in
        offsets.withUnsafeBufferPointer { offsets in
          withUnsafePointer(to: unfold) { geometry in
            while let item = queue.claim() {
              let (b, part) = item.quotientAndRemainder(dividingBy: parts)
              if b != framed {
                rn_pad_sample(x.base + b * g.inputCount, g.channels, geometry, padded, nil)
                framed = b
              }
              let out = y.base + b * o * pixels  // output[b]: O × Ho·Wo
              let end = min(pixels, (part + 1) * partColumns)
              var j0 = part * partColumns
              while j0 < end {
                let ncols = min(nr, end - j0)
                if let bf16 {
                  bf16.multiply(
                    m: o, n: ncols, depth: k, kc: kc, a: bf16Weight!, lda: bf16Pairs, c: out + j0, ldc: pixels
                  ) {
                    pc, kcur in
                    rn_pack_unfolded(padded, offsets.baseAddress! + pc, kcur, geometry, j0, ncols, nr, panel)
                    rn_bf16_pair_rows(panel, nr, kcur, nr, pairPanel, nr)
                    return (UnsafeRawPointer(pairPanel), nr)
                  }
                } else {
                  kernel.multiply(
                    variants, m: o, n: ncols, depth: k, kc: kc, a: w!.base, lda: k, c: out + j0, ldc: pixels
                  ) {
                    pc, kcur in
                    rn_pack_unfolded(padded, offsets.baseAddress! + pc, kcur, geometry, j0, ncols, nr, panel)
                    return (UnsafePointer(panel), nr)
                  }
                }
                j0 += nr
              }
              let columns = (part * partColumns)..<end
              for channel in 0..<o {
                epilogue.apply(
                  out + channel * pixels + columns.lowerBound, sample: b, channel: channel, columns: columns,
                  channels: o, pixels: pixels, output: y.base)
              }
            }
          }
        }
      }
      convolutionScratch.give(scratch)
    }
  }

  /// Output pixels per part of a sample on the implicit path: about a quarter of the sample, in whole
  /// register tiles, so that one image keeps both threads of a small machine busy.
  var implicitPartColumns: Int {
    let nr = bf16 == nil ? GEMMKernel.best.nr : BF16Kernel.nr
    return max(nr, roundUp((geometry.outputPixels + 3) / 4, nr))
  }
}
