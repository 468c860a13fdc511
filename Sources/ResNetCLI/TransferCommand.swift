import ArgumentParser
import Foundation
import ResNet

/// `resnet experiment transfer`: pretraining on some classes, then learning the others from a few
/// images each — from scratch, fine-tuning everything, or a new head on the frozen backbone.
struct TransferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "transfer",
    abstract: "Pretrain on some classes, then learn the others from a few images each, three ways.",
    discussion: """
      Pretrains resnet20 on the source classes (all their training images, validated on their test \
      images; OUT/pretrain). Then, for each seed, draws --shots training images of each other class and \
      trains three runs on them, validated on all their test images: from scratch (OUT/seed-S/scratch, \
      --lr), fine-tuning the whole pretrained network (OUT/seed-S/finetune, --finetune-lr) and a new \
      head on the frozen pretrained backbone (OUT/seed-S/frozen, --lr). Rerunning resumes unfinished \
      runs and skips finished ones. Writes transfer.csv, transfer.svg (test accuracy per epoch, the \
      mean over seeds) and report.md.
      """)

  @OptionGroup var dataOptions: DataOptions

  @Option(
    help: ArgumentHelp(
      "Class indices to pretrain on, comma-separated (default: the first half); the others are learnt from a few images.",
      valueName: "list"))
  var sourceClasses: String?

  @Option(help: "Training images per class of the other classes.")
  var shots: Int = 20

  @Option(help: "Epochs of pretraining.")
  var pretrainEpochs: Int = 10

  @Option(help: "Epochs of each few-image run.")
  var epochs: Int = 30

  @Option(
    help: ArgumentHelp(
      "Seeds of the few-image runs (the images drawn, the new weights), comma-separated.", valueName: "list"))
  var seeds: String = "0,1,2"

  @Option(help: "Images per step in pretraining.")
  var batchSize: Int = 128

  @Option(help: "Images per step in the few-image runs.")
  var shotBatchSize: Int = 25

  @Option(
    help: "Peak learning rate of pretraining, of training from scratch and of the new head on the frozen backbone.")
  var lr: Float = 0.1

  @Option(help: "Peak learning rate for fine-tuning the whole pretrained network.")
  var finetuneLr: Float = 0.01

  @Option(help: "Scale every stage width (16/32/64) by this factor.")
  var widthMultiplier: Double = 1

  @Option(help: "Compute threads (default: all cores).")
  var threads: Int?

  @Option(help: ArgumentHelp("Output folder.", valueName: "dir"))
  var out: String = "runs/transfer"

  /// The three ways of learning the new classes, in report order.
  static let arms = ["scratch", "finetune", "frozen"]
  static let armTitles = [
    "scratch": "from scratch", "finetune": "fine-tuning everything", "frozen": "frozen backbone, new head",
  ]

  func seedList() throws -> [UInt64] {
    let list = seeds.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else {
      throw ValidationError("--seeds must list non-negative integers, e.g. 0,1,2; got '\(seeds)'.")
    }
    return list.map { $0! }
  }

  func options(epochs: Int, batchSize: Int, lr: Float, seed: UInt64) -> TrainingOptions {
    var options = TrainingOptions()
    (options.epochs, options.batchSize, options.learningRate, options.seed) = (epochs, batchSize, lr, seed)
    return options
  }

  func validate() throws {
    _ = try seedList()
    guard shots >= 1 else { throw ValidationError("--shots must be at least 1.") }
    for (recipe, name) in [
      (options(epochs: pretrainEpochs, batchSize: batchSize, lr: lr, seed: 0), "pretraining"),
      (options(epochs: epochs, batchSize: shotBatchSize, lr: finetuneLr, seed: 0), "fine-tuning"),
    ] {
      do { try validateRecipe(recipe, widthMultiplier: widthMultiplier, threads: threads) } catch let error
        as ValidationError
      { throw ValidationError("\(name): \(error.message)") }
    }
  }

  func run() throws {
    if let threads { ThreadPool.shared.limitThreads(to: threads) }
    try makeFolder(out)
    let dataset = try dataOptions.open()
    for warning in dataset.warnings { printError("warning: \(warning)") }
    let all = dataset.classes.indices
    let source =
      try sourceClasses.map { text in
        try text.split(separator: ",").map { part in
          guard let index = Int(part.trimmingCharacters(in: .whitespaces)), all.contains(index) else {
            throw ValidationError(
              "--source-classes: '\(part)' is not a class index of \(dataset.path) (0…\(all.count - 1)).")
          }
          return index
        }
      } ?? Array(all.prefix(all.count / 2))
    let target = all.filter { !source.contains($0) }
    guard !source.isEmpty, !target.isEmpty, Set(source).count == source.count else {
      throw ValidationError(
        "--source-classes must name distinct classes and leave at least one of the \(all.count) out.")
    }
    let sourceData = try dataset.restricted(toClasses: source)
    print("pretraining on \(sourceData.classes.joined(separator: ", ")) (\(sourceData.train.count) images)")
    let pretrained = try train("pretrain", folder: out + "/pretrain", data: sourceData, verbose: true) {
      let spec = try ModelSpec.automatic(for: sourceData, model: "resnet20", widthMultiplier: widthMultiplier)
      return (
        try Model(spec: spec, seed: dataOptions.seed),
        options(epochs: pretrainEpochs, batchSize: batchSize, lr: lr, seed: dataOptions.seed)
      )
    }
    let pretrainedModel = try Model(contentsOf: out + "/pretrain/best.safetensors")
    var results: [(seed: UInt64, arm: String, records: [EpochRecord], trainSeconds: Double)] = []
    for seed in try seedList() {
      let data = try dataset.restricted(toClasses: target, trainPerClass: shots, seed: seed)
      for arm in Self.arms {
        let name = "seed \(seed) \(arm)"
        let records = try train(name, folder: out + "/seed-\(seed)/\(arm)", data: data, verbose: false) {
          let recipe = options(
            epochs: epochs, batchSize: shotBatchSize, lr: arm == "finetune" ? finetuneLr : lr, seed: seed)
          if arm == "scratch" {
            let spec = try ModelSpec.automatic(for: data, model: "resnet20", widthMultiplier: widthMultiplier)
            return (try Model(spec: spec, seed: seed), recipe)
          }
          var tuned = recipe
          tuned.freeze = arm == "frozen" ? .backbone : .none
          return (try Model.fineTuning(from: pretrainedModel, classes: data.classes, seed: seed).model, tuned)
        }
        let seen = Double(
          data.train.count > shotBatchSize ? data.train.count / shotBatchSize * shotBatchSize : data.train.count)
        let seconds = records.reduce(0) { $0 + seen / $1.imagesPerSecond }
        results.append((seed, arm, records, seconds))
        print(
          String(
            format: "%@: test accuracy %.2f%% after %d epochs, %.1f s of training", name,
            100 * (records.last?.validationAccuracy ?? .nan), records.count, seconds))
        flushStandardOutput()
      }
    }
    try writeTextAtomically(csv(results), to: out + "/transfer.csv")
    let means = Self.arms.map { arm in
      let runs = results.filter { $0.arm == arm }.map(\.records)
      let count = runs.map(\.count).min() ?? 0
      return (
        name: Self.armTitles[arm]!,
        accuracies: (0..<count).map { e in runs.reduce(0) { $0 + $1[e].validationAccuracy } / Double(runs.count) }
      )
    }
    try writeTextAtomically(
      Charts.testAccuracy(
        means, title: "\(target.count) new classes from \(shots) images each (mean of \(try seedList().count) seeds)"),
      to: out + "/transfer.svg")
    try writeTextAtomically(
      report(pretrained, source: sourceData, target: dataset.restricted(toClasses: target), results: results),
      to: out + "/report.md")
    print("wrote \(out)/transfer.csv, \(out)/transfer.svg and \(out)/report.md")
  }

  /// Trains (or resumes, or skips when done) the run in `folder` on `data`; `make` gives a new run's
  /// model and options. Returns the run's epoch records.
  private func train(
    _ name: String, folder: String, data: Dataset, verbose: Bool, make: () throws -> (Model, TrainingOptions)
  ) throws -> [EpochRecord] {
    let trainer: Trainer
    if FileManager.default.fileExists(atPath: folder + "/last.safetensors") {
      trainer = try Trainer.resume(
        from: folder + "/last.safetensors", train: data.train, validation: data.test, outputFolder: folder)
    } else {
      let (model, options) = try make()
      trainer = try Trainer(
        model: model, train: data.train, validation: data.test, options: options, outputFolder: folder)
    }
    let total = trainer.options.epochs
    if trainer.progress.epoch >= total { print("\(name): done (\(total) epochs)") }
    if verbose {
      trainer.onEpoch = { m in
        print(
          String(
            format: "%@ epoch %d/%d  loss %.4f  test accuracy %.2f%%  %.1f s", name, m.epoch, total, m.trainLoss,
            100 * m.validation.accuracy, m.seconds))
        flushStandardOutput()
      }
    }
    try trainer.run()
    return try RunFolder(folder).metrics()
  }

  private func csv(_ results: [(seed: UInt64, arm: String, records: [EpochRecord], trainSeconds: Double)]) -> String {
    var lines = ["seed,run,epochs,final_test_accuracy,best_test_accuracy,train_seconds"]
    for r in results {
      lines.append(
        "\(r.seed),\(r.arm),\(r.records.count),\(r.records.last?.validationAccuracy ?? .nan),"
          + "\(r.records.map(\.validationAccuracy).max() ?? .nan),\(r.trainSeconds)")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// report.md: the recipe, the pretrained model, and each way's final test accuracy and training time.
  private func report(
    _ pretrained: [EpochRecord], source: Dataset, target: Dataset,
    results: [(seed: UInt64, arm: String, records: [EpochRecord], trainSeconds: Double)]
  ) throws -> String {
    let seeds = try seedList()
    var text = """
      # Transfer experiment

      Data: \(dataOptions.data). Pretrained: resnet20 (width ×\(widthMultiplier)) on \
      \(source.classes.joined(separator: ", ")) — \(source.train.count) training images, \(pretrainEpochs) \
      epochs, batch \(batchSize), learning rate \(lr) — reaching \
      \(String(format: "%.2f%%", 100 * (pretrained.last?.validationAccuracy ?? .nan))) on their \
      \(source.test.count) test images.

      Then \(target.classes.joined(separator: ", ")) from \(shots) training images each, drawn anew for \
      each seed (\(seeds.map(String.init).joined(separator: ", "))), \(epochs) epochs at batch \(shotBatchSize), \
      tested on all \(target.test.count) of their test images. From scratch and the frozen backbone at \
      learning rate \(lr), fine-tuning everything at \(finetuneLr); cosine schedule, the default \
      augmentation. Accuracy after the last epoch (not the best one, which the test images would choose); \
      training time excludes the per-epoch test.

      Command: `\((["resnet"] + CommandLine.arguments.dropFirst()).joined(separator: " "))`

      | run | test accuracy, mean | min – max | each seed | training time, mean |
      |---|---|---|---|---|

      """
    for arm in Self.arms {
      let runs = results.filter { $0.arm == arm }
      let finals = runs.map { 100 * ($0.records.last?.validationAccuracy ?? .nan) }
      text += String(
        format: "| %@ | %.2f%% | %.2f – %.2f%% | %@ | %.1f s |\n", Self.armTitles[arm]!,
        finals.reduce(0, +) / Double(finals.count), finals.min() ?? .nan, finals.max() ?? .nan,
        finals.map { String(format: "%.2f", $0) }.joined(separator: ", "),
        runs.reduce(0) { $0 + $1.trainSeconds } / Double(runs.count))
    }
    text += "\n![test accuracy per epoch](transfer.svg)\n"
    return text
  }
}
