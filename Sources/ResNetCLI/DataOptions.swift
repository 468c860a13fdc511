import ArgumentParser
import ResNet

/// Where the data is and how to split it; shared by `dataset` and (later) `train`/`eval`.
struct DataOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "An image folder (DIR/<class>/*.png|jpg, or DIR/train + DIR/test|val), a folder of IDX files (MNIST, Fashion-MNIST; raw or .gz) or of CIFAR-10/100 binary batches.",
      valueName: "path"))
  var data: String

  @Option(
    name: .customLong("hold-out"),
    help: "Fraction of each class held out as the test split when the data has none on disk.")
  var holdOut: Double = 0.1

  @Option(help: "Seed for the hold-out split and any sampling.")
  var seed: UInt64 = 0

  func validate() throws {
    guard holdOut >= 0 && holdOut < 1 else { throw ValidationError("--hold-out must be in [0, 1).") }
  }

  /// The dataset, opened.
  func open() throws -> Dataset {
    try Dataset.open(data, holdOutFraction: holdOut, seed: seed)
  }
}
