import Foundation
import ResNet
import ResNetCLI
import ResNetMPI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// One process of `mpirun -np N resnet-mpi train …`.
let collective = MPICollective()
// Processes sharing a machine share its cores (--threads overrides).
if let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap({ Int($0) }), local > 1 {
  ThreadPool.shared.limitThreads(to: max(1, ThreadPool.shared.capacity / local))
}
if collective.rank == 0 {
  // When a process dies, mpirun ends the others with SIGTERM (then SIGKILL). Rank 0 then says what
  // is kept and how to continue; the message is prepared beforehand, since a signal handler may only
  // write it.
  Distributed.didStart = { folder in
    StopMessage.prepare(
      "error: rank 0: the run was ended by mpirun because another process stopped (mpirun's message names it). "
        + "Checkpoints are written whole, so \(folder)/last.safetensors holds the last finished epoch; continue "
        + "with: mpirun … resnet-mpi train --data … --resume \(folder)/last.safetensors\n")
    signal(SIGTERM) { _ in StopMessage.writeAndExit() }
  }
}
DistributedCommand.main(collective: collective)
collective.finalize()
