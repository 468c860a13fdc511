import CMPI
import Foundation
import ResNet

/// The processes of an `mpirun` job as a ``Collective``: MPI_COMM_WORLD, used from one thread.
///
/// Sums go to rank 0 one rank at a time and are added in rank order, then rank 0 broadcasts the result,
/// so every rank gets the same bits for any number of processes (MPI_Allreduce's order is unspecified).
/// Every wait polls a non-blocking operation against a deadline (``timeout``): a rank that stops
/// answering ends the job with a message instead of a hang. Errors return to the caller (not MPI's
/// default abort), so the message names the operation and the rank.
public final class MPICollective: Collective {
  public let rank: Int
  public let size: Int
  /// The longest wait for the other ranks in one operation; it must cover rank 0's validation and
  /// checkpoint writing at the end of each epoch, while the others wait for the next step.
  public let timeout: Duration
  private var scratch: [UInt8] = []  // a rank's incoming values, on rank 0

  /// Initializes MPI (once per process) and joins MPI_COMM_WORLD; `timeout` from the environment's
  /// `RESNET_MPI_TIMEOUT` (seconds) when set.
  public init(timeout: Duration = .seconds(900)) {
    var provided: Int32 = 0
    var argc: Int32 = 0
    MPI_Init_thread(&argc, nil, rn_mpi_thread_funneled(), &provided)
    MPI_Comm_set_errhandler(rn_mpi_comm_world(), rn_mpi_errors_return())
    var (r, s): (Int32, Int32) = (0, 1)
    MPI_Comm_rank(rn_mpi_comm_world(), &r)
    MPI_Comm_size(rn_mpi_comm_world(), &s)
    (rank, size) = (Int(r), Int(s))
    if let text = ProcessInfo.processInfo.environment["RESNET_MPI_TIMEOUT"], let seconds = Double(text), seconds > 0 {
      self.timeout = .milliseconds(Int64(seconds * 1000))
    } else {
      self.timeout = timeout
    }
  }

  /// Ends MPI after a successful run (every rank calls it).
  public func finalize() { MPI_Finalize() }

  public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) {
    sum(UnsafeMutableRawBufferPointer(values), type: rn_mpi_float(), count: values.count) { total, part in
      let (t, p) = (total.assumingMemoryBound(to: Float.self), part.assumingMemoryBound(to: Float.self))
      for i in 0..<values.count { t[i] += p[i] }
    }
  }

  public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) {
    sum(UnsafeMutableRawBufferPointer(values), type: rn_mpi_double(), count: values.count) { total, part in
      let (t, p) = (total.assumingMemoryBound(to: Double.self), part.assumingMemoryBound(to: Double.self))
      for i in 0..<values.count { t[i] += p[i] }
    }
  }

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {
    guard size > 1, !bytes.isEmpty else { return }
    var request: MPI_Request? = nil
    check(
      MPI_Ibcast(bytes.baseAddress, Int32(bytes.count), rn_mpi_byte(), Int32(root), rn_mpi_comm_world(), &request),
      "broadcast")
    wait(&request, "broadcast from rank \(root)")
  }

  public func abort(code: Int32) -> Never {
    FileHandle.standardError.synchronizeFile()
    MPI_Abort(rn_mpi_comm_world(), code == 0 ? 1 : code)
    exit(code == 0 ? 1 : code)  // MPI_Abort does not return; this is for the compiler
  }

  /// Rank 0 receives each other rank's values in rank order and adds them to its own with `add`; then
  /// broadcasts the total.
  private func sum(
    _ values: UnsafeMutableRawBufferPointer, type: MPI_Datatype, count: Int,
    add: (UnsafeMutableRawPointer, UnsafeRawPointer) -> Void
  ) {
    guard size > 1, count > 0 else { return }
    if rank == 0 {
      if scratch.count < values.count { scratch = Array(repeating: 0, count: values.count) }
      scratch.withUnsafeMutableBytes { part in
        for source in 1..<size {
          var request: MPI_Request? = nil
          check(
            MPI_Irecv(part.baseAddress, Int32(count), type, Int32(source), 0, rn_mpi_comm_world(), &request),
            "receive from rank \(source)")
          wait(&request, "the sum of the gradients (waiting for rank \(source))")
          add(values.baseAddress!, part.baseAddress!)
        }
      }
    } else {
      var request: MPI_Request? = nil
      check(MPI_Isend(values.baseAddress, Int32(count), type, 0, 0, rn_mpi_comm_world(), &request), "send to rank 0")
      wait(&request, "the sum of the gradients (sending to rank 0)")
    }
    broadcast(values, from: 0)
  }

  /// Polls `request` until it completes; past the deadline, reports the operation and ends the job.
  private func wait(_ request: inout MPI_Request?, _ operation: String) {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var done: Int32 = 0
    var spins = 0
    while true {
      check(MPI_Test(&request, &done, rn_mpi_status_ignore()), operation)
      if done != 0 { return }
      spins += 1
      if spins > 2000 {
        if clock.now > deadline {
          fail(
            "no answer from the other processes within \(timeout) during \(operation); ending the run "
              + "(set RESNET_MPI_TIMEOUT, in seconds, for longer waits)")
        }
        usleep(200)
      }
    }
  }

  /// Ends the job on an MPI error, naming the operation.
  private func check(_ status: Int32, _ operation: String) {
    guard status != rn_mpi_success() else { return }
    var text = [CChar](repeating: 0, count: 1024)
    var length: Int32 = 0
    MPI_Error_string(status, &text, &length)
    fail("MPI error during \(operation): \(String(cString: text))")
  }

  private func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: rank \(rank): \(message)\n".utf8))
    abort(code: 1)
  }
}
