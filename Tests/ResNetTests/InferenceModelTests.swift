import Foundation
import ResNet
import ResNetKernels
import Testing

/// The inference engine against the training graph's inference forward (an independent composition:
/// BatchNorm as its own pass, no folding, the batch-dependent convolution plan), every variant and
/// every convolution path; its batch and thread invariance; concurrent use; its memory plan.
@Suite("Inference engine")
struct InferenceModelTests {
  /// Small networks of every variant; sizes chosen so that every convolution path runs (Winograd on
  /// 16×16 planes of 8+ channels, implicit on the 1-channel stem and small planes of few channels, GEMM
  /// on strided and 1×1 convolutions, packed-weight GEMM where channels outnumber pixels).
  static let variants: [(name: String, configuration: NetworkConfiguration)] = {
    func cifar(_ block: NetworkConfiguration.Block, preact: Bool = false) -> NetworkConfiguration {
      NetworkConfiguration(
        stem: .cifar, block: block, layers: [2, 1, 1], widths: [8, 16, 16], inChannels: 1, numClasses: 5,
        inputHeight: 16, inputWidth: 16, preact: preact)
    }
    func imagenet(_ block: NetworkConfiguration.Block, preact: Bool = false) -> NetworkConfiguration {
      NetworkConfiguration(
        stem: .imagenet, block: block, layers: [1, 1], widths: [8, 16], inChannels: 3, numClasses: 7,
        inputHeight: 64, inputWidth: 56, preact: preact)
    }
    var plain = cifar(.basic)
    plain.shortcut = .none
    var rezero = imagenet(.bottleneck)
    rezero.residualScale = .rezero
    var preactRezero = cifar(.basic, preact: true)
    preactRezero.residualScale = .rezero
    var unnormalized = imagenet(.bottleneck)
    unnormalized.norm = .none
    var preactUnnormalized = cifar(.bottleneck, preact: true)
    preactUnnormalized.norm = .none
    // More classes than the classifier's 1×1 "convolution" has pixels and than the implicit path takes:
    // the classifier on the packed-weight path.
    var manyClasses = cifar(.basic)
    manyClasses.numClasses = 100
    return [
      ("cifar basic", cifar(.basic)), ("cifar bottleneck", cifar(.bottleneck)), ("imagenet basic", imagenet(.basic)),
      ("imagenet bottleneck", imagenet(.bottleneck)), ("plain", plain), ("rezero", rezero),
      ("preact basic", cifar(.basic, preact: true)), ("preact bottleneck", imagenet(.bottleneck, preact: true)),
      ("preact rezero", preactRezero), ("unnormalized", unnormalized), ("preact unnormalized", preactUnnormalized),
      ("100 classes", manyClasses),
    ]
  }()

  /// A network of `configuration` with every parameter and running statistic random (ReZero's alpha
  /// included, so that nothing folds away).
  static func network(_ configuration: NetworkConfiguration, seed: UInt64 = 3) throws -> Network {
    let net = try Network(configuration: configuration, seed: seed)
    randomizeParameters(net, seed: seed)
    var generator = SeededGenerator(seed: seed, stream: 99)
    for (name, entry) in net.namedState() {
      guard case .buffer(let t) = entry else { continue }
      for i in 0..<t.count {
        t.pointer[i] =
          name.hasSuffix("running_var") ? 0.5 + generator.nextUniform() : 0.1 * generator.nextNormal()
      }
    }
    return net
  }

  /// The shipped model and a loader of the mini dataset's 500 test images (batches of 64, in order).
  static func shippedModelAndMiniTestSet() throws -> (Model, DataLoader) {
    let root = ReadmeExampleTests.repository
    let model = try Model(contentsOf: root.appendingPathComponent("Models/fashion-mnist.safetensors").path)
    let dataset = try Dataset.open(root.appendingPathComponent("Data/fashion-mnist-mini").path)
    let loader = DataLoader(split: dataset.test, batchSize: 64, preprocessing: model.spec.preprocessing, shuffle: false)
    return (model, loader)
  }

  static func input(_ c: NetworkConfiguration, batch: Int, seed: UInt64 = 5) -> Tensor {
    randomTensor([batch, c.inChannels, c.inputHeight, c.inputWidth], seed: seed)
  }

  @Test("logits within 1e-4 of the training graph's inference forward", arguments: variants.map(\.name))
  func matchesTheTrainingGraph(name: String) throws {
    let c = Self.variants.first { $0.name == name }!.configuration
    let net = try Self.network(c)
    let x = Self.input(c, batch: 3)
    let engine = try InferenceModel(network: net, height: c.inputHeight, width: c.inputWidth)
    PyTorchParityTests.expectClose(engine.logits(x), net.forward(x, training: false), 1e-4, name)
  }

  @Test func everyPathRuns() throws {
    let paths = try Self.variants.flatMap { _, c in
      try InferenceModel(network: Self.network(c), height: c.inputHeight, width: c.inputWidth).convolutions.map(\.path)
    }
    #expect(Set(paths) == Set(PreparedConvolution.Path.allCases))
  }

