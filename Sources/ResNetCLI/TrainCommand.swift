import ArgumentParser
import Foundation
import ResNet

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `resnet train --data PATH`: train a ResNet on a dataset, validating every epoch.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a ResNet on a dataset; checkpoints, metrics and charts go to --out.",
    discussion: """
      With no other flag the model fits the data: resnet20 for images up to 64 px, resnet18 above;
      input channels, size and classes from the data; normalization measured on the training images.
      --out receives metrics.csv, curves.svg, confusion.svg, best.safetensors (the best validation
      accuracy) and last.safetensors (for --resume), rewritten safely after every epoch.
      """)

  @OptionGroup var dataOptions: DataOptions

  @Option(help: "Architecture (default: resnet20 up to 64 px, resnet18 above).")
  var model: String?

  @Option(
    help: ArgumentHelp(
      "Start from this model (ours, or a torchvision state_dict saved with safetensors.torch.save_file): its architecture, weights and preprocessing, with a new classifier when the dataset's classes differ.",
      valueName: "path"))
  var from: String?

  @Option(
    help: ArgumentHelp(
      "Freeze everything up to and including this part: no gradient, no step, BatchNorm statistics kept.",
      valueName: "none|stem|layer1|layer2|layer3|layer4|backbone"))
  var freeze: FrozenPart = .none

  @Option(
    help: ArgumentHelp(
      "Learning rate of everything but the classifier, as a multiple of --lr (e.g. 0.1 for a pretrained backbone).",
      valueName: "F"))
  var backboneLrScale: Float = 1

  @Option(help: "Scale every stage width by this factor.")
  var widthMultiplier: Double = 1

  @OptionGroup var variant: VariantOptions

  @Option(
    help: ArgumentHelp(
      "kaiming-normal: torchvision's ResNet init (normal, std √(2/fan_out)); pytorch-default: PyTorch's Conv2d default (uniform ±1/√fan_in).",
      valueName: "kaiming-normal|pytorch-default"))
  var convInit: Network.ConvInitialization = .kaimingNormal

  @Flag(help: "Start each residual block's last BatchNorm γ at 0, so every block starts as the identity.")
  var zeroInitResidual = false

  @Flag(
    help:
      "With resnet-mpi: BatchNorm statistics over the global batch (PyTorch's SyncBatchNorm); by default each process's own (PyTorch's DDP)."
  )
  var syncBatchNorm = false

  @Option(help: "Epochs (default 15; with --resume, extends the run to this many).")
  var epochs: Int?

  @Option(help: "Images per step.")
  var batchSize: Int = 128

  @Option(help: "Peak learning rate.")
  var lr: Float = 0.1

  @Option(help: "SGD momentum.")
  var momentum: Float = 0.9

  @Flag(help: "Nesterov momentum.")
  var nesterov = false

  @Option(help: "L2 weight decay.")
  var weightDecay: Float = 5e-4

  @Option(
    help: ArgumentHelp(
      "Learning-rate schedule: cosine, step (÷10 at 50% and 75%) or constant.", valueName: "cosine|step|constant"))
  var schedule: LearningRateSchedule.Kind = .cosine

  @Option(help: "Epochs of linear learning-rate warm-up.")
  var warmupEpochs: Int = 1

  @Option(help: "Label smoothing of the training loss.")
  var labelSmoothing: Float = 0

  @Option(help: "Random-crop padding in pixels (0: no random crop).")
  var cropPadding: Int = 4

  @Flag(help: "No random horizontal flips.")
  var noFlip = false

  @Option(
    help: ArgumentHelp(
      "Every N steps (and at each epoch's end), record the gradient norm at each block's input and of each conv weight in gradients.csv, drawn in gradients.svg.",
      valueName: "N"))
  var logGradients: Int?

  @Option(
    help: ArgumentHelp(
      "balanced: weigh each class's images by the inverse of its share of the training set (scikit-learn's \"balanced\"), so rare classes count as much as common ones.",
      valueName: "none|balanced"))
  var classWeights: TrainingOptions.ClassWeighting = .none

  @Option(
    help: ArgumentHelp(
      "Stop when the validation accuracy has not improved for N epochs (best.safetensors keeps the best).",
      valueName: "N"))
  var patience: Int?

  @Option(
    help: ArgumentHelp(
      Precision.optionHelp
        + " Weights, their gradients, BatchNorm and the loss stay f32; no loss scaling is needed (bf16 has f32's range). Default: f32.",
      valueName: "precision"))
  var precision: Precision?

  @Option(help: "Compute threads (default: all cores).")
  var threads: Int?

  @Option(help: "Loader worker threads.")
  var workers: Int = 2

  @Option(help: ArgumentHelp("Output folder (default: runs/<date-time>).", valueName: "dir"))
  var out: String?

  @Option(help: ArgumentHelp("Continue the run saved in this last.safetensors.", valueName: "path"))
  var resume: String?

  /// The training options these flags give (`--epochs` defaults to 15).
  func trainingOptions() -> TrainingOptions {
    var options = TrainingOptions()
    options.epochs = epochs ?? options.epochs
    options.batchSize = batchSize
    options.learningRate = lr
    options.momentum = momentum
    options.nesterov = nesterov
    options.weightDecay = weightDecay
    options.schedule = schedule
    options.warmupEpochs = warmupEpochs
    options.labelSmoothing = labelSmoothing
    options.cropPadding = cropPadding
    options.horizontalFlip = !noFlip
    options.seed = dataOptions.seed
    options.workers = workers
    options.logGradientsEvery = logGradients
    options.syncBatchNorm = syncBatchNorm
    options.freeze = freeze
    options.backboneRateScale = backboneLrScale
    options.patience = patience
    options.classWeights = classWeights
    options.precision = precision ?? .f32
    return options
  }

  func validate() throws {
    try validateRecipe(trainingOptions(), widthMultiplier: widthMultiplier, threads: threads)
    if resume != nil && precision != nil {
      throw ValidationError("--resume continues a run in the precision it started with: drop --precision.")
    }
    if from != nil {
      // The file decides the architecture and its initialization.
      let conflicts = [
        ("--resume", resume != nil), ("--model", model != nil), ("--width-multiplier", widthMultiplier != 1),
        ("--shortcut, --residual-scale, --norm, --preact", !variant.isDefault),
        ("--conv-init", convInit != .kaimingNormal),
        ("--zero-init-residual", zeroInitResidual),
      ].filter(\.1).map(\.0)
      if let first = conflicts.first {
        throw ValidationError("--from takes the architecture from the file: drop \(first).")
      }
    } else if freeze != .none || backboneLrScale != 1 {
      throw ValidationError(
        resume != nil
          ? "--resume continues a run with the settings it started with: drop --freeze and --backbone-lr-scale."
          : "--freeze and --backbone-lr-scale are for fine-tuning: give --from.")
    }
  }

  func run() throws {
    if let threads { ThreadPool.shared.limitThreads(to: threads) }
    // An --out that cannot be created is refused before any work (by the process that writes).
    if let out, (Distributed.collective?.rank ?? 0) == 0 { try makeFolder(out) }
    let dataset = try dataOptions.open()
    if (Distributed.collective?.rank ?? 0) == 0 {
      for warning in dataset.warnings { printError("warning: \(warning)") }
    }
    let trainer: Trainer
    let collective = Distributed.collective
    let root = (collective?.rank ?? 0) == 0
    if let resume {
      let folder = out ?? (resume.contains("/") ? String(resume[..<resume.lastIndex(of: "/")!]) : ".")
      trainer = try Trainer.resume(
        from: resume, train: dataset.train, validation: dataset.test, outputFolder: folder,
        epochs: epochs, collective: collective)
      if root { print("resuming \(resume) after epoch \(trainer.progress.epoch) of \(trainer.options.epochs)") }
    } else if let from {
      let options = trainingOptions()
      let source = try Model(contentsOf: from)
      let (model, head) = try Model.fineTuning(from: source, classes: dataset.classes, seed: options.seed)
      do {
        trainer = try Trainer(
          model: model, train: dataset.train, validation: dataset.test, options: options,
          outputFolder: out ?? defaultOutputFolder(), collective: collective)
      } catch let error as ConfigurationError {
        throw ValidationError(error.description)
      }
      if root {
        print("from \(from) (\(modelName(source.spec.configuration)), \(source.spec.classes.count) classes): \(head)")
        if options.freeze != .none { print("frozen: everything up to and including \(options.freeze.rawValue)") }
      }
    } else {
      let options = trainingOptions()
      var spec: ModelSpec
      do {
        spec = try ModelSpec.automatic(for: dataset, model: model, widthMultiplier: widthMultiplier)
      } catch let error as ConfigurationError {
        throw ValidationError(error.description)
      }
      do { try variant.apply(to: &spec.configuration) } catch let error as ConfigurationError {
        throw ValidationError(error.description)
      }
      let initialization = WeightInitialization(convolutions: convInit, zeroInitResidual: zeroInitResidual)
      trainer = try Trainer(
        model: try Model(spec: spec, seed: options.seed, initialization: initialization),
        initialization: initialization, train: dataset.train, validation: dataset.test, options: options,
        outputFolder: out ?? defaultOutputFolder(), collective: collective)
    }
    if !root {
      try trainer.run()  // process 0 reports
      return
    }
    let c = trainer.model.spec
    let p = c.preprocessing
    if let collective {
      print(
        "\(collective.size) processes, each \(ThreadPool.shared.threadCount) thread\(ThreadPool.shared.threadCount == 1 ? "" : "s"); global batch \(trainer.options.batchSize)\(trainer.options.syncBatchNorm ? ", synchronized BatchNorm" : "")"
      )
    }
    print(
      "training \(modelName(c.configuration)) (\(grouped(trainer.network.parameterCount)) parameters) on \(dataset.train.count) images of \(c.classes.count) classes, \(p.width)×\(p.height) \(p.color.rawValue), validating on \(dataset.test.count)\(dataset.testIsHeldOut ? " held out" : "")"
    )
    if let weights = trainer.classWeights {
      let counts = dataset.train.countsPerClass(c.classes.count)
      print(
        "class weights (balanced): "
          + zip(c.classes, zip(counts, weights)).map { String(format: "%@ %d → %.3f", $0, $1.0, $1.1) }
          .joined(separator: ", "))
    }
    if trainer.options.precision == .bf16 {
      print(
        "precision: bf16 (convolution and classifier operands rounded to bfloat16, sums in float32\(BF16Kernel.best.isNative ? "" : "; emulated: this CPU lacks AVX512_BF16, slower than f32"))"
      )
    }
    print("writing to \(trainer.outputFolder!)")
    Distributed.didStart?(trainer.outputFolder!)
    let live = isatty(STDOUT_FILENO) != 0
    // The callbacks capture the epoch count, not the trainer, which owns them (a cycle would leak it).
    let epochs = trainer.options.epochs
    if live {
      trainer.onStep = { report in
        print("\r" + progressLine(report, epochs: epochs), terminator: "")
        flushStandardOutput()
      }
    }
    trainer.onEpoch = { m in
      if live { print("\r\u{1B}[2K", terminator: "") }
      var line = String(
        format: "epoch %d/%d  loss %.4f  acc %.2f%%  val loss %.4f  val acc %.2f%%",
        m.epoch, epochs, m.trainLoss, 100 * m.trainAccuracy, m.validation.loss,
        100 * m.validation.accuracy)
      if let top5 = m.validation.top5 { line += String(format: "  top-5 %.2f%%", 100 * top5) }
      line += String(format: "  lr %.4g  %.1f s  %.0f img/s", m.learningRate, m.seconds, m.imagesPerSecond)
      if let communication = m.communicationSecondsPerStep, let step = m.stepSeconds {
        line += String(format: "  step %.1f ms, of it communication %.1f ms", 1000 * step, 1000 * communication)
      }
      print(line)
      flushStandardOutput()
    }
    try trainer.run()
    if let warning = trainer.skippedWarning { printError("warning: \(warning)") }
    var last = String(
      format: "best val acc %.2f%% at epoch %d: %@/best.safetensors", 100 * trainer.progress.bestAccuracy,
      trainer.progress.bestEpoch, trainer.outputFolder!)
    if let reason = trainer.stopReason {
      last += " (stopped after epoch \(trainer.progress.epoch) of \(trainer.options.epochs): \(reason))"
    }
    print(last)
  }

  /// runs/<date-time> (process 0's clock, in a data-parallel run).
  private func defaultOutputFolder() -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    formatter.locale = Locale(identifier: "en_US_POSIX")
    let now = Date().timeIntervalSince1970
    let time = Distributed.collective.map { $0.broadcastFromRoot(now) } ?? now
    return "runs/" + formatter.string(from: Date(timeIntervalSince1970: time))
  }
}

/// The checks `train` and `experiment degradation` share: the training options, the width multiplier
/// and the threads.
func validateRecipe(_ options: TrainingOptions, widthMultiplier: Double, threads: Int?) throws {
  do { try options.validate() } catch ConfigurationError.invalid(let reason) { throw ValidationError(reason) }
  guard widthMultiplier > 0 && widthMultiplier <= 16 else {
    throw ValidationError("--width-multiplier must be in (0, 16].")
  }
  if let threads, !(1...ThreadPool.shared.capacity).contains(threads) {
    throw ValidationError("--threads must be in 1...\(ThreadPool.shared.capacity) (this machine's cores).")
  }
}

/// The name of a standard architecture, or a description.
func modelName(_ c: NetworkConfiguration) -> String {
  let plain =
    (c.norm == .none ? "unnormalized " : "") + (c.shortcut == .none ? "plain " : "")
    + (c.residualScale == .rezero ? "rezero " : "") + (c.preact ? "pre-activation " : "")
  var residual = c
  residual.shortcut = .identity
  residual.residualScale = .none
  residual.norm = .batch
  residual.preact = false
  for name in NetworkConfiguration.modelNames {
    if let named = try? NetworkConfiguration.named(
      name, inChannels: c.inChannels, numClasses: c.numClasses, inputHeight: c.inputHeight,
      inputWidth: c.inputWidth), named == residual
    {
      return plain + name
    }
  }
  return plain + "\(c.block.rawValue) ResNet \(c.layers) × \(c.widths)"
}

/// `n` with thousands separators.
func grouped(_ n: Int) -> String {
  let digits = Array(String(n))
  var out = ""
  for (i, d) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
    out.append(d)
  }
  return out
}

/// The live progress bar of an epoch.
func progressLine(_ r: StepReport, epochs: Int) -> String {
  let width = 24
  let filled = r.stepsPerEpoch > 0 ? width * r.step / r.stepsPerEpoch : width
  let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
  let remaining = r.imagesPerSecond > 0 ? r.seconds / Double(r.step) * Double(r.stepsPerEpoch - r.step) : 0
  return String(
    format: "epoch %d/%d %@ %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %d:%02d", r.epoch, epochs, bar,
    r.step, r.stepsPerEpoch, r.loss, 100 * r.accuracy, r.imagesPerSecond, Int(remaining) / 60,
    Int(remaining) % 60)
}

/// Flushes standard output (for the live progress line).
func flushStandardOutput() {
  fflush(nil)
}
