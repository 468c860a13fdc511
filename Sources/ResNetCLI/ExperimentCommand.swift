import ArgumentParser
import Foundation
import ResNet

/// `resnet experiment …`: studies of what residual connections do, on real data.
struct ExperimentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "Experiments on residual networks: plain against residual training, block deletion, transfer.",
    subcommands: [DegradationCommand.self, LesionCommand.self, TransferCommand.self])
}

/// `resnet experiment lesion`: test accuracy with each residual block deleted in turn.
struct LesionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lesion",
    abstract: "Test accuracy with each residual block's branch deleted in turn (Veit et al. 2016).",
    discussion: """
      Each block whose shortcut is the identity is deleted in turn (its branch set to zero, so only the \
      shortcut remains) and the model is evaluated on the test split. Blocks with a projection shortcut \
      are reported, not deleted; a plain network's blocks cannot be deleted. With --out, writes \
      lesion.csv and lesion.svg.
      """)

  @OptionGroup var dataOptions: DataOptions

  @Option(help: ArgumentHelp("A checkpoint (default: the model shipped in Models/).", valueName: "path"))
  var model: String?

  @Option(help: ArgumentHelp("Write lesion.csv and lesion.svg into this folder.", valueName: "dir"))
  var out: String?

  @Option(help: "Images per batch.")
  var batchSize: Int = 128

  func validate() throws {
    guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536.") }
  }

  func run() throws {
    let path = try model ?? shippedModel()
    let model = try Model(contentsOf: path)
    let spec = model.spec
    if let out { try makeFolder(out) }
    let dataset = try dataOptions.open()
    let test = try withModelLabels(dataset.test, of: dataset, for: spec)
    let loader = DataLoader(split: test, batchSize: batchSize, preprocessing: spec.preprocessing, shuffle: false)
    let study = try LesionStudy.run(model.network, loader: loader)
    if let warning = loader.skippedWarning() { printError("warning: \(warning)") }
    print("model: \(path) (\(modelName(spec.configuration)))")
    print("data: \(dataset.path), \(dataset.testIsHeldOut ? "held-out" : "test") split, \(study.intact.count) images")
    print(String(format: "intact:      %6.2f%%", 100 * study.intact.accuracy))
    for row in study.rows {
      let name = row.block.padding(toLength: 11, withPad: " ", startingAt: 0)
      switch row.outcome {
      case .deleted(let e):
        print(
          String(
            format: "%@  %6.2f%%  (%+.2f points)", name, 100 * e.accuracy, 100 * (e.accuracy - study.intact.accuracy)))
      case .projection: print("\(name)       –   projection shortcut: reported, not deleted")
      case .noShortcut: print("\(name)       –   no shortcut: a plain block cannot be deleted")
      }
    }
    if let out {
      try study.write(to: out, title: "Lesion study: \(modelName(spec.configuration))")
      print("wrote \(out)/lesion.csv and \(out)/lesion.svg")
    }
  }
}

