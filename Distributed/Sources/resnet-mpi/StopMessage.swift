#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The message rank 0 prints when mpirun ends the job, in memory that a signal handler may read.
enum StopMessage {
  nonisolated(unsafe) private static var bytes: UnsafeMutableBufferPointer<UInt8>?

  /// Stores `text` for ``writeAndExit()``.
  static func prepare(_ text: String) {
    let utf8 = Array(text.utf8)
    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: utf8.count)
    _ = buffer.initialize(from: utf8)
    bytes = buffer
  }

  /// Writes the message to stderr and exits with 143 (SIGTERM's status); only async-signal-safe calls.
  static func writeAndExit() -> Never {
    if let bytes { _ = write(2, bytes.baseAddress, bytes.count) }
    _exit(143)
  }
}
