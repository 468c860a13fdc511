import ArgumentParser

/// `resnet bench …`: performance figures as JSON lines, for side-by-side runs with the peers in Benchmarks/.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the engine's speed; prints one JSON object per line on stdout.",
    subcommands: [
      BenchGEMMCommand.self, BenchTrainCommand.self, BenchInferCommand.self, BenchDecodeCommand.self,
      BenchLoaderCommand.self,
    ]
  )
}
