import ArgumentParser
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `resnet` command-line tool.
@main
struct ResNetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resnet",
    abstract: "Train and run convolutional ResNet image classifiers on the CPU.",
    subcommands: [
      TrainCommand.self, ClassifyCommand.self, EvalCommand.self, InfoCommand.self, BenchCommand.self,
      DatasetCommand.self, ExperimentCommand.self,
    ]
  )

  static func main() {
    // A write past the file-size limit (`ulimit -f`) fails with EFBIG and is reported like a full
    // disk, naming the file, instead of the signal killing the process with no message.
    signal(SIGXFSZ, SIG_IGN)
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      // `--help` and `--version` end here too, with a zero exit code and their text for stdout.
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        if !message.isEmpty { print(message) }
      } else {
        // Errors read `error: …` (DESIGN.md), not swift-argument-parser's `Error: …`.
        let text = message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : "error: " + message
        FileHandle.standardError.write(Data((text + "\n").utf8))
      }
      Foundation.exit(code.rawValue)
    }
  }
}
