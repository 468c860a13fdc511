import ArgumentParser
import Foundation
import ResNet

/// The processes of the data-parallel run this process belongs to, set by `resnet-mpi` before it
/// runs ``DistributedCommand`` (nil in `resnet`).
public enum Distributed {
  /// The run's processes; `train` shards its batches over them.
  nonisolated(unsafe) public static var collective: (any Collective)?
  /// Called on rank 0 once `train` knows its output folder, before the first step.
  nonisolated(unsafe) public static var didStart: ((_ outputFolder: String) -> Void)?
}

/// `resnet-mpi`: the data-parallel commands, one process per MPI rank (`mpirun -np N resnet-mpi train …`).
public struct DistributedCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "resnet-mpi",
    abstract: "Data-parallel training over Open MPI: run it under mpirun, one process per rank.",
    discussion: """
      Every process takes its shard of each global batch (--batch-size is the global batch); the \
      gradients are summed over the processes in rank order before each step, so every process holds \
      the same weights. Each rank validates its shard of the validation split; only rank 0 prints and writes files. Threads per process: \
      --threads (default: the machine's cores divided by the processes mpirun started on it).
      """,
    subcommands: [TrainCommand.self]
  )

  public init() {}

  /// Runs the command line as one process of `collective`'s run. Returns after success (the caller
  /// finalizes MPI); after an error, prints it with the rank and ends every process.
  public static func main(collective: any Collective) {
    Distributed.collective = collective
    signal(SIGXFSZ, SIG_IGN)
    do {
      var command = try parseAsRoot()
      try command.run()
      flushStandardOutput()
      return
    } catch {
      // Help and usage errors are the same on every rank: rank 0 prints them and every rank exits.
      // Any other error may be this rank's alone: it is printed with the rank, and the run ends.
      let usage = [ExitCode.success, .validationFailure].contains(exitCode(for: error))
      let code =
        collective.rank == 0 || !usage
        ? ResNetCommand.report(error, prefix: usage || collective.size == 1 ? "" : "rank \(collective.rank): ")
        : exitCode(for: error)
      flushStandardOutput()
      if usage { Foundation.exit(code.rawValue) }
      collective.abort(code: code.rawValue)
    }
  }
}
