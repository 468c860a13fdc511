import ResNetKernels

/// The processes of a data-parallel training run and the collective operations the trainer needs
/// (implemented over MPI by `ResNetMPI` in `Distributed/`). Every process calls the same operations in
/// the same order.
///
/// An operation that fails (a process died, a timeout) does not return: the implementation reports
/// it and ends every process of the run, so no process waits forever.
public protocol Collective: AnyObject {
  /// This process's index, 0 for the one that prints and writes files.
  var rank: Int { get }
  /// The number of processes.
  var size: Int { get }
  /// Replaces `values` on every process by their element-wise sum over all processes, added in rank
  /// order (`((v₀ + v₁) + v₂) + …`), so every process gets the same bits whatever the timing.
  func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>)
  /// The same for doubles.
  func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>)
  /// Copies process `root`'s `bytes` into every other process's.
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int)
  /// Ends every process of the run with `code`, after an error on this one.
  func abort(code: Int32) -> Never
}

extension Collective {
  /// Copies process 0's values of `tensors` into every other process's, in order.
  public func broadcastFromRoot(_ tensors: [Tensor]) {
    for tensor in tensors {
      broadcast(UnsafeMutableRawBufferPointer(start: tensor.pointer, count: tensor.count * 4), from: 0)
    }
  }

  /// Process 0's bytes on every process (`bytes` is read on process 0 only).
  public func broadcastFromRoot(bytes: [UInt8]) -> [UInt8] {
    let count = broadcastFromRoot(rank == 0 ? bytes.count : 0)
    var copy = rank == 0 ? bytes : [UInt8](repeating: 0, count: count)
    copy.withUnsafeMutableBytes { broadcast($0, from: 0) }
    return copy
  }

  /// Process 0's value of `value` on every process.
  public func broadcastFromRoot<T: BitwiseCopyable>(_ value: T) -> T {
    var copy = value
    withUnsafeMutableBytes(of: &copy) { broadcast($0, from: 0) }
    return copy
  }
}

/// A collective that adds up the wall time its operations take: the communication (and waiting) time
/// of data-parallel training, reported beside the compute time.
final class TimedCollective: Collective {
  let base: any Collective
  /// Seconds spent in operations since the last ``reset()``.
  private(set) var seconds = 0.0
  private let clock = ContinuousClock()

  init(_ base: any Collective) { self.base = base }

  var rank: Int { base.rank }
  var size: Int { base.size }

  func reset() { seconds = 0 }

  func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) { timed { base.sumInRankOrder(values) } }
  func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) { timed { base.sumInRankOrder(values) } }
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) { timed { base.broadcast(bytes, from: root) } }
  func abort(code: Int32) -> Never { base.abort(code: code) }

  private func timed(_ body: () -> Void) {
    let start = clock.now
    body()
    let d = (clock.now - start).components
    seconds += Double(d.seconds) + Double(d.attoseconds) * 1e-18
  }
}
