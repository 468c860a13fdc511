import ArgumentParser
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `resnet` command-line tool (its `main` is the executable's entry point).
public struct ResNetCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "resnet",
    abstract: "Train and run convolutional ResNet image classifiers on the CPU.",
    subcommands: [
      TrainCommand.self, ClassifyCommand.self, EvalCommand.self, InfoCommand.self, BenchCommand.self,
      DatasetCommand.self, ExperimentCommand.self, ExportCommand.self,
    ]
  )

  public init() {}

  /// Parses the process's arguments, runs the command and exits: 0 on success, 1 with `error: …` on
  /// stderr otherwise.
  public static func main() {
    // A write past the file-size limit (`ulimit -f`) fails with EFBIG and is reported like a full
    // disk, naming the file, instead of the signal killing the process with no message.
    signal(SIGXFSZ, SIG_IGN)
    let code: ExitCode
    do {
      var command = try parseAsRoot()
      try command.run()
      return
    } catch {
      code = report(error)
    }
    // The error is released by now (a leak checker would otherwise see it, unreachable, at exit), and
    // stdout is flushed before the process ends, whatever runs at exit.
    flushStandardOutput()
    Foundation.exit(code.rawValue)
  }

  /// Prints what ends the run (`--help`'s text to stdout; an error as `error: …` to stderr, as
  /// docs/contracts.md says, not swift-argument-parser's `Error: …`) and returns the exit code.
  static func report(_ error: any Error, prefix: String = "") -> ExitCode {
    let code = exitCode(for: error)
    let message = fullMessage(for: error)
    if code == .success {
      if !message.isEmpty { print(message) }
    } else if !message.isEmpty {
      let text =
        prefix + (message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : "error: " + message)
      FileHandle.standardError.write(Data((text + "\n").utf8))
    }
    return code
  }
}
