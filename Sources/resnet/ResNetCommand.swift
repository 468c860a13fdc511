import ArgumentParser

/// The `resnet` command-line tool.
@main
struct ResNetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resnet",
    abstract: "Train and run convolutional ResNet image classifiers on the CPU.",
    subcommands: [
      TrainCommand.self, ClassifyCommand.self, EvalCommand.self, InfoCommand.self, BenchCommand.self,
      DatasetCommand.self,
    ]
  )
}
