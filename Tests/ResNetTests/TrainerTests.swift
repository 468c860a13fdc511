import Foundation
import ResNet
import Testing

/// Training on the shipped mini dataset, resuming bit for bit, and checkpoints that round-trip or are
/// refused with a clear error.
struct TrainerTests {
  static func folder() throws -> String { try DatasetTests.temporaryFolder() }

  static func setup(widthMultiplier: Double, trainCount: Int? = nil, testCount: Int? = nil) throws -> (
    ModelSpec, DatasetSplit, DatasetSplit
  ) {
    let dataset = try Dataset.open(DataLoaderTests.mini)
    let checkpoint = try ModelSpec.automatic(for: dataset, widthMultiplier: widthMultiplier)
    // Every 8th image keeps all classes in a small subset.
    func thin(_ split: DatasetSplit, _ count: Int?) -> DatasetSplit {
      guard let count else { return split }
      return split.subset(Array(stride(from: 0, to: split.count, by: split.count / count)))
    }
    return (checkpoint, thin(dataset.train, trainCount), thin(dataset.test, testCount))
  }

  @Test func automaticSetupFitsTheData() throws {
    let (checkpoint, _, _) = try Self.setup(widthMultiplier: 1)
    #expect(
      checkpoint.configuration
        == (try NetworkConfiguration.named(
          "resnet20", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28)))
    #expect(checkpoint.classes.first == "Ankle boot" && checkpoint.classes.count == 10)
    // Fashion-MNIST's published statistics are mean 0.2860, std 0.3530 over all 60,000 images.
    #expect(abs(checkpoint.preprocessing.mean[0] - 0.286) < 0.01)
    #expect(abs(checkpoint.preprocessing.std[0] - 0.353) < 0.01)
  }

  @Test func lossFallsAndAccuracyBeatsChance() throws {
    let (checkpoint, train, test) = try Self.setup(widthMultiplier: 0.5)
    var options = TrainingOptions()
    options.epochs = 4
    options.batchSize = 64
    let network = try Network(configuration: checkpoint.configuration, seed: 1)
    let trainer = try Trainer(
      model: try Model(spec: checkpoint, network: network), train: train, validation: test, options: options)
    try trainer.run()
    let history = trainer.history
    #expect(history.count == 4)
    #expect(history.last!.trainLoss < 0.7 * history.first!.trainLoss)
    // Chance is 10%; four short epochs on 2,000 images reach about two thirds.
    #expect(history.last!.validation.accuracy > 0.45, "\(history.map(\.validation.accuracy))")
    #expect(history.last!.validation.confusion.joined().reduce(0, +) == 500)
  }

  @Test(arguments: Precision.allCases)
  func resumedRunEndsWithTheSameBytes(_ precision: Precision) throws {
    let (checkpoint, train, test) = try Self.setup(widthMultiplier: 0.25, trainCount: 250, testCount: 50)
    var options = TrainingOptions()
    options.precision = precision
    options.epochs = 3
    options.batchSize = 32
    options.nesterov = true
    options.logGradientsEvery = 3
    let root = try Self.folder()
    defer { DatasetTests.remove(root) }
    let straight = try Trainer(
      model: try Model(spec: checkpoint, seed: 3),
      train: train, validation: test, options: options, outputFolder: root + "/straight")
    try straight.run()
    let interrupted = try Trainer(
      model: try Model(spec: checkpoint, seed: 3),
      train: train, validation: test, options: options, outputFolder: root + "/resumed")
    try interrupted.run(stoppingAfter: 1)
    let resumed = try Trainer.resume(
      from: root + "/resumed/last.safetensors", train: train, validation: test,
      outputFolder: root + "/resumed")
    #expect(resumed.progress.epoch == 1)
    #expect(resumed.options.precision == precision && resumed.network.precision == precision)
    try resumed.run()
    // The model records the precision it trained in.
    #expect(try Model(contentsOf: root + "/resumed/best.safetensors").spec.trainingPrecision == precision)
    // Gradient logging: 7 steps an epoch, logged every 3 steps and at each epoch's last step — each
    // with one row per block and per convolution weight; a resumed run logs the same values.
    let gradients = try String(contentsOfFile: root + "/straight/gradients.csv", encoding: .utf8)
      .split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
    let steps = Array(Set(gradients.map { Int($0[1])! })).sorted()
    #expect(steps == [0, 3, 6, 9, 12, 13, 15, 18, 20])
    let perStep =
      straight.network.namedBlocks.count
      + straight.network.namedParameters().filter { $0.parameter.value.rank == 4 }.count
    #expect(gradients.count == steps.count * perStep)
    #expect(gradients.allSatisfy { Double($0[5])! > 0 })
    for file in ["last.safetensors", "best.safetensors", "metrics.csv", "gradients.csv", "gradients.svg"] {
      let a = try Data(contentsOf: URL(fileURLWithPath: root + "/straight/" + file))
      let b = try Data(contentsOf: URL(fileURLWithPath: root + "/resumed/" + file))
      if file == "metrics.csv" {
        // Times differ; every other column is the same.
        func strip(_ d: Data) -> [String] {
          String(decoding: d, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7).joined(separator: ",")
          }
        }
        #expect(strip(a) == strip(b))
      } else {
        #expect(a == b, "\(file) differs")
      }
    }
  }

  @Test func checkpointRoundTripIsExact() throws {
    let (checkpoint, _, _) = try Self.setup(widthMultiplier: 0.25)
    let network = try Network(configuration: checkpoint.configuration, seed: 9)
    // Non-trivial BatchNorm statistics and counters.
    let x = Tensor(shape: [4, 1, 28, 28], randomNormalSeed: 4)
    _ = network.forward(x, training: true)
    let root = try Self.folder()
    defer { DatasetTests.remove(root) }
    let path = root + "/model.safetensors"
    try Model(spec: checkpoint, network: network).save(to: path)
    let loadedModel = try Model(contentsOf: path)
    let (loaded, copy) = (loadedModel.spec, loadedModel.network)
    #expect(loaded.configuration == checkpoint.configuration && loaded.classes == checkpoint.classes)
    #expect(loaded.preprocessing == checkpoint.preprocessing)
    for ((name, a), (_, b)) in zip(network.namedState(), copy.namedState()) {
      switch (a, b) {
      case (.parameter(let p), .parameter(let q)): #expect(p.value.scalars == q.value.scalars, "\(name)")
      case (.buffer(let s), .buffer(let t)): #expect(s.scalars == t.scalars, "\(name)")
      case (.batchCount(let m), .batchCount(let n)): #expect(m.batchesTracked == 1 && n.batchesTracked == 1)
      default: Issue.record("\(name) changed kind")
      }
    }
    #expect(network.forward(x, training: false).scalars == copy.forward(x, training: false).scalars)
    // Saving again gives the same bytes.
    try Model(spec: checkpoint, network: copy).save(to: root + "/again.safetensors")
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: path))
        == Data(contentsOf: URL(fileURLWithPath: root + "/again.safetensors")))
  }

  @Test func badCheckpointsAreRefused() throws {
    let (checkpoint, _, _) = try Self.setup(widthMultiplier: 0.25)
    let network = try Network(configuration: checkpoint.configuration, seed: 9)
    let root = try Self.folder()
    defer { DatasetTests.remove(root) }
    let good = try [UInt8](Model(spec: checkpoint, network: network).writer().bytes())
    func refused(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
      let path = root + "/bad.safetensors"
      _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
      do {
        _ = try Model(contentsOf: path)
        Issue.record("loaded", sourceLocation: sourceLocation)
      } catch let error as SafeTensorsError {
        #expect(error.path == path, sourceLocation: sourceLocation)
        #expect(error.reason.contains(fragment), "\(error.reason)", sourceLocation: sourceLocation)
      } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
      }
    }
    refused(Array(good.prefix(good.count - 10)), "but the file holds")
    refused(Array(good.prefix(5)), "too short")
    refused(Array("hello world, not a checkpoint".utf8), "header length")
    // Another architecture's metadata over these tensors: the shapes no longer fit.
    var narrower = checkpoint
    narrower.configuration.widths = checkpoint.configuration.widths.map { max(1, $0 / 2) }
    var mismatched = try Model(spec: checkpoint, network: network).writer()
    mismatched.metadata["resnet.config"] = narrower.configuration.jsonString()
    refused(try mismatched.bytes(), "has shape")
    // Metadata describing a network far bigger than the file's tensors is refused before it is built
    // (a resnet152 of width 65536 would need terabytes).
    var huge = checkpoint
    huge.configuration.widths = [65536, 65536, 65536]
    huge.configuration.layers = [1024, 1024, 1024]
    var oversized = try Model(spec: checkpoint, network: network).writer()
    oversized.metadata["resnet.config"] = huge.configuration.jsonString()
    refused(try oversized.bytes(), "state values but the file's tensors hold")
    var bare = SafeTensorsWriter()
    bare.add("fc.bias", Tensor(shape: [10]))
    refused(try bare.bytes(), "no resnet.config")
    var extra = try Model(spec: checkpoint, network: network).writer()
    extra.add("layer9.0.conv1.weight", Tensor(shape: [1]))
    refused(try extra.bytes(), "unexpected tensor 'layer9.0.conv1.weight'")
    var wrongPrecision = try Model(spec: checkpoint, network: network).writer()
    wrongPrecision.metadata["resnet.precision"] = "fp8"
    refused(try wrongPrecision.bytes(), "resnet.precision is \"fp8\", expected \"f32\" or \"bf16\"")
    var wrongClasses = try Model(spec: checkpoint, network: network).writer()
    wrongClasses.metadata["resnet.classes"] = "[\"a\"]"
    refused(try wrongClasses.bytes(), "names 1 classes")
    // Values that would only give NaN probabilities: a NaN or infinite weight, a negative variance.
    func poisoned(_ name: String, at index: Int, with value: Float) throws -> [UInt8] {
      let damaged = try Network(configuration: checkpoint.configuration, seed: 9)
      for (stateName, entry) in damaged.namedState() where stateName == name {
        switch entry {
        case .parameter(let p): p.value.pointer[index] = value
        case .buffer(let t): t.pointer[index] = value
        case .batchCount: break
        }
      }
      return try Model(spec: checkpoint, network: damaged).writer().bytes()
    }
    refused(try poisoned("fc.weight", at: 3, with: .nan), "tensor 'fc.weight' holds nan at index 3")
    refused(try poisoned("conv1.weight", at: 0, with: -.infinity), "tensor 'conv1.weight' holds -inf at index 0")
    refused(try poisoned("bn1.running_var", at: 1, with: -1), "tensor 'bn1.running_var' holds -1.0 at index 1")
    #expect(
      try Model(file: SafeTensorsFile(data: Data(poisoned("bn1.running_mean", at: 1, with: -1)), path: "x")).spec
        .classes == checkpoint.classes)  // a negative mean is fine
  }

  @Test func damagedTrainingStateIsRefused() throws {
    let (checkpoint, train, test) = try Self.setup(widthMultiplier: 0.25, trainCount: 64, testCount: 16)
    var options = TrainingOptions()
    options.epochs = 2
    options.batchSize = 32
    let root = try Self.folder()
    defer { DatasetTests.remove(root) }
    let trainer = try Trainer(
      model: try Model(spec: checkpoint, seed: 3),
      train: train, validation: test, options: options, outputFolder: root + "/run")
    try trainer.run(stoppingAfter: 1)
    let last = try SafeTensorsFile(contentsOf: root + "/run/last.safetensors")
    let momentum = "optimizer.momentum.fc.weight"
    // A copy of last.safetensors with `momentum` replaced by `tensor`.
    func damaged(_ tensor: Tensor) throws -> String {
      var writer = SafeTensorsWriter()
      writer.metadata = last.metadata
      for name in last.entries.keys.sorted() {
        if name == momentum {
          writer.add(name, tensor)
        } else if last.entries[name]!.dtype == .i64 {
          writer.add(name, integers: try last.integers(name), shape: last.entries[name]!.shape)
        } else {
          writer.add(name, try last.tensor(name))
        }
      }
      let path = root + "/damaged.safetensors"
      try writer.write(to: path)
      return path
    }
    func refused(_ path: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
      #expect(sourceLocation: sourceLocation) {
        _ = try Trainer.resume(from: path, train: train, validation: test, outputFolder: nil)
      } throws: { error in
        (error as? SafeTensorsError)?.reason.contains(fragment) == true
      }
    }
    refused(try damaged(Tensor(shape: [3])), "tensor '\(momentum)' has shape [3]")
    let nan = try last.tensor(momentum)
    nan.pointer[2] = .nan
    refused(try damaged(nan), "tensor '\(momentum)' holds nan at index 2")
    // The run's records: metrics.csv read back as the trainer measured them; a damaged row stops the
    // resume with the file and the line named, instead of charting garbage.
    let folder = RunFolder(root + "/run")
    let records = try folder.metrics()
    #expect(records.count == 1 && records[0].epoch == 1)
    #expect(records[0].validationAccuracy == (trainer.history[0].validation.accuracy * 1e6).rounded() / 1e6)
    #expect(records[0].trainLoss == (trainer.history[0].trainLoss * 1e6).rounded() / 1e6)
    #expect(records[0].learningRate == trainer.history[0].learningRate && records[0].validationTop5 == nil)
    let text = try String(contentsOfFile: folder.path(of: .metrics), encoding: .utf8)
    try (text + "2,0.1,not-a-number,0.5,1,0.5,,1,1\n").write(
      toFile: folder.path(of: .metrics), atomically: true, encoding: .utf8)
    #expect {
      _ = try Trainer.resume(
        from: folder.path(of: .last), train: train, validation: test, outputFolder: folder.path)
    } throws: { error in
      "\(error)".contains(folder.path(of: .metrics)) && "\(error)".contains("line 3")
    }
  }
}