/// `resnet experiment degradation`: plain and residual CIFAR-style networks trained with one recipe.
struct DegradationCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "degradation",
    abstract: "Train plain and residual networks of each depth with one recipe (He et al. 2015, Fig. 6).",
    discussion: """
      For each depth (6n+2: 20, 32, 44, 56, 110, or smaller), trains the plain network and the ResNet \
      with the same recipe and seed, each an ordinary run in OUT/plain-DEPTH and OUT/resnet-DEPTH \
      (rerunning the command resumes unfinished runs and skips finished ones). Then writes \
      degradation.svg (training and test error per epoch), gradients.svg and gradients.csv (the \
      gradient norm at each block's input at initialization, for the deepest depth: plain, residual, \
      residual with zero-initialized last BatchNorm γ, ReZero, pre-activation, and plain and residual \
      without BatchNorm, with Kaiming and with PyTorch's default conv init; the last four also in \
      gradients-no-bn.svg) and report.md.
      """)

  @OptionGroup var dataOptions: DataOptions

  @Option(help: ArgumentHelp("Depths, comma-separated (each 6n+2).", valueName: "list"))
  var depths: String = "20,56"

  @Option(help: "Epochs per run.")
  var epochs: Int = 15

  @Option(help: "Images per step.")
  var batchSize: Int = 128

  @Option(help: "Peak learning rate.")
  var lr: Float = 0.1

  @Option(help: "Scale every stage width (16/32/64) by this factor.")
  var widthMultiplier: Double = 1

  @Option(help: "Compute threads (default: all cores).")
  var threads: Int?

  @Option(help: ArgumentHelp("Output folder.", valueName: "dir"))
  var out: String = "runs/degradation"

  @Flag(
    help:
      "Only the gradient study at initialization (gradients.svg, gradients-no-bn.svg, gradients.csv, report.md), no training."
  )
  var gradientsOnly = false

  /// The depths, checked.
  func depthList() throws -> [Int] {
    let list = depths.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! >= 8 && ($0! - 2) % 6 == 0 && $0! <= 1202 }) else {
      throw ValidationError("--depths must list depths 6n+2 from 8 to 1202, e.g. 20,56; got '\(depths)'.")
    }
    return list.map { $0! }
  }

  /// The recipe every run of the experiment trains with.
  func trainingOptions() -> TrainingOptions {
    var options = TrainingOptions()
    (options.epochs, options.batchSize, options.learningRate) = (epochs, batchSize, lr)
    options.seed = dataOptions.seed
    return options
  }

  func validate() throws {
    _ = try depthList()
    try validateRecipe(trainingOptions(), widthMultiplier: widthMultiplier, threads: threads)
  }

  func run() throws {
    if let threads { ThreadPool.shared.limitThreads(to: threads) }
    try makeFolder(out)
    let dataset = try dataOptions.open()
    for warning in dataset.warnings { printError("warning: \(warning)") }
    let base = try ModelSpec.automatic(for: dataset, model: "resnet20", widthMultiplier: widthMultiplier)
    var runs: [DegradationRun] = []
    let depthList = try depthList()
    for depth in gradientsOnly ? [] : depthList {
      for plain in [true, false] {
        let name = (plain ? "plain-" : "resnet-") + String(depth)
        let folder = out + "/" + name
        var spec = base
        spec.configuration.layers = Array(repeating: (depth - 2) / 6, count: 3)
        spec.configuration.shortcut = plain ? .none : .identity
        let trainer: Trainer
        if FileManager.default.fileExists(atPath: folder + "/last.safetensors") {
          trainer = try Trainer.resume(
            from: folder + "/last.safetensors", train: dataset.train, validation: dataset.test, outputFolder: folder,
            epochs: epochs)
          guard trainer.model.spec.configuration == spec.configuration else {
            throw CLIError(description: "\(folder) holds another network's run; choose another --out")
          }
        } else {
          let options = trainingOptions()
          trainer = try Trainer(
            model: try Model(spec: spec, seed: options.seed), train: dataset.train, validation: dataset.test,
            options: options, outputFolder: folder)
        }
        print(
          trainer.progress.epoch >= epochs
            ? "\(name): done (\(epochs) epoch\(epochs == 1 ? "" : "s"))"
            : "\(name): training from epoch \(trainer.progress.epoch + 1) of \(epochs)")
        trainer.onEpoch = { m in
          print(
            String(
              format: "%@ epoch %d/%d  train error %.2f%%  test error %.2f%%  %.1f s", name, m.epoch, epochs,
              100 * (1 - m.trainAccuracy), 100 * (1 - m.validation.accuracy), m.seconds))
          flushStandardOutput()
        }
        try trainer.run()
        runs.append(
          DegradationRun(name: name, depth: depth, plain: plain, records: try RunFolder(folder).metrics()))
      }
    }
    if !gradientsOnly { try writeTextAtomically(Charts.degradation(runs), to: out + "/degradation.svg") }
    let deepest = depthList.max()!
    let gradients = try gradientsAtInitialization(depth: deepest, base: base, dataset: dataset)
    // The series with PyTorch's default conv init span twenty decades more than the others: a chart of their own,
    // beside the Kaiming-initialized networks without BatchNorm.
    let defaultInit = gradients.filter { $0.name.hasSuffix("PyTorch init") }
    try writeTextAtomically(
      Charts.gradientNorms(
        gradients.filter { !$0.name.hasSuffix("PyTorch init") }, title: "Gradients at initialization, depth \(deepest)"),
      to: out + "/gradients.svg")
    try writeTextAtomically(
      Charts.gradientNorms(
        gradients.filter { $0.name.contains("no BN") && !$0.name.hasSuffix("PyTorch init") } + defaultInit,
        title: "Without BatchNorm: Kaiming against PyTorch's default init, depth \(deepest)", legendColumns: 2),
      to: out + "/gradients-no-bn.svg")
    let header = "block," + gradients.map(\.name).joined(separator: ",")
    let lines = (0..<gradients[0].norms.count).map { b in
      "\(b + 1)," + gradients.map { String($0.norms[b]) }.joined(separator: ",")
    }
    try writeTextAtomically(([header] + lines).joined(separator: "\n") + "\n", to: out + "/gradients.csv")
    try writeTextAtomically(report(runs, gradients: gradients, deepest: deepest), to: out + "/report.md")
    print(
      "wrote \(out)/\(gradientsOnly ? "" : "degradation.svg, ")gradients.svg, gradients-no-bn.svg, gradients.csv and report.md"
    )
  }

  /// The gradient norm at each block's input of the variants of the `depth` network at initialization,
  /// for one batch of training images.
  func gradientsAtInitialization(depth: Int, base: ModelSpec, dataset: Dataset) throws -> [(
    name: String, norms: [Double]
  )] {
    let loader = DataLoader(
      split: dataset.train, batchSize: min(batchSize, dataset.train.count), preprocessing: base.preprocessing,
      shuffle: false)
    guard let batch = try loader.epoch(0).next() else { throw CLIError(description: "no training images") }
    var config = base.configuration
    config.layers = Array(repeating: (depth - 2) / 6, count: 3)
    let labels = batch.labels.map { Int($0) }
    var plain = config
    plain.shortcut = .none
    var rezero = config
    rezero.residualScale = .rezero
    var preact = config
    preact.preact = true
    var (plainNoBN, residualNoBN) = (plain, config)
    plainNoBN.norm = .none
    residualNoBN.norm = .none
    let (kaiming, pytorch) = (Network.ConvInitialization.kaimingNormal, Network.ConvInitialization.pytorchDefault)
    let variants: [(String, NetworkConfiguration, Bool, Network.ConvInitialization)] = [
      ("plain", plain, false, kaiming), ("residual", config, false, kaiming),
      ("residual zero-init γ", config, true, kaiming), ("ReZero", rezero, false, kaiming),
      ("pre-activation", preact, false, kaiming), ("plain no BN", plainNoBN, false, kaiming),
      ("residual no BN", residualNoBN, false, kaiming), ("plain no BN PyTorch init", plainNoBN, false, pytorch),
      ("residual no BN PyTorch init", residualNoBN, false, pytorch),
    ]
    return try variants.map { name, configuration, zeroInit, convInit in
      let network = try Network(
        configuration: configuration, seed: dataOptions.seed,
        initialization: WeightInitialization(convolutions: convInit, zeroInitResidual: zeroInit))
      return (name, network.gradientNormsAtBlockInputs(input: batch.images, labels: labels))
    }
  }

  /// report.md: the final and best errors of every run and the gradient measurements.
  func report(_ runs: [DegradationRun], gradients: [(name: String, norms: [Double])], deepest: Int) -> String {
    var text = "# Degradation experiment\n\nData: \(dataOptions.data). "
    if runs.isEmpty {
      text += "Gradients at initialization only (--gradients-only), seed \(dataOptions.seed).\n\n"
    } else {
      text += """
        \(epochs) epochs per run, batch \(batchSize), peak learning rate \(lr), seed \(dataOptions.seed), width \
        multiplier \(widthMultiplier).

        | run | final training error | final test error | best test error |
        |---|---|---|---|

        """
      for run in runs {
        let trainError = run.records.last.map { 100 * (1 - $0.trainAccuracy) } ?? .nan
        let testErrors = run.records.map { 100 * (1 - $0.validationAccuracy) }
        text += String(
          format: "| %@ | %.2f%% | %.2f%% | %.2f%% |\n", run.name, trainError, testErrors.last ?? .nan,
          testErrors.min() ?? .nan)
      }
      text += "\n![training and test error](degradation.svg)\n\n"
    }
    text += """
      ## Gradients at initialization, depth \(deepest)

      The norm of the loss gradient at the first block's input over the norm at the last block's input,
      one batch of training images, BatchNorm (where there is one) in training mode:

      | network | first / last |
      |---|---|

      """
    for series in gradients {
      text += String(format: "| %@ | %.3g |\n", series.name, series.norms.first! / series.norms.last!)
    }
    text += "\n![gradient norms](gradients.svg)\n\n![without BatchNorm](gradients-no-bn.svg)\n"
    return text
  }
}
