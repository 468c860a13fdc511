import Foundation
import ResNet
import ResNetKernels
import Testing

/// The inference engine in bf16: every variant and path against the float32 training graph (within
/// bf16's error), the same bits from `vdpbf16ps` and its emulation, and batch and thread invariance.
@Suite("Inference engine, bf16")
struct InferenceModelBF16Tests {
  typealias Variants = InferenceModelTests

  /// max |Δ| / max |logit| of `x` against `reference`.
  static func relativeError(_ x: Tensor, _ reference: Tensor) -> Float {
    let (a, b) = (x.scalars, reference.scalars)
    let largest = b.map(abs).max() ?? 0
    return zip(a, b).map { abs($0 - $1) }.max()! / max(largest, .leastNormalMagnitude)
  }

  @Test("logits within bf16's error of the float32 training graph", arguments: Variants.variants.map(\.name))
  func closeToFloat32(name: String) throws {
    let c = Variants.variants.first { $0.name == name }!.configuration
    let net = try Variants.network(c)
    let x = Variants.input(c, batch: 3)
    let engine = try InferenceModel(network: net, height: c.inputHeight, width: c.inputWidth, precision: .bf16)
    let reference = net.forward(x, training: false)
    let error = Self.relativeError(engine.logits(x), reference)
    print("bf16 \(name): \(error)")
    #expect(error <= 2e-2, "\(name): \(error)")
  }
}

extension InferenceModelBF16Tests {
  @Test(
    "vdpbf16ps and its emulation give the same logits, every variant and path",
    .enabled(if: BF16Kernel.nativeAvailable))
  func nativeMatchesEmulation() throws {
    var paths: Set<PreparedConvolution.Path> = []
    for (name, c) in Variants.variants {
      let net = try Variants.network(c)
      let x = Variants.input(c, batch: 3)
      let native = try InferenceModel(
        network: net, height: c.inputHeight, width: c.inputWidth, precision: .bf16, bf16Kernel: .best)
      let emulated = try InferenceModel(
        network: net, height: c.inputHeight, width: c.inputWidth, precision: .bf16, bf16Kernel: .emulated)
      #expect(native.bf16Kernel.isNative && !emulated.bf16Kernel.isNative)
      #expect(bitPatterns(native.logits(x)) == bitPatterns(emulated.logits(x)), "\(name)")
      paths.formUnion(native.convolutions.map(\.path))
    }
    // Every path but the stride-2 Winograd one, which is float32 only.
    #expect(paths == Set(PreparedConvolution.Path.allCases).subtracting([.winogradStride2]))
  }

  @Test("an image's bf16 logits are the same bits alone, in any batch and for any thread count")
  func batchAndThreadInvariance() throws {
    for (name, c) in Variants.variants {
      let engine = try InferenceModel(
        network: Variants.network(c), height: c.inputHeight, width: c.inputWidth, precision: .bf16)
      let batch = Variants.input(c, batch: 5)
      let together = bitPatterns(engine.logits(batch))
      let per = c.numClasses
      for i in [0, 4] {
        let alone = bitPatterns(engine.logits(batch.batch(i..<(i + 1)).copy()))
        #expect(alone == Array(together[(i * per)..<((i + 1) * per)]), "\(name): image \(i) alone")
      }
      let pair = bitPatterns(engine.logits(batch.batch(1..<3).copy()))
      #expect(pair == Array(together[per..<(3 * per)]), "\(name): images 1 and 2")
      let pool = ThreadPool.shared
      pool.limitThreads(to: 1)
      let oneThread = bitPatterns(engine.logits(batch))
      pool.limitThreads(to: pool.capacity)
      #expect(oneThread == together, "\(name): one thread")
    }
  }

  @Test("the shipped model in bf16 agrees with float32 on the mini test set's top-1")
  func shippedModelAgreement() throws {
    let (model, loader) = try Variants.shippedModelAndMiniTestSet()
    let f32 = try InferenceModel(model: model)
    let agreement = try InferenceAgreement(InferenceModel(model: model, precision: .bf16), against: f32, loader: loader)
    #expect(agreement.images == 500)
    #expect(agreement.sameTop1 >= 495, "top-1 agreement \(agreement.sameTop1) of 500")
    #expect(agreement.largestRelativeError <= 0.1 && agreement.largestRelativeError > 0)
    // The comparison itself: a model against itself agrees everywhere, exactly.
    let itself = try InferenceAgreement(f32, against: f32, loader: loader)
    #expect(itself.images == 500 && itself.sameTop1 == 500 && itself.largestRelativeError == 0)
  }
}

private func bitPatterns(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }
