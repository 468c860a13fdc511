import ArgumentParser
import Foundation
import ResNet

/// `resnet eval --data PATH`: accuracy of a model on a dataset's test split.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Accuracy, per-class accuracy and the confusion matrix of a model on a dataset.")

  @OptionGroup var dataOptions: DataOptions

  @Option(help: ArgumentHelp("A checkpoint (default: the model shipped in Models/).", valueName: "path"))
  var model: String?

  @Option(
    help:
      "Input size for a model without resnet metadata (a torchvision state_dict; default 224, or 32 for a CIFAR stem).")
  var inputSize: Int?

  @Option(help: "The split to evaluate: test or train.")
  var split: String = "test"

  @Option(help: ArgumentHelp("Also write confusion.svg into this folder.", valueName: "dir"))
  var out: String?

  @Option(help: "Images per batch.")
  var batchSize: Int = 128

  @Flag(
    help:
      "Test-time flips: average each image's class probabilities with its mirror image's (refused for a model trained with --no-flip)."
  )
  var tta = false

  @OptionGroup var precision: PrecisionOption

  @Flag(
    help: """
      With --precision bf16: also run the model in float32 and print how often the two agree on each \
      image's top class, and their largest logit difference.
      """)
  var againstF32 = false

  func validate() throws {
    guard ["test", "train"].contains(split) else { throw ValidationError("--split must be test or train.") }
    if againstF32 && precision.precision == .f32 { throw ValidationError("--against-f32 needs --precision bf16.") }
    guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536.") }
  }

  func run() throws {
    let path = try model ?? shippedModel()
    let model = try Model(contentsOf: path, inputSize: inputSize)
    let classifier = try testTimeFlipped(path) {
      try Classifier(model: model, averagingMirror: tta, precision: precision.precision)
    }
    let spec = model.spec
    let dataset = try dataOptions.open()
    let data = try withModelLabels(split == "test" ? dataset.test : dataset.train, of: dataset, for: spec)
    let loader = DataLoader(
      split: data, batchSize: batchSize, preprocessing: spec.preprocessing, shuffle: false)
    let result = try Evaluation.run(classifier.engine, loader: loader, averagingMirror: tta)
    if let warning = loader.skippedWarning() { printError("warning: \(warning)") }
    print(
      "model: \(path)" + (tta ? " (test-time flips: each image averaged with its mirror image)" : "")
        + (precision.precision == .bf16 ? " in bf16" : ""))
    print(
      "data: \(dataset.path), \(split == "test" && dataset.testIsHeldOut ? "held-out" : split) split, \(result.count) images"
    )
    print(String(format: "accuracy: %.2f%%  loss: %.4f", 100 * result.accuracy, result.loss))
    if let top5 = result.top5 { print(String(format: "top-5 accuracy: %.2f%%", 100 * top5)) }
    let width = max(5, spec.classes.map(\.count).max() ?? 0)
    print("per class:")
    for (i, accuracy) in result.perClassAccuracy.enumerated() {
      let name = spec.classes[i].padding(toLength: width, withPad: " ", startingAt: 0)
      let images = result.confusion[i].reduce(0, +)
      print("  \(name)  " + (accuracy.map { String(format: "%6.2f%%", 100 * $0) } ?? "     –") + "  (\(images))")
    }
    print("confusion matrix (rows: true class, columns: prediction, in class order):")
    let cell = max(4, String(result.confusion.joined().max() ?? 0).count + 1)
    for (i, row) in result.confusion.enumerated() {
      let name = spec.classes[i].padding(toLength: width, withPad: " ", startingAt: 0)
      print("  \(name) " + row.map { String(repeating: " ", count: cell - String($0).count) + String($0) }.joined())
    }
    if againstF32 {
      let agreement = try InferenceAgreement(
        classifier.engine, against: InferenceModel(model: model), loader: loader)
      print(
        String(
          format:
            "bf16 against f32: the same top-1 class for %d of %d images (%.2f%%); largest logit difference %.2g of the image's largest logit",
          agreement.sameTop1, agreement.images, 100 * agreement.fraction, agreement.largestRelativeError))
    }
    if let out {
      try makeFolder(out)
      try writeTextAtomically(
        Charts.confusion(result.confusion, classes: spec.classes), to: out + "/confusion.svg")
      print("wrote \(out)/confusion.svg")
    }
  }
}

/// `split` of `dataset` with its labels turned into the model's, matched by class name ("/" in a
/// model's class name matches "_" in a folder's, as `dataset export` writes them), so an image folder
/// with the model's classes, or some of them, in any order works.
func withModelLabels(_ split: DatasetSplit, of dataset: Dataset, for spec: ModelSpec) throws -> DatasetSplit {
  func folderName(_ name: String) -> String { name.replacingOccurrences(of: "/", with: "_") }
  let modelIndex = Dictionary(
    spec.classes.enumerated().map { (folderName($1), $0) }, uniquingKeysWith: { first, _ in first })
  let mapping = dataset.classes.map { modelIndex[folderName($0)] }
  if let missing = zip(dataset.classes, mapping).first(where: { $0.1 == nil })?.0 {
    throw CLIError(
      description: "\(dataset.path): class \"\(missing)\" is not one of the model's classes \(spec.classes)")
  }
  return DatasetSplit(name: split.name, source: split.source, labels: split.labels.map { Int32(mapping[Int($0)]!) })
}
