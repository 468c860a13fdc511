import ArgumentParser
import Foundation
import ResNet

/// `resnet experiment …`: studies of what residual connections do, on real data.
struct ExperimentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "Experiments on residual networks: block deletion (lesion) studies.",
    subcommands: [LesionCommand.self])
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
    let (checkpoint, network) = try Checkpoint.load(path)
    if let out { try makeFolder(out) }
    let dataset = try dataOptions.open()
    let test = try withModelLabels(dataset.test, of: dataset, for: checkpoint)
    let loader = DataLoader(split: test, batchSize: batchSize, preprocessing: checkpoint.preprocessing, shuffle: false)
    let study = try LesionStudy.run(network, loader: loader)
    if let warning = loader.skippedWarning() { printError("warning: \(warning)") }
    print("model: \(path) (\(modelName(checkpoint.configuration)))")
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
      try study.write(to: out, title: "Lesion study: \(modelName(checkpoint.configuration))")
      print("wrote \(out)/lesion.csv and \(out)/lesion.svg")
    }
  }
}
