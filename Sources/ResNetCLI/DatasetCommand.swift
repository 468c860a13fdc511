import ArgumentParser
import Foundation
import ResNet

/// `resnet dataset …`: look at a dataset, or write it out as a PNG image folder.
struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset",
    abstract: "Inspect a dataset or export it as a PNG image folder.",
    subcommands: [DatasetInfoCommand.self, DatasetExportCommand.self]
  )
}

/// `resnet dataset info --data PATH`.
struct DatasetInfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Print the classes, counts per split, image sizes and channels, and unreadable files."
  )

  @OptionGroup var dataOptions: DataOptions

  func run() throws {
    let dataset = try dataOptions.open()
    for warning in dataset.warnings { printError("warning: \(warning)") }
    let census = DatasetCensus(dataset)
    print(census.report(dataset))
    if !census.unreadable.isEmpty { throw ExitCode(1) }
  }
}

/// `resnet dataset export --data PATH --to DIR`.
struct DatasetExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a dataset as DIR/{train,test}/<class>/<index>.png (PNG through libpng)."
  )

  @OptionGroup var dataOptions: DataOptions

  @Option(help: ArgumentHelp("The new folder to write (must not exist).", valueName: "dir"))
  var to: String

  @Option(help: "At most this many training images per class, chosen with --seed (default: all).")
  var trainPerClass: Int?

  @Option(help: "At most this many test images per class, chosen with --seed (default: all).")
  var testPerClass: Int?

  func validate() throws {
    if let trainPerClass, trainPerClass < 0 {
      throw ValidationError("--train-per-class must not be negative.")
    }
    if let testPerClass, testPerClass < 0 {
      throw ValidationError("--test-per-class must not be negative.")
    }
  }

  func run() throws {
    let dataset = try dataOptions.open()
    let summary = try dataset.export(
      to: to, trainPerClass: trainPerClass, testPerClass: testPerClass, seed: dataOptions.seed)
    for problem in summary.skipped.prefix(5) { printError("warning: skipped \(problem)") }
    if summary.skipped.count > 5 {
      printError("warning: skipped \(summary.skipped.count - 5) more unreadable files")
    }
    print(
      "wrote \(summary.train) training and \(summary.test) test images of \(dataset.classes.count) classes to \(to)"
    )
  }
}
