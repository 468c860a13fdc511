import Foundation
import ResNet
import Testing

/// Fine-tuning: a model started from another (ours or a torchvision state_dict) with a new head, parts
/// frozen bit for bit, the backbone at a scaled learning rate, and all of it kept by --resume.
@Suite struct FineTuningTests {
  /// An image folder of 3 of the mini dataset's classes, 40 training and 10 test images each.
  static func threeClasses() throws -> (Dataset, String) {
    let root = try DatasetTests.temporaryFolder()
    let fm = FileManager.default
    for split in ["train", "test"] {
      for name in ["Bag", "Sneaker", "Trouser"] {
        let source = DataLoaderTests.mini + "/\(split)/\(name)"
        let target = root + "/\(split)/\(name)"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        for file in try fm.contentsOfDirectory(atPath: source).sorted().prefix(split == "train" ? 40 : 10) {
          try fm.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
        }
      }
    }
    return (try Dataset.open(root), root)
  }

  /// A small 10-class model with BatchNorm statistics of its own (one training-mode pass).
  static func source() throws -> Model {
    let (spec, _, _) = try TrainerTests.setup(widthMultiplier: 0.25)
    let model = try Model(spec: spec, seed: 5)
    _ = model.network.forward(Tensor(shape: [8, 1, 28, 28], randomNormalSeed: 6), training: true)
    return model
  }

  /// Every state value of `network` by name, as bit patterns (counters as their value).
  static func state(_ network: Network) -> [String: [UInt32]] {
    Dictionary(
      uniqueKeysWithValues: network.namedState().map { name, entry in
        switch entry {
        case .parameter(let p): (name, p.value.scalars.map(\.bitPattern))
        case .buffer(let t): (name, t.scalars.map(\.bitPattern))
        case .batchCount(let bn): (name, [UInt32(truncatingIfNeeded: bn.batchesTracked)])
        }
      })
  }