extension TrainerTests {
  @Test func divergingLossStopsWithoutOverwritingCheckpoints() throws {
    let (checkpoint, train, test) = try Self.setup(widthMultiplier: 0.25, trainCount: 100, testCount: 20)
    var options = TrainingOptions()
    options.epochs = 2
    options.batchSize = 20
    let root = try Self.folder()
    defer { DatasetTests.remove(root) }
    let trainer = try Trainer(
      model: try Model(spec: checkpoint, seed: 1),
      train: train, validation: test, options: options, outputFolder: root)
    try trainer.run(stoppingAfter: 1)
    let good = try Data(contentsOf: URL(fileURLWithPath: root + "/last.safetensors"))
    // The same run resumed with an absurd learning rate: the loss overflows within a few steps.
    options.learningRate = 1e30
    let saved = try SafeTensorsFile(contentsOf: root + "/last.safetensors")
    var writer = SafeTensorsWriter()
    for (name, entry) in saved.entries.sorted(by: { $0.key < $1.key }) {
      if entry.dtype == .i64 {
        writer.add(name, integers: try saved.integers(name), shape: entry.shape)
      } else {
        writer.add(name, try saved.tensor(name))
      }
    }
    writer.metadata = saved.metadata
    writer.metadata["resnet.training"] = String(
      decoding: try JSONEncoder().encode(options), as: UTF8.self)
    try writer.write(to: root + "/wild.safetensors")
    let wild = try Trainer.resume(
      from: root + "/wild.safetensors", train: train, validation: test, outputFolder: root)
    do {
      try wild.run()
      Issue.record("training went on with an infinite loss")
    } catch let error as TrainingError {
      #expect(error.description.contains("the training loss became"))
      #expect(error.description.contains("last good checkpoint (epoch 1)"))
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/last.safetensors")) == good)
  }
}