  @Test("an image's logits are the same bits alone, in any batch and for any thread count")
  func batchAndThreadInvariance() throws {
    for (name, c) in Self.variants {
      let net = try Self.network(c)
      let engine = try InferenceModel(network: net, height: c.inputHeight, width: c.inputWidth)
      let batch = Self.input(c, batch: 5)
      let together = engine.logits(batch).scalars
      let per = c.numClasses
      for i in [0, 3] {
        let alone = engine.logits(batch.batch(i..<(i + 1)).copy()).scalars
        #expect(alone == Array(together[(i * per)..<((i + 1) * per)]), "\(name): image \(i) alone")
      }
      let pair = engine.logits(batch.batch(1..<3).copy()).scalars
      #expect(pair == Array(together[per..<(3 * per)]), "\(name): images 1 and 2")
      let pool = ThreadPool.shared
      pool.limitThreads(to: 1)
      let oneThread = engine.logits(batch).scalars
      pool.limitThreads(to: pool.capacity)
      #expect(oneThread == together, "\(name): one thread")
    }
  }

  @Test("8 concurrent tasks get the bits of sequential calls")
  func concurrentCalls() async throws {
    let c = Self.variants.first { $0.name == "imagenet bottleneck" }!.configuration
    let engine = try InferenceModel(network: Self.network(c), height: c.inputHeight, width: c.inputWidth)
    let inputs = (0..<8).map { Self.input(c, batch: 1 + $0 % 3, seed: UInt64(10 + $0)) }
    let sequential = inputs.map { engine.logits($0).scalars }
    let concurrent = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
      for (i, x) in inputs.enumerated() {
        group.addTask {
          var result: [Float] = []
          for _ in 0..<4 { result = engine.logits(x).scalars }
          return (i, result)
        }
      }
      var results = [[Float]](repeating: [], count: inputs.count)
      for try await (i, r) in group { results[i] = r }
      return results
    }
    #expect(concurrent == sequential)
  }

  @Test("the shipped model: the engine's evaluation of the mini test set equals the training graph's")
  func shippedModelEvaluation() throws {
    let (model, loader) = try Self.shippedModelAndMiniTestSet()
    let graph = try Evaluation.run(model.network, loader: loader)
    let engine = try Evaluation.run(InferenceModel(model: model), loader: loader)
    #expect(engine.count == 500)
    #expect(engine.confusion == graph.confusion, "top-1 of every image")
    #expect(abs(engine.loss - graph.loss) <= 1e-5 * graph.loss)
  }

  @Test("activations take a few buffers, not one per layer")
  func memoryPlan() throws {
    let c = try NetworkConfiguration.named("resnet50", inChannels: 3, numClasses: 10, inputHeight: 64, inputWidth: 64)
    let engine = try InferenceModel(network: try Network(configuration: c), height: 64, width: 64)
    // The largest activations: the stem's 64×32×32 and layer1's 256×16×16 outputs (65,536 floats each).
    #expect(engine.activationFloatsPerImage <= 4 * 65_536)
    #expect(engine.activationFloatsPerImage >= 2 * 65_536)
  }

  @Test("a profile names every layer in order, with its path, and leaves the logits unchanged")
  func profile() throws {
    let configuration = try #require(Self.variants.first { $0.name == "preact bottleneck" }).configuration
    let engine = try InferenceModel(
      network: try Self.network(configuration), height: configuration.inputHeight, width: configuration.inputWidth)
    let x = Self.input(configuration, batch: 3)
    let before = engine.logits(x)
    let profile = engine.profile(x, rounds: 3)
    // The stem, its max pool, each block's pre-activation, convolutions and projection, bn_final, the head.
    let expected =
      ["conv1", "maxpool"]
      + ["layer1.0.", "layer2.0."].flatMap { block in
        ["bn1", "downsample.0", "conv1", "conv2", "conv3"].map { block + $0 }
      } + ["bn_final", "avgpool+fc"]
    #expect(profile.map(\.name) == expected)
    let convolutions = profile.filter { $0.operation.hasPrefix("conv ") }
    #expect(convolutions.map(\.name) == engine.convolutions.map(\.name))
    for (step, convolution) in zip(convolutions, engine.convolutions) {
      #expect(step.operation.contains(" \(convolution.path.rawValue)"), "\(step.name): \(step.operation)")
    }
    #expect(profile[0].operation.hasPrefix("conv 7×7/2 3→8 64×56→32×28 "))
    #expect(profile[1].operation == "maxpool 3×3/2 8 32×28→16×14")
    #expect(profile.allSatisfy { $0.seconds > 0 && $0.seconds < 60 })
    let after = engine.logits(x)
    #expect((0..<before.count).allSatisfy { before.pointer[$0].bitPattern == after.pointer[$0].bitPattern })
  }
}