  @Test func aNewHeadForOtherClassesEverythingElseCopied() throws {
    let source = try Self.source()
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    let (model, head) = try Model.fineTuning(from: source, classes: dataset.classes, seed: 1)
    #expect(head == "fc: new, 10 → 3 classes")
    #expect(model.spec.classes == ["Bag", "Sneaker", "Trouser"] && model.spec.configuration.numClasses == 3)
    #expect(model.spec.preprocessing == source.spec.preprocessing)
    let (before, after) = (Self.state(source.network), Self.state(model.network))
    #expect(after["fc.weight"]!.count == 3 * 16)
    for (name, values) in after where !name.hasPrefix("fc.") { #expect(values == before[name], "\(name)") }
    // The same classes keep the head too.
    let (same, kept) = try Model.fineTuning(from: source, classes: source.spec.classes, seed: 1)
    #expect(kept == "fc: kept (the same 10 classes)")
    #expect(Self.state(same.network) == before)
  }

  @Test func frozenPartsStayBitForBitAndTheRestTrains() throws {
    let source = try Self.source()
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    let before = Self.state(source.network)
    for part in [FrozenPart.backbone, .layer1, .stem] {
      let (model, _) = try Model.fineTuning(from: source, classes: dataset.classes, seed: 1)
      var options = TrainingOptions()
      (options.epochs, options.batchSize, options.freeze) = (2, 32, part)
      let trainer = try Trainer(model: model, train: dataset.train, validation: dataset.test, options: options)
      try trainer.run()
      let after = Self.state(model.network)
      for (name, values) in after where !name.hasPrefix("fc.") {
        let frozen = model.network.isFrozen(name)
        #expect(
          frozen
            == (part == .backbone || name.hasPrefix("conv1.") || name.hasPrefix("bn1.")
              || (part == .layer1 && name.hasPrefix("layer1."))),
          "\(part): \(name)")
        // Frozen weights, running statistics and counters are the source's; every other tensor moved
        // (the counters by the steps taken).
        if frozen {
          #expect(values == before[name], "\(part): \(name) changed")
        } else {
          #expect(values != before[name], "\(part): \(name) did not train")
        }
      }
      #expect(trainer.history.count == 2)
    }
    var options = TrainingOptions()
    options.freeze = .layer4
    #expect(throws: ConfigurationError.self) {
      _ = try Trainer(model: source, train: dataset.train, validation: dataset.test, options: options)
    }
  }

  /// The shipped model's frozen features separate three of its classes after two epochs of a new head
  /// (chance is a third; a head on random features stays near it).
  @Test func aTrainedFrozenBackboneLearnsNewClasses() throws {
    let shipped = try Model(
      contentsOf: ReadmeExampleTests.repository.appendingPathComponent("Models/fashion-mnist.safetensors").path)
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    let (model, _) = try Model.fineTuning(from: shipped, classes: dataset.classes, seed: 1)
    var options = TrainingOptions()
    (options.epochs, options.batchSize, options.freeze, options.learningRate) = (2, 32, .backbone, 0.05)
    let trainer = try Trainer(model: model, train: dataset.train, validation: dataset.test, options: options)
    try trainer.run()
    #expect(trainer.history.last!.validation.accuracy > 0.9, "\(trainer.history.map(\.validation.accuracy))")
  }

  /// Early stopping: with the backbone frozen and a negligible rate the validation accuracy stays where
  /// the first epoch put it, so patience 2 ends the run after epoch 3 of 10, the best being epoch 1.
  @Test func patienceStopsARunThatNoLongerImproves() throws {
    let source = try Self.source()
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    var options = TrainingOptions()
    (options.epochs, options.batchSize, options.freeze) = (10, 32, .backbone)
    (options.learningRate, options.patience) = (1e-9, 2)
    let trainer = try Trainer(
      model: try Model.fineTuning(from: source, classes: dataset.classes, seed: 1).model, train: dataset.train,
      validation: dataset.test, options: options, outputFolder: root + "/run")
    try trainer.run()
    #expect(trainer.history.count == 3 && trainer.progress.epoch == 3 && trainer.progress.bestEpoch == 1)
    #expect(trainer.stopReason == "the validation accuracy has not improved for 2 epochs")
    #expect(try RunFolder(root + "/run").metrics().map(\.epoch) == [1, 2, 3])
  }

  @Test func resumeKeepsTheFreezeAndTheRates() throws {
    let source = try Self.source()
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    var options = TrainingOptions()
    (options.epochs, options.batchSize, options.freeze, options.backboneRateScale) = (2, 32, .layer2, 0.25)
    let straight = try Trainer(
      model: try Model.fineTuning(from: source, classes: dataset.classes, seed: 1).model, train: dataset.train,
      validation: dataset.test, options: options, outputFolder: root + "/straight")
    try straight.run()
    let interrupted = try Trainer(
      model: try Model.fineTuning(from: source, classes: dataset.classes, seed: 1).model, train: dataset.train,
      validation: dataset.test, options: options, outputFolder: root + "/resumed")
    try interrupted.run(stoppingAfter: 1)
    let resumed = try Trainer.resume(
      from: root + "/resumed/last.safetensors", train: dataset.train, validation: dataset.test,
      outputFolder: root + "/resumed")
    #expect(resumed.options.freeze == .layer2 && resumed.options.backboneRateScale == 0.25)
    try resumed.run()
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: root + "/straight/last.safetensors"))
        == Data(contentsOf: URL(fileURLWithPath: root + "/resumed/last.safetensors")))
    let after = Self.state(resumed.network)
    let before = Self.state(source.network)
    #expect(after["layer2.0.conv1.weight"] == before["layer2.0.conv1.weight"])
    #expect(after["layer3.0.conv1.weight"] != before["layer3.0.conv1.weight"])
  }

  /// SGD with per-parameter rate scales: a scale of 0 leaves the parameter and its momentum alone, a
  /// scale of ½ takes PyTorch's step at half the rate, a scale of 1 the step itself.
  @Test func sgdRateScales() {
    let parameters = (0..<3).map { _ in Parameter(Tensor(shape: [4], repeating: 1)) }
    for p in parameters { for i in 0..<4 { p.gradient.pointer[i] = Float(i) - 1.5 } }
    let sgd = SGD(parameters: parameters, momentum: 0.9, weightDecay: 0.01, rateScales: [0, 0.5, 1])
    sgd.step(learningRate: 0.1)
    for i in 0..<4 {
      let g = (Float(i) - 1.5) + 0.01 * 1  // gradient + weight decay; the first step's buffer is g
      #expect(parameters[0].value.pointer[i] == 1)
      #expect(sgd.buffers[0].pointer[i] == 0)
      #expect(parameters[1].value.pointer[i] == 1 - 0.1 * 0.5 * g)
      #expect(parameters[2].value.pointer[i] == 1 - 0.1 * g)
    }
  }

  /// A torchvision state_dict (no metadata) as the source: its architecture from the shapes, ImageNet's
  /// normalization, numbered classes replaced by the dataset's.
  @Test func fromATorchvisionStateDict() throws {
    let fixture = try SafeTensorsFile(
      contentsOf: PyTorchParityTests.fixtures.appendingPathComponent("cifar_basic.safetensors").path)
    let bare = try TorchvisionStateDictTests.stateDict(of: fixture)
    let (dataset, root) = try Self.threeClasses()
    defer { DatasetTests.remove(root) }
    try bare.write(to: root + "/state_dict.safetensors")
    let source = try Model(contentsOf: root + "/state_dict.safetensors")
    let (model, head) = try Model.fineTuning(from: source, classes: dataset.classes, seed: 2)
    #expect(head == "fc: new, \(source.spec.classes.count) → 3 classes")
    #expect(model.spec.preprocessing.std == source.spec.preprocessing.std)
    #expect(model.spec.configuration.stem == .cifar && model.spec.configuration.numClasses == 3)
    let before = Self.state(source.network)
    for (name, values) in Self.state(model.network) where !name.hasPrefix("fc.") { #expect(values == before[name]) }
  }
}
