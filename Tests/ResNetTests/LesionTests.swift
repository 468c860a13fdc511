import ResNet
import Testing

/// Deleting residual blocks (the lesion study of `resnet experiment lesion`).
@Suite struct LesionTests {
  /// Inference logits of `network` on `input`, copied.
  static func logits(_ network: Network, _ input: Tensor, deleting deleted: Set<Int> = []) -> [Float] {
    let out = network.forward(input, deletingBlocks: deleted)
    return Array(UnsafeBufferPointer(start: out.pointer, count: out.count))
  }

  /// A ReZero network at initialization: every block is the identity, so deleting any of them leaves
  /// the logits the same, bit for bit. With alpha moved off 0, deleting a block changes them.
  @Test func deletingAReZeroBlockAtInitializationChangesNothing() throws {
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [2, 2], widths: [4, 6], inChannels: 1, numClasses: 3, inputHeight: 8,
      inputWidth: 8, residualScale: .rezero)
    let net = try Network(configuration: config, seed: 8)
    let input = randomTensor([2, 1, 8, 8], seed: 31)
    let intact = Self.logits(net, input)
    let deletable = net.namedBlocks.indices.filter { net.namedBlocks[$0].block.downsample == nil }
    #expect(deletable.count == 3)
    for index in deletable {
      #expect(Self.logits(net, input, deleting: [index]).map(\.bitPattern) == intact.map(\.bitPattern))
    }
    for block in net.namedBlocks.map(\.block) { block.rezero!.alpha.value.pointer[0] = 0.5 }
    let trained = Self.logits(net, input)
    for index in deletable {
      #expect(Self.logits(net, input, deleting: [index]) != trained)
    }
    #expect(Self.logits(net, input) == trained)
  }

  /// The study on a small trained network: one row per block, projections reported, the deleted
  /// blocks' accuracies those of the network evaluated by hand with the block deleted; on a plain
  /// network nothing can be deleted.
  @Test func studyRowsMatchEvaluationsByHand() throws {
    let (checkpoint, train, test) = try TrainerTests.setup(widthMultiplier: 0.25, trainCount: 200, testCount: 100)
    var options = TrainingOptions()
    (options.epochs, options.batchSize) = (1, 20)
    let trainer = try Trainer(
      model: try Model(spec: checkpoint, seed: 3), train: train,
      validation: test, options: options)
    try trainer.run()
    let loader = DataLoader(split: test, batchSize: 32, preprocessing: checkpoint.preprocessing, shuffle: false)
    let study = try LesionStudy.run(trainer.network, loader: loader)
    #expect(study.rows.map(\.block) == trainer.network.namedBlocks.map { String($0.name.dropLast()) })
    #expect(study.intact.count == test.count)
    var deleted = 0
    for (index, (row, (_, block))) in zip(study.rows, trainer.network.namedBlocks).enumerated() {
      switch row.outcome {
      case .deleted(let e):
        #expect(e.accuracy == (try Evaluation.run(trainer.network, loader: loader, deletingBlocks: [index])).accuracy)
        #expect(e.accuracy != study.intact.accuracy || e.loss != study.intact.loss)
        deleted += 1
      case .projection: #expect(block.downsample != nil)
      case .noShortcut: Issue.record("\(row.block) has a shortcut")
      }
    }
    #expect(deleted == 7)
    #expect(study.csv.split(separator: "\n").count == 11)
    var plainConfig = checkpoint.configuration
    plainConfig.shortcut = .none
    let plain = try LesionStudy.run(try Network(configuration: plainConfig, seed: 3), loader: loader)
    #expect(plain.rows.allSatisfy { if case .noShortcut = $0.outcome { true } else { false } })
  }
}
